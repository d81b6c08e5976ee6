"""The running service against records that used to stop it: posts from the future, posts that make
analysis or the rules fail, a store that keeps failing — and what /healthz says meanwhile."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from core.config import load_settings
from core.domain import Post, utcnow
from core.service import Sentinel
from dashboard import create_app
from nlp import Analyzer

CST = timezone(timedelta(hours=8))
WAVE = ["听说下个月起绩效工资要砍掉三成，大家知道吗", "听说绩效工资下个月砍三成，是真的吗？",
        "据说下月开始绩效砍掉30%，太离谱了", "有人说下个月绩效工资要砍三成，谁有消息",
        "听说下个月绩效要砍三成了！！", "下个月绩效工资砍三成？听财务的人说的",
        "群里都在传下月绩效砍三成", "听说绩效工资下月起打七折，砍三成"]


@pytest.fixture
def service(tmp_path: Path):
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={})
    s = Sentinel.build(settings)
    yield s
    s.close()


def drop(service: Sentinel, name: str, records: list[dict]) -> None:
    path = service.settings.inbox / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    past = time.time() - 60  # settled: the inbox waits for files still being written
    os.utime(path, (past, past))


def recent(prefix: str, texts: list[str]) -> list[dict]:
    """One post per text, a minute apart, in the last ten minutes."""
    now = utcnow()
    return [{"channel": "board", "source_id": f"{prefix}{i}", "author": f"u{i}", "text": t,
             "created_at": (now - timedelta(minutes=10 - i)).isoformat()} for i, t in enumerate(texts)]


def wave(prefix: str, minutes_ago: int = 60) -> list[dict]:
    now = utcnow()
    return [{"channel": ["weibo", "qq", "wechat"][i % 3], "source_id": f"{prefix}{i}", "author": f"{prefix}a{i % 5}",
             "text": t, "created_at": (now - timedelta(minutes=minutes_ago - i * 5)).astimezone(CST).isoformat()}
            for i, t in enumerate(WAVE)]


@pytest.mark.parametrize("future", ["2099-01-01T00:00:00+08:00", "9999-12-31T23:59:59+00:00", "next_hour"])
def test_window_alerts_still_fire_for_a_wave_after_a_post_from_the_future(service, future):
    if future == "next_hour":
        future = (utcnow() + timedelta(hours=1)).isoformat()
    drop(service, "a.jsonl", [{"channel": "weibo", "source_id": "f1", "author": "x", "text": WAVE[0],
                               "created_at": future}])
    service.run_until_idle()
    [dead] = service.store.dead_letters()
    assert "晚于当前时间" in dead.error
    drop(service, "b.jsonl", wave("w"))
    service.run_until_idle()
    assert "rumour_spread" in {a.rule for a in service.store.alerts()}


def test_a_future_post_already_in_the_store_moves_no_window(service):
    """A store written before the boundary existed may hold one; rules and NLP skip past it."""
    future = Post(channel="weibo", source_id="old", author="x", text=WAVE[1],
                  created_at=utcnow().replace(year=9999))
    service.store.ingest("legacy", [future], None)
    service.run_until_idle()
    drop(service, "b.jsonl", wave("w"))
    service.run_until_idle()
    assert "rumour_spread" in {a.rule for a in service.store.alerts()}
    # and after a restart (the windows are refilled from the store) nothing changes
    service.engine.warm(service.store, utcnow())
    assert service.engine._high_water <= utcnow() + service.settings.future_skew


def test_the_nlp_windows_do_not_jump_to_a_future_date():
    an = Analyzer.load()
    an.clock = utcnow
    now = utcnow()
    texts = ["明年的体检安排在三月，请大家留意通知", *["周转房分配名单已经内定了，大家别白费力气申请了"] * 2]
    times = [now.replace(year=9999), now - timedelta(minutes=2), now - timedelta(minutes=1)]
    posts = [Post(channel="weibo", source_id=f"p{i}", author=f"u{i}", text=t, created_at=at, id=i + 1)
             for i, (t, at) in enumerate(zip(texts, times))]
    an.pipe(posts[:1])
    a, b = an.pipe(posts[1:])
    assert b.extra["cluster"] == a.extra["cluster"] and b.extra["cluster_size"] >= 2


def test_a_post_that_breaks_analysis_is_quarantined_and_the_rest_flows(service, monkeypatch):
    real = service.analyzer.pipe

    def pipe(posts, *a, **kw):
        if any("毒" in p.text for p in posts):
            raise ValueError("模拟的分析故障")
        return real(posts, *a, **kw)

    monkeypatch.setattr(service.analyzer, "pipe", pipe)
    drop(service, "p.jsonl", recent("b", ["食堂的饭菜不错", "这是一条有毒的帖子", "停车位太少了"]))
    service.run_until_idle()
    counts = service.store.counts()
    assert counts["posts"] == 3 and counts["analyzed"] == 2
    [held] = service.store.quarantined("analyze", min_attempts=service.settings.quarantine_after)
    assert held.attempts >= service.settings.quarantine_after and "模拟的分析故障" in held.error
    status = service.status()
    assert status["status"] == "ok" and status["quarantined"] == 1
    # fixed: an admin releases it and the next round analyses it
    monkeypatch.setattr(service.analyzer, "pipe", real)
    assert service.store.release_quarantine("analyze", held.post_id)
    service.process()
    assert service.store.counts()["analyzed"] == 3


def test_a_post_that_breaks_the_rules_is_quarantined_and_the_rest_flows(service, monkeypatch):
    from rules.types.base import RuleType

    real = RuleType.consume

    def consume(self, items):
        items = list(items)
        if any("毒" in i.post.text for i in items):
            raise OverflowError("模拟的规则故障")
        return real(self, items)

    monkeypatch.setattr(RuleType, "consume", consume)
    drop(service, "r.jsonl", recent("r", ["加微信 abc12345 兼职刷单日结三百", "这是一条有毒的帖子", "加微信 xyz67890 兼职刷单日结五百"]))
    service.run_until_idle()
    [held] = service.store.quarantined("rules", min_attempts=service.settings.quarantine_after)
    assert "模拟的规则故障" in held.error
    assert service.store.posts_for_rules(10, skip_after=service.settings.quarantine_after) == []
    assert service.store.counts()["flagged"] == 2  # both spam posts reached the review queue
    assert service.status()["status"] == "ok"


def test_health_says_degraded_while_a_job_keeps_failing_and_recovers(service, monkeypatch):
    app = create_app(service.store, service.settings, status=service.status, secret_key="k" * 40)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    real = service.store.posts_to_analyze

    def broken(*a, **kw):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(service.store, "posts_to_analyze", broken)
    for i in range(service.settings.degraded_after):
        with pytest.raises(sqlite3.OperationalError):
            service.process()
        resp = client.get("/healthz")
        assert resp.status_code == (503 if i + 1 >= service.settings.degraded_after else 200)
    body = resp.get_json()
    assert body["status"] == "degraded" and "analyze" in body["problems"][0]
    assert body["jobs"]["analyze"]["consecutive_failures"] == service.settings.degraded_after
    assert "disk I/O error" in body["jobs"]["analyze"]["last_error"]
    monkeypatch.setattr(service.store, "posts_to_analyze", real)
    service.process()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["jobs"]["analyze"]["consecutive_failures"] == 0


def test_a_changed_rule_file_is_picked_up_and_a_broken_one_refused(tmp_path, caplog):
    import shutil

    from core.config import PROJECT_ROOT

    rules = tmp_path / "rules.yaml"
    shutil.copy(PROJECT_ROOT / "rules" / "default.yaml", rules)
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "rules": str(rules)}, env={})
    service = Sentinel.build(settings)
    try:
        before = len(service.engine.rules)
        text = rules.read_text(encoding="utf-8")
        rules.write_text(text + """
  - name: canteen_watch
    title: 食堂关注
    type: match
    filter: {keywords_any: [食堂]}
    actions: {flag: {reason: 提到食堂}}
""", encoding="utf-8")
        service.refresh()
        assert len(service.engine.rules) == before + 1
        rules.write_text(text.replace("type: spike", "type: spiky", 1), encoding="utf-8")
        for _ in range(service.settings.degraded_after):
            service.refresh()
        assert len(service.engine.rules) == before + 1  # the last good rules keep running
        status = service.status()
        assert status["status"] == "degraded" and "spiky" in status["jobs"]["rules_reload"]["last_error"]
        assert len([r for r in caplog.records if "规则文件有误" in r.getMessage()]) == 1
        rules.write_text(text, encoding="utf-8")
        service.refresh()
        assert len(service.engine.rules) == before and service.status()["status"] == "ok"
    finally:
        service.close()
