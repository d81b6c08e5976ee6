"""The Douyin channel against a local fake of the documented open platform (tests/fakes/douyin.py),
collecting into a real SQLite store through the runner, as the service does."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from collectors import CollectorRunner
from collectors.douyin import DouyinCollector, check_answer, parse_token_value
from collectors.http import (AuthError, HttpClient, RateLimited, SourceError, TokenExpired, TransientError,
                             WriteBackRefused)
from collectors.writeback import WriteBackOutbox
from core.config import load_settings
from core.domain import AuditEvent, WriteBack, WriteBackState, utcnow
from core.errors import ConfigError
from tests.fakes.douyin import COMMENT_LIST, COMMENT_REPLY, REFRESH, RENEW, REPLY_LIST, VIDEO_LIST, FakeDouyin
from tests.fakes.clock import Ticker


@pytest.fixture
def fake():
    f = FakeDouyin().start()
    yield f
    f.stop()


def make(fake: FakeDouyin, name: str = "工会抖音", *, refresh: bool = True, **kw) -> DouyinCollector:
    """A new collector instance (as after a restart), talking to the fake."""
    http = HttpClient(fake.url, sleep=lambda s: None, backoff=0.01)
    c = DouyinCollector(name, client_key=fake.client_key, open_id=fake.open_id, access_token=fake.access_token,
                        refresh_token=fake.refresh_token if refresh else None, base_url=fake.url, http=http, **kw)
    return c.configure({"write_back": True})


def collect(store, collector, runner: CollectorRunner | None = None):
    runner = runner or CollectorRunner(store, [collector], budget_s=60)
    runner.run_once()
    return runner


def stored(store) -> dict[str, object]:
    return {p.source_id: p for p in store.posts_to_analyze(100_000) if p.channel == "douyin"}


def seed(fake: FakeDouyin, videos: int = 3, comments: int = 4, replies: int = 2) -> list[str]:
    ids = []
    for v in range(videos):
        item = fake.add_video(f"工会视频{v}：教职工运动会", age_days=30 - v)
        ids.append(item)
        for c in range(comments):
            cid = fake.add_comment(item, f"视频{v}评论{c}：食堂饭菜涨价了", ago=3600 * (c + 1))
            if c == 0:
                for r in range(replies):
                    fake.add_reply(item, cid, f"回复{r}：同感", ago=1800 - r)
    return ids


# ---------------------------------------------------------------------------- exactly once
def test_every_comment_and_reply_once_with_the_documented_fields(store, fake):
    items = seed(fake)
    collect(store, make(fake))
    posts = stored(store)
    assert set(posts) == fake.all_ids() and len(posts) == 3 * 4 + 3 * 2
    video = fake.video(items[1])
    top = video.comments[0]
    post = posts[top.comment_id]
    assert post.author == top.user and post.text == top.content
    assert post.created_at == datetime.fromtimestamp(top.create_time, timezone.utc)
    assert items[1] in post.thread and "工会视频1" in post.thread and post.url == video.share_url
    assert post.raw["item_id"] == items[1] and post.raw["comment_id"] == top.comment_id
    assert post.raw["_collector"] == "工会抖音" and post.reply_to is None
    reply = posts[video.replies[top.comment_id][0].comment_id]
    assert reply.reply_to == top.comment_id and reply.raw["parent_comment_id"] == top.comment_id
    # the documented requests: token in the access-token header only, required parameters present
    for r in fake.requests:
        assert r.headers.get("access-token") == fake.access_token and "access_token" not in r.query
    assert fake.calls(VIDEO_LIST)[0].query == {"open_id": fake.open_id, "cursor": "0", "count": "20"}
    listing = fake.calls(COMMENT_LIST)[0].query
    assert {"open_id", "item_id", "cursor", "count"} <= set(listing) and listing["sort_type"] == "time"
    threads = {c.comment_id for v in fake.videos for c in v.comments if v.replies.get(c.comment_id)}
    reply_calls = fake.calls(REPLY_LIST)
    assert {r.query["comment_id"] for r in reply_calls} == threads
    assert all(r.query["item_id"] and r.query["count"] == "20" and r.query["shark_channel"] == "open_api"
               for r in reply_calls)
    assert all(store.find_post("douyin", i).version == 1 for i in posts)


def test_restarts_interleaved_with_new_comments_collect_each_exactly_once(store, fake):
    items = seed(fake, videos=2, comments=3, replies=1)
    collect(store, make(fake))
    assert set(stored(store)) == fake.all_ids()
    # new comments on an old video, a new video, a reply to an old comment, then a restart
    old_top = fake.video(items[0]).comments[2].comment_id
    fake.add_comment(items[0], "新评论：工会活动什么时候报名？", ago=5)
    fresh = fake.add_video("新视频：暑期疗养", age_days=0.1)
    fake.add_comment(fresh, "新视频的第一条评论", ago=3)
    fake.add_reply(items[0], old_top, "楼中楼：旧评论下的新回复", ago=2)
    collect(store, make(fake))
    assert set(stored(store)) == fake.all_ids()
    # a crash in the middle of a sweep: the next instance resumes from the stored checkpoint
    for i in range(25):
        fake.add_comment(items[1], f"第{i}条新评论", ago=100 + i)
    crashing = make(fake)
    runner = CollectorRunner(store, [crashing], budget_s=60, max_batches=2)
    runner.run_once()
    assert json.loads(store.checkpoint("工会抖音"))["sweep"]  # stopped mid-sweep
    fake.add_comment(items[1], "中途到达的评论", ago=1)
    collect(store, make(fake))
    collect(store, make(fake))
    posts = stored(store)
    assert set(posts) == fake.all_ids()
    assert all(p.version == 1 for p in posts.values())


def test_paging_across_several_pages_of_videos_comments_and_replies(store, fake):
    fake.video_page_size = 3
    items = [fake.add_video(f"视频{v}") for v in range(7)]
    for i in range(45):
        fake.add_comment(items[0], f"热门视频评论{i}", ago=10_000 - i)
    top = fake.video(items[0]).comments[0].comment_id
    for i in range(27):
        fake.add_reply(items[0], top, f"回复{i}", ago=500 - i)
    collect(store, make(fake))
    assert set(stored(store)) == fake.all_ids()
    cursors = [r.query["cursor"] for r in fake.calls(VIDEO_LIST)]
    assert cursors[0] == "0" and len(cursors) == 3 and len(set(cursors)) == 3
    pages = [r for r in fake.calls(COMMENT_LIST) if r.query["item_id"] == items[0]]
    assert [p.query["cursor"] for p in pages] == ["0", "20", "40"]
    replies = fake.calls(REPLY_LIST)
    assert [r.query["cursor"] for r in replies] == ["0", "20"]
    assert all(r.query["count"] == "20" and r.query["shark_channel"] for r in replies)


def test_unchanged_videos_are_skipped_once_the_comment_count_is_known_to_follow_replies(store, fake):
    items = seed(fake, videos=4, comments=2, replies=1)
    collector = make(fake)
    collect(store, collector)
    fake.add_reply(items[0], fake.video(items[0]).comments[1].comment_id, "新回复")
    collect(store, collector, CollectorRunner(store, [collector], budget_s=60))  # the count follows the reply
    before = len(fake.calls(COMMENT_LIST))
    fake.add_comment(items[2], "只有这个视频有新评论")
    collect(store, make(fake))
    read = [r.query["item_id"] for r in fake.calls(COMMENT_LIST)[before:]]
    assert read == [items[2]]  # the other videos' counts did not change
    assert set(stored(store)) == fake.all_ids()


@pytest.mark.parametrize("frozen", ["right at first", "zero"])
def test_a_count_that_does_not_follow_new_comments_is_not_trusted(store, fake, frozen):
    items = seed(fake, videos=2, comments=2, replies=1)
    for item in items:
        fake.video(item).fixed_count = 0 if frozen == "zero" else 2 + 1
    collect(store, make(fake))
    fake.add_comment(items[0], "数不变的平台上也要收到")
    fake.add_reply(items[1], fake.video(items[1]).comments[1].comment_id, "旧评论下的新回复")
    collect(store, make(fake))
    assert set(stored(store)) == fake.all_ids()


# ---------------------------------------------------------------------------- tokens
def test_an_access_token_expiring_mid_collection_is_refreshed_once_and_collection_goes_on(store, fake, caplog):
    seed(fake, videos=3, comments=3)
    first = fake.access_token
    fake.expire_after = 3
    collect(store, make(fake))
    assert set(stored(store)) == fake.all_ids()
    [refresh] = fake.calls(REFRESH)
    assert refresh.method == "POST" and refresh.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert refresh.body == {"client_key": fake.client_key, "grant_type": "refresh_token",
                            "refresh_token": fake.refresh_token}
    assert fake.requests[-1].headers["access-token"] == fake.access_token != first
    text = " ".join(r.getMessage() for r in caplog.records)
    assert first not in text and fake.refresh_token not in text and fake.access_token not in text


def test_an_expired_refresh_token_is_one_clear_auth_error(store, fake, caplog):
    seed(fake, videos=1)
    fake.expire_access()
    fake.refresh[fake.refresh_token] = 0  # expired too
    tick = Ticker()
    collector = make(fake)
    collector.every = 30.0
    runner = CollectorRunner(store, [collector], monotonic=tick)
    for _ in range(3):
        runner.run_once()
        assert runner.next_poll_in(collector.name) >= 300  # waits long, the credentials will not fix themselves
        tick.t += runner.next_poll_in(collector.name) + 1
    jobs, _ = runner.health.report(degraded_after=3)
    error = jobs[collector.name]["last_error"]
    assert "refresh_token 已过期" in error and "重新授权" in error and "凭据" in error
    logged = [r for r in caplog.records if "refresh_token 已过期" in r.getMessage()]
    assert 1 <= len(logged) < 3
    assert fake.refresh_token not in error and store.counts()["dead_letters"] == 0


def test_without_a_refresh_token_an_expired_access_token_says_what_to_do(store, fake):
    seed(fake, videos=1)
    fake.expire_access()
    collector = make(fake, refresh=False)
    with pytest.raises(AuthError, match="没有 refresh_token"):
        collector.fetch(None)


def test_the_refresh_token_is_renewed_when_it_nears_expiry(store, fake):
    seed(fake, videos=1)
    fake.refresh[fake.refresh_token] = 2 * 86400 + time.time()  # two days left
    old = fake.refresh_token
    fake.expire_access()
    collector = make(fake)
    collect(store, collector)  # refreshes the access token, learns refresh_expires_in
    collector.fetch(None)  # a new sweep renews the refresh token first
    [renew] = fake.calls(RENEW)
    assert renew.body == {"client_key": fake.client_key, "refresh_token": old}
    assert collector.tokens.refresh_token == fake.refresh_token != old
    fake.expire_access()
    collect(store, collector, CollectorRunner(store, [collector], budget_s=60))
    assert fake.calls(REFRESH)[-1].body["refresh_token"] == fake.refresh_token  # the renewed one


def test_a_renewal_refused_for_lack_of_permission_is_logged_once_and_collection_goes_on(store, fake, caplog):
    seed(fake, videos=1)
    fake.renew_permission = False
    fake.refresh[fake.refresh_token] = 86400 + time.time()
    fake.expire_access()
    collector = make(fake)
    collect(store, collector)
    for _ in range(3):
        collector.fetch(None)
    assert len(fake.calls(RENEW)) == 1
    assert len([r for r in caplog.records if "续期失败" in r.getMessage()]) == 1
    assert set(stored(store)) == fake.all_ids()


# ---------------------------------------------------------------------------- failures
def test_transient_failures_are_retried_and_lose_nothing(store, fake):
    seed(fake, videos=2)
    fake.fail(COMMENT_LIST, status=500)
    fake.fail(VIDEO_LIST, error_code=2100004, description="系统繁忙，此时请开发者稍候再试")
    collect(store, make(fake))
    assert set(stored(store)) == fake.all_ids()


def test_a_platform_down_for_longer_is_a_transient_error_and_the_next_poll_resumes(store, fake):
    items = seed(fake, videos=2)
    fake.fail(COMMENT_LIST, status=503, times=3)
    tick = Ticker()
    collector = make(fake)
    runner = CollectorRunner(store, [collector], monotonic=tick, budget_s=60)
    runner.run_once()
    jobs, _ = runner.health.report(degraded_after=3)
    assert "暂时不可用" in jobs[collector.name]["last_error"]
    tick.t += runner.next_poll_in(collector.name) + 1
    runner.run_once()
    assert set(stored(store)) == fake.all_ids() and items


def test_a_rate_limit_waits_at_least_a_minute_and_then_finishes(store, fake):
    seed(fake, videos=2)
    fake.fail(COMMENT_LIST, error_code=28003018, description="请求频率过高")
    tick = Ticker()
    collector = make(fake)
    runner = CollectorRunner(store, [collector], monotonic=tick, budget_s=60)
    runner.run_once()
    assert runner.next_poll_in(collector.name) >= 60
    assert len(fake.calls(COMMENT_LIST)) == 1  # not hammered: a long wait is left to the runner
    tick.t += runner.next_poll_in(collector.name) + 1
    runner.run_once()
    assert set(stored(store)) == fake.all_ids()


@pytest.mark.parametrize("code,text", [(2190004, "应用未获得该能力"), (28001012, "用户未授权该OpenAPI"),
                                       (2190015, "请求参数access_token openid不匹配")])
def test_missing_permissions_are_an_auth_error_naming_what_to_do(store, fake, caplog, code, text):
    seed(fake, videos=1)
    fake.fail(VIDEO_LIST, error_code=code, description=text)
    collector = make(fake)
    runner = collect(store, collector)
    jobs, _ = runner.health.report(degraded_after=1)
    error = jobs[collector.name]["last_error"]
    assert str(code) in error and ("权限" in error or "open_id" in error or "授权" in error)
    assert runner.next_poll_in(collector.name) >= 300
    assert len([r for r in caplog.records if str(code) in r.getMessage()]) == 1


def test_a_video_whose_comments_are_refused_is_a_dead_letter_and_the_others_are_collected(store, fake):
    items = seed(fake, videos=3, comments=2, replies=0)
    now = [time.time()]
    fake.fail(COMMENT_LIST, error_code=2111007, description="获取视频失败")
    collect(store, make(fake, clock=lambda: now[0]))
    assert len(stored(store)) == 4  # the first video read is refused this sweep, the others are read
    [dead] = store.dead_letters()
    assert "获取视频失败" in dead.error and "分钟后再试" in dead.error
    collect(store, make(fake, clock=lambda: now[0]))
    assert len(store.dead_letters()) == 1 and len(stored(store)) == 4  # not asked again right away
    now[0] += 3601
    collect(store, make(fake, clock=lambda: now[0]))
    assert set(stored(store)) == fake.all_ids() and items


def test_malformed_comments_become_one_dead_letter_each(store, fake):
    item = fake.add_video("视频")
    fake.add_comment(item, "正常评论")
    bad = fake.add_comment(item, "时间坏了")
    next(c for c in fake.video(item).comments if c.comment_id == bad).served = {"create_time": "昨天"}
    collect(store, make(fake))
    collect(store, make(fake))
    assert len(stored(store)) == 1
    [dead] = store.dead_letters()
    assert "create_time" in dead.error and bad in dead.source


@pytest.mark.parametrize("answer,error", [
    ({"data": {"error_code": 2190008, "description": "access_token过期"}, "extra": {}}, TokenExpired),
    ({"data": {"error_code": 0}, "extra": {"error_code": 28003018, "description": "请求频率过高"}}, RateLimited),
    ({"data": {"error_code": 2100004, "description": "系统繁忙"}}, TransientError),
    ({"data": {"error_code": "2190004", "description": "应用未获得该能力"}}, AuthError),
    ({"err_no": 28001012, "err_msg": "用户未授权"}, AuthError),
    ({"data": {"error_code": 2100005, "description": "参数不合法"}}, SourceError),
    ("<html>", TransientError),
])
def test_documented_error_shapes_map_to_the_runners_errors(answer, error):
    with pytest.raises(error):
        check_answer(answer)
    check_answer({"data": {"error_code": 0, "description": ""}, "extra": {"error_code": 0}})


# ---------------------------------------------------------------------------- write-back
def test_a_reply_reaches_the_documented_endpoint_and_is_collected_later(store, fake):
    items = seed(fake, videos=1, comments=1, replies=0)
    collector = make(fake)
    collect(store, collector)
    top = fake.video(items[0]).comments[0]
    post = store.find_post("douyin", top.comment_id)
    answer = collector.write_back("reply", post, {"text": "您好，食堂价格问题工会已转交后勤处。"})
    [call] = fake.calls(COMMENT_REPLY)
    assert call.method == "POST" and call.query == {"open_id": fake.open_id}
    assert call.headers["access-token"] == fake.access_token and "json" in call.headers["content-type"]
    assert call.body == {"item_id": items[0], "comment_id": top.comment_id, "content": "您好，食堂价格问题工会已转交后勤处。"}
    assert answer["comment_id"] and answer["error_code"] == 0
    collect(store, make(fake))
    reply = store.find_post("douyin", answer["comment_id"])
    assert reply.reply_to == top.comment_id and reply.author == fake.open_id


def test_write_backs_go_through_the_outbox_refusals_stop_and_outages_retry(store, fake):
    items = seed(fake, videos=1, comments=2, replies=0)
    collector = make(fake)
    collect(store, collector)
    comments = fake.video(items[0]).comments
    posts = [store.find_post("douyin", c.comment_id) for c in comments]
    clock = [utcnow()]
    outbox = WriteBackOutbox(store, {collector.name: collector}, clock=lambda: clock[0])
    for p in posts:
        store.queue_writeback(WriteBack(post_id=p.id, collector=collector.name, action="reply", requested_by="leader",
                                        payload={"text": "感谢反馈"}, created_at=clock[0]), AuditEvent("leader", "x"))
    fake.video(items[0]).comments.remove(comments[1])  # deleted on the platform meanwhile
    fake.fail(COMMENT_REPLY, status=502, times=3)
    report = outbox.deliver_due()
    assert report.failed == 1 and report.refused == 1
    [refused] = store.writebacks_for([posts[1].id])[posts[1].id]
    assert refused.state is WriteBackState.REFUSED and "无效的评论" in refused.result
    clock[0] += timedelta(hours=1)
    assert outbox.deliver_due().sent == 1
    assert fake.access_token not in json.dumps([e.detail for e in store.audit_log(limit=20)], ensure_ascii=False)


def test_delete_is_not_offered_by_the_platform_and_an_empty_reply_is_refused(store, fake):
    assert DouyinCollector.write_actions == frozenset({"reply"})
    seed(fake, videos=1, comments=1, replies=0)
    collector = make(fake)
    collect(store, collector)
    post = next(iter(stored(store).values()))
    with pytest.raises(WriteBackRefused, match="只能回复"):
        collector.write_back("delete", post, {})
    with pytest.raises(WriteBackRefused, match="为空"):
        collector.write_back("reply", post, {"text": "  "})
    assert not fake.calls(COMMENT_REPLY)


# ---------------------------------------------------------------------------- backfill
def test_backfill_reads_everything_in_the_window(fake):
    items = seed(fake, videos=2, comments=3, replies=1)
    collector = make(fake)
    since = datetime.now(timezone.utc) - timedelta(hours=2, minutes=30)
    pages = list(collector.backfill(since, None))
    got = {p.source_id for b in pages for p in b.posts}
    expected = {c.comment_id for v in fake.videos for c in v.comments if c.create_time >= since.timestamp()}
    expected |= {r.comment_id for v in fake.videos for rs in v.replies.values() for r in rs}
    assert got == expected and all(b.checkpoint is None for b in pages) and items


# ---------------------------------------------------------------------------- config
def settings(tmp_path):
    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={})


def cfg(**over):
    c = {"name": "工会抖音", "type": "douyin", "client_key": "tt_union_key", "client_secret_env": "DY_SECRET",
         "open_id": "union-open-id-0001", "access_token_env": "DY_TOKEN", "every": "10m", "write_back": True}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def test_config_builds_the_collector_from_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("DY_TOKEN", "act.abc rft.def")
    monkeypatch.setenv("DY_SECRET", "s3cret")
    c = DouyinCollector.from_config(cfg(base_url="http://127.0.0.1:9/"), settings(tmp_path), "channels[0]（工会抖音）")
    assert c.every == 600 and c.enabled_actions == {"reply"} and c.base_url == "http://127.0.0.1:9"
    assert c.tokens.refresh_token == "rft.def" and c.tokens._initial == "act.abc"


@pytest.mark.parametrize("over,env,field", [
    ({"client_key": None}, {"DY_TOKEN": "act.x"}, "channels[0]（工会抖音）"),
    ({"open_id": ""}, {"DY_TOKEN": "act.x"}, "open_id"),
    ({"every": "ten minutes"}, {"DY_TOKEN": "act.x"}, "every"),
    ({"base_url": "open.douyin.com"}, {"DY_TOKEN": "act.x"}, "base_url"),
    ({"surprise": 1}, {"DY_TOKEN": "act.x"}, "channels[0]（工会抖音）"),
    ({"access_token": "act.x"}, {"DY_TOKEN": "act.x"}, "access_token"),
    ({}, {}, "access_token_env"),
    ({}, {"DY_TOKEN": "act.x"}, "client_secret_env"),
    ({}, {"DY_TOKEN": "{broken json", "DY_SECRET": "s"}, "access_token_env"),
])
def test_config_errors_name_the_file_and_field(tmp_path, monkeypatch, over, env, field):
    monkeypatch.delenv("DY_TOKEN", raising=False)
    monkeypatch.delenv("DY_SECRET", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        DouyinCollector.from_config(cfg(**over), settings(tmp_path), "channels[0]（工会抖音）")
    assert field in str(err.value) and "act.x" not in str(err.value)


@pytest.mark.parametrize("value,expected", [
    ("act.1", ("act.1", None)),
    ("act.1 rft.2", ("act.1", "rft.2")),
    ("rft.2,act.1", ("act.1", "rft.2")),
    ("token-a token-b", ("token-a", "token-b")),
    ('{"data": {"access_token": "act.1", "refresh_token": "rft.2", "expires_in": 1296000}, "message": "success"}',
     ("act.1", "rft.2")),
    ('{"access_token": "act.1"}', ("act.1", None)),
])
def test_the_token_variable_takes_a_token_a_pair_or_the_oauth_answer(value, expected):
    assert parse_token_value(value) == expected


def test_secrets_stay_out_of_errors_and_logs(store, fake, caplog):
    caplog.set_level(logging.DEBUG)
    seed(fake, videos=1)
    fake.fail(VIDEO_LIST, status=400)
    collector = make(fake)
    runner = collect(store, collector)
    jobs, _ = runner.health.report(degraded_after=1)
    everything = " ".join(r.getMessage() for r in caplog.records) + jobs[collector.name]["last_error"]
    assert fake.access_token not in everything and fake.refresh_token not in everything
