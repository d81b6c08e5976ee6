"""Prometheus metrics (`GET /metrics`, dashboard/metrics.py), one registry per service or app.

Where each number comes from, so it is right however the service runs (scheduler.py serves the
dashboard from the same process; `create_app` also runs over a store that another process fills):

- from the store, read at each scrape (cheap counts on indexes, `Store.metrics_snapshot`): posts
  ingested per channel (deleted posts included, from the aggregates, so it only grows), dead letters,
  the review queue, the analysis backlog and the age of its oldest post, alerts per level, outbox
  deliveries per notifier and state;
- from the running service, kept in memory (they start at 0 with the process, as Prometheus
  expects of counters): analysis latency per batch, job failures, delivery attempts per notifier and
  outcome, and each collector's lag (seconds since its last successful poll).

No module-level registry: `Metrics.create` makes a `CollectorRegistry` of its own, so two apps (or
two tests) never share a counter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "sentinel"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class StoreCollector(Collector):
    """Counts read from the store at scrape time, plus collector lag from the running service."""

    def __init__(self, store: Any, lag: Callable[[], dict[str, float | None]] | None = None) -> None:
        self.store = store
        self.lag = lag

    def describe(self) -> list[Metric]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        snap = self.store.metrics_snapshot()
        posts = CounterMetricFamily(f"{PREFIX}_posts_ingested", "收到的帖子数（按渠道，含已按保留期限删除的）",
                                    labels=["channel"])
        for channel, n in snap["posts_by_channel"].items():
            posts.add_metric([channel], n)
        yield posts
        yield GaugeMetricFamily(f"{PREFIX}_dead_letters", "死信数（无法入库的记录）", value=snap["dead_letters"])
        queue = GaugeMetricFamily(f"{PREFIX}_review_queue", "审核队列中的帖子数（按状态）", labels=["status"])
        for status, n in snap["review_queue"].items():
            queue.add_metric([status], n)
        yield queue
        yield GaugeMetricFamily(f"{PREFIX}_analysis_backlog", "等待分析的帖子数", value=snap["analysis_backlog"])
        yield GaugeMetricFamily(f"{PREFIX}_analysis_backlog_age_seconds", "等待分析最久的帖子已等待的秒数",
                                value=snap["analysis_backlog_age_seconds"])
        alerts = CounterMetricFamily(f"{PREFIX}_alerts", "产生的预警数（按级别）", labels=["level"])
        for level, n in snap["alerts_by_level"].items():
            alerts.add_metric([level], n)
        yield alerts
        outbox = GaugeMetricFamily(f"{PREFIX}_deliveries", "发件箱中的投递（按通知方式和状态：pending 待发、failing 重试中、sent 已发）",
                                   labels=["notifier", "state"])
        for (notifier, state), n in sorted(snap["deliveries"].items()):
            outbox.add_metric([notifier, state], n)
        yield outbox
        if self.lag is not None:
            lag = GaugeMetricFamily(f"{PREFIX}_collector_lag_seconds", "收集器距上次成功拉取的秒数", labels=["collector"])
            for name, seconds in sorted(self.lag().items()):
                if seconds is not None:
                    lag.add_metric([name], seconds)
            yield lag


@dataclass
class Metrics:
    """A registry with the service's in-memory metrics and the store collector."""

    registry: CollectorRegistry
    analysis_seconds: Histogram
    job_failures: Counter
    delivery_attempts: Counter

    @classmethod
    def create(cls, store: Any = None, lag: Callable[[], dict[str, float | None]] | None = None) -> "Metrics":
        registry = CollectorRegistry(auto_describe=False)
        metrics = cls(
            registry=registry,
            analysis_seconds=Histogram(f"{PREFIX}_analysis_seconds", "分析一批帖子所用的秒数", registry=registry,
                                       buckets=LATENCY_BUCKETS),
            job_failures=Counter(f"{PREFIX}_job_failures", "后台任务失败次数（按任务）", ["job"], registry=registry),
            delivery_attempts=Counter(f"{PREFIX}_delivery_attempts", "预警投递尝试次数（按通知方式和结果：sent 成功、failed 失败）",
                                      ["notifier", "outcome"], registry=registry),
        )
        if store is not None:
            registry.register(StoreCollector(store, lag))
        return metrics

    def render(self) -> tuple[bytes, str]:
        """The exposition text (names are plain ASCII, so the classic 0.0.4 format) and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4  # every Prometheus version reads it
