"""The collector contract and the runner that saves what collectors fetch.

A collector knows one platform and nothing else. It reads from where it left off (its checkpoint,
an opaque string it defines) and returns a `Batch`; the runner passes every post through the
ingestion boundary (collectors/boundary.py: what fails becomes a dead letter with its reason), then
saves the batch's posts, its dead letters and its new checkpoint in ONE store transaction, then calls
`after_commit`. A crash before the commit loses nothing (the collector reads the same records again);
a crash after it duplicates nothing (the checkpoint moved with the posts, and posts are keyed by
(channel, source_id)).

Nothing one record or one source does can stop the others: a collector whose `fetch` keeps failing
at the same checkpoint is asked to `skip` what it is stuck on (the file collector moves the file to
inbox/failed/ with a dead letter) after `quarantine_after` tries; the other collectors run on. Each
collector's last success, last error and consecutive failures are kept in `health` for /healthz.
"""
from __future__ import annotations

import abc
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar

from collectors.boundary import Boundary
from core.config import Settings, validate
from core.domain import Post, utcnow
from core.health import Health
from core.text import printable
from store.base import DeadLetter, IngestResult, Store

log = logging.getLogger("sentinel.collectors")


@dataclass
class Batch:
    posts: list[Post] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    checkpoint: str | None = None  # None: unchanged
    more: bool = False  # True: call fetch again right away
    note: str = ""  # what this batch was, for the log line (中文)
    context: dict[str, Any] = field(default_factory=dict)  # for after_commit
    originals: dict[int, str] = field(default_factory=dict)  # id(post) -> the record as received


class Collector(abc.ABC):
    """One channel source. Subclasses set `type_name`, `options_schema` and implement `fetch`."""

    type_name: ClassVar[str]
    title_zh: ClassVar[str]
    options_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def __init__(self, name: str) -> None:
        self.name = name  # also the checkpoint key

    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str) -> "Collector":
        """Validate `cfg` against `options_schema` (errors name the config file and field)."""
        validate(cfg, cls.options_schema, settings.config_file, prefix=where)
        return cls.create(cfg, settings)

    @classmethod
    @abc.abstractmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "Collector": ...

    @abc.abstractmethod
    def fetch(self, checkpoint: str | None) -> Batch:
        """Read the next records after `checkpoint`. Must not write to the store."""

    def after_commit(self, batch: Batch) -> None:
        """Called once the batch is durably stored (e.g. move a finished file away)."""

    def skip(self, checkpoint: str | None, error: str) -> Batch | None:
        """`fetch` failed `quarantine_after` times in a row at `checkpoint`: return a batch that moves
        past what it is stuck on (with a dead letter saying so), or None when there is nothing to skip
        (the runner keeps retrying and /healthz reports the failure)."""
        return None


class CollectorRunner:
    """Runs every collector until it has nothing more, saving each batch atomically."""

    def __init__(self, store: Store, collectors: list[Collector], max_batches: int = 10_000,
                 boundary: Boundary | None = None, quarantine_after: int = 3,
                 clock: Callable[[], datetime] = utcnow, budget_s: float = 10.0) -> None:
        self.store = store
        self.collectors = collectors
        # Per collector per run: batches follow each other while the collector has more, up to
        # `budget_s` seconds (a backlog of a million lines drains at full speed; the other
        # collectors still get their turn, and a stop request is seen between batches).
        self.max_batches = max_batches
        self.budget_s = budget_s
        self.boundary = boundary or Boundary(clock=clock)
        self.quarantine_after = quarantine_after
        self.clock = clock
        self.health = Health(clock)  # one entry per collector name
        self._stuck: dict[str, tuple[str | None, int]] = {}  # collector -> (checkpoint, failures there)

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> IngestResult:
        total = IngestResult()
        for collector in self.collectors:
            deadline = time.monotonic() + self.budget_s
            for _ in range(self.max_batches):
                if should_stop():
                    return total
                if time.monotonic() > deadline:
                    break
                outcome = self._step(collector)
                if outcome is None:
                    break
                result, more = outcome
                total += result
                if not more:
                    break
        return total

    def _step(self, collector: Collector) -> tuple[IngestResult, bool] | None:
        """Fetch and save one batch of `collector`. None: stop this collector for this run."""
        name = collector.name
        checkpoint = self.store.checkpoint(name)
        try:
            batch = collector.fetch(checkpoint)
        except Exception as exc:  # one broken source must not stop the others
            batch = self._fetch_failed(collector, checkpoint, exc)
            if batch is None:
                return None
        try:
            result = self._save(collector, batch)
        except Exception as exc:
            self._failed(collector, checkpoint, f"保存失败：{type(exc).__name__}: {exc}")
            return None
        self._stuck.pop(name, None)
        self.health.success(name)
        try:
            collector.after_commit(batch)
        except Exception as exc:  # the batch is saved; the collector repairs its own state on the next fetch
            log.error("收集器 %s 提交后的收尾失败：%s", name, printable(exc))
            return result, False
        progressed = bool(batch.posts or batch.dead) or batch.checkpoint not in (None, checkpoint)
        return result, batch.more and progressed

    def _fetch_failed(self, collector: Collector, checkpoint: str | None, exc: Exception) -> Batch | None:
        error = f"{type(exc).__name__}: {exc}"
        failures = self._failed(collector, checkpoint, f"读取失败：{error}")
        if failures < self.quarantine_after:
            return None
        try:
            batch = collector.skip(checkpoint, error)
        except Exception as skip_exc:
            log.error("收集器 %s 无法跳过出错的位置：%s", collector.name, printable(skip_exc))
            return None
        if batch is not None:
            log.warning("收集器 %s 在同一位置连续失败 %d 次，已跳过并记入死信：%s", collector.name, failures,
                        printable(error))
        return batch

    def _failed(self, collector: Collector, checkpoint: str | None, error: str) -> int:
        at, n = self._stuck.get(collector.name, (checkpoint, 0))
        n = n + 1 if at == checkpoint else 1
        self._stuck[collector.name] = (checkpoint, n)
        self.health.failure(collector.name, error)
        log.error("收集器 %s %s（同一位置第 %d 次，下次调度时重试）", collector.name, printable(error, 500), n)
        return n

    def _save(self, collector: Collector, batch: Batch) -> IngestResult:
        if not (batch.posts or batch.dead or batch.checkpoint is not None):
            return IngestResult()
        started = time.perf_counter()
        posts, refused = self.boundary.admit(batch.posts, collector.name, batch.originals)
        result = self.store.ingest(collector.name, posts, batch.checkpoint, [*batch.dead, *refused])
        if result.new or result.updated or result.dead:
            log.info(
                "收集器 %s%s：新增 %d 条，更新 %d 条，重复 %d 条，死信 %d 条（%.0f ms）",
                collector.name, f"（{printable(batch.note, 120)}）" if batch.note else "", result.new,
                result.updated, result.unchanged, result.dead, (time.perf_counter() - started) * 1000,
            )
        return result
