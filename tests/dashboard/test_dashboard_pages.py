"""Health, the chart data, overview, alerts, cases, the debunk registry, search and admin pages."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dashboard
from core.domain import utcnow
from dashboard import create_app
from store.sqlite import SqliteStore
from tests.dashboard.helpers import do_login

TEMPLATES = Path(dashboard.__file__).parent / "templates"


# ------------------------------------------------------------------ /healthz
def test_healthz_shape_without_login(client, seeded, store):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    for key in ("posts", "flagged", "alerts", "pending", "dead_letters"):
        assert isinstance(body[key], int), key
    assert body["posts"] == store.counts()["posts"] == 7
    assert body["flagged"] == 5 and body["alerts"] == 2
    assert body["model_version"] == "test-model-1"  # merged from status()


def test_healthz_503_when_the_store_fails(tmp_path, settings):
    broken = SqliteStore(tmp_path / "never-migrated.db")  # no tables: every query fails
    app = create_app(broken, settings, secret_key="k" * 40)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "error" and "存储不可用" in body["error"]
    broken.close()


def test_healthz_runtime_status_can_report_trouble(store, settings):
    app = create_app(store, settings, secret_key="k" * 40, status=lambda: {"status": "degraded", "scheduler": "停止"})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["status"] == "degraded"


# ------------------------------------------------------------------ chart data and overview
def test_daily_sentiment_json(client, login, seeded):
    login("officer")
    data = client.get("/api/sentiment?bucket=day&days=30").get_json()
    assert data["bucket"] == "day" and data["tz"] == "Asia/Shanghai"
    n = len(data["labels"])
    assert n == 30
    for key in ("start", "pos", "neu", "neg", "total", "avg_polarity"):
        assert len(data[key]) == n, key
    assert sum(data["total"]) == 7  # every seeded post is within 30 days and analysed
    assert sum(data["pos"]) == 1 and sum(data["neg"]) == 3
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d")
    assert data["labels"][-1] == today
    for total, avg in zip(data["total"], data["avg_polarity"]):
        assert (avg is None) == (total == 0)
        assert avg is None or -1 <= avg <= 1


def test_hourly_sentiment_json(client, login, seeded):
    login("admin")
    data = client.get("/api/sentiment?bucket=hour&hours=48").get_json()
    assert len(data["labels"]) == 48
    assert sum(data["total"]) == 6  # the 10-day-old post is outside 48 h; 30 h old is inside
    assert client.get("/api/sentiment?bucket=week").status_code == 400


def test_overview_shows_counts_topics_channels_and_alerts(client, login, seeded):
    login("officer")
    page = client.get("/overview").get_data(as_text=True)
    for expected in ("帖子总数", "待审核", "情感走势", 'id="chart-daily"', "/api/sentiment?bucket=day",
                     "薪酬", "食堂", "微信公众号", "QQ群", "谣言扩散：绩效工资", "vendor/echarts.min.js"):
        assert expected in page, expected
    assert "<script>" not in page  # no inline script: only <script src=…>


# ------------------------------------------------------------------ alerts and cases
def test_alert_list_badges_and_acknowledge(client, login, post_form, store, seeded):
    login("officer")
    page = client.get("/alerts").get_data(as_text=True)
    assert 'class="badge level level-red"' in page and ">红<" in page
    assert 'class="badge level level-yellow"' in page and ">黄<" in page
    only_red = client.get("/alerts?level=red").get_data(as_text=True)
    assert "谣言扩散" in only_red and "负面情绪上升" not in only_red
    alert_id = seeded.alerts["red"]
    resp = post_form(f"/alerts/{alert_id}/ack", {}, page="/alerts")
    assert resp.status_code == 302
    assert store.get_alert(alert_id).acknowledged_by == "officer"
    event = store.audit_log(limit=1)[0]
    assert (event.actor, event.action, event.target) == ("officer", "alert.ack", f"alert:{alert_id}")
    assert "officer 已确认" in client.get("/alerts").get_data(as_text=True)


def test_alert_detail_shows_delivery_states_to_officers_only(client, login, seeded):
    login("officer")
    page = client.get(f"/alerts/{seeded.alerts['red']}").get_data(as_text=True)
    assert "通知投递" in page
    assert "发送失败，重试中" in page and "SMTP 连接被拒绝" in page  # email
    assert "待发送" in page  # webhook
    assert "绩效工资削减传言" in page  # link to its case
    client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)})
    login("leader")
    page = client.get(f"/alerts/{seeded.alerts['red']}").get_data(as_text=True)
    assert "通知投递" not in page and "SMTP" not in page
    assert 'class="ack-form"' in page and 'class="claim-form"' in page  # leaders may 确认 and 认领


def test_leader_sees_rumour_cases_with_clarifications(client, login, seeded):
    login("leader")
    page = client.get("/cases").get_data(as_text=True)
    assert "绩效工资削减传言" in page and "兼职广告刷屏" not in page
    assert "兼职广告刷屏" not in client.get("/cases?kind=flood").get_data(as_text=True)
    detail = client.get(f"/cases/{seeded.cases['rumour']}").get_data(as_text=True)
    assert "官方澄清" in detail and "学校从未讨论削减绩效工资" in detail
    assert "https://hr.example.edu.cn/notice/1" in detail


def test_officer_sees_every_case_kind(client, login, seeded):
    login("officer")
    page = client.get("/cases").get_data(as_text=True)
    assert "绩效工资削减传言" in page and "兼职广告刷屏" in page
    assert "兼职广告刷屏" in client.get("/cases?kind=flood").get_data(as_text=True)
    assert "绩效工资削减传言" not in client.get("/cases?kind=flood").get_data(as_text=True)


# ------------------------------------------------------------------ debunk registry
def test_debunk_create_and_edit_are_audited(client, login, post_form, store):
    login("officer")
    resp = post_form("/debunks/new", {"claim": "食堂下月涨价一倍", "clarification": "食堂价格不变，详见后勤通知。",
                                      "keywords": "食堂，涨价 价格", "source_url": "https://example.edu.cn/n/2",
                                      "active": "on"}, page="/debunks/new")
    assert resp.status_code == 302
    [d] = store.debunks()
    assert (d.claim, d.keywords, d.created_by, d.active) == ("食堂下月涨价一倍", ["食堂", "涨价", "价格"], "officer", True)
    event = store.audit_log(limit=1)[0]
    assert (event.actor, event.action, event.target) == ("officer", "debunk.create", f"debunk:{d.id}")
    post_form(f"/debunks/{d.id}/edit", {"claim": d.claim, "clarification": "食堂价格不变。", "keywords": "食堂",
                                         "source_url": d.source_url},
              page="/debunks")
    [d2] = store.debunks(active_only=False)
    assert d2.clarification == "食堂价格不变。" and d2.active is False
    event = store.audit_log(limit=1)[0]
    assert event.action == "debunk.update" and event.detail["changed"] == ["active", "clarification", "keywords"]
    assert "食堂下月涨价一倍" not in client.get("/debunks").get_data(as_text=True)  # inactive hidden by default
    assert "食堂下月涨价一倍" in client.get("/debunks?all=1").get_data(as_text=True)


def test_debunk_form_rejects_script_links_and_empty_fields(client, login, post_form, store):
    login("admin")
    resp = post_form("/debunks/new", {"claim": "x", "clarification": "y", "source_url": "javascript:alert(1)"},
                     page="/debunks/new")
    assert resp.status_code == 400 and "http://" in resp.get_data(as_text=True)
    resp = post_form("/debunks/new", {"claim": "", "clarification": "y"}, page="/debunks/new")
    assert resp.status_code == 400 and "传言内容" in resp.get_data(as_text=True)
    assert store.debunks(active_only=False) == []


# ------------------------------------------------------------------ search
def test_search_finds_chinese_words(client, login, seeded):
    login("moderator")
    page = client.get("/search?q=绩效").get_data(as_text=True)
    assert "听说下月起绩效工资砍掉三成" in page and "食堂的饭菜" not in page
    page = client.get("/search?q=食堂").get_data(as_text=True)
    assert "食堂的饭菜最近改善了很多" in page and "绩效工资砍掉三成" not in page
    page = client.get("/search?q=电梯").get_data(as_text=True)
    assert "没有找到" in page


# ------------------------------------------------------------------ admin
def test_audit_log_and_dead_letters_pages(client, login, seeded):
    login("admin")
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "login.ok" in audit and "debunk.create" in audit
    assert "login.ok" in client.get("/admin/audit?actor=admin").get_data(as_text=True)
    assert "login.ok" not in client.get("/admin/audit?actor=system").get_data(as_text=True)
    dead = client.get("/admin/dead-letters").get_data(as_text=True)
    assert "inbox/bad.jsonl:3" in dead and "JSON 格式错误" in dead and "{not json" in dead


def test_admin_creates_user_and_resets_password_audited(client, app, login, post_form, store):
    login("admin")
    resp = post_form("/admin/users", {"username": "zhang.san", "role": "moderator", "password": "long-enough-1",
                                      "password2": "long-enough-1"}, page="/admin/users")
    assert resp.status_code == 302
    assert store.get_user("zhang.san").role.value == "moderator"
    resp = post_form("/admin/users", {"username": "li", "role": "officer", "password": "short",
                                      "password2": "short"}, page="/admin/users")
    assert resp.status_code == 400 and "至少 8 位" in resp.get_data(as_text=True)
    assert store.get_user("li") is None
    post_form("/admin/users/zhang.san/password", {"password": "another-pass-2", "password2": "another-pass-2"},
              page="/admin/users")
    actions = [(e.action, e.target, e.detail.get("via")) for e in store.audit_log(actor="admin")]
    assert ("user.create", "user:zhang.san", "web") in actions
    assert ("user.password", "user:zhang.san", "web") in actions
    other = app.test_client()
    assert do_login(other, "zhang.san", "long-enough-1").status_code == 401
    assert do_login(other, "zhang.san", "another-pass-2").status_code == 302


def test_status_page_shows_runtime_status(client, login, seeded):
    login("admin")
    page = client.get("/admin/status").get_data(as_text=True)
    assert "model_version" in page and "test-model-1" in page and "Asia/Shanghai" in page


# ------------------------------------------------------------------ templates
def test_no_template_disables_escaping_or_inlines_script():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", "").replace("|safe_url", ""), path
        assert "autoescape" not in text, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {path}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {path}"
        assert "style=" not in text, f"inline style in {path} (blocked by the CSP)"


def test_times_are_shown_in_shanghai_time(client, login, store, seeded):
    login("moderator")
    post = store.get_post(seeded.posts["rumour"])
    utc_text = post.created_at.strftime("%Y-%m-%d %H:%M")
    local_text = (post.created_at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert local_text in page and utc_text not in page
