"""The outbox: due deliveries are sent; failures stay with their error and back off; nothing is dropped."""
from __future__ import annotations

import random
from datetime import timedelta

from alerts import Notifier, Outbox
from alerts.webhook import WebhookNotifier


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


class Broken(Notifier):
    type_name = "broken"
    title_zh = "总是出错"
    options_schema = {"type": "object"}

    @classmethod
    def create(cls, cfg, secrets):
        return cls(cfg["name"])

    def send(self, message):
        raise KeyError("bug in a notifier")


def state(store, alert_id, notifier):
    return next(d for d in store.deliveries(alert_id) if d.notifier == notifier)


def test_failing_endpoint_backs_off_keeps_the_error_and_later_succeeds(store, make_alert, hook_server, clock):
    outbox = Outbox(store, {"值班群": WebhookNotifier("值班群", hook_server.url)}, clock=clock,
                    rng=FixedRandom(0.5), base_delay=timedelta(seconds=30))
    alert = make_alert(["值班群"])
    hook_server.status = 503
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (0, 1)
    d = state(store, alert.id, "值班群")
    assert d.state.value == "failing" and d.attempts == 1 and "HTTP 503" in d.last_error
    assert d.next_attempt_at == clock.now + timedelta(seconds=22.5)  # 30 s, jitter in the upper half
    assert outbox.deliver_due().failed == 0  # not due yet: nothing is tried
    clock.advance(seconds=23)
    assert outbox.deliver_due().failed == 1
    d = state(store, alert.id, "值班群")
    assert d.attempts == 2 and d.next_attempt_at == clock.now + timedelta(seconds=45)  # doubled
    hook_server.status = 200  # the endpoint comes back
    clock.advance(seconds=46)
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (1, 0)
    d = state(store, alert.id, "值班群")
    assert d.state.value == "sent" and d.attempts == 3 and d.last_error == "" and d.sent_at == clock.now
    assert len(hook_server.received) == 3
    assert hook_server.received[-1].json()["alert_id"] == alert.id
    clock.advance(hours=2)
    assert outbox.deliver_due().sent == 0  # sent once, never again


def test_never_dropped_backoff_is_capped(store, make_alert, closed_port, clock):
    outbox = Outbox(store, {"值班群": WebhookNotifier("值班群", f"http://127.0.0.1:{closed_port}/x", timeout=5)},
                    clock=clock, rng=FixedRandom(1.0), max_delay=timedelta(minutes=30))
    alert = make_alert(["值班群"])
    for _ in range(12):
        clock.advance(minutes=31)
        assert outbox.deliver_due().failed == 1
    d = state(store, alert.id, "值班群")
    assert d.state.value == "failing" and d.attempts == 12 and "Webhook 请求失败" in d.last_error
    assert d.next_attempt_at == clock.now + timedelta(minutes=30)
    clock.advance(minutes=30)
    assert [x.id for x in store.due_deliveries(clock.now)] == [d.id]  # still due, still retried


def test_backoff_grows_then_stays_capped():
    outbox = Outbox(store=None, notifiers={}, rng=random.Random(7))  # type: ignore[arg-type]
    delays = [outbox.backoff(n) for n in range(1, 40)]
    assert all(timedelta(seconds=15) <= d <= timedelta(minutes=30) for d in delays)
    assert delays[0] <= timedelta(seconds=30) and delays[-1] >= timedelta(minutes=15)
    uppers = [Outbox(None, {}, rng=FixedRandom(1.0)).backoff(n) for n in (1, 2, 3, 10)]  # type: ignore[arg-type]
    assert uppers == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120), timedelta(minutes=30)]


def test_removed_notifier_keeps_failing_with_a_clear_error_until_configured_again(
        store, make_alert, hook_server, clock):
    alert = make_alert(["旧的值班群"])
    outbox = Outbox(store, {"值班群": WebhookNotifier("值班群", hook_server.url)}, clock=clock)
    assert outbox.deliver_due().failed == 1
    d = state(store, alert.id, "旧的值班群")
    assert d.state.value == "failing" and "没有名为 “旧的值班群” 的通知方式" in d.last_error
    assert "值班群" in d.last_error  # says what is configured
    restored = Outbox(store, {"旧的值班群": WebhookNotifier("旧的值班群", hook_server.url)}, clock=clock)
    clock.advance(hours=1)
    assert restored.deliver_due().sent == 1
    assert state(store, alert.id, "旧的值班群").state.value == "sent"


def test_a_broken_notifier_does_not_stop_the_others(store, make_alert, hook_server, clock):
    alert = make_alert(["坏的", "值班群"])
    outbox = Outbox(store, {"坏的": Broken("坏的"), "值班群": WebhookNotifier("值班群", hook_server.url)}, clock=clock)
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (1, 1)
    assert "内部错误：KeyError" in state(store, alert.id, "坏的").last_error
    assert state(store, alert.id, "值班群").state.value == "sent"


def test_message_has_masked_excerpts_and_no_author_name(store, make_alert, hook_server, clock):
    alert = make_alert(["值班群"])
    Outbox(store, {"值班群": WebhookNotifier("值班群", hook_server.url)}, clock=clock).deliver_due()
    (got,) = hook_server.received
    text = got.body.decode("utf-8")
    assert "13812345678" not in text and "110101199003071234" not in text and "王某某" not in text
    assert got.json()["posts"] == [{"channel": "weibo", "channel_zh": "微博",
                                    "excerpt": "请联系王老师 138****5678 报名，身份证号 1101**********1234 也发我"}]
    assert got.json()["alert_id"] == alert.id



def test_a_notifier_that_keeps_failing_is_reported_for_health(store, make_alert, clock):
    outbox = Outbox(store, {"坏的": Broken("坏的")}, clock=clock, rng=FixedRandom(1.0))
    make_alert(["坏的"])
    for _ in range(2):
        outbox.deliver_due()
        clock.advance(minutes=31)
    assert store.failing_notifiers(3) == []
    outbox.deliver_due()
    [(name, waiting, error)] = store.failing_notifiers(3)
    assert (name, waiting) == ("坏的", 1) and "KeyError" in error
