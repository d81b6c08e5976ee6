"""The `onebot` channel (QQ groups through OneBot v11) against a local fake OneBot implementation
(tests/fakes/onebot.py): signed event pushes into a real listener and a real SQLite store, exactly-once
collection across restarts, history backfill, write-backs to the documented endpoints, config errors."""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from collectors import COLLECTORS, CollectorRunner, onebot
from collectors.http import AuthError, RateLimited, SourceError, TransientError, WriteBackRefused
from collectors.onebot import OneBotCollector, check_answer, parse_cq, render_message
from collectors.writeback import WriteBackOutbox
from core.config import load_settings
from core.domain import AuditEvent, Post, WriteBack, WriteBackState, utcnow
from core.errors import ConfigError
from tests.fakes.onebot import FakeOneBot, failed, sign

SECRET = "s3cret-签名-key"
TOKEN = "tok-8c1f2e"
GROUP, OTHER = 614100200, 614100300
WHERE = "channels[0]（QQ群）"


@pytest.fixture
def settings(tmp_path):
    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={})


@pytest.fixture
def bot():
    fake = FakeOneBot(token=TOKEN).start()
    fake.add_group(GROUP, "教职工之家1群")
    fake.add_group(OTHER, "青年教师联谊群")
    yield fake
    fake.stop()


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("ONEBOT_SECRET", SECRET)
    monkeypatch.setenv("ONEBOT_TOKEN", TOKEN)


@pytest.fixture
def make(settings, bot, env):
    """Build a collector from a config entry like the service does; HTTP retries do not really sleep."""
    built: list[OneBotCollector] = []

    def build(**over: Any) -> OneBotCollector:
        cfg = {"name": "QQ群", "type": "onebot", "listen": "127.0.0.1:0", "secret_env": "ONEBOT_SECRET",
               "api_url": bot.url, "access_token_env": "ONEBOT_TOKEN", "write_back": True, **over}
        cfg = {k: v for k, v in cfg.items() if v is not None}
        collector = OneBotCollector.from_config(cfg, settings, WHERE)
        if collector.http is not None:
            collector.http.sleep = lambda s: None
        built.append(collector)
        return collector

    yield build
    for c in built:
        c.stop()


@pytest.fixture
def channel(make, store):
    collector = make()
    collector.start(store)
    return collector


def all_posts(store) -> list[Post]:
    return store.posts_to_analyze(100_000)


def minutes_ago(n: float) -> float:
    return time.time() - n * 60


# ---------------------------------------------------------------------------- events in, posts out
def test_a_signed_group_message_becomes_a_post(channel, store, bot):
    quoted = bot.group_message(GROUP, "下周的工会活动在哪里？", at=minutes_ago(5))
    event = bot.group_message(GROUP, [
        {"type": "reply", "data": {"id": str(quoted["message_id"])}},
        {"type": "at", "data": {"qq": "20003000", "name": "张老师"}},
        {"type": "text", "data": {"text": " 绩效工资表发群里了"}},
        {"type": "image", "data": {"file": "abc.image", "url": "https://gchat.qpic.cn/x"}},
        {"type": "file", "data": {"file": "工资表.xlsx", "file_id": "/a-b", "file_size": "1024"}},
        {"type": "face", "data": {"id": "178"}},
    ], user_id=20002000, card="财务处-李老师", nickname="李某", at=minutes_ago(2), group_name="教职工之家1群")
    for e in (quoted, event):
        assert bot.push(channel.url, e, SECRET).status_code == 204
    result = CollectorRunner(store, [channel]).run_once()
    assert result.new == 2
    post = store.find_post("qq", f"{GROUP}:{event['message_id']}")
    assert post.author == "20002000" and post.author_name == "财务处-李老师"
    assert post.text == "@张老师  绩效工资表发群里了【图片】【文件：工资表.xlsx】【表情】"
    assert post.thread == f"教职工之家1群（{GROUP}）"
    assert post.reply_to == f"{GROUP}:{quoted['message_id']}"
    assert post.created_at == datetime.fromtimestamp(event["time"], timezone.utc)
    assert post.raw["message_id"] == event["message_id"] and post.raw["group_id"] == GROUP
    assert post.raw["_collector"] == "QQ群"
    # the QQ numbers stay in `author` only: never in the text, the thread or the raw extras
    for qq in ("20002000", "20003000"):
        assert qq not in post.text and qq not in post.thread and qq not in json.dumps(post.raw)
    first = store.find_post("qq", f"{GROUP}:{quoted['message_id']}")
    assert first.thread == str(GROUP) and first.author_name == "教工甲"  # no group name, no card: nickname


def test_cq_code_strings_are_parsed_and_unescaped(channel, store, bot):
    event = bot.group_message(GROUP, [
        {"type": "text", "data": {"text": "- [x] 用 &data, 查询"}},
        {"type": "share", "data": {"url": "http://a.example/?a=1&b=2", "title": "震惊,小伙[转]"}},
        {"type": "image", "data": {"file": "1.jpg"}},
    ], fmt="string", at=minutes_ago(1))
    assert isinstance(event["message"], str) and "&#91;x&#93;" in event["message"]
    assert bot.push(channel.url, event, SECRET).status_code == 204
    CollectorRunner(store, [channel]).run_once()
    post = store.find_post("qq", f"{GROUP}:{event['message_id']}")
    assert post.text == "- [x] 用 &data, 查询【链接：震惊,小伙[转]】【图片】"


def test_segment_rendering_follows_the_spec():
    assert parse_cq("[CQ:share,title=标题中有=等号,url=http://baidu.com]") == [
        {"type": "share", "data": {"title": "标题中有=等号", "url": "http://baidu.com"}}]
    assert parse_cq("&amp;#91;不是码&#93;[CQ:shake]") == [
        {"type": "text", "data": {"text": "&#91;不是码]"}}, {"type": "shake", "data": {}}]
    text, reply = render_message("[CQ:reply,id=-12345][CQ:at,qq=all] 开会[CQ:record,file=a.amr][CQ:video,file=b]"
                                 "[CQ:at,qq=123456789][CQ:json,data={\"prompt\":\"&#91;QQ小程序&#93;问卷星\"&#44;\"x\":1}]")
    assert reply == "-12345"
    assert text == "@全体成员  开会【语音】【视频】@某人 【卡片：[QQ小程序]问卷星】"
    assert "123456789" not in text
    assert render_message({"type": "text", "data": {"text": "单个消息段"}}) == ("单个消息段", None)
    assert render_message([{"type": "mystery", "data": {}}]) == ("【mystery】", None)


def test_events_that_are_not_group_messages_move_the_checkpoint_and_make_no_post(make, store, bot):
    collector = make(groups=[GROUP])
    collector.start(store)
    mine = bot.group_message(GROUP, "我是机器人自己发的", user_id=bot.self_id, at=minutes_ago(1))
    sent = dict(bot.group_message(GROUP, "message_sent 上报", at=minutes_ago(1)), post_type="message_sent")
    system = dict(bot.group_message(GROUP, "管理员已禁止群内匿名聊天", at=minutes_ago(1)), sub_type="notice")
    events = [bot.heartbeat(), bot.lifecycle(), bot.recall_notice(GROUP, 1), bot.private_message("私聊投诉"),
              bot.group_message(OTHER, "别的群", at=minutes_ago(1)), mine, sent, system,
              {"post_type": "request", "request_type": "group", "time": int(time.time())}]
    for e in events:
        assert bot.push(collector.url, e, SECRET).status_code == 204
    runner = CollectorRunner(store, [collector])
    assert runner.run_once().new == 0 and store.counts()["posts"] == 0
    ids = [i for i, _ in store.inbound("QQ群", 0, 100)]
    assert len(ids) == len(events) and store.checkpoint("QQ群") == str(ids[-1])
    assert store.counts()["dead_letters"] == 0

    private = make(name="QQ私聊", private=True)  # private messages only when configured
    private.start(store)
    assert bot.push(private.url, bot.private_message("私聊投诉"), SECRET).status_code == 204
    CollectorRunner(store, [private]).run_once()
    post = store.find_post("qq", "private:77001")
    assert post.thread == "私聊" and post.author == "30003000" and post.text == "私聊投诉"


def test_a_broken_message_event_is_a_dead_letter_and_the_rest_flows(channel, store, bot):
    good = bot.group_message(GROUP, "正常消息", at=minutes_ago(1))
    no_time = {k: v for k, v in bot.group_message(GROUP, "没有时间", keep=False).items() if k != "time"}
    no_id = {k: v for k, v in bot.group_message(GROUP, "没有消息号", at=minutes_ago(1), keep=False).items()
             if k != "message_id"}
    future = bot.group_message(GROUP, "来自明年", at=time.time() + 365 * 86400, keep=False)
    for e in (no_time, no_id, future, good):
        assert bot.push(channel.url, e, SECRET).status_code == 204
    result = CollectorRunner(store, [channel]).run_once()
    assert result.new == 1 and result.dead == 3
    assert store.find_post("qq", f"{GROUP}:{good['message_id']}") is not None


def test_anonymous_senders_long_texts_and_long_names_still_make_posts(channel, store, bot):
    anonymous = bot.group_message(GROUP, "匿名爆料：食堂涨价", user_id=80000000, at=minutes_ago(2))
    anonymous.update(sub_type="anonymous", anonymous={"id": 2333, "name": "匿名蜗牛", "flag": "2333|匿名蜗牛"})
    long = bot.group_message(GROUP, "长" * 30_000, card="名" * 300, group_name="群" * 300, at=minutes_ago(1))
    for e in (anonymous, long):
        assert bot.push(channel.url, e, SECRET).status_code == 204
    assert CollectorRunner(store, [channel]).run_once().new == 2
    a = store.find_post("qq", f"{GROUP}:{anonymous['message_id']}")
    assert a.author == "anonymous:2333" and a.author_name == "匿名蜗牛" and a.raw["anonymous"] is True
    b = store.find_post("qq", f"{GROUP}:{long['message_id']}")
    assert len(b.text) == 20_000 and b.text.endswith("…") and len(b.author_name) == 100
    assert b.thread.endswith(f"（{GROUP}）")


def test_milliseconds_and_string_ids_are_accepted(channel, store, bot):
    event = bot.group_message(GROUP, "毫秒时间戳", at=minutes_ago(1))
    event.update(time=int(event["time"]) * 1000, message_id=str(event["message_id"]), group_id=str(GROUP),
                 user_id=str(event["user_id"]))
    assert bot.push(channel.url, event, SECRET).status_code == 204
    CollectorRunner(store, [channel]).run_once()
    post = store.find_post("qq", f"{GROUP}:{event['message_id']}")
    assert abs((post.created_at - utcnow()).total_seconds() - (-60)) < 30


# ---------------------------------------------------------------------------- the listener refuses
def test_unsigned_forged_oversized_and_malformed_pushes_are_refused_and_not_stored(channel, store, bot, caplog):
    event = bot.group_message(GROUP, "伪造的消息", at=minutes_ago(1))
    body = json.dumps(event).encode()
    url = channel.url
    caplog.set_level(logging.WARNING, logger="sentinel.collectors")
    answers = {
        "unsigned": bot.push(url, event).status_code,
        "wrong secret": bot.push(url, event, "not-the-secret").status_code,
        "signature of another body": bot.push(url, body, signature=sign(SECRET, body + b" ")).status_code,
        "not sha1": bot.push(url, body, signature="md5=" + sign(SECRET, body)[5:]).status_code,
        "oversized": bot.push(url, b'{"a": "' + b"x" * (1 << 20) + b'"}', SECRET).status_code,
        "not JSON": bot.push(url, b"post_type=message", SECRET).status_code,
        "not UTF-8": bot.push(url, '{"a": "中文"}'.encode("gbk"), SECRET).status_code,
        "a JSON array": bot.push(url, b"[1, 2]", SECRET).status_code,
        "GET": bot.push(url, event, SECRET, method="GET").status_code,
        "another path": bot.push(url + "onebot", event, SECRET).status_code,
    }
    assert answers == {"unsigned": 401, "wrong secret": 403, "signature of another body": 403, "not sha1": 403,
                       "oversized": 413, "not JSON": 400, "not UTF-8": 400, "a JSON array": 400, "GET": 405,
                       "another path": 404}
    assert store.inbound("QQ群", 0, 10) == []
    refusals = [r for r in caplog.records if "拒绝" in r.getMessage()]
    assert len(refusals) == 1  # at most once a minute, with the count of the minute
    assert SECRET not in caplog.text
    assert bot.push(url, event, SECRET).status_code == 204  # the real implementation still gets through
    assert len(store.inbound("QQ群", 0, 10)) == 1


def test_a_chunked_signed_push_is_accepted(channel, store, bot):
    body = json.dumps(bot.group_message(GROUP, "分块上报", at=minutes_ago(1))).encode()
    resp = requests.post(channel.url, data=iter([body[:10], body[10:]]),
                         headers={"Content-Type": "application/json", "X-Signature": sign(SECRET, body)}, timeout=5)
    assert resp.status_code == 204
    assert [p for _, p in store.inbound("QQ群", 0, 10)] == [body.decode()]


def test_without_a_secret_on_loopback_every_event_is_taken(make, store, bot):
    collector = make(secret_env=None)
    collector.start(store)
    assert bot.push(collector.url, bot.group_message(GROUP, "无签名", at=minutes_ago(1))).status_code == 204
    assert len(store.inbound("QQ群", 0, 10)) == 1


class GatedStore:
    """The real store, with push_inbound held until `gate` opens (or failing while `broken`)."""

    def __init__(self, store) -> None:
        self.store = store
        self.gate = threading.Event()
        self.broken = False

    def push_inbound(self, collector, payloads, at):
        self.gate.wait(10)
        if self.broken:
            raise OSError("disk I/O error")
        return self.store.push_inbound(collector, payloads, at)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_an_event_is_acknowledged_only_once_it_is_stored(make, store, bot):
    gated = GatedStore(store)
    collector = make()
    collector.start(gated)
    event = bot.group_message(GROUP, "先入库再回答", at=minutes_ago(1))
    answers: list[int] = []
    pusher = threading.Thread(target=lambda: answers.append(bot.push(collector.url, event, SECRET).status_code))
    pusher.start()
    pusher.join(0.5)
    assert pusher.is_alive() and answers == []  # no answer while the event is not durable
    assert store.inbound("QQ群", 0, 10) == []
    gated.gate.set()
    pusher.join(5)
    assert answers == [204] and len(store.inbound("QQ群", 0, 10)) == 1


def test_a_store_failure_is_answered_503_so_the_implementation_sends_again(make, store, bot, caplog):
    gated = GatedStore(store)
    gated.gate.set()
    gated.broken = True
    collector = make()
    collector.start(gated)
    event = bot.group_message(GROUP, "入库失败后重发", at=minutes_ago(1))
    assert bot.push(collector.url, event, SECRET).status_code == 503
    assert "入库失败" in caplog.text
    gated.broken = False
    assert bot.push(collector.url, event, SECRET).status_code == 204
    CollectorRunner(store, [collector]).run_once()
    assert store.counts()["posts"] == 1


def test_a_taken_port_is_reported_retried_and_stored_events_are_still_read(make, store, bot, monkeypatch):
    first = make()
    first.start(store)
    assert bot.push(first.url, bot.group_message(GROUP, "已入库", at=minutes_ago(1)), SECRET).status_code == 204
    first.stop()
    blocker = make()
    blocker.start(store)
    port = blocker.address[1]
    second = make(listen=f"127.0.0.1:{port}")
    with pytest.raises(OSError, match="无法监听"):
        second.start(store)
    runner = CollectorRunner(store, [second])
    runner.run_once()
    assert store.counts()["posts"] == 1  # what arrived before is read all the same
    runner.run_once()
    jobs, problems = runner.health.report(degraded_after=1)
    assert "事件监听没有运行" in jobs["QQ群"]["last_error"] and problems  # /healthz shows it
    blocker.stop()  # the port is free again: the next try (once a minute) starts listening
    monkeypatch.setattr(onebot, "LISTEN_RETRY", 0.0)
    runner.run_once()
    assert second.address[1] == port
    assert bot.push(second.url, bot.group_message(GROUP, "恢复后", at=minutes_ago(1)), SECRET).status_code == 204
    runner.run_once()
    assert store.counts()["posts"] == 2 and runner.health.report(degraded_after=1)[1] == []


# ---------------------------------------------------------------------------- exactly once
def test_every_message_is_collected_exactly_once_across_restarts_and_resends(make, store, bot):
    rng = random.Random(20260601)
    collector = make(batch_size=3)
    collector.start(store)
    runner = CollectorRunner(store, [collector])
    sent: dict[str, dict] = {}
    for step in range(120):
        r = rng.random()
        if r < 0.45:  # a new message arrives
            e = bot.group_message(rng.choice([GROUP, OTHER]), f"第{step}条消息", at=minutes_ago(rng.uniform(1, 60)))
            assert bot.push(collector.url, e, SECRET).status_code == 204
            sent[f"{e['group_id']}:{e['message_id']}"] = e
        elif r < 0.55 and sent:  # the implementation sends one again (it timed out waiting for our 204)
            assert bot.push(collector.url, rng.choice(list(sent.values())), SECRET).status_code == 204
        elif r < 0.75:  # a collect cycle
            runner.run_once()
        elif r < 0.85:  # a crash after reading, before the batch was saved
            collector.fetch(store.checkpoint("QQ群"))
        else:  # the service restarts: a new collector instance on the same store
            collector.stop()
            collector = make(batch_size=3)
            collector.start(store)
            runner = CollectorRunner(store, [collector])
    runner.run_once()
    posts = all_posts(store)
    assert sorted(p.source_id for p in posts) == sorted(sent)
    assert store.counts()["posts"] == len(sent) > 30
    assert store.checkpoint("QQ群") == str(store.inbound("QQ群", 0, 100_000)[-1][0])
    assert runner.run_once().new == 0


def test_a_backlog_is_read_in_batches(make, store, bot):
    collector = make(batch_size=4)
    collector.start(store)
    for i in range(10):
        assert bot.push(collector.url, bot.group_message(GROUP, f"积压{i}", at=minutes_ago(30 - i)), SECRET).status_code == 204
    calls = []
    fetch = collector.fetch
    collector.fetch = lambda cp: calls.append(cp) or fetch(cp)
    assert CollectorRunner(store, [collector]).run_once().new == 10
    assert len(calls) == 3  # 4 + 4 + 2, one runner cycle


# ---------------------------------------------------------------------------- backfill
def fill_history(bot: FakeOneBot, group: int, n: int, start: datetime) -> list[dict]:
    return [bot.group_message(group, f"历史消息{i}", at=(start + timedelta(minutes=i)).timestamp(), user_id=20002000 + i % 3)
            for i in range(n)]


@pytest.mark.parametrize("flavour", ["napcat", "gocq", "lagrange"])
def test_backfill_pages_through_every_group_history(make, store, bot, flavour):
    bot.flavour = flavour
    start = utcnow() - timedelta(days=3)
    a = fill_history(bot, GROUP, 47, start)
    b = fill_history(bot, OTHER, 5, start)
    collector = make()
    batches = list(collector.backfill(None, None))
    posts = [p for batch in batches for p in batch.posts]
    assert sorted(p.source_id for p in posts) == sorted(f"{m['group_id']}:{m['message_id']}" for m in a + b)
    history = bot.calls_to("get_group_msg_history")
    assert len([c for c in history if c.params["group_id"] == GROUP]) >= 3  # 47 messages, 20 a page
    assert all(c.method == "POST" and c.headers.get("Authorization") == f"Bearer {TOKEN}" for c in history)
    first, second = [c for c in history if c.params["group_id"] == GROUP][:2]
    assert "message_seq" not in first.params  # the first page: the latest messages
    cursor_key = "message_id" if flavour == "lagrange" else "message_seq"
    oldest_of_first_page = a[-20]  # every flavour answers 20 messages ending with the latest
    assert second.params[cursor_key] == oldest_of_first_page["message_seq" if flavour == "gocq" else "message_id"]
    thread = {p.thread for p in posts if p.source_id.startswith(f"{GROUP}:")}
    assert thread == {f"教职工之家1群（{GROUP}）"}


def test_backfill_since_and_until_and_configured_groups(make, bot):
    start = datetime(2026, 5, 1, tzinfo=timezone.utc)
    a = fill_history(bot, GROUP, 60, start)
    fill_history(bot, OTHER, 5, start)
    collector = make(groups=[GROUP])
    since, until = start + timedelta(minutes=15), start + timedelta(minutes=50)
    posts = [p for batch in collector.backfill(since, until) for p in batch.posts]
    assert sorted(p.source_id for p in posts) == sorted(f"{GROUP}:{m['message_id']}" for m in a[15:50])
    assert {c.params["group_id"] for c in bot.calls_to("get_group_msg_history")} == {GROUP}
    assert len(bot.calls_to("get_group_msg_history")) == 3  # stops once a page reaches before `since`


def test_backfill_and_live_collection_store_each_message_once(make, store, bot):
    history = fill_history(bot, GROUP, 25, utcnow() - timedelta(hours=2))
    collector = make(groups=[GROUP])
    collector.start(store)
    for e in history[-3:]:  # the last ones also arrived live
        assert bot.push(collector.url, e, SECRET).status_code == 204
    CollectorRunner(store, [collector]).run_once()
    for batch in collector.backfill(None, None):
        store.ingest("QQ群:backfill", batch.posts, None, batch.dead)
    assert store.counts()["posts"] == 25


def test_the_backfill_command_stores_history_once(tmp_path, monkeypatch, bot, env, capsys):
    from collectors.backfill import main

    fill_history(bot, GROUP, 30, utcnow() - timedelta(days=1))
    monkeypatch.setitem(COLLECTORS._entries, "onebot", OneBotCollector)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nchannels:\n  - {{name: QQ群, type: onebot, listen: '127.0.0.1:0', "
                   f"api_url: '{bot.url}', access_token_env: ONEBOT_TOKEN, groups: [{GROUP}]}}\n", encoding="utf-8")
    assert main(["--config", str(cfg), "--channel", "QQ群"]) == 0
    assert "新增 30 条" in capsys.readouterr().out
    assert main(["--config", str(cfg), "--channel", "QQ群"]) == 0
    assert "新增 0 条" in capsys.readouterr().out


def test_an_implementation_without_the_history_api_is_told_clearly(tmp_path, monkeypatch, make, bot, env, capsys):
    from collectors.backfill import main

    bot.unsupported.add("get_group_msg_history")
    fill_history(bot, GROUP, 3, utcnow() - timedelta(days=1))
    with pytest.raises(NotImplementedError, match="get_group_msg_history"):
        make().backfill(None, None)
    monkeypatch.setitem(COLLECTORS._entries, "onebot", OneBotCollector)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nchannels:\n  - {{name: QQ群, type: onebot, listen: '127.0.0.1:0', "
                   f"api_url: '{bot.url}', access_token_env: ONEBOT_TOKEN}}\n", encoding="utf-8")
    assert main(["--config", str(cfg), "--channel", "QQ群"]) == 2
    err = capsys.readouterr().err
    assert "错误：" in err and "不支持" in err and "Traceback" not in err


def test_backfill_rides_out_transient_failures(make, bot):
    a = fill_history(bot, GROUP, 30, utcnow() - timedelta(days=1))
    bot.fail("get_group_msg_history", (500, b"internal error"), (200, failed(201, "工作线程池未正确初始化")))
    collector = make(groups=[GROUP])
    slept: list[float] = []
    collector.http.sleep = slept.append
    posts = [p for batch in collector.backfill(None, None) for p in batch.posts]
    assert len(posts) == len(a)
    assert len([s for s in slept if s >= 0.25]) == 2  # two backoffs (the rest: the 5 requests/s pace)


def test_a_rate_limited_backfill_stops_with_the_wait_the_platform_asked(make, bot):
    fill_history(bot, GROUP, 45, utcnow() - timedelta(days=1))
    collector = make(groups=[GROUP])
    pages = collector.backfill(None, None)
    assert len(next(pages).posts) == 20
    bot.fail("get_group_msg_history", (429, b"", {"Retry-After": "120"}))
    with pytest.raises(RateLimited) as err:
        next(pages)
    assert err.value.retry_after == 120 and f"回填群 {GROUP} 时失败" in str(err.value)


def test_a_token_changed_mid_backfill_is_an_auth_error_saying_what_to_check(make, bot):
    fill_history(bot, GROUP, 45, utcnow() - timedelta(days=1))
    collector = make(groups=[GROUP])
    pages = collector.backfill(None, None)
    assert len(next(pages).posts) == 20
    bot.token = "rotated-token"  # the admin changed the token in NapCat
    with pytest.raises(AuthError) as err:
        next(pages)
    assert err.value.code == 403
    assert "ONEBOT_TOKEN" in str(err.value) and TOKEN not in str(err.value)


def test_backfill_with_a_wrong_token_fails_on_the_first_page_with_one_clear_message(
        tmp_path, monkeypatch, make, bot, env, capsys):
    from collectors.backfill import main

    bot.token = "another"
    with pytest.raises(AuthError, match="访问令牌"):
        list(make().backfill(None, None))
    monkeypatch.setitem(COLLECTORS._entries, "onebot", OneBotCollector)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nchannels:\n  - {{name: QQ群, type: onebot, listen: '127.0.0.1:0', "
                   f"api_url: '{bot.url}', access_token_env: ONEBOT_TOKEN}}\n", encoding="utf-8")
    assert main(["--config", str(cfg), "--channel", "QQ群"]) == 2
    err = capsys.readouterr().err
    assert err.count("错误：") == 1 and "ONEBOT_TOKEN" in err and TOKEN not in err and "Traceback" not in err


# ---------------------------------------------------------------------------- write-back
@pytest.fixture
def collected(channel, store, bot):
    """A message collected through the listener, and an outbox that carries out write-backs."""
    event = bot.group_message(GROUP, "加微信领取补贴", user_id=20009000, at=minutes_ago(3))
    assert bot.push(channel.url, event, SECRET).status_code == 204
    CollectorRunner(store, [channel]).run_once()
    post = store.find_post("qq", f"{GROUP}:{event['message_id']}")
    return post, event, WriteBackOutbox(store, {channel.name: channel})


def queue(store, post, action, payload=None):
    store.queue_writeback(WriteBack(post_id=post.id, collector="QQ群", action=action, requested_by="moderator",
                                    payload=payload or {}, created_at=utcnow()), AuditEvent("moderator", "x"))


def test_write_backs_reach_the_documented_endpoints(collected, store, bot):
    post, event, outbox = collected
    queue(store, post, "delete")
    queue(store, post, "ban")
    queue(store, post, "reply", {"text": "经核实，这是诈骗信息，请勿添加。"})
    assert outbox.deliver_due().sent == 3
    calls = {c.action: c for c in bot.calls if c.action in ("delete_msg", "set_group_ban", "send_group_msg")}
    assert calls["delete_msg"].params == {"message_id": event["message_id"]}
    assert calls["set_group_ban"].params == {"group_id": GROUP, "user_id": 20009000, "duration": 1800}
    assert calls["send_group_msg"].params == {"group_id": GROUP, "message": [
        {"type": "reply", "data": {"id": str(event["message_id"])}},
        {"type": "text", "data": {"text": "经核实，这是诈骗信息，请勿添加。"}}]}
    for c in calls.values():
        assert c.method == "POST" and c.headers["Authorization"] == f"Bearer {TOKEN}"
        assert c.headers["Content-Type"].startswith("application/json")
    actions = [e.action for e in store.audit_log(limit=20)]
    assert {"writeback.delete", "writeback.ban", "writeback.reply"} <= set(actions)
    assert outbox.deliver_due().sent == 0  # exactly once


def test_ban_minutes_and_an_async_answer(make, store, bot):
    collector = make(ban_minutes=60 * 24)
    post = Post(channel="qq", source_id=f"{GROUP}:5", author="20009000", text="x", created_at=utcnow(),
                raw={"message_type": "group", "message_id": 5, "group_id": GROUP})
    bot.fail("set_group_ban", (200, {"status": "async", "retcode": 1, "data": None}))
    assert collector.write_back("ban", post, {})["status"] == "async"
    assert bot.calls_to("set_group_ban")[-1].params["duration"] == 86400


@pytest.mark.parametrize("answer,error", [
    ((200, failed(100, "参数错误")), WriteBackRefused),
    ((200, failed(102, "没有权限")), WriteBackRefused),
    ((200, failed(103, "权限不足")), WriteBackRefused),
    ((200, failed(200, "消息123不存在")), WriteBackRefused),
    ((200, failed(404, "API不存在", msg="API_NOT_FOUND")), WriteBackRefused),
    ((404, b"404 page not found"), WriteBackRefused),
    ((200, failed(104, "凭证失效")), AuthError),
    ((403, b'{"message": "token verify failed!"}'), AuthError),
    ((200, failed(201, "工作线程池未正确初始化")), TransientError),
    ((500, b"oops"), TransientError),
    ((200, failed(200, "发送消息过于频繁")), RateLimited),
    ((200, failed(-1, "未知错误")), SourceError),
])
def test_platform_answers_map_to_refused_or_retry_later(make, bot, answer, error):
    collector = make()
    post = Post(channel="qq", source_id=f"{GROUP}:7", author="20009000", text="x", created_at=utcnow(),
                raw={"message_type": "group", "message_id": 7, "group_id": GROUP})
    bot.fail("delete_msg", *[answer] * 3)
    with pytest.raises(error) as err:
        collector.write_back("delete", post, {})
    if error is not WriteBackRefused:
        assert not isinstance(err.value, WriteBackRefused)
    assert TOKEN not in str(err.value) and SECRET not in str(err.value)


def test_refused_write_backs_stop_and_failing_ones_wait(collected, store, bot):
    post, event, outbox = collected
    bot.fail("delete_msg", (200, failed(103, "权限不足")))
    queue(store, post, "delete")
    assert outbox.deliver_due().refused == 1
    [wb] = store.writebacks_for([post.id])[post.id]
    assert wb.state is WriteBackState.REFUSED and "群管理员" in wb.result

    bot.token = "rotated"
    queue(store, post, "ban")
    assert outbox.deliver_due().failed == 1
    ban = [w for w in store.writebacks_for([post.id])[post.id] if w.action == "ban"][0]
    assert ban.state is WriteBackState.FAILING and "ONEBOT_TOKEN" in ban.last_error and TOKEN not in ban.last_error


def test_write_backs_the_platform_cannot_do_are_refused_without_a_call(make, bot):
    collector = make()
    anonymous = Post(channel="qq", source_id=f"{GROUP}:9", author="anonymous:42", text="x", created_at=utcnow(),
                     raw={"message_type": "group", "message_id": 9, "group_id": GROUP, "anonymous": True})
    with pytest.raises(WriteBackRefused, match="匿名"):
        collector.write_back("ban", anonymous, {})
    with pytest.raises(WriteBackRefused, match="回复内容为空"):
        collector.write_back("reply", anonymous, {"text": "  "})
    with pytest.raises(WriteBackRefused, match="message_id"):
        collector.write_back("delete", Post(channel="qq", source_id="x", author="1", text="x", created_at=utcnow()), {})
    assert bot.calls == []


def test_check_answer_accepts_every_documented_success():
    for answer in ({"status": "ok", "retcode": 0, "data": None}, {"status": "async", "retcode": 1},
                   {"retcode": 0, "data": {}}, {"status": "OK", "retcode": "0"}):
        check_answer(answer, "delete_msg", True)
    with pytest.raises(SourceError):
        check_answer(["not", "an", "object"], "delete_msg", True)


# ---------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("change,field,words", [
    ({"listen": None}, WHERE, "listen"),
    ({"listen": "5700"}, f"{WHERE}.listen", "格式不对"),
    ({"listen": "127.0.0.1:70000"}, f"{WHERE}.listen", "超出范围"),
    ({"surprise": 1}, WHERE, "不认识"),
    ({"secret_env": "ONEBOT_UNSET_SECRET"}, f"{WHERE}.secret_env", "ONEBOT_UNSET_SECRET"),
    ({"access_token_env": "NO-SUCH VAR"}, f"{WHERE}.access_token_env", "格式不对"),
    ({"api_url": None}, f"{WHERE}.api_url", "write_back"),
    ({"api_url": "ftp://127.0.0.1:3000"}, f"{WHERE}.api_url", "格式不对"),
    ({"listen": "0.0.0.0:5700", "secret_env": None}, f"{WHERE}.secret_env", "伪造"),
    ({"secret": "inline"}, f"{WHERE}.secret", "不能写在配置文件里"),
    ({"groups": ["教职工群"]}, f"{WHERE}.groups[0]", "格式不对"),
    ({"ban_minutes": 0}, f"{WHERE}.ban_minutes", "超出范围"),
    ({"write_back": "yes"}, f"{WHERE}.write_back", "类型"),
])
def test_config_errors_name_the_file_and_field(make, change, field, words):
    with pytest.raises(ConfigError) as err:
        make(**change)
    assert err.value.where == field and words in str(err.value), str(err.value)
    assert SECRET not in str(err.value) and TOKEN not in str(err.value)


def test_a_listener_only_channel_needs_no_api(make, store, bot):
    collector = make(api_url=None, access_token_env=None, write_back=None)
    assert collector.enabled_actions == frozenset() and collector.http is None
    with pytest.raises(NotImplementedError, match="api_url"):
        collector.backfill(None, None)
