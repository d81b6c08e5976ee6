"""The collector contract and the runner that saves what collectors fetch.

A collector knows one platform and nothing else. It reads from where it left off (its checkpoint,
an opaque string it defines) and returns a `Batch`; the runner saves the batch's posts, its dead
letters and its new checkpoint in ONE store transaction, then calls `after_commit`. A crash before
the commit loses nothing (the collector reads the same records again); a crash after it duplicates
nothing (the checkpoint moved with the posts, and posts are keyed by (channel, source_id)).
"""
from __future__ import annotations

import abc
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from core.config import Settings, validate
from core.domain import Post
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


class CollectorRunner:
    """Runs every collector until it has nothing more, saving each batch atomically."""

    def __init__(self, store: Store, collectors: list[Collector], max_batches: int = 50) -> None:
        self.store = store
        self.collectors = collectors
        self.max_batches = max_batches  # per collector per run, so shutdown stays prompt

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> IngestResult:
        total = IngestResult()
        for collector in self.collectors:
            for _ in range(self.max_batches):
                if should_stop():
                    return total
                try:
                    batch = collector.fetch(self.store.checkpoint(collector.name))
                except Exception as exc:  # one broken source must not stop the others
                    log.error("收集器 %s 读取失败：%s（下次调度时重试）", collector.name, exc)
                    break
                if batch.posts or batch.dead or batch.checkpoint is not None:
                    started = time.perf_counter()
                    result = self.store.ingest(collector.name, batch.posts, batch.checkpoint, batch.dead)
                    collector.after_commit(batch)
                    total += result
                    if result.new or result.updated or result.dead:
                        log.info(
                            "收集器 %s%s：新增 %d 条，更新 %d 条，重复 %d 条，死信 %d 条（%.0f ms）",
                            collector.name, f"（{batch.note}）" if batch.note else "", result.new,
                            result.updated, result.unchanged, result.dead,
                            (time.perf_counter() - started) * 1000,
                        )
                if not batch.more:
                    break
        return total
