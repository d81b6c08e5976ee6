"""What every platform channel shares: polling schedules with backoff, the HTTP client's retries and
errors, access tokens, the write-back outbox (from the dashboard to the platform and the audit log),
the pushed-event queue and the backfill command."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from collectors import COLLECTORS, CollectorRunner
from collectors.base import Batch, Collector, options_schema, parse_every
from collectors.http import (AuthError, HttpClient, RateLimited, SourceError, TokenCache, TokenExpired,
                             TransientError, WriteBackRefused)
from collectors.writeback import WriteBackOutbox
from core.config import Settings, load_settings, validate
from core.domain import Post, Role, User, WriteBackState, utcnow
from core.errors import ConfigError
from tests.fakes.clock import Ticker

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


class FakeChannel(Collector):
    """A platform in memory: comments to hand out, actions it received, failures to raise."""

    type_name = "fake"
    title_zh = "测试平台"
    options_schema = options_schema("fake", {"posts": {"type": "integer"}})
    default_every = 60.0
    write_actions = frozenset({"delete", "ban", "reply"})

    def __init__(self, name: str = "平台", n: int = 3) -> None:
        super().__init__(name)
        self.comments = [self.post(i) for i in range(n)]
        self.polls = 0
        self.fail: Exception | None = None
        self.done: list[tuple[str, str, dict]] = []
        self.write_fail: Exception | None = None

    @staticmethod
    def post(i: int) -> Post:
        return Post(channel="weibo", source_id=f"c{i}", author=f"u{i}", text=f"第{i}条评论：加微信兼职刷单",
                    created_at=utcnow() - timedelta(minutes=30 - i), raw={"cid": f"c{i}"})

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "FakeChannel":
        return cls(cfg["name"], cfg.get("posts", 3))

    def fetch(self, checkpoint: str | None) -> Batch:
        self.polls += 1
        if self.fail is not None:
            raise self.fail
        start = int(checkpoint or 0)
        page = self.comments[start:start + 2]
        return Batch(posts=[Post(**{**vars(p), "raw": dict(p.raw)}) for p in page], checkpoint=str(start + len(page)),
                     more=start + len(page) < len(self.comments))

    def backfill(self, since, until) -> Iterator[Batch]:
        for i in range(0, len(self.comments), 2):
            yield Batch(posts=[Post(**{**vars(p), "raw": dict(p.raw)}) for p in self.comments[i:i + 2]],
                        note=f"offset {i}")

    def write_back(self, action: str, post: Post, payload: dict) -> dict:
        if self.write_fail is not None:
            raise self.write_fail
        self.done.append((action, post.raw["cid"], payload))
        return {"errcode": 0, "errmsg": "ok", "action": action}


# ---------------------------------------------------------------------------- config
@pytest.mark.parametrize("value,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("1.5h", 5400), (90, 90)])
def test_every_takes_seconds_minutes_hours(value, seconds):
    assert parse_every(value, None) == seconds


@pytest.mark.parametrize("cfg,field", [
    ({"name": "a", "type": "fake", "every": "5 minutes"}, "every"),
    ({"name": "a", "type": "fake", "write_back": "yes"}, "write_back"),
    ({"name": "a", "type": "fake", "surprise": 1}, "(顶层)"),
])
def test_channel_options_are_validated_with_the_field_named(cfg, field):
    with pytest.raises(ConfigError) as err:
        validate(cfg, FakeChannel.options_schema, "sentinel.yaml", prefix="channels[0]（a）")
    assert "sentinel.yaml" in str(err.value) and ("channels[0]（a）" in str(err.value))


# ---------------------------------------------------------------------------- schedules and backoff
def test_a_polling_channel_runs_on_its_schedule_and_backs_off_after_failures(store, caplog):
    tick = Ticker()
    channel = FakeChannel(n=5)
    channel.every = 60.0
    runner = CollectorRunner(store, [channel], monotonic=tick)
    runner.run_once()
    assert channel.polls == 3 and store.counts()["posts"] == 5  # three pages right away
    tick.t += 30
    runner.run_once()
    assert channel.polls == 3  # not due yet
    tick.t += 31
    runner.run_once()
    assert channel.polls == 4
    channel.fail = TransientError("平台暂时不可用（HTTP 502）")
    delays = []
    for _ in range(4):
        tick.t += runner.next_poll_in(channel.name) + 0.001
        before = channel.polls
        runner.run_once()
        assert channel.polls == before + 1
        delays.append(runner.next_poll_in(channel.name))
    assert all(b > a * 1.3 for a, b in zip(delays, delays[1:]))  # doubling, with jitter
    assert len([r for r in caplog.records if "平台暂时不可用" in r.getMessage()]) == 1  # logged once
    channel.fail = None
    tick.t += runner.next_poll_in(channel.name) + 0.001
    runner.run_once()
    assert runner.next_poll_in(channel.name) == pytest.approx(60.0)


def test_wrong_credentials_wait_long_say_so_once_and_show_on_health(store, caplog):
    tick = Ticker()
    channel = FakeChannel()
    channel.every = 30.0
    channel.fail = AuthError("access_token 无效（errcode 40001）")
    runner = CollectorRunner(store, [channel], monotonic=tick)
    for _ in range(3):
        runner.run_once()
        assert runner.next_poll_in(channel.name) >= 300
        tick.t += runner.next_poll_in(channel.name) + 1
    jobs, problems = runner.health.report(degraded_after=3)
    assert jobs[channel.name]["consecutive_failures"] == 3 and "凭据" in jobs[channel.name]["last_error"]
    assert problems
    logged = [r for r in caplog.records if "凭据" in r.getMessage()]
    assert 1 <= len(logged) < 3  # three tries over 15 minutes: the same error at most once per 10 minutes
    assert store.counts()["dead_letters"] == 0  # credentials are not a record's fault: nothing skipped


def test_a_rate_limited_channel_waits_at_least_what_the_platform_asked(store):
    tick = Ticker()
    channel = FakeChannel()
    channel.every = 10.0
    channel.fail = RateLimited("调用频率超限（errcode 45009）", retry_after=900)
    runner = CollectorRunner(store, [channel], monotonic=tick)
    runner.run_once()
    assert runner.next_poll_in(channel.name) >= 900


# ---------------------------------------------------------------------------- HTTP client
class Platform(BaseHTTPRequestHandler):
    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        status, headers, body = self.script.pop(0) if self.script else (200, {}, b'{"ok": true}')
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Platform.script, Platform.seen = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}", Platform
    server.shutdown()


def test_http_client_retries_transient_failures_with_backoff(platform):
    url, handler = platform
    handler.script = [(502, {}, b"bad gateway"), (503, {"Retry-After": "2"}, b""), (200, {}, b'{"data": 1}')]
    slept: list[float] = []
    client = HttpClient(url, sleep=slept.append)
    assert client.get_json("/x") == {"data": 1}
    assert len(handler.seen) == 3 and slept[1] == 2.0 and 0.5 <= slept[0] <= 1.0


@pytest.mark.parametrize("status,body,error", [
    (401, b"", AuthError), (403, b"", AuthError), (404, b"not found", SourceError),
    (200, b"<html>", TransientError), (429, b"", RateLimited), (500, b"", TransientError),
])
def test_http_client_turns_answers_into_errors_the_runner_understands(platform, status, body, error):
    url, handler = platform
    handler.script = [(status, {}, body)] * 3
    with pytest.raises(error):
        HttpClient(url, sleep=lambda s: None, retries=2).get_json("/x")


def test_a_long_retry_after_is_left_to_the_runner(platform):
    url, handler = platform
    handler.script = [(429, {"Retry-After": "600"}, b"")]
    with pytest.raises(RateLimited) as err:
        HttpClient(url, sleep=lambda s: pytest.fail("must not sleep 600 s")).get_json("/x")
    assert err.value.retry_after == 600


def test_platform_error_codes_in_a_200_answer_are_checked(platform):
    url, handler = platform
    handler.script = [(200, {}, b'{"errcode": 45009, "errmsg": "api freq out of limit"}')] * 3

    def check(answer):
        if answer.get("errcode") == 45009:
            raise RateLimited("接口调用频率超限", code=45009)

    with pytest.raises(RateLimited):
        HttpClient(url, sleep=lambda s: None, retries=3).get_json("/x", check=check)
    assert len(handler.seen) == 3


def test_token_cache_reuses_and_refreshes_when_the_platform_says_it_expired():
    issued = []
    now = [0.0]

    def fetch():
        issued.append(f"t{len(issued)}")
        return issued[-1], 7200

    cache = TokenCache(fetch, clock=lambda: now[0])
    assert cache.get() == cache.get() == "t0"
    now[0] += 7200 - 299
    assert cache.get() == "t1"  # refreshed before it expires

    def call(token):
        if token == "t1":
            raise TokenExpired("access_token expired")
        return token

    assert cache.call(call) == "t2" and len(issued) == 3


# ---------------------------------------------------------------------------- write-back
@pytest.fixture
def channel_setup(store, tmp_path, password_hashes_fast):
    channel = FakeChannel()
    channel.write_back_enabled = True
    runner = CollectorRunner(store, [channel])
    runner.run_once()
    for role in ("moderator", "leader", "admin"):
        store.add_user(User(username=role, role=Role(role), password_hash=password_hashes_fast))
    from dashboard import create_app

    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={})
    app = create_app(store, settings, secret_key="k" * 40, write_actions={channel.name: channel.enabled_actions})
    app.config["TESTING"] = True
    return channel, app, WriteBackOutbox(store, {channel.name: channel})


@pytest.fixture(scope="module")
def password_hashes_fast():
    from dashboard.accounts import hash_password

    return hash_password("pw-2026-secret")


def login(app, name):
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": name, "password": "pw-2026-secret", "csrf_token": token})
    return client


def csrf(client, path):
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def flag_all(store):
    from core.domain import Analysis, Flag, Sentiment
    from store.base import RuleResults

    posts = [store.find_post("weibo", f"c{i}") for i in range(3)]
    store.save_analyses([(p, Analysis(normalized=p.text, tokens=[], sentiment=Sentiment.NEU, polarity=0, spam=0.95,
                                      rumour=0.0, model_version="t")) for p in posts])
    store.commit_rule_results(RuleResults(seen=[(p.id, p.version) for p in posts],
                                          flags=[Flag(post_id=p.id, rule="spam_post", reason="广告") for p in posts]))
    return posts


def test_a_moderators_removal_reaches_the_platform_and_the_audit_log(store, channel_setup):
    channel, app, outbox = channel_setup
    posts = flag_all(store)
    client = login(app, "moderator")
    page = client.get(f"/posts/{posts[0].id}").get_data(as_text=True)
    assert "同时在平台上删除" in page and "禁言作者" in page
    resp = client.post(f"/queue/{posts[0].id}/decide", data={
        "action": "remove", "reason_code": "spam", "platform": ["delete", "ban"],
        "csrf_token": csrf(client, "/queue")})
    assert resp.status_code == 302
    [a, b] = store.writebacks_for([posts[0].id])[posts[0].id]
    assert (a.action, b.action, a.state) == ("delete", "ban", WriteBackState.PENDING)
    assert outbox.deliver_due().sent == 2
    assert channel.done == [("delete", "c0", {}), ("ban", "c0", {})]
    assert outbox.deliver_due().sent == 0  # exactly once
    actions = [e.action for e in store.audit_log(limit=10)]
    assert "writeback.delete" in actions and "writeback.ban" in actions
    entry = next(e for e in store.audit_log(limit=10) if e.action == "writeback.delete")
    assert '"errcode": 0' in entry.detail["answer"] and entry.detail["requested_by"] == "moderator"
    assert "平台已执行" in client.get(f"/posts/{posts[0].id}").get_data(as_text=True)


def test_a_leaders_reply_is_posted_as_the_official_reply(store, channel_setup):
    channel, app, outbox = channel_setup
    posts = flag_all(store)
    client = login(app, "leader")
    resp = client.post(f"/posts/{posts[1].id}/reply", data={
        "text": "经核实，学校没有削减绩效工资的计划。", "next": "/alerts", "csrf_token": csrf(client, "/alerts")})
    assert resp.status_code == 302
    outbox.deliver_due()
    assert channel.done == [("reply", "c1", {"text": "经核实，学校没有削减绩效工资的计划。"})]
    assert [e.action for e in store.audit_log(limit=5)][:2] == ["writeback.reply", "writeback.request.reply"]


def test_failed_write_backs_wait_and_refused_ones_stop(store, channel_setup):
    channel, app, outbox = channel_setup
    posts = flag_all(store)
    from core.domain import AuditEvent, WriteBack

    clock = [utcnow()]
    outbox.clock = lambda: clock[0]
    store.queue_writeback(WriteBack(post_id=posts[2].id, collector=channel.name, action="delete", requested_by="m",
                                    created_at=clock[0]), AuditEvent("m", "x"))
    channel.write_fail = TransientError("平台暂时不可用（HTTP 500）")
    assert outbox.deliver_due().failed == 1
    [wb] = store.writebacks_for([posts[2].id])[posts[2].id]
    assert wb.state is WriteBackState.FAILING and "HTTP 500" in wb.last_error
    assert outbox.deliver_due().failed == 0  # backing off
    clock[0] += timedelta(minutes=1)
    channel.write_fail = WriteBackRefused("评论不存在（errcode 88000）")
    assert outbox.deliver_due().refused == 1
    [wb] = store.writebacks_for([posts[2].id])[posts[2].id]
    assert wb.state is WriteBackState.REFUSED and "88000" in wb.result
    clock[0] += timedelta(hours=2)
    assert outbox.deliver_due().refused == 0


def test_write_back_off_keeps_actions_waiting_and_hides_the_buttons(store, channel_setup):
    channel, app, outbox = channel_setup
    posts = flag_all(store)
    channel.write_back_enabled = False
    from dashboard import create_app

    app2 = create_app(store, app.extensions["sentinel"].settings, secret_key="k" * 40, write_actions={})
    app2.config["TESTING"] = True
    page = login(app2, "moderator").get(f"/posts/{posts[0].id}").get_data(as_text=True)
    assert "同时在平台上删除" not in page


# ---------------------------------------------------------------------------- pushed events, backfill
def test_pushed_events_are_read_back_in_order_after_a_checkpoint(store):
    ids = store.push_inbound("qq群", ['{"a": 1}', '{"a": 2}', '{"a": 3}'], NOW)
    store.push_inbound("其他", ['{"b": 1}'], NOW)
    assert [p for _, p in store.inbound("qq群", 0, 10)] == ['{"a": 1}', '{"a": 2}', '{"a": 3}']
    assert [i for i, _ in store.inbound("qq群", ids[0], 10)] == ids[1:]


def test_backfill_command_stores_history_once_with_progress(tmp_path, monkeypatch, capsys):
    from collectors.backfill import main

    monkeypatch.setitem(COLLECTORS._entries, "fake", FakeChannel)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nchannels:\n  - {{name: 平台, type: fake, posts: 7}}\n",
                   encoding="utf-8")
    assert main(["--config", str(cfg), "--channel", "平台"]) == 0
    out = capsys.readouterr()
    assert "新增 7 条" in out.out and "第 1 页" in out.err
    assert main(["--config", str(cfg), "--channel", "平台"]) == 0
    assert "新增 0 条" in capsys.readouterr().out
    assert main(["--config", str(cfg), "--channel", "没有"]) == 2
    assert "没有名为" in capsys.readouterr().err
