"""`wechat_mp`: WeChat official-account comments, against a local fake of the documented API
(tests/fakes/wechat_mp.py), collected by the runner into a real SQLite store as the service does."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors import COLLECTORS, CollectorRunner
from collectors.http import AuthError, RateLimited, TransientError, WriteBackRefused
from collectors.wechat_mp import IdSet, State, WeChatMpCollector
from collectors.writeback import WriteBackOutbox
from core.config import load_settings
from core.domain import AuditEvent, Post, WriteBack, utcnow
from core.errors import ConfigError
from tests.fakes.wechat_mp import FakeWeChat
from tests.fakes.clock import Ticker

M1, M2 = 2247483720, 2247483801
SECRET_ENV = "WECHAT_MP_SECRET"


@pytest.fixture
def fake():
    with FakeWeChat() as f:
        yield f


def config(fake: FakeWeChat, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"name": "公众号", "type": "wechat_mp", "app_id": fake.app_id, "secret_env": SECRET_ENV,
                           "articles": [{"msg_data_id": M1, "index": 0, "title": "关于调整绩效工资的通知"}],
                           "base_url": fake.url}
    cfg.update(extra)
    return cfg


def build(fake: FakeWeChat, settings, secret: str | None = None, **extra: Any) -> WeChatMpCollector:
    collector = WeChatMpCollector.from_config(config(fake, **extra), settings, "channels[0]（公众号）",
                                              env={SECRET_ENV: secret or fake.secret})
    collector.http.sleep = lambda s: None  # retries without waiting
    return collector


class Service:
    """The runner as the service drives it: polls when due, a fresh collector on every restart."""

    def __init__(self, store, fake, settings, **extra: Any) -> None:
        self.store, self.fake, self.settings, self.extra = store, fake, settings, extra
        self.tick = Ticker()
        self.restart()

    def restart(self) -> None:
        self.collector = build(self.fake, self.settings, **self.extra)
        self.runner = CollectorRunner(self.store, [self.collector], monotonic=self.tick)

    def poll(self):
        self.tick.t += self.runner.next_poll_in(self.collector.name) + 1
        return self.runner.run_once()

    def health(self) -> dict[str, Any]:
        return self.runner.health.report(degraded_after=3)[0][self.collector.name]


def stored(store) -> dict[str, Post]:
    return {p.source_id: p for p in store.posts_to_analyze(100_000) if p.channel == "wechat"}


def platform_ids(fake: FakeWeChat, msg: int = M1, index: int = 0) -> set[str]:
    return {f"{msg}:{index}:{c.user_comment_id}" for c in fake.articles[(msg, index)].comments}


# ---------------------------------------------------------------------------- collecting
def test_every_comment_and_official_reply_is_collected_across_pages(store, fake, settings):
    ids = [fake.add_comment(M1, 0, f"第{i}条：食堂涨价了吗") for i in range(120)]
    fake.add_comment(M1, 0, "不署名的留言", openid=None)
    fake.official_reply(M1, 0, ids[3], "经核实，食堂价格本学期不变。")
    service = Service(store, fake, settings)
    result = service.poll()

    posts = stored(store)
    assert result.new == 122 and len(posts) == 122  # 121 comments, 1 official reply
    assert set(posts) == platform_ids(fake) | {f"{M1}:0:{ids[3]}:reply"}
    lists = fake.calls("cgi-bin/comment/list")
    assert [r.body for r in lists] == [{"msg_data_id": M1, "index": 0, "begin": b, "count": 49, "type": 0}
                                       for b in (0, 49, 98)]
    assert all(r.method == "POST" and r.query["access_token"].startswith("ACCESS_TOKEN_") for r in lists)
    first = posts[f"{M1}:0:{ids[0]}"]
    assert first.text == "第0条：食堂涨价了吗" and first.author == fake.comment(M1, 0, ids[0]).openid
    assert first.thread == "关于调整绩效工资的通知" and first.created_at.tzinfo is not None
    assert first.raw["msg_data_id"] == M1 and first.raw["index"] == 0 and first.raw["user_comment_id"] == ids[0]
    assert first.raw["_collector"] == "公众号"
    reply = posts[f"{M1}:0:{ids[3]}:reply"]
    assert reply.reply_to == f"{M1}:0:{ids[3]}" and reply.text == "经核实，食堂价格本学期不变。"
    assert reply.author == fake.app_id and reply.author_name == "公众号官方回复"
    anonymous = next(p for p in posts.values() if p.text == "不署名的留言")
    assert anonymous.author.startswith("anonymous:")  # no openid: a reader without a WeChat identity
    assert len(fake.calls("cgi-bin/stable_token")) == 1  # the token is cached
    assert service.health()["consecutive_failures"] == 0


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
@pytest.mark.parametrize("total_is_page_size", [False, True], ids=["total=all", "total=page"])
def test_every_comment_exactly_once_across_restarts_while_comments_arrive_and_vanish(
        store, settings, newest_first, total_is_page_size):
    with FakeWeChat(newest_first=newest_first, total_is_page_size=total_is_page_size) as fake:
        cids = [fake.add_comment(M1, 0, f"旧留言{i}") for i in range(70)]
        fake.add_comment(M2, 1, "另一篇文章的留言")
        service = Service(store, fake, settings,
                          articles=[{"msg_data_id": M1}, {"msg_data_id": M2, "index": 1}])
        ever = platform_ids(fake) | platform_ids(fake, M2, 1)
        new = service.poll().new
        for round_ in range(4):
            for i in range(round_ * 23 + 5):
                fake.add_comment(M1, 0, f"第{round_}轮新留言{i}")
            for cid in cids[round_ * 9: round_ * 9 + 6]:  # readers delete early comments: offsets shift
                fake.user_deletes(M1, 0, cid)
            ever |= platform_ids(fake) | platform_ids(fake, M2, 1)
            service.restart()  # a new process against the same store
            result = service.poll()
            new += result.new
            assert result.unchanged == 0  # nothing handed over twice
        new += service.poll().new  # one more scan: whatever a shift hid is found now
        assert ever <= set(stored(store))
        assert new == len(stored(store)) == len(ever)


def test_a_deletion_during_a_scan_is_caught_up_by_the_next_scan(store, fake, settings):
    cids = [fake.add_comment(M1, 0, f"留言{i}") for i in range(100)]
    # between page 1 and page 2 five readers delete comments of page 1: page 2 starts 5 later
    fake.before("cgi-bin/comment/list", 2, lambda: [fake.user_deletes(M1, 0, c) for c in cids[:5]])
    service = Service(store, fake, settings)
    first = service.poll().new
    missed = platform_ids(fake) - set(stored(store))
    assert len(missed) == 5 and first == 95  # page 1 (with the five now deleted) and 46 of page 2
    second = service.poll()
    assert second.new == 5 and platform_ids(fake) <= set(stored(store))


def test_a_scan_cut_short_goes_on_where_it_stopped_after_a_restart(store, fake, settings):
    for i in range(150):
        fake.add_comment(M1, 0, f"留言{i}")
    service = Service(store, fake, settings)
    fake.before("cgi-bin/comment/list", 3, lambda: fake.fail("cgi-bin/comment/list", status=500, times=3))
    service.poll()  # pages 1 and 2 are stored, page 3 fails three times
    assert len(stored(store)) == 98
    assert "平台暂时不可用" in service.health()["last_error"]
    service.restart()
    assert service.poll().new == 52
    begins = [r.body["begin"] for r in fake.calls("cgi-bin/comment/list")]
    assert begins == [0, 49, 98, 98, 98, 98, 147]  # resumed at page 3, not from the start


def test_official_replies_added_or_changed_later_are_collected(store, fake, settings):
    cid = fake.add_comment(M1, 0, "听说明年职称评审要取消？")
    service = Service(store, fake, settings)
    service.poll()
    fake.official_reply(M1, 0, cid, "职称评审照常进行。")
    assert service.poll().new == 1
    reply = stored(store)[f"{M1}:0:{cid}:reply"]
    assert reply.reply_to == f"{M1}:0:{cid}" and reply.text == "职称评审照常进行。"
    assert service.poll().new == 0 and service.poll().unchanged == 0  # not handed over again
    fake.comment(M1, 0, cid).reply = None
    service.poll()
    fake.official_reply(M1, 0, cid, "职称评审照常进行，详见人事处通知。")
    result = service.poll()
    assert result.updated == 1 and store.find_post("wechat", f"{M1}:0:{cid}:reply").version == 2


# ---------------------------------------------------------------------------- tokens and failures
def test_a_token_expiring_mid_collection_is_fetched_again_and_the_call_retried(store, fake, settings):
    for i in range(100):
        fake.add_comment(M1, 0, f"留言{i}")
    fake.before("cgi-bin/comment/list", 2, fake.expire_tokens)
    service = Service(store, fake, settings)
    assert service.poll().new == 100
    lists = fake.calls("cgi-bin/comment/list")
    assert [r.body["begin"] for r in lists] == [0, 49, 49, 98]
    assert lists[1].query["access_token"] != lists[2].query["access_token"]
    assert len(fake.calls("cgi-bin/stable_token")) == 2 and service.health()["consecutive_failures"] == 0


def test_a_token_refused_while_still_current_is_force_refreshed(store, fake, settings):
    fake.add_comment(M1, 0, "留言")
    service = Service(store, fake, settings)
    service.poll()
    fake.fail("cgi-bin/comment/list", errcode=40001)  # another process force-refreshed the token
    fake.add_comment(M1, 0, "新留言")
    assert service.poll().new == 1
    stable = [r.body for r in fake.calls("cgi-bin/stable_token")]
    assert stable[0] == {"grant_type": "client_credential", "appid": fake.app_id, "secret": fake.secret}
    assert stable[-1].get("force_refresh") is True  # normal mode handed back the refused token


def test_a_brand_new_token_refused_too_is_a_credentials_problem(store, fake, settings):
    fake.add_comment(M1, 0, "留言")
    collector = build(fake, settings)
    fake.fail("cgi-bin/comment/list", errcode=42001, times=2)
    with pytest.raises(AuthError) as err:
        collector.fetch(None)
    assert "刷新 access_token 后微信仍判定其无效" in str(err.value) and "42001" in str(err.value)
    assert len(fake.calls("cgi-bin/comment/list")) == 2  # one retry, not a loop


def test_without_stable_token_the_classic_token_endpoint_is_used(store, fake, settings):
    fake.has_stable_token = False
    fake.add_comment(M1, 0, "留言")
    service = Service(store, fake, settings)
    assert service.poll().new == 1
    [get] = fake.calls("cgi-bin/token")
    assert get.method == "GET" and get.query == {"grant_type": "client_credential", "appid": fake.app_id,
                                                 "secret": fake.secret}


@pytest.mark.parametrize("failure", [{"status": 500}, {"status": 503}, {"errcode": -1}])
def test_transient_failures_are_retried_within_the_poll(store, fake, settings, failure):
    fake.add_comment(M1, 0, "留言")
    fake.fail("cgi-bin/comment/list", times=2, **failure)
    service = Service(store, fake, settings)
    assert service.poll().new == 1 and len(fake.calls("cgi-bin/comment/list")) == 3


def test_a_platform_that_stays_down_is_retried_later_with_backoff(store, fake, settings):
    fake.add_comment(M1, 0, "留言")
    fake.fail("cgi-bin/comment/list", status=502, times=3)
    service = Service(store, fake, settings)
    service.poll()
    assert store.counts()["posts"] == 0 and "HTTP 502" in service.health()["last_error"]
    assert service.runner.next_poll_in("公众号") >= 0.8 * 300  # the runner's backoff, with jitter
    assert service.poll().new == 1


@pytest.mark.parametrize("errcode,at_least", [(45009, 3600.0), (45011, 60.0)])
def test_a_rate_limit_waits_as_long_as_the_platform_needs(store, fake, settings, errcode, at_least):
    fake.add_comment(M1, 0, "留言")
    fake.fail("cgi-bin/comment/list", errcode=errcode)
    service = Service(store, fake, settings)
    # 45009 is a daily quota: it comes back at midnight Beijing time, 4 hours after this
    service.collector.clock = lambda: datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc)
    service.poll()
    assert service.runner.next_poll_in("公众号") >= at_least
    assert len(fake.calls("cgi-bin/comment/list")) == 1  # not hammered within the poll
    with pytest.raises(RateLimited) as err:
        fake.fail("cgi-bin/comment/list", errcode=errcode)
        service.collector.fetch(None)
    assert err.value.retry_after == (4 * 3600 if errcode == 45009 else 60)


def test_wrong_credentials_say_so_once_in_chinese_and_wait(store, fake, settings, caplog):
    fake.add_comment(M1, 0, "留言")
    service = Service(store, fake, settings)
    service.collector._secret = "not-the-secret"
    for _ in range(3):
        service.poll()
        assert service.runner.next_poll_in("公众号") >= 300
    error = service.health()["last_error"]
    assert "凭据或权限有误" in error and "AppSecret 不正确" in error and SECRET_ENV in error and "40125" in error
    assert "not-the-secret" not in error and fake.secret not in error
    logged = [r.getMessage() for r in caplog.records if "AppSecret" in r.getMessage()]
    assert 1 <= len(logged) < 3 and "not-the-secret" not in " ".join(logged)  # the same error at most every 10 min
    assert store.counts()["posts"] == 0 and store.counts()["dead_letters"] == 0
    assert not fake.calls("cgi-bin/comment/list")


@pytest.mark.parametrize("setup,words", [
    (lambda f: setattr(f, "ip_allowed", False), "IP 白名单"),
    (lambda f: setattr(f, "comment_privilege", False), "留言管理权限"),
    (lambda f: f.fail("cgi-bin/comment/list", errcode=48001), "接口权限"),
])
def test_missing_permissions_are_auth_errors_saying_what_to_do(store, fake, settings, setup, words):
    fake.add_comment(M1, 0, "留言")
    setup(fake)
    collector = build(fake, settings)
    with pytest.raises(AuthError) as err:
        collector.fetch(None)
    assert words in str(err.value)


def test_the_classic_token_endpoint_reports_a_wrong_secret_as_40001(fake, settings):
    collector = build(fake, settings, secret="wrong", token_api="token")
    with pytest.raises(AuthError) as err:
        collector.fetch(None)
    assert "AppSecret 不正确" in str(err.value) and "wrong" not in str(err.value)


def test_secrets_never_reach_error_texts_even_from_the_network_layer(settings, fake):
    collector = build(fake, settings, token_api="token")
    collector.http.base_url = "http://127.0.0.1:9"  # nothing listens: requests names the URL it tried
    collector.http.timeout = (0.5, 0.5)
    with pytest.raises(TransientError) as err:
        collector.fetch(None)
    assert "127.0.0.1" in str(err.value) and fake.secret not in str(err.value) and "***" in str(err.value)
    assert fake.secret not in repr(collector)


def test_an_article_that_does_not_exist_is_reported_once_and_the_others_go_on(store, fake, settings):
    fake.add_comment(M2, 0, "留言")
    service = Service(store, fake, settings, articles=[{"msg_data_id": 1234567}, {"msg_data_id": M2}])
    assert service.poll().new == 1
    [dead] = store.dead_letters()
    assert "msg_data_id=1234567" in dead.error and "88001" in dead.error and "articles" in dead.error
    service.poll()
    assert len(store.dead_letters()) == 1 and service.health()["consecutive_failures"] == 0


def test_an_article_failing_for_unknown_reasons_is_skipped_after_three_tries(store, fake, settings):
    fake.add_comment(M1, 0, "留言一")
    fake.add_comment(M2, 0, "留言二")
    service = Service(store, fake, settings, articles=[{"msg_data_id": M1}, {"msg_data_id": M2}])
    fake.fail("cgi-bin/comment/list", errcode=47001, times=3)
    for _ in range(3):
        service.poll()
    assert set(stored(store)) == platform_ids(fake, M2)  # M1 skipped for this scan, M2 read
    [dead] = store.dead_letters()
    assert "连续失败" in dead.error and "47001" in dead.error
    service.poll()
    assert platform_ids(fake, M1) <= set(stored(store))  # the next scan reads M1 again


def test_lenient_reading_of_what_the_platform_actually_sends(store, fake, settings, monkeypatch):
    fake.add_comment(M1, 0, "第一行\n第二行")
    fake.add_comment(M1, 0, "有空回复的留言")
    fake.raw_control_chars = True  # a raw line break inside a JSON string
    original = fake._list

    def stringly(body):
        answer = original(body)
        answer["errcode"] = "0"
        for c in answer.get("comment", []):
            c["user_comment_id"], c["create_time"] = str(c["user_comment_id"]), str(c["create_time"])
            c.setdefault("reply", {"content": "", "create_time": 0})
        answer["comment"].append({"content": "没有编号"})  # unusable: one dead letter, once
        return answer

    monkeypatch.setattr(fake, "_list", stringly)
    service = Service(store, fake, settings)
    assert service.poll().new == 2
    assert stored(store)[f"{M1}:0:1"].text == "第一行\n第二行"
    assert stored(store)[f"{M1}:0:1"].raw["user_comment_id"] == 1
    service.poll()
    [dead] = store.dead_letters()
    assert "user_comment_id" in dead.error


# ---------------------------------------------------------------------------- write-back
@pytest.fixture
def collected(store, fake, settings):
    cids = [fake.add_comment(M1, 0, f"留言{i}") for i in range(3)]
    fake.official_reply(M1, 0, cids[2], "已转交相关部门。")
    service = Service(store, fake, settings, write_back=True)
    service.poll()
    return service, cids


def test_write_backs_reach_the_documented_endpoints_with_the_documented_bodies(store, fake, collected):
    service, cids = collected
    collector = service.collector
    post = store.find_post("wechat", f"{M1}:0:{cids[0]}")
    ids = {"msg_data_id": M1, "index": 0, "user_comment_id": cids[0]}

    answer = collector.write_back("elect", post, {})
    assert answer["errcode"] == 0 and fake.comment(M1, 0, cids[0]).comment_type == 1
    collector.write_back("elect", post, {"undo": True})
    assert fake.comment(M1, 0, cids[0]).comment_type == 0
    collector.write_back("reply", post, {"text": "经核实，学校没有削减绩效工资的计划。"})
    assert fake.comment(M1, 0, cids[0]).reply["content"] == "经核实，学校没有削减绩效工资的计划。"
    collector.write_back("delete", store.find_post("wechat", f"{M1}:0:{cids[2]}:reply"), {})
    assert fake.comment(M1, 0, cids[2]).reply is None
    collector.write_back("delete", post, {})
    assert f"{M1}:0:{cids[0]}" not in platform_ids(fake)

    writes = [r for r in fake.requests if r.path.startswith("cgi-bin/comment/") and r.path != "cgi-bin/comment/list"]
    assert [(r.method, r.path, r.body) for r in writes] == [
        ("POST", "cgi-bin/comment/markelect", ids),
        ("POST", "cgi-bin/comment/unmarkelect", ids),
        ("POST", "cgi-bin/comment/reply/add", {**ids, "content": "经核实，学校没有削减绩效工资的计划。"}),
        ("POST", "cgi-bin/comment/reply/delete", {**ids, "user_comment_id": cids[2]}),
        ("POST", "cgi-bin/comment/delete", ids),
    ]
    assert all(r.query.get("access_token", "").startswith("ACCESS_TOKEN_") for r in writes)
    assert "经核实".encode() in writes[2].raw  # UTF-8 as is: WeChat refuses \\uXXXX (40033)


def test_a_moderators_delete_goes_through_the_outbox_to_the_platform_and_the_audit_log(store, fake, collected):
    service, cids = collected
    post = store.find_post("wechat", f"{M1}:0:{cids[1]}")
    store.queue_writeback(WriteBack(post_id=post.id, collector="公众号", action="delete", requested_by="moderator"),
                          AuditEvent("moderator", "writeback.request.delete", f"post:{post.id}"))
    outbox = WriteBackOutbox(store, {"公众号": service.collector})
    assert outbox.deliver_due().sent == 1
    assert f"{M1}:0:{cids[1]}" not in platform_ids(fake)
    entry = next(e for e in store.audit_log(limit=10) if e.action == "writeback.delete")
    assert '"errcode": 0' in entry.detail["answer"] and "cgi-bin/comment/delete" in entry.detail["answer"]


@pytest.mark.parametrize("prepare,action,payload,code", [
    (lambda f, c: f.user_deletes(M1, 0, c), "elect", {}, "88004"),
    (lambda f, c: f.articles[(M1, 0)].comments.pop(0), "delete", {}, "88008"),
    (lambda f, c: f.official_reply(M1, 0, c, "已回复"), "reply", {"text": "再回复"}, "88005"),
    (lambda f, c: setattr(f, "elect_limit", 0), "elect", {}, "88003"),
    (lambda f, c: setattr(f, "reply_max", 3), "reply", {"text": "这条回复太长了"}, "88007"),
    (lambda f, c: setattr(f, "comment_privilege", False), "delete", {}, "88000"),
])
def test_refusals_for_good_end_the_write_back(store, fake, collected, prepare, action, payload, code):
    service, cids = collected
    post = store.find_post("wechat", f"{M1}:0:{cids[0]}")
    prepare(fake, cids[0])
    with pytest.raises(WriteBackRefused) as err:
        service.collector.write_back(action, post, payload)
    assert code in str(err.value)


def test_failures_worth_retrying_are_not_refusals(store, fake, collected):
    service, cids = collected
    post = store.find_post("wechat", f"{M1}:0:{cids[0]}")
    fake.fail("cgi-bin/comment/delete", errcode=-1, times=3)
    with pytest.raises(TransientError) as err:
        service.collector.write_back("delete", post, {})
    assert not isinstance(err.value, WriteBackRefused)
    fake.fail("cgi-bin/comment/delete", errcode=48001)
    with pytest.raises(AuthError):
        service.collector.write_back("delete", post, {})
    fake.expire_tokens()
    assert service.collector.write_back("delete", post, {})["errcode"] == 0  # new token, one retry


def test_write_back_refuses_what_the_platform_cannot_do(store, fake, collected):
    service, cids = collected
    reply = store.find_post("wechat", f"{M1}:0:{cids[2]}:reply")
    for action in ("elect", "reply"):
        with pytest.raises(WriteBackRefused):
            service.collector.write_back(action, reply, {"text": "x"})
    with pytest.raises(WriteBackRefused):
        service.collector.write_back("ban", store.find_post("wechat", f"{M1}:0:{cids[0]}"), {})
    with pytest.raises(WriteBackRefused):
        service.collector.write_back("reply", store.find_post("wechat", f"{M1}:0:{cids[0]}"), {"text": "  "})
    imported = Post(channel="wechat", source_id=f"{M1}:0:{cids[1]}", author="u", text="t", created_at=utcnow())
    assert service.collector.write_back("elect", imported, {})["errcode"] == 0  # ids from the source_id


# ---------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("change,field", [
    ({"app_id": None}, "(顶层)"),
    ({"secret_env": "lower case"}, ".secret_env"),
    ({"articles": [{"msg_data_id": "abc"}]}, ".articles[0].msg_data_id"),
    ({"articles": [{"msg_data_id": M1, "index": -1}]}, ".articles[0].index"),
    ({"articles": [{"msg_data_id": M1, "idx": 1}]}, ".articles[0]"),
    ({"every": "5 minutes"}, ".every"),
    ({"base_url": "api.weixin.qq.com"}, ".base_url"),
    ({"token_api": "oauth"}, ".token_api"),
    ({"secret": "inline"}, ".secret"),
    ({"articles": []}, ".articles"),
])
def test_config_errors_name_the_file_and_the_field(fake, settings, change, field):
    cfg = config(fake)
    for key, value in change.items():
        if value is None:
            cfg.pop(key)
        else:
            cfg[key] = value
    with pytest.raises(ConfigError) as err:
        WeChatMpCollector.from_config(cfg, settings, "channels[0]（公众号）", env={SECRET_ENV: "s"})
    assert "channels[0]（公众号）" + ("" if field == "(顶层)" else field) in str(err.value)
    assert "inline" not in str(err.value)


def test_a_missing_secret_variable_is_a_config_error_at_start(fake, settings):
    with pytest.raises(ConfigError) as err:
        WeChatMpCollector.from_config(config(fake), settings, "channels[0]（公众号）", env={})
    assert "channels[0]（公众号）.secret_env" in str(err.value) and SECRET_ENV in str(err.value)


def test_defaults_and_the_config_file_path(fake, settings, monkeypatch, tmp_path):
    collector = build(fake, settings)
    assert collector.every == 300 and not collector.write_back_enabled and collector.enabled_actions == frozenset()
    assert build(fake, settings, write_back=True, every="1m").enabled_actions == {"delete", "reply", "elect"}
    monkeypatch.setitem(COLLECTORS._entries, "wechat_mp", WeChatMpCollector)
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    from collectors import build_collectors

    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'd'}\nchannels:\n  - {{name: 公众号, type: wechat_mp, app_id: {fake.app_id}, "
                   f"secret_env: {SECRET_ENV}, articles: [{{msg_data_id: {M1}, index: 1}}]}}\n", encoding="utf-8")
    built = {c.name: c for c in build_collectors(load_settings(cfg, env={}))}
    assert built["公众号"].articles[0].key == f"{M1}:1" and built["公众号"].http.base_url == "https://api.weixin.qq.com"


# ---------------------------------------------------------------------------- discovery and backfill
def test_recently_published_articles_are_discovered(store, fake, settings):
    fake.today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # WeChat's dates are Beijing dates
    yesterday = fake.today - timedelta(days=1)
    fake.publish(yesterday, M2, n_articles=2)
    fake.add_comment(M2, 0, "头条的留言")
    fake.add_comment(M2, 1, "次条的留言")
    fake.add_comment(M1, 0, "配置的文章")
    service = Service(store, fake, settings, discover_days=3)
    assert service.poll().new == 3
    assert {f"{M2}:0:1", f"{M2}:1:1", f"{M1}:0:1"} == set(stored(store))
    assert [r.body for r in fake.calls("datacube/getarticletotaldetail")] == [
        {"begin_date": d.isoformat(), "end_date": d.isoformat()}
        for d in (fake.today - timedelta(days=3), fake.today - timedelta(days=2), yesterday)]
    fake.add_comment(M2, 1, "又一条")
    service.restart()
    assert service.poll().new == 1 and len(fake.calls("datacube/getarticletotaldetail")) == 3  # days asked once


def test_discovery_failing_leaves_the_configured_articles_running(store, fake, settings, caplog):
    fake.datacube_authorized = False
    fake.add_comment(M1, 0, "留言")
    service = Service(store, fake, settings, discover_days=2)
    assert service.poll().new == 1 and service.health()["consecutive_failures"] == 0
    assert any("自动发现" in r.getMessage() and "48001" in r.getMessage() for r in caplog.records)


def test_discovery_alone_is_a_valid_configuration(fake, settings):
    collector = build(fake, settings, articles=[], discover_days=7)
    assert collector.articles == [] and collector.discover_days == 7


def test_backfill_stores_every_comment_once_and_leaves_the_live_checkpoint(tmp_path, fake, monkeypatch, capsys):
    from collectors.backfill import main

    jan1 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    for i in range(60):
        fake.add_comment(M1, 0, f"历史留言{i}", create_time=jan1 + i * 86400)
    fake.official_reply(M1, 0, 1, "官方回复", create_time=jan1 + 86400)
    monkeypatch.setitem(COLLECTORS._entries, "wechat_mp", WeChatMpCollector)
    monkeypatch.setenv(SECRET_ENV, fake.secret)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nchannels:\n  - {{name: 公众号, type: wechat_mp, app_id: {fake.app_id},"
                   f" secret_env: {SECRET_ENV}, base_url: '{fake.url}', articles: [{{msg_data_id: {M1}}}]}}\n",
                   encoding="utf-8")
    assert main(["--config", str(cfg), "--channel", "公众号", "--since", "2026-01-31"]) == 0
    assert "新增 30 条" in capsys.readouterr().out  # 30 comments from 2026-01-31 on
    assert main(["--config", str(cfg), "--channel", "公众号"]) == 0
    assert "新增 31 条" in capsys.readouterr().out  # the 30 older ones and the reply
    assert main(["--config", str(cfg), "--channel", "公众号"]) == 0
    assert "新增 0 条" in capsys.readouterr().out
    from store.sqlite import SqliteStore

    written = SqliteStore(tmp_path / "data" / "sentinel.db")
    assert written.checkpoint("公众号") is None and written.counts()["posts"] == 61
    written.close()
    fake.secret = "rotated"  # the platform's answers stop the run with a message, not a traceback
    assert main(["--config", str(cfg), "--channel", "公众号"]) == 2
    err = capsys.readouterr().err
    assert "回填" in err and "AppSecret 不正确" in err


# ---------------------------------------------------------------------------- the checkpoint itself
def test_the_checkpoint_keeps_ids_as_runs():
    ids = IdSet()
    for n in [*range(1, 58), 59, 60, 61, 100]:
        ids.add(n)
    ids.add("x9")
    assert ids.runs() == "1~57,59~61,100"
    again = IdSet(ids.runs(), ["x9"])
    assert 57 in again and 58 not in again and "x9" in again and len(again) == 62
    state = State.load("{not json")
    assert state.scan is None and json.loads(state.dump())["a"] == {}


def test_an_article_quiet_for_a_day_is_read_hourly_until_it_changes(store, fake, settings):
    fake.add_comment(M1, 0, "留言")
    fake.add_comment(M2, 0, "另一篇")
    service = Service(store, fake, settings, articles=[{"msg_data_id": M1}, {"msg_data_id": M2}])
    now = [1_800_000_000.0]
    service.collector.wall = lambda: now[0]
    service.poll()
    lists = lambda: [r.body["msg_data_id"] for r in fake.calls("cgi-bin/comment/list")]  # noqa: E731
    now[0] += 3600
    fake.add_comment(M2, 0, "另一篇又有留言")
    service.poll()
    now[0] += 23 * 3600 + 60
    fake.add_comment(M2, 0, "另一篇还在讨论")
    service.poll()  # M1: nothing new for a day now
    assert lists() == [M1, M2] * 3
    now[0] += 300
    service.poll()
    assert lists()[-1:] == [M2]  # M1 skipped, M2 still every poll
    fake.add_comment(M1, 0, "沉寂一天后的新留言")
    now[0] += 3600
    assert service.poll().new == 1 and lists()[-2:] == [M1, M2]
    now[0] += 300
    service.poll()
    assert lists()[-2:] == [M1, M2]  # it changed: back to every poll
