"""Mailing archived reports to subscribing officers: a real SMTP server (aiosmtpd), a real store and
real archived PDFs; failures wait in the report mail outbox and are retried."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from alerts.email import EmailNotifier
from alerts.reportmail import ReportMailer
from core.domain import Role, User
from dashboard.report import archive_due

NOW = datetime(2026, 3, 11, 2, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Beijing


def people(store) -> None:
    store.add_user(User("zhang", Role.OFFICER, "x", email="zhang@univ.edu.cn", reports=["weekly", "daily"]))
    store.add_user(User("li", Role.OFFICER, "x", email="li@univ.edu.cn", reports=["monthly"]))
    store.add_user(User("wang", Role.OFFICER, "x", reports=["weekly"]))  # no address
    store.add_user(User("zhao", Role.LEADER, "x", email="zhao@univ.edu.cn", reports=["weekly"]))  # may not read reports
    store.add_user(User("qian", Role.OFFICER, "x", email="qian@univ.edu.cn", reports=["weekly"], active=False))


def mailer(store, tmp_path, host: str, port: int, clock) -> ReportMailer:
    notifier = EmailNotifier("mail", host=host, port=port, sender="sentinel@univ.edu.cn", to=[])
    return ReportMailer(store=store, notifier=notifier, data_dir=tmp_path / "data", timezone="Asia/Shanghai",
                        clock=clock, dashboard_url="https://yuqing.univ.edu.cn/", rng=random.Random(1))


def test_subscribers_get_the_archived_pdf_once(store, tmp_path, smtp_server) -> None:
    people(store)
    archive_due(store, tmp_path / "data", "Asia/Shanghai", NOW)
    m = mailer(store, tmp_path, smtp_server.host, smtp_server.port, lambda: NOW)
    assert m.queue_latest() == 3  # zhang: daily and weekly; li: monthly
    assert m.queue_latest() == 0  # idempotent
    assert m.deliver_due() == (3, 0)
    got = {(tuple(to), msg["Subject"]) for to, msg in smtp_server.inbox.messages}
    assert got == {(("zhang@univ.edu.cn",), "工会舆情日报（2026-03-10 起）"),
                   (("zhang@univ.edu.cn",), "工会舆情周报（2026-03-02 起）"),
                   (("li@univ.edu.cn",), "工会舆情月报（2026-02-01 起）")}
    for _, msg in smtp_server.inbox.messages:
        (pdf,) = [p for p in msg.iter_attachments()]
        assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF")
        assert pdf.get_filename().startswith("工会舆情") and "退订" in msg.get_body().get_content()
    assert m.deliver_due() == (0, 0)  # nothing sent twice
    assert {x.state for x in store.report_mails("weekly", date(2026, 3, 2))} == {"sent"}


def test_a_failed_send_waits_and_is_retried(store, tmp_path, smtp_server, closed_port) -> None:
    people(store)
    archive_due(store, tmp_path / "data", "Asia/Shanghai", NOW)
    now = [NOW]
    m = mailer(store, tmp_path, "127.0.0.1", closed_port, lambda: now[0])
    m.queue_latest()
    assert m.deliver_due() == (0, 3)
    (row,) = store.report_mails("monthly", date(2026, 2, 1))
    assert row.state == "failing" and "连接被拒绝" in row.last_error and row.next_attempt_at > NOW
    assert m.deliver_due() == (0, 0)  # not due yet
    m.notifier = EmailNotifier("mail", host=smtp_server.host, port=smtp_server.port, sender="s@univ.edu.cn", to=[])
    now[0] = NOW + timedelta(hours=2)
    assert m.deliver_due() == (3, 0) and len(smtp_server.inbox.messages) == 3


def test_who_left_or_unsubscribed_is_dropped(store, tmp_path, smtp_server) -> None:
    people(store)
    archive_due(store, tmp_path / "data", "Asia/Shanghai", NOW)
    m = mailer(store, tmp_path, smtp_server.host, smtp_server.port, lambda: NOW)
    m.queue_latest()
    from core.domain import AuditEvent

    store.update_profile("zhang", AuditEvent("zhang", "user.profile"), reports=[])
    assert m.deliver_due() == (3, 0)
    assert [to for to, _ in smtp_server.inbox.messages] == [["li@univ.edu.cn"]]
    assert {x.state for x in store.report_mails("weekly", date(2026, 3, 2))} == {"dropped"}


def test_without_a_personal_mail_notifier_nothing_is_queued(store, tmp_path) -> None:
    people(store)
    archive_due(store, tmp_path / "data", "Asia/Shanghai", NOW)
    group = EmailNotifier("mail", host="127.0.0.1", port=25, sender="s@univ.edu.cn", to=["office@univ.edu.cn"])
    assert ReportMailer.pick({"mail": group}, store=store, data_dir=tmp_path / "data", timezone="Asia/Shanghai",
                             clock=lambda: NOW) is None


def test_only_the_latest_ended_period_is_mailed(store, tmp_path, smtp_server) -> None:
    """A week later the old weekly report (rewritten after an erasure, say) is not queued again:
    only the latest ended period of each kind is, once."""
    from dashboard.report import archived

    people(store)
    archive_due(store, tmp_path / "data", "Asia/Shanghai", NOW)
    now = [NOW]
    m = mailer(store, tmp_path, smtp_server.host, smtp_server.port, lambda: now[0])
    assert m.queue_latest() == 3
    later = now[0] = NOW + timedelta(days=7)
    assert m.queue_latest() == 0  # the new periods are not archived yet; the old ones are not news
    archive_due(store, tmp_path / "data", "Asia/Shanghai", later)
    assert m.queue_latest() == 2  # zhang: the new daily and weekly reports; the monthly is the same month
    assert len(archived(tmp_path / "data")) == 5
    assert {(x.period, x.start) for x in store.report_mails("weekly", date(2026, 3, 9))} == {("weekly", date(2026, 3, 9))}


def test_the_service_archives_queues_and_mails_on_its_schedule(tmp_path, smtp_server) -> None:
    from core.config import load_settings
    from core.service import Sentinel

    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"notifiers:\n  - {{name: 邮件, type: email, host: {smtp_server.host}, port: {smtp_server.port},"
                   f" sender: sentinel@univ.edu.cn}}\n", encoding="utf-8")
    settings = load_settings(cfg, overrides={"data_dir": str(tmp_path / "data")}, env={})
    service = Sentinel.build(settings, clock=lambda: NOW)
    try:
        people(service.store)
        service.maintain()
        service.deliver()
        assert sorted(to[0] for to, _ in smtp_server.inbox.messages) == [
            "li@univ.edu.cn", "zhang@univ.edu.cn", "zhang@univ.edu.cn"]
        service.maintain()
        service.deliver()
        assert len(smtp_server.inbox.messages) == 3
        assert service.status()["jobs"]["reportmail"]["consecutive_failures"] == 0
    finally:
        service.close()


def test_an_old_report_rewritten_later_is_not_mailed(store, tmp_path, smtp_server) -> None:
    """A report archived when nobody subscribed, rewritten a week later (after an erasure), is not
    sent to whoever has subscribed since: it is not the latest period any more."""
    archive_due(store, tmp_path / "data", "Asia/Shanghai", NOW)
    later = NOW + timedelta(days=7)
    m = mailer(store, tmp_path, smtp_server.host, smtp_server.port, lambda: later)
    people(store)
    old = tmp_path / "data" / "reports" / "daily-2026-03-10.pdf"
    old.write_bytes(old.read_bytes())  # rewritten now
    assert m.queue_latest() == 1  # li: February is still the latest ended month
    assert store.report_mails("daily", date(2026, 3, 10)) == []
    assert store.report_mails("weekly", date(2026, 3, 2)) == []
