"""The running service: every stage built from one Settings and wired together.

`Sentinel.build(settings)` makes the store, the collectors, the analyzer, the rule engine and the
outbox; scheduler.py calls `collect`, `process`, `deliver`, `refresh`, `maintain` and `retain` on a
schedule and serves the dashboard (with `metrics`, what /metrics shows). Tests call the same methods directly.

No record can stop a stage: the ingestion boundary turns bad records into dead letters, and a post
that still makes analysis or the rules fail is retried alone and, after `ingest.quarantine_after`
failures, set aside in the quarantine (the admin's dead-letter page lists it and can retry it).
`status()` reports each job's last success, last error and consecutive failures; it says "degraded"
when a job or a collector has failed `health.degraded_after` times in a row, and /healthz answers 503.
"""
from __future__ import annotations

import gc
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from alerts import Outbox, build_notifiers
from alerts.reportmail import ReportMailer
from alerts.routing import Router
from collectors import CollectorRunner, build_collectors
from collectors.boundary import Boundary
from collectors.writeback import WriteBackOutbox
from core.caseflow import subside_quiet_cases
from core.config import Settings
from core.errors import ConfigError
from core.domain import AuditEvent, Post, utcnow
from core.health import Health
from core.lease import WorkerLease
from core.links import AlertLinks
from core.metrics import Metrics
from core.privacy import RetentionPolicy, RetentionReport, apply_retention
from dashboard.security import load_secret_key
from core.text import printable
from nlp import Analyzer
from nlp.analyzer import gc_paused
from nlp.tokenizer import search_tokens, search_tokens_many
from rules import RuleEngine
from store import Store, open_store

log = logging.getLogger("sentinel.service")
WARM_WINDOW = timedelta(days=2)  # how much recent history refills in-memory windows after a restart

StopCheck = Callable[[], bool]


@dataclass
class Sentinel:
    settings: Settings
    store: Store
    runner: CollectorRunner
    analyzer: Analyzer
    engine: RuleEngine
    outbox: Outbox
    writebacks: WriteBackOutbox
    router: Router | None = None
    reportmail: ReportMailer | None = None
    clock: Callable[[], datetime] = utcnow
    health: Health = field(default_factory=lambda: Health(utcnow))
    metrics: Metrics = field(default_factory=Metrics.create)  # what /metrics shows (core/metrics.py)
    lease: WorkerLease | None = None  # with several instances on one store: who works (None: this one)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # job name -> seconds spent in it (core.bench)
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)  # job name -> CPU seconds of its thread
    _process_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> "Sentinel":
        started = time.perf_counter()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        notifiers = build_notifiers(settings.notifiers, settings.config_file, dict(os.environ))
        collectors = build_collectors(settings)
        store = open_store(settings, tokenize=search_tokens, tokenize_many=search_tokens_many)
        router = Router.from_config(settings.routing, notifiers, store.users, settings.config_file, settings.timezone)
        engine = RuleEngine.from_file(settings.rules_file, list(notifiers), timezone=settings.timezone, clock=clock,
                                      max_skew=settings.future_skew, quarantine_after=settings.quarantine_after,
                                      prepare_alert=router.prepare)
        links = AlertLinks(load_secret_key(settings.data_dir), settings.external_url)
        analyzer = Analyzer.load(data_dir=settings.data_dir, official_domains=settings.official_domains)
        analyzer.clock, analyzer.max_skew = clock, settings.future_skew
        runner = CollectorRunner(store, collectors, boundary=Boundary.from_settings(settings, clock),
                                 quarantine_after=settings.quarantine_after, clock=clock)
        service = cls(
            settings=settings,
            store=store,
            runner=runner,
            analyzer=analyzer,
            engine=engine,
            outbox=Outbox(store, notifiers, clock=clock, links=links, digest_period=router.digest_period),
            router=router,
            reportmail=ReportMailer.pick(notifiers, store=store, data_dir=settings.data_dir, clock=clock,
                                         timezone=settings.timezone, dashboard_url=settings.external_url or None),
            writebacks=WriteBackOutbox(store, {c.name: c for c in collectors}, clock=clock),
            clock=clock,
            health=Health(clock),
        )
        service.metrics = Metrics.create(store, lag=service.collector_lag)
        service._warm()
        # The models, dictionaries and windows loaded above live as long as the process: keep them
        # out of the garbage collector's full passes, which otherwise walk millions of them again
        # and again while posts are analysed (a tenth of the pipeline's time). The collect and
        # process jobs also pause the collector while they run (gc_paused).
        gc.freeze()
        log.info(
            "服务已就绪：数据目录 %s，渠道 %s，通知方式 %s，模型 %s（启动耗时 %.1f 秒）",
            settings.data_dir, "、".join(c.name for c in collectors) or "无",
            "、".join(notifiers) or "无（预警只在看板显示）", analyzer.model_version,
            time.perf_counter() - started,
        )
        return service

    def active(self) -> bool:
        """Whether this instance does the work now (it holds the worker lease, or runs without one)."""
        return self.lease is None or self.lease.active()

    def take_over(self) -> None:
        """Called when this instance takes the worker lease from another one: refill the in-memory
        windows from what the previous holder stored, so the hand-over changes no decision."""
        self._warm()

    def _warm(self) -> None:
        """Refill in-memory windows from recent stored history, so a restart changes no decision.
        A failure here is reported by /healthz; the service still starts (with empty windows)."""
        now = self.clock()
        try:
            with self._job("warm"):
                self.analyzer.set_debunks(self.store.debunks())
                self.analyzer.warm(self.store.recent_analyzed(since=now - WARM_WINDOW,
                                                              until=now + self.settings.future_skew))
                self.engine.warm(self.store, now)
        except Exception as exc:
            log.error("启动时回填时间窗口失败，窗口从空开始：%s", printable(f"{type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ jobs
    def collect(self, should_stop: StopCheck = lambda: False) -> int:
        with self._job("collect"), gc_paused():  # bounded: the runner's time budget and batch count
            result = self.runner.run_once(should_stop)
        return result.new + result.updated

    def process(self, should_stop: StopCheck = lambda: False, budget_s: float = 20.0) -> int:
        """Analyse pending posts and run the rules over them, batch by batch, until none is left,
        the time budget is spent, or a stop is requested (the batch in flight always finishes)."""
        done = 0
        deadline = time.monotonic() + budget_s
        with self._process_lock, gc_paused():  # for the job's run, at most `budget_s` (nlp/analyzer.py)
            while not should_stop() and time.monotonic() < deadline:
                with self._job("analyze"):
                    posts = self.store.posts_to_analyze(self.settings.batch_size,
                                                        skip_after=self.settings.quarantine_after)
                    if posts:
                        self._analyse(posts)
                with self._job("rules"):
                    ruled = self.engine.process(self.store, self.settings.batch_size)
                done += len(posts)
                if not posts and not ruled:
                    break
        return done

    def _analyse(self, posts: list[Post]) -> None:
        started = time.perf_counter()
        try:
            analyses = self.analyzer.pipe(posts)
            self.store.save_analyses(list(zip(posts, analyses)))
        except sqlite3.OperationalError:  # the database, not a post: fail the job, retry next cycle
            raise
        except Exception as exc:
            log.warning("分析一批 %d 条时出错（%s），改为逐条分析以找出问题帖子", len(posts),
                        printable(f"{type(exc).__name__}: {exc}"))
            self._analyse_one_by_one(posts)
            return
        elapsed = time.perf_counter() - started
        self.metrics.analysis_seconds.observe(elapsed)
        log.info("分析完成 %d 条（%.0f 条/秒，模型 %s）", len(posts),
                 len(posts) / max(elapsed, 1e-6), self.analyzer.model_version)

    def _analyse_one_by_one(self, posts: list[Post]) -> None:
        limit = self.settings.quarantine_after
        for post in posts:
            assert post.id is not None
            try:
                self.store.save_analyses([(post, self.analyzer.pipe([post])[0])])
            except sqlite3.OperationalError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                n = self.store.quarantine_failure("analyze", post.id, post.version, error, self.clock())
                if n >= limit:
                    log.error("帖子 #%d 第 %d 次分析失败，已隔离（管理员可在“死信”页重试）：%s", post.id, n,
                              printable(error))
                else:
                    log.error("帖子 #%d 分析失败（第 %d 次）：%s", post.id, n, printable(error))

    def deliver(self) -> Any:
        """Send due alerts, then carry out due write-backs (each has its own health entry)."""
        with self._job("deliver"):
            if self.router is not None:
                self.router.escalate(self.store, self.clock())
            report = self.outbox.deliver_due()
        for (notifier, outcome), n in report.outcomes.items():
            self.metrics.delivery_attempts.labels(notifier, outcome).inc(n)
        with self._job("writeback"):
            self.writebacks.deliver_due()
        if self.reportmail is not None:
            with self._job("reportmail"):
                self.reportmail.deliver_due()
        return report

    def maintain(self) -> list[int]:
        """Housekeeping: a rumour case in 已澄清 whose claim has been quiet (no new post) for
        `cases.subside_after_hours` goes to 平息, audited as `system` (their ids are returned); the
        reports of periods that have ended are generated into the archive (dashboard.report) and
        queued for the officers who subscribe to them (alerts.reportmail)."""
        with self._job("maintain"):
            moved = subside_quiet_cases(self.store, self.clock(), self.settings.subside_after)
        with self._job("reports"):
            from dashboard.report import archive_due

            written = archive_due(self.store, self.settings.data_dir, self.settings.timezone, self.clock())
        if written:
            log.info("已生成并归档报告：%s", "、".join(p.name for p in written if p.suffix == ".pdf"))
        if self.reportmail is not None:
            with self._job("reportmail"):
                queued = self.reportmail.queue_latest()  # the periods just archived, or ones a stop left unqueued
            if queued:
                log.info("已排队 %d 封报告邮件（发给订阅报告的工会干部）", queued)
        if moved:
            log.info("%d 个已澄清的事件已连续 %s 小时没有新帖子，自动标记为平息：%s", len(moved),
                     f"{self.settings.subside_after.total_seconds() / 3600:g}", "、".join(f"#{i}" for i in moved))
        return moved

    def retain(self) -> RetentionReport:
        """The retention job (`retention` in the config, core/privacy.py): personal data in stored
        texts redacted after `pii_days`, posts deleted after `posts_days` (their counts kept as
        aggregates). One log line and one audit event (as `system`) when it changed something."""
        policy = RetentionPolicy.from_settings(self.settings)
        if not policy.active:
            return RetentionReport()
        with self._job("retention"):
            report = apply_retention(self.store, policy, self.clock())
        if report.changed:
            log.info("%s", report.summary(policy))
            self.store.audit(AuditEvent("system", "retention.run", "posts", {
                "redacted": report.redacted, "purged": report.purged, "dead_letters_redacted": report.dead_redacted,
                "dead_letters_purged": report.dead_purged, "pii_days": policy.pii_days,
                "posts_days": policy.posts_days}, self.clock()))
        return report

    def collector_lag(self) -> dict[str, float | None]:
        """Seconds since each collector's last successful poll (None: none yet)."""
        facts, _ = self.runner.health.report(self.settings.degraded_after)
        return {name: f.get("lag_seconds") for name, f in facts.items()}

    @property
    def write_actions(self) -> dict[str, frozenset[str]]:
        """Channel name -> the platform actions it carries out now (for the dashboard)."""
        return {c.name: c.enabled_actions for c in self.runner.collectors if c.enabled_actions}

    def start(self) -> None:
        """Start the listeners of push channels (OneBot); polling channels need nothing."""
        for c in self.runner.collectors:
            try:
                c.start(self.store)
            except Exception as exc:
                self.runner.health.failure(c.name, f"监听启动失败：{exc}")
                log.error("渠道 %s 的监听启动失败：%s", c.name, printable(exc))

    def refresh(self) -> None:
        """Pick up a newly trained model, the current debunk registry and a changed rule file (an
        invalid one is refused with its error on /healthz; the rules in use keep running)."""
        with self._job("refresh"):
            if self.analyzer.maybe_reload():
                log.info("已切换到新模型 %s（无需重启）", self.analyzer.model_version)
            self.analyzer.set_debunks(self.store.debunks())
        try:
            with self._job("rules_reload"), self._process_lock:
                self.engine.maybe_reload(self.store, self.clock())
        except ConfigError as exc:
            if getattr(exc, "first_report", True):
                log.error("规则文件有误，未加载，继续使用原有规则：%s", exc)

    def run_until_idle(self, rounds: int = 100) -> None:
        """Collect, process and deliver until nothing new arrives (used by tests and tools)."""
        for _ in range(rounds):
            got = self.collect()
            handled = self.process()
            self.deliver()
            if not got and not handled:
                return

    # ------------------------------------------------------------------ status
    @contextmanager
    def _job(self, name: str) -> Iterator[None]:
        self.health.started(name)
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        except BaseException as exc:
            self.health.failure(name, f"{type(exc).__name__}: {exc}")
            self.metrics.job_failures.labels(name).inc()
            raise
        else:
            self.health.success(name)
        finally:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + time.perf_counter() - started
            self.stage_cpu_seconds[name] = self.stage_cpu_seconds.get(name, 0.0) + time.thread_time() - cpu

    def status(self) -> dict[str, Any]:
        """What /healthz and the admin status page add to the store's counts."""
        jobs, problems = self.health.report(self.settings.degraded_after)
        collectors, source_problems = self.runner.health.report(self.settings.degraded_after)
        for c in self.runner.collectors:
            if c.every is not None and c.name in collectors:
                collectors[c.name]["every_seconds"] = c.every
                collectors[c.name]["next_poll_seconds"] = round(self.runner.next_poll_in(c.name))
        problems += [f"收集器 {p}" for p in source_problems]
        try:
            quarantined = len(self.store.quarantined(min_attempts=self.settings.quarantine_after, limit=1000))
            for notifier, waiting, error in self.store.failing_notifiers(self.settings.degraded_after):
                problems.append(f"通知方式 {notifier} 连续发送失败，{waiting} 条预警待重发：{printable(error, 200)}")
        except Exception as exc:
            quarantined = None
            problems.append(f"读取隔离区或发件箱失败：{exc}")
        return {
            **({"instance": self.lease.describe()} if self.lease is not None else {}),
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "model_version": self.analyzer.model_version,
            "jobs": jobs,
            "collectors": collectors,
            "quarantined": quarantined,
            "last_run": {name: job["last_success"] for name, job in jobs.items() if job["last_success"]},
        }

    def close(self) -> None:
        for c in self.runner.collectors:
            try:
                c.stop()
            except Exception as exc:
                log.error("渠道 %s 停止监听时出错：%s", c.name, printable(exc))
        self.store.close()
