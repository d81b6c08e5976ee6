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
import inspect
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Iterator

from collectors.boundary import Boundary
from collectors.http import AuthError, TransientError
from core.config import Settings, validate
from core.domain import Post, utcnow
from core.health import Health
from core.text import printable
from store.base import DeadLetter, IngestResult, Store

log = logging.getLogger("sentinel.collectors")
MAX_BACKOFF = 3600.0  # seconds: the longest pause after failures
AUTH_RETRY = 300.0  # seconds: at least this long between tries while credentials are wrong
REPEAT_LOG_AFTER = 600.0  # seconds: the same error is logged again only after this long


@dataclass
class Batch:
    posts: list[Post] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    checkpoint: str | None = None  # None: unchanged
    more: bool = False  # True: call fetch again right away
    note: str = ""  # what this batch was, for the log line (中文)
    context: dict[str, Any] = field(default_factory=dict)  # for after_commit
    originals: dict[int, str] = field(default_factory=dict)  # id(post) -> the record as received


EVERY_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)$")
EVERY_UNITS = {"s": 1, "m": 60, "h": 3600}
# options every channel type accepts besides its own: its name and type, how often it is polled
# (`every`: 30s, 5m, 1h) and whether moderators' and leaders' actions go back to the platform
COMMON_OPTIONS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "type": {"type": "string"},
    "every": {"type": ["string", "number"], "pattern": EVERY_RE.pattern},
    "write_back": {"type": "boolean"},
}


def parse_every(value: Any, default: float | None) -> float | None:
    """`every` in seconds: 30s, 5m, 1h or a number of seconds; None keeps `default`."""
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(float(value), 1.0)
    m = EVERY_RE.match(str(value).strip())
    if not m:
        raise ValueError(f"every 取值 {value!r} 无效，应写成 30s、5m 或 1h")
    return max(float(m.group(1)) * EVERY_UNITS[m.group(2)], 1.0)


def options_schema(type_name: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A channel type's config schema: its own properties plus the common ones, nothing else."""
    return {
        "type": "object",
        "required": ["name", "type", *required],
        "properties": {**COMMON_OPTIONS, "type": {"const": type_name}, **properties},
        "additionalProperties": False,
    }


class Collector(abc.ABC):
    """One channel source. Subclasses set `type_name`, `options_schema` and implement `fetch`.

    Polling platforms set `every` (seconds between polls; the runner waits that long after a poll
    that found nothing more, and longer after failures). A platform that pushes events (OneBot)
    runs a listener between `start(store)` and `stop()` that stores each event with
    `store.push_inbound` before answering; its `fetch` reads them back like a file.
    A channel that can act on the platform lists `write_actions` and implements `write_back`; it does
    so only when its config says `write_back: true`."""

    type_name: ClassVar[str]
    title_zh: ClassVar[str]
    options_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    default_every: ClassVar[float | None] = None  # None: every collect cycle (inbox, demo)
    write_actions: ClassVar[frozenset[str]] = frozenset()  # of delete, ban, reply, elect

    def __init__(self, name: str) -> None:
        self.name = name  # also the checkpoint key
        self.every: float | None = self.default_every
        self.write_back_enabled = False

    def configure(self, cfg: dict[str, Any]) -> "Collector":
        """Apply the common options (`every`, `write_back`) from a validated config entry."""
        self.every = parse_every(cfg.get("every"), self.default_every)
        self.write_back_enabled = bool(cfg.get("write_back", False)) and bool(self.write_actions)
        return self

    @property
    def enabled_actions(self) -> frozenset[str]:
        """The write-back actions moderators and leaders may ask for on this channel now."""
        return self.write_actions if self.write_back_enabled else frozenset()

    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str) -> "Collector":
        """Validate `cfg` against `options_schema` (errors name the config file and field)."""
        validate(cfg, cls.options_schema, settings.config_file, prefix=where)
        if "where" in inspect.signature(cls.create).parameters:  # to name the field of a missing secret
            return cls.create(cfg, settings, where=where).configure(cfg)  # type: ignore[call-arg]
        return cls.create(cfg, settings).configure(cfg)

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

    # ---- optional parts
    def start(self, store: Store) -> None:
        """Start listening (push platforms). Called once by the running service."""

    def stop(self) -> None:
        """Stop listening; the events already stored are read on the next start."""

    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Older posts, page by page (`python -m collectors.backfill`); batches carry no checkpoint.
        Posts are keyed by (channel, source_id), so a backfill over what was collected adds nothing twice."""
        raise NotImplementedError(f"渠道类型 {self.type_name} 不支持回填")

    def write_back(self, action: str, post: Post, payload: dict[str, Any]) -> dict[str, Any]:
        """Carry out `action` (one of `write_actions`) for `post` on the platform and return the
        platform's answer. Raise WriteBackRefused when the platform refuses for good, any other
        SourceError to be retried later."""
        raise NotImplementedError(f"渠道类型 {self.type_name} 不支持回写")


class CollectorRunner:
    """Runs every collector that is due until it has nothing more, saving each batch atomically.

    Collectors without `every` (inbox, demo) run on every collect cycle. A polling collector runs
    every `every` seconds; after a failure it waits longer each time (doubling, up to an hour, with
    jitter; at least what the platform asked for when it rate-limits us, at least 5 minutes when the
    credentials are wrong) — a circuit breaker: one trial call after each pause, never a crash loop.
    The same error is logged once per 10 minutes, not on every try."""

    def __init__(self, store: Store, collectors: list[Collector], max_batches: int = 10_000,
                 boundary: Boundary | None = None, quarantine_after: int = 3,
                 clock: Callable[[], datetime] = utcnow, budget_s: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
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
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.health = Health(clock)  # one entry per collector name
        self._stuck: dict[str, tuple[str | None, int]] = {}  # collector -> (checkpoint, failures there)
        self._due: dict[str, float] = {}  # collector -> monotonic time of its next poll
        self._failures: dict[str, int] = {}  # consecutive failed polls (for the backoff)
        self._logged: dict[str, tuple[str, float]] = {}  # the last error logged per collector, and when

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> IngestResult:
        total = IngestResult()
        for collector in self.collectors:
            if should_stop():
                break
            if collector.every is not None and self.monotonic() < self._due.get(collector.name, 0.0):
                continue
            total += self._run(collector, should_stop)
        return total

    def next_poll_in(self, name: str) -> float:
        """Seconds until the collector `name` is polled again (0: on the next cycle)."""
        return max(0.0, self._due.get(name, 0.0) - self.monotonic())

    def _run(self, collector: Collector, should_stop: Callable[[], bool]) -> IngestResult:
        total = IngestResult()
        deadline = self.monotonic() + self.budget_s
        error: Exception | None = None
        for _ in range(self.max_batches):
            if should_stop() or self.monotonic() > deadline:
                break
            outcome = self._step(collector)
            if isinstance(outcome, Exception):
                error = outcome
                break
            result, more = outcome
            total += result
            if not more:
                break
        if collector.every is not None:
            self._schedule(collector, error)
        return total

    def _schedule(self, collector: Collector, error: Exception | None) -> None:
        name, every = collector.name, float(collector.every or 0)
        if error is None:
            self._failures.pop(name, None)
            self._due[name] = self.monotonic() + every
            return
        n = self._failures[name] = self._failures.get(name, 0) + 1
        delay = min(every * 2 ** (n - 1), MAX_BACKOFF) * (0.8 + 0.4 * self.rng.random())
        if isinstance(error, AuthError):
            delay = max(delay, AUTH_RETRY)
        retry = getattr(error, "retry_after", None)
        if retry:
            delay = max(delay, float(retry))
        self._due[name] = self.monotonic() + delay

    def _step(self, collector: Collector) -> tuple[IngestResult, bool] | Exception:
        """Fetch and save one batch of `collector`; the error when it failed (stop for this run)."""
        name = collector.name
        checkpoint = self.store.checkpoint(name)
        try:
            batch = collector.fetch(checkpoint)
        except Exception as exc:  # one broken source must not stop the others
            skipped = self._fetch_failed(collector, checkpoint, exc)
            if skipped is None:
                return exc
            batch = skipped
        try:
            result = self._save(collector, batch)
        except Exception as exc:
            self._failed(collector, checkpoint, f"保存失败：{type(exc).__name__}: {exc}")
            return exc
        self._stuck.pop(name, None)
        self._logged.pop(name, None)
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
        if isinstance(exc, AuthError):
            self._failed(collector, checkpoint, f"凭据或权限有误：{exc}（请管理员检查该渠道的配置和环境变量）")
            return None  # a position is not to blame: nothing to skip
        if isinstance(exc, TransientError):
            self._failed(collector, checkpoint, f"平台暂时不可用：{exc}")
            return None
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
        last, when = self._logged.get(collector.name, ("", -1e18))
        now = self.monotonic()
        if error != last or now - when >= REPEAT_LOG_AFTER:
            self._logged[collector.name] = (error, now)
            log.error("收集器 %s %s（同一位置第 %d 次，稍后重试）", collector.name, printable(error, 500), n)
        return n

    def _save(self, collector: Collector, batch: Batch) -> IngestResult:
        if not (batch.posts or batch.dead or batch.checkpoint is not None):
            return IngestResult()
        started = time.perf_counter()
        for post in batch.posts:  # which channel a post came from: write-backs go back through it
            if isinstance(post.raw, dict):
                post.raw["_collector"] = collector.name
        posts, refused = self.boundary.admit(batch.posts, collector.name, batch.originals)
        result = self.store.ingest(collector.name, posts, batch.checkpoint, [*batch.dead, *refused])
        if result.new or result.updated or result.dead:
            log.info(
                "收集器 %s%s：新增 %d 条，更新 %d 条，重复 %d 条，死信 %d 条（%.0f ms）",
                collector.name, f"（{printable(batch.note, 120)}）" if batch.note else "", result.new,
                result.updated, result.unchanged, result.dead, (time.perf_counter() - started) * 1000,
            )
        return result
