"""The write-back outbox: moderators' and leaders' actions carried out on the platforms.

A decision (删除 + 在平台上删除 / 禁言) or an official reply queues a `WriteBack` in the same
transaction; `WriteBackOutbox.deliver_due` hands each due one to the collector of the channel the
post came from (`Post.raw["_collector"]`). The platform's answer goes into the audit log. A transient
failure is retried with exponential backoff and jitter, capped, never dropped; a refusal for good
(`WriteBackRefused`: the comment is already gone, no permission for this comment) ends it with the
answer shown on the post. A channel whose write-back is switched off (`write_back: false`) keeps
its queued actions waiting, with an error saying so, until it is switched on again.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from collectors.base import Collector
from collectors.http import SourceError, WriteBackRefused
from core.backoff import backoff
from core.domain import AuditEvent, WriteBack, WriteBackState, utcnow
from core.masking import redact
from core.text import printable
from store.base import Store

log = logging.getLogger("sentinel.writeback")


@dataclass
class WriteBackReport:
    sent: int = 0
    refused: int = 0
    failed: int = 0


class WriteBackOutbox:
    def __init__(self, store: Store, collectors: Mapping[str, Collector], clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None, base_delay: timedelta = timedelta(seconds=30),
                 max_delay: timedelta = timedelta(minutes=30)) -> None:
        self.store = store
        self.collectors = dict(collectors)
        self.clock = clock
        self.rng = rng or random.Random()
        self.base_delay, self.max_delay = base_delay, max_delay

    def deliver_due(self, limit: int = 20) -> WriteBackReport:
        report = WriteBackReport()
        for wb in self.store.due_writebacks(self.clock(), limit):
            outcome = self._one(wb)
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def backoff(self, failures: int) -> timedelta:
        """Delay after the `failures`-th failure in a row (core.backoff)."""
        return backoff(failures, self.base_delay, self.max_delay, self.rng)

    def _one(self, wb: WriteBack) -> str:
        assert wb.id is not None
        target = f"post:{wb.post_id}"
        try:
            collector = self._collector(wb)
            post = self.store.get_post(wb.post_id)
            if post is None:
                raise WriteBackRefused(f"帖子 #{wb.post_id} 已不在数据库中")
            answer = collector.write_back(wb.action, post, dict(wb.payload))
        except WriteBackRefused as exc:
            text = printable(redact(str(exc), digit_runs=False), 1000)
            self.store.writeback_done(wb.id, WriteBackState.REFUSED, text, self.clock(), AuditEvent(
                "system", f"writeback.{wb.action}.refused", target,
                {"channel": wb.collector, "requested_by": wb.requested_by, "answer": text}))
            log.warning("回写 #%d（%s，帖子 #%d）被平台拒绝：%s", wb.id, wb.action_zh, wb.post_id, text)
            return "refused"
        except Exception as exc:
            error = str(exc) if isinstance(exc, SourceError) else f"内部错误：{type(exc).__name__}: {exc}"
            error = printable(redact(error, digit_runs=False), 1000)
            next_at = self.clock() + self.backoff(wb.attempts + 1)
            self.store.writeback_failed(wb.id, error, next_at)
            log.warning("回写 #%d（%s，帖子 #%d）失败（第 %d 次）：%s；将于 %s 重试", wb.id, wb.action_zh,
                        wb.post_id, wb.attempts + 1, error, next_at.isoformat(timespec="seconds"))
            return "failed"
        text = printable(redact(json.dumps(answer, ensure_ascii=False, default=str), digit_runs=False), 2000)
        self.store.writeback_done(wb.id, WriteBackState.SENT, text, self.clock(), AuditEvent(
            "system", f"writeback.{wb.action}", target,
            {"channel": wb.collector, "requested_by": wb.requested_by, "answer": text}))
        log.info("回写 #%d 已完成：%s（帖子 #%d，渠道 %s）", wb.id, wb.action_zh, wb.post_id, wb.collector)
        return "sent"

    def _collector(self, wb: WriteBack) -> Collector:
        collector = self.collectors.get(wb.collector)
        if collector is None:
            raise SourceError(f"没有名为 “{wb.collector}” 的渠道（可能已从配置中删除）；恢复该渠道的配置后会自动重试")
        if wb.action not in collector.write_actions:
            raise WriteBackRefused(f"渠道 {wb.collector}（{collector.title_zh}）不支持“{wb.action_zh}”")
        if not collector.write_back_enabled:
            raise SourceError(f"渠道 {wb.collector} 未开启回写（write_back: true）；开启后会自动执行")
        return collector


def writebacks_for_decision(post_raw: dict, post_id: int, collectors: Mapping[str, Collector], actions: list[str],
                            requested_by: str) -> list[WriteBack]:
    """The write-backs a moderator asked for on a post, limited to what its channel can do now."""
    name = post_raw.get("_collector") if isinstance(post_raw, dict) else None
    collector = collectors.get(name) if isinstance(name, str) else None
    if collector is None:
        return []
    return [WriteBack(post_id=post_id, collector=collector.name, action=a, requested_by=requested_by)
            for a in actions if a in collector.enabled_actions]
