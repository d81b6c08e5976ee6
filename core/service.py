"""The running service: every stage built from one Settings and wired together.

`Sentinel.build(settings)` makes the store, the collectors, the analyzer, the rule engine and the
outbox; scheduler.py calls `collect`, `process`, `deliver` and `refresh` on a schedule and serves
the dashboard. Tests call the same methods directly.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from alerts import Outbox, build_notifiers
from collectors import CollectorRunner, build_collectors
from core.config import Settings
from core.domain import utcnow
from nlp import Analyzer
from nlp.tokenizer import search_tokens
from rules import RuleEngine
from store import Store, open_store

log = logging.getLogger("sentinel.service")
WARM_WINDOW = timedelta(days=2)  # how much recent history refills in-memory windows after a restart

StopCheck = Callable[[], bool]


@dataclass
class JobStats:
    last_run: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Sentinel:
    settings: Settings
    store: Store
    runner: CollectorRunner
    analyzer: Analyzer
    engine: RuleEngine
    outbox: Outbox
    clock: Callable[[], datetime] = utcnow
    stats: JobStats = field(default_factory=JobStats)
    _process_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> "Sentinel":
        started = time.perf_counter()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        notifiers = build_notifiers(settings.notifiers, settings.config_file, dict(os.environ))
        engine = RuleEngine.from_file(settings.rules_file, list(notifiers), timezone=settings.timezone)
        collectors = build_collectors(settings)
        store = open_store(settings, tokenize=search_tokens)
        analyzer = Analyzer.load(data_dir=settings.data_dir)
        service = cls(
            settings=settings,
            store=store,
            runner=CollectorRunner(store, collectors),
            analyzer=analyzer,
            engine=engine,
            outbox=Outbox(store, notifiers, clock=clock),
            clock=clock,
        )
        service._warm()
        log.info(
            "服务已就绪：数据目录 %s，渠道 %s，通知方式 %s，模型 %s（启动耗时 %.1f 秒）",
            settings.data_dir, "、".join(c.name for c in collectors) or "无",
            "、".join(notifiers) or "无（预警只在看板显示）", analyzer.model_version,
            time.perf_counter() - started,
        )
        return service

    def _warm(self) -> None:
        """Refill in-memory windows from recent stored history, so a restart changes no decision."""
        now = self.clock()
        self.analyzer.set_debunks(self.store.debunks())
        self.analyzer.warm(self.store.recent_analyzed(since=now - WARM_WINDOW))
        self.engine.warm(self.store, now)

    # ------------------------------------------------------------------ jobs
    def collect(self, should_stop: StopCheck = lambda: False) -> int:
        result = self.runner.run_once(should_stop)
        self._mark("collect")
        return result.new + result.updated

    def process(self, should_stop: StopCheck = lambda: False, budget_s: float = 20.0) -> int:
        """Analyse pending posts and run the rules over them, batch by batch, until none is left,
        the time budget is spent, or a stop is requested (the batch in flight always finishes)."""
        done = 0
        deadline = time.monotonic() + budget_s
        with self._process_lock:
            while not should_stop() and time.monotonic() < deadline:
                posts = self.store.posts_to_analyze(self.settings.batch_size)
                if posts:
                    started = time.perf_counter()
                    analyses = self.analyzer.pipe(posts)
                    self.store.save_analyses(list(zip(posts, analyses)))
                    log.info("分析完成 %d 条（%.0f 条/秒，模型 %s）", len(posts),
                             len(posts) / max(time.perf_counter() - started, 1e-6), self.analyzer.model_version)
                ruled = self.engine.process(self.store, self.settings.batch_size)
                done += len(posts)
                if not posts and not ruled:
                    break
        self._mark("process")
        return done

    def deliver(self) -> Any:
        report = self.outbox.deliver_due()
        self._mark("deliver")
        return report

    def refresh(self) -> None:
        """Pick up a newly trained model and the current debunk registry."""
        if self.analyzer.maybe_reload():
            log.info("已切换到新模型 %s（无需重启）", self.analyzer.model_version)
        self.analyzer.set_debunks(self.store.debunks())
        self._mark("refresh")

    def run_until_idle(self, rounds: int = 100) -> None:
        """Collect, process and deliver until nothing new arrives (used by tests and tools)."""
        for _ in range(rounds):
            got = self.collect()
            handled = self.process()
            self.deliver()
            if not got and not handled:
                return

    # ------------------------------------------------------------------ status
    def _mark(self, job: str) -> None:
        self.stats.last_run[job] = self.clock().isoformat(timespec="seconds")

    def status(self) -> dict[str, Any]:
        return {"model_version": self.analyzer.model_version, "last_run": dict(self.stats.last_run)}

    def close(self) -> None:
        self.store.close()
