"""Mailing the archived 舆情报告 to the officers who subscribe (`reports` on 我的订阅 or
`python -m dashboard.users edit NAME --reports weekly`).

When housekeeping archives a period's report (dashboard.report.archive_due), one row per subscriber
goes into the report mail outbox; the delivery job sends each as a mail with the PDF attached,
through the first configured e-mail notifier that mails people (an `email` notifier without `to`).
A failed send is retried with backoff, like alerts; a subscriber who left, unsubscribed or has no
address is dropped with the reason. Only roles that may read reports (dashboard.roles.REPORTS) get
them: a report is an officers' document.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from alerts.base import DeliveryError, Notifier
from alerts.email import EmailNotifier
from core.backoff import backoff
from core.domain import REPORT_PERIODS_ZH, User
from core.text import printable
from dashboard import roles
from store.base import ReportMail, Store

log = logging.getLogger("sentinel.reportmail")


def subscribers(users: list[User], period: str) -> list[str]:
    """Active users who may read reports, subscribe to this kind and have an e-mail address."""
    return [u.username for u in users
            if roles.allows(u, roles.REPORTS) and period in u.reports and u.email]


@dataclass
class ReportMailer:
    store: Store
    notifier: EmailNotifier
    data_dir: Path
    timezone: str
    clock: Callable[[], datetime]
    dashboard_url: str | None = None
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def pick(cls, notifiers: Mapping[str, Notifier], **kw: object) -> "ReportMailer | None":
        """A mailer on the first e-mail notifier that mails people (no fixed `to` list); None without one."""
        personal = [n for n in notifiers.values() if isinstance(n, EmailNotifier) and not n.to]
        return cls(notifier=personal[0], **kw) if personal else None  # type: ignore[arg-type]

    # ------------------------------------------------------------------ queueing
    def enqueue(self, period: str, start: date) -> int:
        """Queue this period's report for its subscribers; returns how many mails were queued."""
        names = subscribers(self.store.users(), period)
        return self.store.enqueue_report_mails(period, start, names, self.clock()) if names else 0

    def queue_latest(self) -> int:
        """Queue, for each kind, the report of the latest ended period once it is archived and was
        never queued: right after housekeeping archives it, or on a later run if the service stopped
        in between. Older periods are never mailed (an archive rewritten after an erasure is not news)."""
        from dashboard.report import archive_file, last_complete

        local = self.clock().astimezone(ZoneInfo(self.timezone))
        n = 0
        for kind in REPORT_PERIODS_ZH:
            start = last_complete(kind, local)
            if (archive_file(self.data_dir, f"{kind}-{start.isoformat()}.pdf") is not None
                    and not self.store.report_mails_exist(kind, start)):
                n += self.enqueue(kind, start)
        return n

    # ------------------------------------------------------------------ sending
    def deliver_due(self, limit: int = 20) -> tuple[int, int]:
        """Send the due report mails; returns (sent, failed)."""
        sent = failed = 0
        for mail in self.store.due_report_mails(self.clock(), limit):
            if self._send(mail):
                sent += 1
            else:
                failed += 1
        return sent, failed

    def _send(self, mail: ReportMail) -> bool:
        from dashboard.report import archive_file

        assert mail.id is not None
        now = self.clock()
        label = REPORT_PERIODS_ZH.get(mail.period, mail.period)
        user = self.store.get_user(mail.username)
        if user is None or not subscribers([user], mail.period):
            self.store.report_mail_done(mail.id, "dropped", now, "收件人已停用、退订、没有邮箱或无权查看报告")
            return True
        name = f"{mail.period}-{mail.start.isoformat()}.pdf"
        pdf = archive_file(self.data_dir, name)
        if pdf is None:
            self.store.report_mail_done(mail.id, "dropped", now, f"归档中没有 {name}")
            log.error("%s（%s 起）的报告文件不在归档中，无法发给 %s", label, mail.start, mail.username)
            return True
        subject = f"工会舆情{label}（{mail.start.isoformat()} 起）"
        body = "\n".join([
            f"{user.username}，您好：", "",
            f"附件是{subject}（PDF）。报告中的个人信息已遮盖。",
            *([f"在看板中查看全部报告：{self.dashboard_url.rstrip('/')}/reports/archive"] if self.dashboard_url else []),
            "", "退订：登录看板，在“我的订阅”中取消勾选。",
            "—— 高校工会舆情哨兵自动发送，请勿直接回复。", ""])
        message = self.notifier.document(user.email, subject, body, [(f"工会舆情{label}-{mail.start.isoformat()}.pdf",
                                                                      pdf.read_bytes())],
                                         message_id=f"report-{mail.period}-{mail.start.isoformat()}-{mail.id}")
        try:
            refused = self.notifier.send_mails([message])
        except DeliveryError as exc:
            delay = backoff(mail.attempts + 1, self.base_delay, self.max_delay, self.rng)
            self.store.report_mail_failed(mail.id, str(exc), now + delay)
            log.warning("%s发给 %s 失败（第 %d 次），%d 秒后重试：%s", subject, mail.username, mail.attempts + 1,
                        int(delay.total_seconds()), printable(str(exc)))
            return False
        if refused:
            self.store.report_mail_done(mail.id, "dropped", now, "邮件服务器拒收该地址")
            log.error("%s：邮件服务器拒收 %s 的地址，已放弃，请管理员检查其邮箱", subject, mail.username)
            return True
        self.store.report_mail_done(mail.id, "sent", now)
        log.info("已把%s发给 %s", subject, mail.username)
        return True
