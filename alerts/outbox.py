"""The outbox: delivers alerts to notifiers, retrying with backoff until each delivery succeeds.

The store holds one delivery row per alert and notifier (written in the same transaction as the
alert). `deliver_due` sends the rows that are due; a failure keeps the row with its error and the
next attempt time: exponential backoff with jitter, capped. Nothing is ever dropped: a delivery to a
notifier that is no longer configured keeps failing with an error saying so, until the notifier is
configured again (or someone handles it on the dashboard). The one exception is erasure on request
(`python -m store.erase`): an alert left with none of its posts is not sent any more.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from alerts.base import AlertMessage, DeliveryError, Notifier, PostExcerpt, Recipient, SendReport
from core.backoff import backoff
from core.domain import utcnow
from core.links import AlertLinks
from core.masking import excerpt as masked_excerpt, redact
from store.base import Delivery, Store

log = logging.getLogger("sentinel.alerts")
DIGEST_TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (notifier, "sent" | "failed") → n


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
        links: AlertLinks | None = None,
        digest_period: Callable[[str], timedelta | None] = lambda reason: None,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.rng = rng or random.Random()
        self.base_delay, self.max_delay = base_delay, max_delay
        self.max_posts = max_posts  # post excerpts per message
        self.links = links  # signed 认领/确认 links in personal messages
        self.digest_period = digest_period  # a delivery's reason -> its batching period (None: not batched)

    def deliver_due(self, limit: int = 50) -> DeliveryReport:
        """Try every delivery that is due now (at most `limit`)."""
        report = DeliveryReport()
        messages: dict[int, AlertMessage] = {}
        for delivery in self.store.due_deliveries(self.clock(), limit):
            if self._deliver(delivery, messages):
                report.sent += 1
                report.outcomes[(delivery.notifier, "sent")] += 1
            else:
                report.failed += 1
                report.outcomes[(delivery.notifier, "failed")] += 1
        return report

    def backoff(self, failures: int) -> timedelta:
        """Delay after the `failures`-th failure in a row (core.backoff)."""
        return backoff(failures, self.base_delay, self.max_delay, self.rng)

    # ------------------------------------------------------------------ one delivery
    def _deliver(self, d: Delivery, messages: dict[int, AlertMessage]) -> bool:
        assert d.id is not None
        attempt = d.attempts + 1
        batch = [d]
        note = ""
        try:
            notifier = self.notifiers.get(d.notifier)
            if notifier is None:
                configured = "、".join(self.notifiers) or "无"
                raise DeliveryError(f"没有名为 “{d.notifier}” 的通知方式（可能已从配置中删除；当前配置：{configured}）。"
                                    "请恢复该通知方式的配置，恢复后会自动补发")
            recipients = self._recipients(d, notifier)
            if recipients is None:  # the person is gone or deactivated: nothing to send, nothing to retry
                self.store.delivery_sent(d.id, self.clock(), f"收件人 {d.recipient} 已停用或已删除，未发送")
                return True
            period = self.digest_period(d.reason)
            if period is not None:
                due = self._digest_due(d, period)
                if due is not None:
                    self.store.postpone_delivery(d.id, due)
                    return True
                batch = self.store.digest_deliveries(d.notifier, d.recipient) or [d]
                message = self._digest(batch)
            else:
                if d.alert_id not in messages:
                    messages[d.alert_id] = self._message(d.alert_id)
                message = messages[d.alert_id]
            # a group notifier is called as send(message): notifiers written before personal routes work on
            report = notifier.send(message, recipients) if recipients else notifier.send(message)
            if isinstance(report, SendReport) and report.invalid:
                note = f"平台无法送达：{'、'.join(report.invalid)}" + (f"（{report.note}）" if report.note else "")
                log.warning("预警 #%d 通过 “%s” 发送时，平台无法送达：%s", d.alert_id, d.notifier,
                            "、".join(report.invalid))
        except DeliveryError as exc:
            self._failed(d, attempt, str(exc), exc.retry_after)
            return False
        except Exception as exc:  # a bug in one notifier must not stop the others, nor lose the alert
            log.exception("通知方式 “%s” 出现内部错误", d.notifier)
            self._failed(d, attempt, f"内部错误：{type(exc).__name__}: {exc}")
            return False
        now = self.clock()
        for one in batch:
            self.store.delivery_sent(one.id, now, note)  # type: ignore[arg-type]
        who = f"（{d.recipient}）" if d.recipient else ""
        what = f"{len(batch)} 条预警的汇总" if len(batch) > 1 or self.digest_period(d.reason) else f"预警 #{d.alert_id}"
        log.info("%s已通过 “%s”%s 发送（第 %d 次尝试）", what, d.notifier, who, attempt)
        return True

    def _recipients(self, d: Delivery, notifier: Notifier) -> list[Recipient] | None:
        """[] for a group notifier; the one person of a personal delivery; None when they are gone."""
        if not d.recipient:
            return []
        user = self.store.get_user(d.recipient)
        if user is None or not user.active:
            return None
        address = user.address(notifier.route or "")
        if not address:
            raise DeliveryError(f"用户 {d.recipient} 没有填写 {notifier.route} 联系方式；请在“用户”页补充，补充后自动补发")
        link = self.links.url(d.alert_id, user.username) if self.links is not None else None
        return [Recipient(user.username, address, link)]

    def _digest_due(self, d: Delivery, period: timedelta) -> datetime | None:
        """When the next digest for this notifier and person may go (None: now)."""
        last = self.store.last_digest_at(d.notifier, d.recipient)
        if last is not None and self.clock() < last + period:
            return last + period
        return None

    def _digest(self, batch: list[Delivery]) -> AlertMessage:
        alerts = [a for a in (self.store.get_alert(x.alert_id) for x in batch) if a is not None]
        if not alerts:
            raise DeliveryError("汇总里的预警都已不在数据库中")
        lines = [f"· {a.created_at.astimezone(DIGEST_TZ).strftime('%m-%d %H:%M')} {a.level.label_zh}色 {redact(a.title)}"
                 for a in alerts]
        newest = alerts[-1]
        return AlertMessage(alert_id=newest.id or 0, rule="digest", level=max((a.level for a in alerts),
                            key=lambda lv: lv.rank), title=f"预警汇总：{len(alerts)} 条", body="\n".join(lines),
                            created_at=newest.created_at)

    def _failed(self, d: Delivery, attempt: int, error: str, retry_after: float | None = None) -> None:
        assert d.id is not None
        delay = self.backoff(attempt)
        if retry_after:
            delay = max(delay, timedelta(seconds=retry_after))
        next_at = self.clock() + delay
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
