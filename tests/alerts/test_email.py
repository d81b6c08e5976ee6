"""`email` against a real SMTP server on loopback (aiosmtpd)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from alerts import AlertMessage, DeliveryError, PostExcerpt, build_notifiers
from alerts.email import EmailNotifier
from core.domain import Level


def message(**kw) -> AlertMessage:
    base = dict(alert_id=7, rule="negative_surge", level=Level.ORANGE, title="负面情绪集中：60 分钟内 31 条负面评论",
                body="涉及渠道：微博、QQ群；主要话题：薪酬。", created_at=datetime(2026, 3, 2, 6, 5, tzinfo=timezone.utc),
                posts=[PostExcerpt("weibo", "请联系王老师 138****5678 报名")])
    base.update(kw)
    return AlertMessage(**base)


def test_sends_a_chinese_plain_text_mail(smtp_server):
    notifier = EmailNotifier("审核组邮件", host=smtp_server.host, port=smtp_server.port,
                             sender="sentinel@union.example.edu.cn",
                             to=["moderators@union.example.edu.cn", "chair@union.example.edu.cn"],
                             dashboard_url="http://127.0.0.1:8000/")
    notifier.send(message())
    ((rcpt, mail),) = smtp_server.inbox.messages
    assert rcpt == ["moderators@union.example.edu.cn", "chair@union.example.edu.cn"]
    assert mail["Subject"] == "【橙色预警】负面情绪集中：60 分钟内 31 条负面评论"
    assert mail["From"] == "sentinel@union.example.edu.cn"
    body = mail.get_content()
    assert "级别：橙色预警" in body
    assert "时间：2026-03-02 14:05（Asia/Shanghai）" in body
    assert "涉及渠道：微博、QQ群；主要话题：薪酬。" in body
    assert "1. [微博] 请联系王老师 138****5678 报名" in body
    assert "http://127.0.0.1:8000/alerts/7" in body


def test_login_with_the_password_from_the_environment(smtp_server):
    cfg = {"name": "邮件", "type": "email", "host": smtp_server.host, "port": smtp_server.port,
           "username": "sentinel", "password_env": "SENTINEL_SMTP_PASSWORD",
           "sender": "sentinel@example.edu.cn", "to": ["a@example.edu.cn"]}
    notifiers = build_notifiers([cfg], "sentinel.yaml", {"SENTINEL_SMTP_PASSWORD": "s3cret"})
    notifiers["邮件"].send(message(level=Level.RED, title="传言大范围扩散"))
    assert smtp_server.logins == [("sentinel", "s3cret")]
    ((_, mail),) = smtp_server.inbox.messages
    assert mail["Subject"] == "【红色预警】传言大范围扩散"


def test_a_refused_login_is_a_delivery_error(smtp_server):
    notifier = EmailNotifier("邮件", host=smtp_server.host, port=smtp_server.port, sender="s@example.edu.cn",
                             to=["a@example.edu.cn"], username="sentinel", password="wrong")
    with pytest.raises(DeliveryError, match="用户名或密码被拒绝"):
        notifier.send(message())
    assert smtp_server.inbox.messages == []


def test_no_server_is_a_delivery_error(closed_port):
    notifier = EmailNotifier("邮件", host="127.0.0.1", port=closed_port, sender="s@example.edu.cn",
                             to=["a@example.edu.cn"], timeout=5)
    with pytest.raises(DeliveryError, match="连接被拒绝"):
        notifier.send(message())


def test_personal_data_never_reaches_the_mail_through_the_outbox(smtp_server, store, make_alert, clock):
    from alerts import Outbox

    notifier = EmailNotifier("审核组邮件", host=smtp_server.host, port=smtp_server.port,
                             sender="s@example.edu.cn", to=["a@example.edu.cn"])
    alert = make_alert(["审核组邮件"])
    report = Outbox(store, {"审核组邮件": notifier}, clock=clock).deliver_due()
    assert (report.sent, report.failed) == (1, 0)
    ((_, mail),) = smtp_server.inbox.messages
    raw = mail.as_string() + mail.get_content()
    assert "13812345678" not in raw and "110101199003071234" not in raw and "王某某" not in raw
    assert "138****5678" in mail.get_content() and "1101**********1234" in mail.get_content()
    assert store.deliveries(alert.id)[0].state.value == "sent"


def test_without_to_the_email_notifier_writes_to_each_person_with_their_link(store, make_alert, smtp_server, clock):
    from alerts import Outbox
    from core.domain import Role, User
    from core.links import AlertLinks

    notifier = EmailNotifier("个人邮件", host=smtp_server.host, port=smtp_server.port, sender="sentinel@union.test",
                             to=[])
    assert notifier.route == "email"
    with pytest.raises(DeliveryError):
        notifier.send(message())  # a personal notifier needs its recipients
    alert = make_alert([])
    store.add_user(User("zhang", Role.LEADER, "x", email="zhang@union.test"))
    store.add_user(User("li", Role.LEADER, "x", email="li@union.test"))
    store.add_deliveries(alert.id, [("个人邮件", "zhang", "测试"), ("个人邮件", "li", "测试")], clock.now)
    outbox = Outbox(store, {"个人邮件": notifier}, clock=clock, links=AlertLinks("k" * 32, "https://yq.test/"))
    assert outbox.deliver_due().sent == 2
    by_rcpt = {tuple(rcpt): mail for rcpt, mail in smtp_server.inbox.messages}
    assert set(by_rcpt) == {("zhang@union.test",), ("li@union.test",)}
    for (address,), mail in by_rcpt.items():
        body = mail.get_content()
        assert "https://yq.test/a/" in body and "13812345678" not in body and mail["To"] == address
