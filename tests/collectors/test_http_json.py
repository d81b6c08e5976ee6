"""The `http_json` channel against a local e-proposal API (tests/fakes/http_json.py): the worked example
from docs/channels/http_json.md, every item exactly once across restarts and sweeps interrupted
mid-way, page / offset / cursor paging, `since`, the failures an admin meets, malformed items, config
errors naming the field, and backfill."""
from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import CollectorRunner
from collectors.http import AuthError, RateLimited, SourceError, TransientError
from collectors.http_json import _MISSING, HttpJsonCollector, get_path, parse_time
from core.config import load_settings
from core.domain import utcnow
from core.errors import ConfigError
from tests.fakes.http_json import BEIJING, ProposalApi
from tests.fakes.clock import Ticker

DOC = Path(__file__).resolve().parents[2] / "docs" / "channels" / "http_json.md"
WHERE = "channels[0]（电子提案）"
TOKEN = "s3cr3t-token-2026"


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("PROPOSAL_API_TOKEN", TOKEN)
    with ProposalApi(token=TOKEN) as fake:
        yield fake


def documented_config(base: str) -> dict[str, Any]:
    """The worked example's config, exactly as the docs show it, pointed at the fake."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    [block] = [b for b in blocks if "name: 电子提案" in b and "paging:" in b]
    cfg = yaml.safe_load(block)["channels"][0]
    cfg["url"] = cfg["url"].replace("https://tian.example.edu.cn", base)
    return cfg


def build(settings, cfg: dict[str, Any]) -> HttpJsonCollector:
    collector = HttpJsonCollector.from_config(cfg, settings, WHERE)
    collector.client.sleep = lambda s: None  # retries without waiting
    return collector


def proposals(base: str, **over: Any) -> dict[str, Any]:
    cfg = {"name": "电子提案", "type": "http_json", "url": f"{base}/api/proposals", "every": "10m",
           "token_env": "PROPOSAL_API_TOKEN", "items": "data.list",
           "fields": {"source_id": "id", "text": ["title", "content"], "created_at": "submitted_at",
                      "author": "proposer.no", "author_name": "proposer.name"},
           "ok": {"field": "code", "equals": 0},
           "paging": {"type": "page", "param": "page", "size_param": "page_size", "size": 3, "start": 1}}
    cfg.update(over)
    return {k: v for k, v in cfg.items() if v is not None}


def stored(store) -> dict[str, int]:
    """source_id -> version of every stored post."""
    return {r["source_id"]: r["version"] for r in store._rows("SELECT source_id, version FROM posts")}


def drain(store, collector: HttpJsonCollector) -> Any:
    """One poll, as the service runs it (every page of the sweep)."""
    return CollectorRunner(store, [collector]).run_once()


# ---------------------------------------------------------------------------- the worked example
def test_the_documented_e_proposal_example_collects_what_the_docs_show(store, settings, api):
    api.add(7)
    api.edit("TA2026-002", status="立案")
    collector = build(settings, documented_config(api.base))
    assert collector.every == 600 and collector.channel == "board" and not collector.write_actions
    result = drain(store, collector)
    assert result.new == 7 and result.dead == 0
    post = store.find_post("board", "TA2026-002")
    item = next(i for i in api.items if i["id"] == "TA2026-002")
    assert post.text == "关于改善第2食堂伙食的提案\n建议学校第2食堂增加窗口 并公开价格。"  # HTML removed
    assert post.author == "T1002" and post.author_name == "教师2" and post.thread == "后勤保障"
    assert post.url == "https://tian.example.edu.cn/proposals/TA2026-002"
    assert post.created_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") == item["submitted_at"]  # Beijing time
    assert post.raw["status"] == "立案" and post.raw["dept"] == "机械工程学院"
    # the documented request: GET /api/proposals?page=&page_size=50 with the bearer token; no
    # updated_after on the first sweep, the newest updated_at seen on the next one, as the API wrote it
    method, path, query, headers, _ = api.requests[0]
    assert (method, path) == ("GET", "/api/proposals") and headers["authorization"] == f"Bearer {TOKEN}"
    assert query == {"page": ["1"], "page_size": ["50"]}
    api.add(1)
    assert drain(store, build(settings, documented_config(api.base))).new == 1
    newest = max(i["updated_at"] for i in api.items[:-1])
    assert api.requests[-1][2]["updated_after"] == [newest]


# ---------------------------------------------------------------------------- exactly once
@pytest.mark.parametrize("order,strict,variant", [
    ("desc", False, "since"), ("asc", False, "since"), ("desc", True, "since"),
    ("desc", False, "full"), ("asc", False, "full"), ("desc", False, "newest_first"),
])
def test_every_proposal_exactly_once_across_restarts(store, settings, monkeypatch, order, strict, variant):
    """Runs interleaved with new and edited proposals; each run is a new collector (a restart)."""
    monkeypatch.setenv("PROPOSAL_API_TOKEN", TOKEN)
    with ProposalApi(token=TOKEN, order=order, strict=strict) as api:
        extra: dict[str, Any] = {"since": {"param": "updated_after", "field": "updated_at"}} if variant == "since" else {}
        if variant == "newest_first":
            extra["order"] = "newest_first"
        new = 0
        for step in range(6):
            api.add([4, 0, 3, 1, 5, 2][step])
            if step == 3:
                api.edit("TA2026-001", content="<p>修改后的内容</p>")
            result = drain(store, build(settings, proposals(api.base, **extra)))
            new += result.new
            assert result.dead == 0
        versions = stored(store)
        assert sorted(versions) == sorted(i["id"] for i in api.items) and new == len(api.items) == 15
        if variant == "since":  # the edit came back with its newer updated_at: a second version
            assert versions["TA2026-001"] == 2 and store.find_post("board", "TA2026-001").text.endswith("修改后的内容")
        assert all(v == 1 for k, v in versions.items() if k != "TA2026-001")


def test_a_sweep_interrupted_mid_way_resumes_where_it_stopped(store, settings, api):
    api.add(10)
    collector = build(settings, proposals(api.base))
    first = collector.fetch(None)
    store.ingest("电子提案", first.posts, first.checkpoint)  # page 1 saved, then the process dies
    assert first.more and json.loads(first.checkpoint)["sweep"]["pos"] == 2
    api.add(2)  # newest first: the pages shift while nobody is reading
    restarted = build(settings, proposals(api.base))
    total = drain(store, restarted)
    seen = [q.get("page", ["?"])[0] for _, _, q, _, _ in api.requests]
    assert seen[:2] == ["1", "2"]  # resumed at page 2, not from the start
    assert set(stored(store)) == {f"TA2026-{i:03d}" for i in range(1, 11)}  # 11 and 12 arrived on a page already read
    drain(store, build(settings, proposals(api.base)))
    assert set(stored(store)) == {i["id"] for i in api.items} and len(stored(store)) == 12
    assert total.dead == 0


def test_a_crash_before_the_commit_loses_nothing(store, settings, api):
    api.add(5)
    collector = build(settings, proposals(api.base))
    collector.fetch(None)  # fetched but never saved
    assert drain(store, build(settings, proposals(api.base))).new == 5


# ---------------------------------------------------------------------------- paging variants
def test_cursor_paging_resumes_from_the_last_cursor(store, settings, api):
    cfg = proposals(api.base, url=f"{api.base}/api/v2/proposals", items="data.items",
                    paging={"type": "cursor", "param": "cursor", "next": "data.next_cursor", "more": "data.has_more",
                            "size_param": "limit", "size": 4})
    api.add(9)
    assert drain(store, build(settings, cfg)).new == 9
    cursors = [q.get("cursor", [""])[0] for _, _, q, _, _ in api.requests]
    assert cursors[0] == "" and len(set(cursors)) == 3  # three pages, each with the cursor of the one before
    kept = json.loads(store.checkpoint("电子提案"))["cursor"]
    api.add(2)
    assert drain(store, build(settings, cfg)).new == 2
    assert api.requests[-1][2]["cursor"] == [kept]  # not from the beginning
    assert len(stored(store)) == 11


def test_a_cursor_that_ends_with_null_starts_over_and_skips_what_it_has(store, settings, monkeypatch):
    monkeypatch.setenv("PROPOSAL_API_TOKEN", TOKEN)
    with ProposalApi(token=TOKEN, cursor_end_null=True) as api:
        cfg = proposals(api.base, url=f"{api.base}/api/v2/proposals", items="data.items",
                        paging={"type": "cursor", "next": "data.next_cursor", "size_param": "limit", "size": 5})
        api.add(7)
        assert drain(store, build(settings, cfg)).new == 7
        api.add(1)
        result = drain(store, build(settings, cfg))
        assert result.new == 1 and result.unchanged == 0
        assert "cursor" not in api.requests[-2][2]  # from the beginning


def test_an_expired_cursor_starts_over(store, settings, api, caplog):
    cfg = proposals(api.base, url=f"{api.base}/api/v2/proposals", items="data.items",
                    paging={"type": "cursor", "next": "data.next_cursor"})
    api.add(3)
    drain(store, build(settings, cfg))
    cp = json.loads(store.checkpoint("电子提案"))
    store.ingest("电子提案", [], json.dumps({**cp, "cursor": "not-base64!"}))
    api.add(2)
    assert drain(store, build(settings, cfg)).new == 2
    assert "游标被拒绝" in caplog.text


def test_offset_paging_unix_times_and_no_code_field(store, settings, api):
    api.add_suggestions(12)
    cfg = {"name": "意见箱", "type": "http_json", "url": f"{api.base}/api/suggestions", "items": "items",
           "fields": {"source_id": "sid", "text": "body", "created_at": "created", "author": "uid",
                      "author_name": "nick"},
           "time_format": "unix", "channel": "board",
           "paging": {"type": "offset", "param": "offset", "size_param": "limit", "size": 5}}
    collector = HttpJsonCollector.from_config(cfg, settings, "channels[1]（意见箱）")
    assert CollectorRunner(store, [collector]).run_once().new == 12
    offsets = [q["offset"][0] for _, p, q, _, _ in api.requests if p == "/api/suggestions"]
    assert offsets == ["0", "5", "10"]  # total 12 reached after the third page
    post = store.find_post("board", "17")
    assert post.author == "3017" and post.created_at.timestamp() == api.suggestions[0]["created"]
    api.add_suggestions(1)
    assert CollectorRunner(store, [HttpJsonCollector.from_config(cfg, settings, "x")]).run_once().new == 1


def test_an_api_serving_smaller_pages_than_asked_is_read_to_the_end_by_its_total(store, settings, monkeypatch):
    monkeypatch.setenv("PROPOSAL_API_TOKEN", TOKEN)
    with ProposalApi(token=TOKEN, page_size_cap=4) as api:
        api.add(11)
        cfg = proposals(api.base, paging={"type": "page", "size": 10})
        assert drain(store, build(settings, cfg)).new == 11
        assert [q["page"][0] for _, _, q, _, _ in api.requests] == ["1", "2", "3"]


def test_an_api_that_ignores_the_page_parameter_does_not_loop(store, settings, api, caplog):
    api.add(5)
    cfg = proposals(api.base, paging={"type": "page", "param": "pg", "size_param": "page_size", "size": 3})
    assert drain(store, build(settings, cfg)).new == 3  # page 1 again and again: the sweep ends
    assert len(api.requests) == 2 and "完全相同" in caplog.text


def test_newest_first_stops_at_the_first_page_without_news(store, settings, api):
    api.add(30)
    cfg = proposals(api.base, order="newest_first")
    drain(store, build(settings, cfg))
    before = len(api.requests)
    api.add(2)
    assert drain(store, build(settings, cfg)).new == 2
    assert len(api.requests) - before == 2  # page 1 (new ones), page 2 (nothing new): stop


@pytest.mark.parametrize("paging", ["none", None, {"type": "none"}])
def test_without_paging_one_request_is_the_whole_list(store, settings, api, paging):
    api.add(4)
    assert drain(store, build(settings, proposals(api.base, paging=None) | {"paging": paging})).new == 4
    assert len(api.requests) == 1 and "page" not in api.requests[0][2]


def test_post_requests_carry_paging_in_the_body(store, settings, api):
    api.add(4)
    cfg = proposals(api.base, method="POST", body={"status": "all"})
    assert drain(store, build(settings, cfg)).new == 4
    method, _, _, _, body = api.requests[0]
    assert method == "POST" and body == {"status": "all", "page": 1, "page_size": 3}


# ---------------------------------------------------------------------------- failures
def test_a_token_expiring_mid_collection(store, settings, api, monkeypatch, caplog):
    api.add(7)
    tick = Ticker()
    collector = build(settings, proposals(api.base))
    runner = CollectorRunner(store, [collector], monotonic=tick)
    first = collector.fetch(None)
    store.ingest("电子提案", first.posts, first.checkpoint)
    api.token = "rotated-token-2027"  # the system revokes our token between page 1 and page 2
    runner.run_once()
    assert len(stored(store)) == 3
    assert runner.next_poll_in("电子提案") >= 300  # credentials: waits long
    jobs, _ = runner.health.report(degraded_after=3)
    error = jobs["电子提案"]["last_error"]
    assert "凭据或权限有误" in error and "HTTP 401" in error and TOKEN not in error and TOKEN not in caplog.text
    monkeypatch.setenv("PROPOSAL_API_TOKEN", "rotated-token-2027")  # the admin sets the new one and restarts
    assert drain(store, build(settings, proposals(api.base))).new == 4
    pages = [(q["page"][0], h.get("authorization")) for _, _, q, h, _ in api.requests]
    assert pages == [("1", f"Bearer {TOKEN}"), ("2", f"Bearer {TOKEN}"),  # refused: the token expired
                     ("2", "Bearer rotated-token-2027"), ("3", "Bearer rotated-token-2027")]  # resumed at page 2


def test_a_transient_500_is_retried_and_a_lasting_one_backs_off(store, settings, api):
    api.add(4)
    api.fail = [(500, {}, {"code": 500, "msg": "服务器繁忙"})]
    assert drain(store, build(settings, proposals(api.base))).new == 4  # retried inside the call
    api.add(1)
    api.fail = [(503, {}, b"<html>busy</html>")] * 3
    tick = Ticker()
    runner = CollectorRunner(store, [build(settings, proposals(api.base))], monotonic=tick)
    runner.run_once()
    jobs, _ = runner.health.report(degraded_after=3)
    assert "平台暂时不可用" in jobs["电子提案"]["last_error"]
    tick.t += runner.next_poll_in("电子提案") + 1
    assert runner.run_once().new == 1


@pytest.mark.parametrize("answer,retry_after", [
    ((429, {"Retry-After": "900"}, {"code": 429, "msg": "too many"}), 900),
    ((200, {}, {"code": 42900, "msg": "请求过于频繁"}), None),
    ((403, {}, {"code": 42900, "msg": "请求过于频繁"}), None),  # a listed code in an error body wins over the status
])
def test_rate_limits_are_rate_limits(store, settings, api, answer, retry_after):
    api.add(2)
    collector = build(settings, proposals(api.base, ok={"field": "code", "equals": 0, "rate_limit_codes": [42900]}))
    api.fail = [answer] * 3
    with pytest.raises(RateLimited) as err:
        collector.fetch(None)
    assert err.value.retry_after == retry_after
    if retry_after:
        api.fail = [answer]
        runner = CollectorRunner(store, [collector], monotonic=Ticker())
        runner.run_once()
        assert runner.next_poll_in("电子提案") >= 900
    else:
        assert "请求过于频繁" in str(err.value)


def test_a_bad_token_is_an_auth_error_with_one_clear_message(store, settings, api, monkeypatch, caplog):
    monkeypatch.setenv("PROPOSAL_API_TOKEN", "wrong-but-long-token")
    api.add(1)
    tick = Ticker()
    runner = CollectorRunner(store, [build(settings, proposals(api.base, every="1m"))], monotonic=tick)
    for _ in range(2):  # two tries 5 minutes apart: the same error is logged once per 10 minutes
        runner.run_once()
        tick.t += runner.next_poll_in("电子提案") + 1
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and "凭据或权限有误" in logged[0] and "wrong-but-long-token" not in logged[0]
    assert store.counts()["dead_letters"] == 0


def test_a_code_401_inside_a_200_answer_is_an_auth_error_too(settings, api):
    api.fail = [(200, {}, {"code": 401, "msg": "令牌已过期"})]
    with pytest.raises(AuthError) as err:
        build(settings, proposals(api.base)).fetch(None)
    assert "令牌已过期" in str(err.value)


def test_a_code_other_than_0_is_refused_with_the_platforms_message(settings, api):
    cfg = proposals(api.base, paging={"type": "page", "size": 500})  # the API allows at most 100
    with pytest.raises(SourceError) as err:
        build(settings, cfg).fetch(None)
    assert not isinstance(err.value, (TransientError, AuthError))
    assert "code=10001" in str(err.value) and "page_size 应在 1-100 之间" in str(err.value)


def test_without_an_ok_check_an_error_code_is_still_reported(settings, api):
    cfg = proposals(api.base, ok=None)
    api.fail = [(200, {}, {"code": 10001, "msg": "参数错误"})]
    with pytest.raises(SourceError) as err:
        build(settings, cfg).fetch(None)
    assert "code=10001" in str(err.value) and "参数错误" in str(err.value)


def test_a_wrong_items_path_says_what_the_answer_looks_like(settings, api):
    with pytest.raises(SourceError) as err:
        build(settings, proposals(api.base, items="data.rows")).fetch(None)
    assert "data.rows" in str(err.value) and '"total"' in str(err.value)


def test_a_page_that_keeps_failing_mid_sweep_is_skipped_with_a_dead_letter(store, settings, api):
    api.add(9)
    collector = build(settings, proposals(api.base))
    first = collector.fetch(None)
    store.ingest("电子提案", first.posts, first.checkpoint)
    api.fail = [(200, {}, {"code": 50000, "msg": "第2页数据损坏"})] * 3
    runner = CollectorRunner(store, [collector], quarantine_after=3, monotonic=Ticker())
    for _ in range(3):
        collector.every = None
        runner.run_once()
    assert [d.error for d in store.dead_letters() if "已跳过" in d.error]
    assert len(stored(store)) == 6  # page 2 skipped, page 3 read
    assert set(stored(store)) == {"TA2026-009", "TA2026-008", "TA2026-007", "TA2026-003", "TA2026-002", "TA2026-001"}


# ---------------------------------------------------------------------------- malformed items
def test_malformed_items_become_dead_letters_once_and_the_rest_is_collected(store, settings, api):
    api.add(2)
    api.add_raw({"id": "TA-x1", "submitted_at": "2026-03-01 09:00:00"})  # neither title nor content
    api.add_raw({"id": "TA-x2", "title": "时间写错", "submitted_at": "下周一"})
    api.add_raw("只有一个字符串")
    api.add_raw({"id": {"nested": 1}, "title": "id 是对象", "submitted_at": "2026-03-01 09:00:00"})
    api.add_raw({"id": "TA-x3", "title": ["列表"], "submitted_at": "2026-03-01 09:00:00"})
    api.add(1)
    cfg = proposals(api.base)
    result = drain(store, build(settings, cfg))
    assert result.new == 3 and result.dead == 5
    errors = {d.source.rsplit(" ", 1)[-1]: d.error for d in store.dead_letters()}
    assert "缺少字段" in errors["#TA-x1"] and "text（title、content）" in errors["#TA-x1"]
    assert "下周一" in errors["#TA-x2"] and "time_format" in errors["#TA-x2"]
    assert any("应是 JSON 对象" in e for e in errors.values())
    assert any("source_id 对应的字段应为文字或数字" in e for e in errors.values())
    assert "text 对应的字段应为文字" in errors["#TA-x3"]
    assert all(d.channel == "board" for d in store.dead_letters())
    again = drain(store, build(settings, cfg))
    assert again.dead == 0 and store.counts()["dead_letters"] == 5  # reported once


def test_the_boundary_still_checks_what_the_mapping_let_through(store, settings, api):
    future = (utcnow() + timedelta(days=30)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    api.add(1, submitted_at=future)
    api.add(1, title="", content="   ")
    result = drain(store, build(settings, proposals(api.base)))
    assert result.dead == 2 and result.new == 0
    assert any("晚于当前时间" in d.error for d in store.dead_letters())


def test_an_item_from_the_future_does_not_stall_incremental_collection(store, settings, api):
    cfg = proposals(api.base, since={"param": "updated_after", "field": "updated_at"})
    future = (utcnow() + timedelta(days=300)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    api.add(2)
    api.add(1, submitted_at=future, updated_at=future)  # a typo in the source system
    assert drain(store, build(settings, cfg)).new == 2
    api.add(3)
    assert drain(store, build(settings, cfg)).new == 3  # still asking from the last sane time
    assert store.counts()["dead_letters"] == 1 and "晚于当前时间" in store.dead_letters()[0].error


# ---------------------------------------------------------------------------- backfill
def test_backfill_reads_every_page_in_the_date_range(store, settings, api):
    api.add(9)
    collector = build(settings, proposals(api.base, since={"param": "updated_after"}))
    items = {i["id"]: i for i in api.items}
    cut = parse_time(items["TA2026-004"]["submitted_at"], "%Y-%m-%d %H:%M:%S", BEIJING)
    until = parse_time(items["TA2026-008"]["submitted_at"], "%Y-%m-%d %H:%M:%S", BEIJING)
    pages = list(collector.backfill(cut, until))
    got = sorted(p.source_id for b in pages for p in b.posts)
    assert got == ["TA2026-004", "TA2026-005", "TA2026-006", "TA2026-007"]
    assert all(b.checkpoint is None for b in pages) and len(pages) == 3
    assert all("updated_after" not in q for _, _, q, _, _ in api.requests)


# ---------------------------------------------------------------------------- config
@pytest.mark.parametrize("over,field,words", [
    ({"items": None}, WHERE, "items"),
    ({"fields": {"source_id": "id", "text": "content"}}, "fields", "created_at"),
    ({"fields": {"source_id": "id", "text": "content", "created_at": "t", "body": "x"}}, "fields", "不认识"),
    ({"paging": {"type": "cursor"}}, "paging.next", "next"),
    ({"paging": {"type": "pages"}}, "paging.type", "page"),
    ({"paging": {"type": "page", "size": 0}}, "paging.size", "超出范围"),
    ({"paging": {"type": "none", "size": 5}}, "paging", "不分页"),
    ({"time_format": "yyyy-MM-dd"}, "time_format", "strptime"),
    ({"timezone": "Beijing"}, "timezone", "Asia/Shanghai"),
    ({"since": {"field": "updated_at"}}, "since", "param"),
    ({"ok": {"equals": 0}}, "ok", "field"),
    ({"channel": "提案"}, "channel", "格式"),
    ({"url": "tian.example.edu.cn/api"}, "url", "格式"),
    ({"params": {"access_token": "abc"}}, "params.access_token", "_env"),
    ({"params": {"access_token_env": "NO_SUCH_VARIABLE_SET"}}, "params.access_token_env", "NO_SUCH_VARIABLE_SET"),
    ({"headers": {"Authorization": "Bearer abc"}}, "headers.Authorization", "token_env"),
    ({"body": {"password": "x"}}, "body.password", "token_env"),
    ({"token_env": "NO_SUCH_VARIABLE_SET"}, "token_env", "未设置"),
    ({"since": {"param": "after", "field": "thread"}}, "since.field", "fields"),
    ({"order": "oldest"}, "order", "newest_first"),
])
def test_config_errors_name_the_field(settings, monkeypatch, over, field, words):
    monkeypatch.delenv("NO_SUCH_VARIABLE_SET", raising=False)
    monkeypatch.setenv("PROPOSAL_API_TOKEN", TOKEN)
    cfg = proposals("https://tian.example.edu.cn", **over)
    with pytest.raises(ConfigError) as err:
        HttpJsonCollector.from_config(cfg, settings, WHERE)
    text = str(err.value)
    assert (field if field == WHERE else f"{WHERE}.{field}") in text and words in text, text


def test_secrets_from_the_environment_reach_the_api_and_never_an_error_text(settings, monkeypatch):
    monkeypatch.setenv("PROPOSAL_KEY", "key-0123456789")
    cfg = {"name": "电子提案", "type": "http_json", "url": "http://127.0.0.1:9/api/proposals", "items": "data.list",
           "fields": {"source_id": "id", "text": "content", "created_at": "t"},
           "params": {"access_token_env": "PROPOSAL_KEY"}, "headers": {"X-Api-Key_env": "PROPOSAL_KEY"}}
    collector = build(settings, cfg)
    with pytest.raises(TransientError) as err:  # nothing listens on port 9: the error names the URL
        collector.fetch(None)
    assert "key-0123456789" not in str(err.value)
    assert collector.headers == {"X-Api-Key": "key-0123456789"} and collector.params == {"access_token": "key-0123456789"}


# ---------------------------------------------------------------------------- helpers
def test_dotted_paths_and_times():
    data = {"data": {"list": [{"a": {"b": 1}}]}, "x": None}
    assert get_path(data, "data.list.0.a.b") == 1 and get_path(data, "$.data.list.-1.a.b") == 1
    assert get_path(data, ".") is data and get_path(data, "data.nope") is _MISSING
    iso = "iso"
    assert parse_time("2026-03-01 09:30:00", iso, BEIJING).utcoffset() == timedelta(hours=8)
    assert parse_time("2026-03-01T01:30:00Z", iso, BEIJING) == parse_time("2026-03-01 09:30:00", iso, BEIJING)
    assert parse_time(1772328600, iso, BEIJING) == parse_time(1772328600000, iso, BEIJING)
    assert parse_time("1772328600000", "unix_ms", BEIJING) == parse_time("1772328600", "unix", BEIJING)
    assert parse_time("2026/03/01 09:30", iso, BEIJING) == parse_time("2026年03月01日 09:30", iso, BEIJING)
    for bad in ("", None, True, "下周一", {"t": 1}):
        with pytest.raises(ValueError):
            parse_time(bad, iso, BEIJING)


# ---------------------------------------------------------------------------- as the service builds it
def test_the_documented_config_file_builds_and_backfills(tmp_path, api, monkeypatch, capsys):
    from collectors import COLLECTORS, build_collectors
    from collectors.backfill import main

    monkeypatch.setitem(COLLECTORS._entries, "http_json", HttpJsonCollector)  # the registry line
    api.add(5)
    cfg_file = tmp_path / "sentinel.yaml"
    cfg_file.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "channels": [documented_config(api.base)]},
                                       allow_unicode=True), encoding="utf-8")
    [inbox, collector] = build_collectors(load_settings(cfg_file, env={}))
    assert isinstance(collector, HttpJsonCollector) and collector.name == "电子提案"
    assert main(["--config", str(cfg_file), "--channel", "电子提案"]) == 0
    assert "新增 5 条" in capsys.readouterr().out
    assert main(["--config", str(cfg_file), "--channel", "电子提案"]) == 0
    assert "新增 0 条" in capsys.readouterr().out
    monkeypatch.delenv("PROPOSAL_API_TOKEN")
    with pytest.raises(ConfigError) as err:
        build_collectors(load_settings(cfg_file, env={}))
    assert "channels[0]（电子提案）.token_env" in str(err.value) and str(cfg_file) in str(err.value)
