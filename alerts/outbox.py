"""The outbox: delivers alerts to notifiers, retrying with backoff until each delivery succeeds.

The store holds one delivery row per alert and notifier (written in the same transaction as the
alert). `deliver_due` sends the rows that are due; a failure keeps the row with its error and the
next attempt time: exponential backoff with jitter, capped. Nothing is ever dropped: a delivery to a
notifier that is no longer configured keeps failing with an error saying so, until the notifier is
configured again (or someone handles it on the dashboard).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from alerts.base import AlertMessage, DeliveryError, Notifier, PostExcerpt
from core.domain import utcnow
from core.masking import excerpt as masked_excerpt
from store.base import Delivery, Store

log = logging.getLogger("sentinel.alerts")


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


class Outbox:
    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(minutes=30),
        max_posts: int = 5,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.rng = rng or random.Random()
        self.base_delay, self.max_delay = base_delay, max_delay
        self.max_posts = max_posts  # post excerpts per message

    def deliver_due(self, limit: int = 50) -> DeliveryReport:
        """Try every delivery that is due now (at most `limit`)."""
        report = DeliveryReport()
        messages: dict[int, AlertMessage] = {}
        for delivery in self.store.due_deliveries(self.clock(), limit):
            if self._deliver(delivery, messages):
                report.sent += 1
            else:
                report.failed += 1
        return report

    def backoff(self, failures: int) -> timedelta:
        """Delay after the `failures`-th failure in a row (1, 2, …): base·2^(n-1), capped, with jitter
        in the upper half so that many failing deliveries do not retry in lockstep."""
        delay = min(self.max_delay, self.base_delay * (2 ** min(max(failures - 1, 0), 30)))
        return delay / 2 + delay / 2 * self.rng.random()

    # ------------------------------------------------------------------ one delivery
    def _deliver(self, d: Delivery, messages: dict[int, AlertMessage]) -> bool:
        assert d.id is not None
        attempt = d.attempts + 1
        try:
            notifier = self.notifiers.get(d.notifier)
            if notifier is None:
                configured = "、".join(self.notifiers) or "无"
                raise DeliveryError(f"没有名为 “{d.notifier}” 的通知方式（可能已从配置中删除；当前配置：{configured}）。"
                                    "请恢复该通知方式的配置，恢复后会自动补发")
            if d.alert_id not in messages:
                messages[d.alert_id] = self._message(d.alert_id)
            notifier.send(messages[d.alert_id])
        except DeliveryError as exc:
            self._failed(d, attempt, str(exc))
            return False
        except Exception as exc:  # a bug in one notifier must not stop the others, nor lose the alert
            log.exception("通知方式 “%s” 出现内部错误", d.notifier)
            self._failed(d, attempt, f"内部错误：{type(exc).__name__}: {exc}")
            return False
        self.store.delivery_sent(d.id, self.clock())
        log.info("预警 #%d 已通过 “%s” 发送（第 %d 次尝试）", d.alert_id, d.notifier, attempt)
        return True

    def _failed(self, d: Delivery, attempt: int, error: str) -> None:
        assert d.id is not None
        next_at = self.clock() + self.backoff(attempt)
        self.store.delivery_failed(d.id, error, next_at)
        log.warning("预警 #%d 通过 “%s” 发送失败（第 %d 次）：%s；将于 %s 重试", d.alert_id, d.notifier,
                    attempt, error, next_at.isoformat(timespec="seconds"))

    def _message(self, alert_id: int) -> AlertMessage:
        alert = self.store.get_alert(alert_id)
        if alert is None:
            raise DeliveryError(f"预警 #{alert_id} 在数据库中不存在")
        posts: list[PostExcerpt] = []
        for pid in reversed(alert.post_ids):  # newest first
            if len(posts) >= self.max_posts:
                break
            post, analysis = self.store.get_post(pid), self.store.get_analysis(pid)
            if post is None or analysis is None:  # without an analysis the personal data is unknown
                continue
            posts.append(PostExcerpt(post.channel, masked_excerpt(post.text, analysis.pii)))
        return AlertMessage.of(alert, posts)
