"""The `weibo` channel against a local fake of the documented Weibo API (tests/fakes/weibo.py): every
comment exactly once across restarts and crashes while comments keep arriving, paging, the access
token expiring, transient errors, rate limits, wrong credentials, write-backs with the documented
parameters, backfill, and config errors that name the field."""
from __future__ import annotations

import dataclasses
import logging
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from collectors import COLLECTORS, CollectorRunner
from collectors.http import AuthError, RateLimited, SourceError, TransientError, WriteBackRefused
from collectors.weibo import (BadComment, Cursor, WeiboCollector, comment_to_post, parse_created_at, weibo_error)
from collectors.writeback import WriteBackOutbox
from core.config import load_settings
from core.domain import AuditEvent, WriteBack, WriteBackState, utcnow
from core.errors import ConfigError, SentinelError
from tests.fakes.weibo import CST, FakeWeibo
from tests.fakes.clock import Ticker

TOKEN = "2.00SecretToken_4f9c1e7b"
WHERE = "channels[0]（微博）"


@pytest.fixture
def settings(tmp_path):
    return dataclasses.replace(load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={}),
                               config_file="sentinel.yaml")


@pytest.fixture
def wb():
    with FakeWeibo(TOKEN) as fake:
        yield fake


def make(wb: FakeWeibo, settings, token: str = TOKEN, page_size: int = 3, **extra: Any) -> WeiboCollector:
    """A collector built from config the way the service does (a new one per 'restart')."""
    cfg = {"name": "微博", "type": "weibo", "access_token_env": "WEIBO_TOKEN", "base_url": wb.url, **extra}
    collector = WeiboCollector.from_config(cfg, settings, WHERE, env={"WEIBO_TOKEN": token})
    collector.page_size = page_size
    collector.slept = []  # type: ignore[attr-defined]
    collector.http.sleep = collector.slept.append  # type: ignore[attr-defined]
    return collector


def seed(wb: FakeWeibo, n: int, status: str | None = None) -> list[str]:
    status = status or wb.add_status("关于绩效工资分配改革方案（征求意见稿）的通知")
    return [wb.add_comment(status, f"第{i}条评论：食堂的饭菜又涨价了", uid=1000 + i, name=f"老师{i}") for i in range(n)]


def stored(store, ids) -> list[str]:
    return [i for i in ids if store.find_post("weibo", i) is not None]


def to_me(wb: FakeWeibo) -> list[dict[str, str]]:
    return [{k: v for k, v in r.params.items() if k != "access_token"} for r in wb.requests_to("/2/comments/to_me.json")]


# ---------------------------------------------------------------------------- config
def test_a_valid_config_builds_the_channel_with_the_documented_defaults(settings):
    cfg = {"name": "微博", "type": "weibo", "access_token_env": "WEIBO_TOKEN", "write_back": True}
    c = WeiboCollector.from_config(cfg, settings, WHERE, env={"WEIBO_TOKEN": f" {TOKEN}\n"})
    assert c.every == 120 and c.http.base_url == "https://api.weibo.com" and c.token == TOKEN
    assert c.enabled_actions == {"delete", "reply"}
    c2 = WeiboCollector.from_config({**cfg, "every": "5m", "base_url": "https://api.weibo.com/2/", "write_back": False},
                                    settings, WHERE, env={"WEIBO_TOKEN": TOKEN})
    assert c2.every == 300 and c2.http.base_url == "https://api.weibo.com" and c2.enabled_actions == frozenset()


@pytest.mark.parametrize("cfg,env,field", [
    ({}, {}, "access_token_env"),  # the variable is not set
    ({}, {"WEIBO_TOKEN": "  "}, "access_token_env"),  # set but empty
    ({"access_token_env": "weibo-token"}, {}, "access_token_env"),
    ({"access_token_env": None}, {}, None),
    ({"base_url": "ftp://api.weibo.com"}, {"WEIBO_TOKEN": TOKEN}, "base_url"),
    ({"every": "2 minutes"}, {"WEIBO_TOKEN": TOKEN}, "every"),
    ({"write_back": "yes"}, {"WEIBO_TOKEN": TOKEN}, "write_back"),
    ({"access_token": TOKEN}, {"WEIBO_TOKEN": TOKEN}, "access_token"),  # a secret in the file
    ({"app_key": "123"}, {"WEIBO_TOKEN": TOKEN}, None),  # unknown option
])
def test_config_errors_name_the_file_and_the_field(settings, cfg, env, field):
    base = {"name": "微博", "type": "weibo", "access_token_env": "WEIBO_TOKEN"}
    with pytest.raises(ConfigError) as err:
        WeiboCollector.from_config({**base, **cfg}, settings, WHERE, env=env)
    text = str(err.value)
    assert "sentinel.yaml" in text and WHERE in text
    if field:
        assert f"{WHERE}.{field}" in text
    assert TOKEN not in text


def test_a_missing_token_variable_says_which_one_to_set(settings):
    with pytest.raises(ConfigError) as err:
        WeiboCollector.from_config({"name": "微博", "type": "weibo", "access_token_env": "UNION_WEIBO_TOKEN"},
                                   settings, WHERE, env={})
    assert "UNION_WEIBO_TOKEN" in str(err.value) and "export" in str(err.value)


# ---------------------------------------------------------------------------- records
@pytest.mark.parametrize("value,expected", [
    ("Tue May 31 17:46:55 +0800 2011", datetime(2011, 5, 31, 9, 46, 55, tzinfo=timezone.utc)),
    ("Wed Jun 01 00:50:25 +0800 2011", datetime(2011, 5, 31, 16, 50, 25, tzinfo=timezone.utc)),
    ("Sun Mar 1 08:00:00 -0500 2026", datetime(2026, 3, 1, 13, 0, 0, tzinfo=timezone.utc)),
])
def test_weibo_times_are_parsed_with_their_offset(value, expected):
    at = parse_created_at(value)
    assert at == expected and at.utcoffset() is not None


@pytest.mark.parametrize("value", [
    "2011-05-31 17:46:55", "2011-05-31T17:46:55+08:00", "Tue May 31 17:46:55 2011", "Tue May 31 17:46:55 CST 2011",
    "Tue Foo 31 17:46:55 +0800 2011", "Tue Feb 30 17:46:55 +0800 2011", " Tue May 31 17:46:55 +0800 2011",
    "Tue May 31 25:46:55 +0800 2011", 1306835215, None, "",
])
def test_anything_but_weibos_time_format_is_refused(value):
    with pytest.raises(BadComment):
        parse_created_at(value)


def test_a_comment_becomes_a_post_with_the_platform_ids(wb, settings, store):
    status = wb.add_status("【通知】关于2026年教职工体检安排的说明，请各位老师按学院顺序前往校医院体检，"
                           "体检前一天晚上十点后请勿进食。")
    first = wb.add_comment(status, "体检能不能改到周末？", uid=1404376560, name="zaku")
    reply = wb.add_comment(status, "同问", uid=1500000001, name="文科青椒小王", reply_to=first)
    wb.id_as_float = True  # `id` rounded to a double; `idstr` exact
    CollectorRunner(store, [make(wb, settings)]).run_once()
    post = store.find_post("weibo", reply)
    assert post is not None and store.find_post("weibo", first) is not None
    assert int(reply) > 2**53 and post.source_id == reply
    assert post.author == "1500000001" and post.author_name == "文科青椒小王" and post.text == "同问"
    assert post.reply_to == first and post.thread.startswith("【通知】关于2026年教职工体检安排") and len(post.thread) <= 60
    assert post.url == f"https://m.weibo.cn/status/{status}"
    assert post.created_at.tzinfo is not None
    assert post.raw["cid"] == reply and post.raw["status_id"] == status and post.raw["_collector"] == "微博"
    assert TOKEN not in str(post.raw)


def test_unreadable_comments_become_dead_letters_once_and_collection_goes_on(wb, settings, store):
    ids = seed(wb, 5)
    wb.comments[int(ids[1])]["created_at"] = "2026-03-01 08:30:00"
    del wb.comments[int(ids[3])]["user"]
    tick = Ticker()
    runner = CollectorRunner(store, [make(wb, settings)], monotonic=tick)
    runner.run_once()
    assert stored(store, ids) == [ids[0], ids[2], ids[4]]
    errors = " | ".join(d.error for d in store.dead_letters())
    assert store.counts()["dead_letters"] == 2 and "created_at 格式不对" in errors and "缺少作者" in errors
    tick.t += 200
    runner.run_once()
    assert store.counts()["dead_letters"] == 2  # not reported again


# ---------------------------------------------------------------------------- paging and exactly once
def test_comments_are_read_page_by_page_with_since_id_then_max_id(wb, settings, store):
    ids = seed(wb, 8)
    tick = Ticker()
    runner = CollectorRunner(store, [make(wb, settings)], monotonic=tick)
    result = runner.run_once()
    assert result.new == 8 and stored(store, ids) == ids
    calls = to_me(wb)
    assert calls[0] == {"count": "3"}  # nothing collected yet: no since_id
    assert all("max_id" in c and "since_id" not in c and "page" not in c for c in calls[1:])
    assert [int(c["max_id"]) for c in calls[1:]] == sorted((int(c["max_id"]) for c in calls[1:]), reverse=True)
    assert all(r.method == "GET" and r.params["access_token"] == TOKEN for r in wb.requests)
    newest = max(ids, key=int)
    assert Cursor.load(store.checkpoint("微博")).since == int(newest)
    more = seed(wb, 2, status=str(next(iter(wb.statuses))))
    tick.t += 121
    assert runner.run_once().new == 2
    assert to_me(wb)[len(calls)] == {"count": "3", "since_id": newest}
    assert stored(store, more) == more and store.counts()["posts"] == 10


@pytest.mark.parametrize("mode", ["inclusive", "exclusive_max_id", "ignore_max_id"])
def test_paging_is_complete_whatever_the_server_makes_of_max_id(wb, settings, store, mode):
    if mode != "inclusive":
        setattr(wb, mode, True)
    ids = seed(wb, 10)
    CollectorRunner(store, [make(wb, settings)]).run_once()
    assert stored(store, ids) == ids and store.counts()["posts"] == 10
    if mode == "ignore_max_id":
        assert any("page" in c for c in to_me(wb))


def test_comments_arriving_or_deleted_while_paging_lose_nothing(wb, settings, store):
    status = wb.add_status("食堂价格调整征求意见")
    ids = seed(wb, 9, status)
    arrived: list[str] = []
    deleted: list[str] = []

    def meanwhile(req):
        n = len(wb.requests_to("/2/comments/to_me.json"))
        if n == 2:  # after the first page: new comments arrive, one already read and one not yet read vanish
            arrived.extend(wb.add_comment(status, f"新评论{i}", uid=3000 + i, name="新来的") for i in range(4))
            deleted.extend([ids[8], ids[1]])
            wb.delete(ids[8])
            wb.delete(ids[1])

    wb.on_request = meanwhile
    tick = Ticker()
    runner = CollectorRunner(store, [make(wb, settings)], monotonic=tick)
    runner.run_once()
    assert set(stored(store, ids)) == set(ids) - {ids[1]}  # ids[8] was read before it went away
    tick.t += 121
    runner.run_once()
    assert stored(store, arrived) == arrived
    assert store.counts()["posts"] == len(ids) - 1 + len(arrived)


def test_every_comment_exactly_once_across_restarts_and_crashes(wb, settings, store, monkeypatch):
    """Rounds of new comments (some arriving mid-sweep), each collected by a new collector instance
    (a restart) and sometimes stopped after a few pages (killed between batches) or failing to save
    (killed after fetching): at the end every comment is stored once, none was handed over twice
    except a page whose save failed."""
    rng = random.Random(20260601)
    statuses = [wb.add_status(f"工会通知{i}") for i in range(3)]
    expected: list[str] = []
    handed: list[str] = []
    save_failures = 0

    def add(k: int) -> None:
        for _ in range(k):
            expected.append(wb.add_comment(rng.choice(statuses), f"评论{len(expected)}", uid=rng.randint(1, 50),
                                           name="老师"))

    def during(req):
        if rng.random() < 0.4:
            add(rng.randint(1, 3))

    def recorded(collector: WeiboCollector) -> WeiboCollector:
        fetch = collector.fetch

        def recording(checkpoint):
            batch = fetch(checkpoint)
            handed.extend(p.source_id for p in batch.posts)
            return batch

        collector.fetch = recording  # type: ignore[method-assign]
        return collector

    add(7)
    for round_no in range(14):
        add(rng.randint(0, 6))
        wb.on_request = during if round_no % 3 == 1 else None
        collector = recorded(make(wb, settings, page_size=rng.choice([2, 3, 5])))
        runner = CollectorRunner(store, [collector], max_batches=rng.choice([1, 2, 3, 10_000]))
        if round_no in (4, 9):  # the process dies after fetching a page, before saving it
            real = store.ingest
            calls = {"n": 0}

            def flaky(*a, **kw):
                calls["n"] += 1
                if calls["n"] == 2:
                    raise RuntimeError("killed")
                return real(*a, **kw)

            monkeypatch.setattr(store, "ingest", flaky)
            runner.run_once()
            monkeypatch.setattr(store, "ingest", real)
            save_failures += 1
        else:
            runner.run_once()
    wb.on_request = None
    for _ in range(30):  # later runs drain whatever is left
        runner = CollectorRunner(store, [recorded(make(wb, settings, page_size=4))])
        runner.run_once()
        if not Cursor.load(store.checkpoint("微博")).sweeping and len(stored(store, expected)) == len(expected):
            break
    assert stored(store, expected) == expected
    assert store.counts()["posts"] == len(expected) and len(set(expected)) == len(expected)
    duplicates = len(handed) - len(set(handed))
    assert duplicates <= save_failures * 5  # only a page whose save failed was read again
    assert set(handed) == set(expected)


# ---------------------------------------------------------------------------- failures
def test_an_access_token_expiring_mid_collection_stops_with_one_clear_message_and_resumes(wb, settings, store, caplog):
    ids = seed(wb, 10)

    def expire_after_two_pages(req):
        if len(wb.requests_to("/2/comments/to_me.json")) == 3:
            wb.expire(TOKEN)

    wb.on_request = expire_after_two_pages
    tick = Ticker()
    runner = CollectorRunner(store, [make(wb, settings)], monotonic=tick)
    runner.run_once()
    first = stored(store, ids)
    assert 0 < len(first) < 10
    jobs, problems = runner.health.report(degraded_after=1)
    error = jobs["微博"]["last_error"]
    assert "access_token 已过期" in error and "21327" in error and "重新完成 OAuth2 授权" in error
    assert "WEIBO_TOKEN" in error and TOKEN not in error and problems
    assert runner.next_poll_in("微博") >= 300
    assert Cursor.load(store.checkpoint("微博")).sweeping  # the sweep's position is kept
    logged = [r.getMessage() for r in caplog.records if "access_token" in r.getMessage()]
    assert len(logged) == 1 and TOKEN not in logged[0]
    # the admin authorises again and restarts the service with the new token
    wb.on_request = None
    wb.tokens.add("2.00NewToken")
    before = len(to_me(wb))
    CollectorRunner(store, [make(wb, settings, token="2.00NewToken")]).run_once()
    assert stored(store, ids) == ids and store.counts()["posts"] == 10
    assert "max_id" in to_me(wb)[before]  # resumed where it stopped, not from the top


@pytest.mark.parametrize("status", [200, 400, 401, 403])
def test_wrong_credentials_are_an_auth_error_whatever_the_http_status(wb, settings, status):
    wb.fail(21332, status=status)
    with pytest.raises(AuthError) as err:
        make(wb, settings).fetch(None)
    assert "access_token 无效" in str(err.value) and "WEIBO_TOKEN" in str(err.value)


def test_wrong_credentials_wait_long_and_are_logged_once(wb, settings, store, caplog):
    seed(wb, 2)
    tick = Ticker()
    runner = CollectorRunner(store, [make(wb, settings, token="2.00WrongToken")], monotonic=tick)
    for _ in range(3):
        runner.run_once()
        assert runner.next_poll_in("微博") >= 300
        tick.t += runner.next_poll_in("微博") + 1
    assert len(to_me(wb)) == 3  # one try per pause, no retries inside a call
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 <= len(logged) < 3  # three tries over 15 minutes: the same error at most once per 10 minutes
    assert "凭据或权限有误" in logged[0] and "access_token 无效" in logged[0]
    assert "2.00WrongToken" not in logged[0]
    assert store.counts()["posts"] == 0 and store.counts()["dead_letters"] == 0


def test_transient_failures_are_retried_with_backoff(wb, settings, store):
    ids = seed(wb, 4)
    wb.fail(status=500)  # plain HTTP 500
    wb.fail(10001, status=200)  # "System error" in a 200 answer
    collector = make(wb, settings)
    CollectorRunner(store, [collector]).run_once()
    assert stored(store, ids) == ids
    assert len(collector.slept) == 2 and all(0 < s <= 2 for s in collector.slept)


def test_a_platform_that_stays_busy_keeps_the_checkpoint_and_recovers(wb, settings, store):
    ids = seed(wb, 6)
    tick = Ticker()
    collector = make(wb, settings)
    runner = CollectorRunner(store, [collector], monotonic=tick)

    def busy_after_first_page(req):
        if len(wb.requests_to("/2/comments/to_me.json")) == 2:
            wb.fail(10009, times=3)

    wb.on_request = busy_after_first_page
    runner.run_once()
    assert len(stored(store, ids)) == 3
    assert "平台暂时不可用" in runner.health.report(degraded_after=3)[0]["微博"]["last_error"]
    wb.on_request = None
    tick.t += runner.next_poll_in("微博") + 1
    runner.run_once()
    assert stored(store, ids) == ids and store.counts()["posts"] == 6


@pytest.mark.parametrize("code,status", [(10023, 403), (10022, 200), (10024, 400)])
def test_a_rate_limit_pauses_the_channel_without_hammering(wb, settings, store, code, status):
    ids = seed(wb, 4)
    wb.fail(code, status=status)
    tick = Ticker()
    runner = CollectorRunner(store, [make(wb, settings)], monotonic=tick)
    runner.run_once()
    assert len(to_me(wb)) == 1  # not retried inside the call
    assert runner.next_poll_in("微博") >= 300
    assert "限流" in runner.health.report(degraded_after=3)[0]["微博"]["last_error"]
    tick.t += runner.next_poll_in("微博") + 1
    runner.run_once()
    assert stored(store, ids) == ids


def test_a_retry_after_header_is_honoured(wb, settings):
    wb.fail(10023, headers={"Retry-After": "1200"})
    with pytest.raises(RateLimited) as err:
        make(wb, settings).fetch(None)
    assert err.value.retry_after == 1200


def test_the_access_token_never_appears_in_an_error(settings):
    collector = WeiboCollector.from_config(
        {"name": "微博", "type": "weibo", "access_token_env": "WEIBO_TOKEN", "base_url": "http://127.0.0.1:9"},
        settings, WHERE, env={"WEIBO_TOKEN": TOKEN})
    collector.http.sleep = lambda s: None
    with pytest.raises(TransientError) as err:
        collector.fetch(None)
    assert TOKEN not in str(err.value) and "127.0.0.1" in str(err.value)


@pytest.mark.parametrize("code,kind", [
    (21327, AuthError), (21332, AuthError), (21315, AuthError), (10014, AuthError), (20003, AuthError),
    (10022, RateLimited), (10023, RateLimited), (10024, RateLimited), (20016, RateLimited),
    (10001, TransientError), (10009, TransientError),
    (20201, WriteBackRefused), (20101, WriteBackRefused), (20019, WriteBackRefused), (20203, WriteBackRefused),
    (10017, SourceError),
])
def test_documented_error_codes_map_to_what_the_runner_and_outbox_understand(code, kind):
    error = weibo_error({"error": "x", "error_code": str(code), "request": "/2/comments/to_me.json"}, 400, "WEIBO_TOKEN")
    assert type(error) is kind and error.code == code


# ---------------------------------------------------------------------------- write-back
@pytest.fixture
def collected(wb, settings, store):
    status = wb.add_status("关于周转房有关情况的说明")
    ids = [wb.add_comment(status, "加微信 vx123 兼职刷单日结", uid=777, name="广告号"),
           wb.add_comment(status, "听说周转房要统一收回？", uid=778, name="青椒")]
    collector = make(wb, settings, write_back=True)
    CollectorRunner(store, [collector]).run_once()
    clock = [utcnow() + timedelta(seconds=5)]
    outbox = WriteBackOutbox(store, {collector.name: collector}, clock=lambda: clock[0])
    posts = [store.find_post("weibo", i) for i in ids]
    return status, posts, outbox, clock


def queue(store, post, action, payload=None):
    return store.queue_writeback(WriteBack(post_id=post.id, collector="微博", action=action, requested_by="moderator",
                                           payload=payload or {}), AuditEvent("moderator", f"writeback.request.{action}"))


def test_delete_and_reply_reach_the_documented_endpoints_with_the_documented_parameters(wb, store, collected):
    status, (spam, question), outbox, _ = collected
    queue(store, spam, "delete")
    queue(store, question, "reply", {"text": "经核实，学校没有统一收回周转房的计划。"})
    assert outbox.deliver_due().sent == 2
    [destroy] = wb.requests_to("/2/comments/destroy.json")
    assert destroy.method == "POST" and destroy.params == {"access_token": TOKEN, "cid": spam.source_id}
    assert destroy.headers["Content-Type"] == "application/x-www-form-urlencoded"
    [reply] = wb.requests_to("/2/comments/reply.json")
    assert reply.method == "POST" and reply.params == {
        "access_token": TOKEN, "cid": question.source_id, "id": status, "comment": "经核实，学校没有统一收回周转房的计划。"}
    assert int(spam.source_id) not in wb.comments  # gone on the platform
    answers = {e.action: e.detail["answer"] for e in store.audit_log(limit=10) if "answer" in e.detail}
    assert '"action": "delete"' in answers["writeback.delete"]
    assert "经核实" in answers["writeback.reply"] and TOKEN not in str(answers)
    assert outbox.deliver_due().sent == 0  # exactly once


def test_refusals_end_the_write_back_and_temporary_failures_wait(wb, store, collected):
    status, (spam, question), outbox, clock = collected
    wb.delete(spam.source_id)  # its author deleted it meanwhile
    queue(store, spam, "delete")
    assert outbox.deliver_due().refused == 1
    [wb1] = store.writebacks_for([spam.id])[spam.id]
    assert wb1.state is WriteBackState.REFUSED and "20201" in wb1.result and "评论不存在" in wb1.result
    queue(store, question, "reply", {"text": "请以学校正式通知为准。"})
    queue(store, question, "reply", {"text": "请以学校正式通知为准。"})
    report = outbox.deliver_due()
    assert (report.sent, report.refused) == (1, 1)  # the same text twice: 20019
    wb.expire(TOKEN)
    queue(store, question, "reply", {"text": "详情见工会官网。"})
    assert outbox.deliver_due().failed == 1  # waits for a new token instead of giving up
    [*_, pending] = store.writebacks_for([question.id])[question.id]
    assert pending.state is WriteBackState.FAILING and "access_token 已过期" in pending.last_error
    assert TOKEN not in pending.last_error


def test_a_reply_without_text_or_status_is_refused_before_calling(wb, settings):
    collector = make(wb, settings)
    post = comment_to_post({"idstr": "12", "created_at": "Tue May 31 17:46:55 +0800 2011", "text": "问",
                            "user": {"idstr": "3"}})
    with pytest.raises(WriteBackRefused):
        collector.write_back("reply", post, {"text": "  "})
    with pytest.raises(WriteBackRefused, match="status_id"):
        collector.write_back("reply", post, {"text": "答复"})
    assert wb.requests == []


# ---------------------------------------------------------------------------- backfill
def test_backfill_reads_history_by_max_id_within_the_window(wb, settings):
    status = wb.add_status("历史微博")
    day = datetime(2026, 3, 1, 12, tzinfo=CST)
    ids = [wb.add_comment(status, f"第{d}天的评论{k}", at=day + timedelta(days=d, minutes=k)) for d in range(6)
           for k in range(2)]
    collector = make(wb, settings)
    since, until = day + timedelta(days=2), day + timedelta(days=4)
    batches = list(collector.backfill(since, until))
    got = [p.source_id for b in batches for p in b.posts]
    assert sorted(got) == sorted(ids[4:8]) and all(b.checkpoint is None for b in batches)
    calls = to_me(wb)
    assert "max_id" not in calls[0] and all("max_id" in c and "since_id" not in c for c in calls[1:])
    assert len(calls) < 6  # stopped once it passed `since`


def test_the_backfill_command_stores_weibo_history_once(wb, tmp_path, monkeypatch, capsys):
    from collectors.backfill import main

    ids = seed(wb, 7)
    monkeypatch.setitem(COLLECTORS._entries, "weibo", WeiboCollector)
    monkeypatch.setenv("WEIBO_TOKEN", TOKEN)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nchannels:\n  - {{name: 微博, type: weibo, access_token_env: WEIBO_TOKEN,"
                   f" base_url: '{wb.url}'}}\n", encoding="utf-8")
    assert main(["--config", str(cfg), "--channel", "微博"]) == 0
    assert "新增 7 条" in capsys.readouterr().out
    assert main(["--config", str(cfg), "--channel", "微博"]) == 0
    assert "新增 0 条" in capsys.readouterr().out
    wb.expire(TOKEN)
    assert main(["--config", str(cfg), "--channel", "微博"]) == 2
    err = capsys.readouterr().err
    assert "回填中断" in err and "access_token 已过期" in err and TOKEN not in err
    assert len(ids) == 7


def test_backfill_waits_out_a_rate_limit(wb, settings):
    ids = seed(wb, 4)
    wb.fail(10023)
    collector = make(wb, settings)
    got = [p.source_id for b in collector.backfill(None, None) for p in b.posts]
    assert sorted(got) == sorted(ids) and collector.slept == [300.0]
    wb.fail(10023, times=3)
    with pytest.raises(SentinelError, match="回填暂停"):
        list(make(wb, settings).backfill(None, None))
