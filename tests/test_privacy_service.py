"""Erasure and retention on the whole service: real posts through nlp and the rules (alerts, cases,
flags, a grievance lead), then `python -m store.erase` and the retention job, checked where people
look — the moderators' search and queue, the alert and case pages, 提案线索, the API, an export, the
archived reports, the outbox — and in the audit log."""
from __future__ import annotations

import html
import json
import os
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from core.config import load_settings
from core.domain import AuditEvent, utcnow
from core.privacy import RetentionPolicy
from core.service import Sentinel
from dashboard import create_app, seed_demo_users
from dashboard.apitokens import new_token, token_hash
from store.base import ApiToken
from tests.dashboard.helpers import do_login

VICTIM = "zhang9"
RUMOURS = ["听说下个月起绩效工资要砍掉三成，大家知道吗", "听说绩效工资下个月砍三成，是真的吗？",
           "据说下月开始绩效砍掉30%，太离谱了", "有人说下个月绩效工资要砍三成，谁有消息",
           "听说下个月绩效要砍三成了！！", "下个月绩效工资砍三成？听财务的人说的",
           "群里都在传下月绩效砍三成", "听说绩效工资下月起打七折，砍三成"]
MINE = {0, 2, 4}  # the victim wrote these, the first one among them (the alerts quote the first)
LEAD = "我们青年教师等周转房等了三年了，希望工会向学校反映，尽快解决住房问题，我的电话13912345678"
EDITED = "听说下个月起绩效工资要砍掉三成，大家知道吗？财务处的朋友说的"


def write_inbox(path, records) -> None:
    tmp = path.with_suffix(".part")
    tmp.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    past = time.time() - 60  # the inbox waits until a file has settled: age it instead of sleeping
    os.utime(tmp, (past, past))
    tmp.replace(path)


@pytest.fixture
def service(tmp_path):
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    now = datetime.now(timezone.utc)
    records = [{"channel": ["weibo", "qq", "wechat"][i % 3], "source_id": f"r{i}",
                "author": VICTIM if i in MINE else f"other{i}", "author_name": "张九" if i in MINE else None,
                "text": t, "created_at": (now - timedelta(minutes=50 - i * 5)).isoformat()}
               for i, t in enumerate(RUMOURS)]
    records.append({"channel": "board", "source_id": "lead", "author": VICTIM, "text": LEAD,
                    "created_at": (now - timedelta(minutes=3)).isoformat()})
    records.append({"channel": "board", "source_id": "keep", "author": "other9", "text": "食堂最近的饭菜好多了，点赞",
                    "created_at": (now - timedelta(minutes=2)).isoformat()})
    write_inbox(data / "inbox" / "a.jsonl", records)
    config = tmp_path / "sentinel.yaml"
    config.write_text("notifiers:\n  - {name: 值班群机器人, type: webhook, url: 'http://127.0.0.1:9/none'}\n",
                      encoding="utf-8")
    settings = load_settings(config, overrides={"data_dir": str(data)}, env={})
    svc = Sentinel.build(settings)
    svc.run_until_idle()
    write_inbox(data / "inbox" / "b.jsonl", [{**records[0], "text": EDITED}])  # an edit: a second version
    svc.run_until_idle()
    seed_demo_users(svc.store)
    yield svc, config
    svc.close()


def pages(app, store) -> str:
    """Everything the dashboard and the API show, signed in with each role."""
    out = []
    for who in ("admin", "moderator", "officer"):
        client = app.test_client()
        assert do_login(client, who, "demo").status_code in (200, 302)
        paths = ["/queue", "/queue?status=removed", "/queue?status=approved", "/alerts", "/cases?status=all",
                 "/leads?days=7&state=all", "/"]
        paths += [f"/search?q={q}" for q in ("绩效", "周转房", "砍三成", "财务")]
        paths += [f"/alerts/{a.id}" for a in store.alerts(limit=100)]
        paths += [f"/cases/{c.id}" for c in store.cases(status=None, limit=100)]
        for path in paths:
            r = client.get(path, follow_redirects=True)
            assert r.status_code in (200, 403), (path, r.status_code)
            out.append(html.unescape(r.get_data(as_text=True)))
    token = new_token()
    store.add_api_token(ApiToken(f"test{len(store.api_tokens())}", ["posts:read", "cases:read", "pii:read"], utcnow(), "t"), token_hash(token),
                        AuditEvent("t", "api_token.add"))
    api = app.test_client()
    for path in ("/api/v1/posts?since=2000-01-01T00:00:00Z&limit=500", "/api/v1/cases"):
        r = api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.data
        out.append(json.dumps(r.get_json(), ensure_ascii=False))
    return "\n".join(out)


def quoted(text: str) -> list[str]:
    """Pieces of a text as they may be shown: its start and end, in clear and masked."""
    return [text[:10], text[-10:]]


def test_after_erasure_no_page_api_export_or_report_shows_the_authors_texts(service, tmp_path):
    svc, config = service
    store = svc.store
    mine = [RUMOURS[i] for i in MINE] + [LEAD, EDITED]
    app = create_app(store, svc.settings, status=svc.status, secret_key="k" * 40)
    before = pages(app, store)
    # the test means something only if the texts were there to begin with
    assert all(any(q in before for q in quoted(t)) for t in mine), "the author's posts were never shown"
    assert store.alerts(limit=100) and store.cases(status=None)
    first = store.find_post("weibo", "r0")
    assert first.version == 2 and store.post_versions(first.id)
    report = svc.settings.data_dir / "reports" / "daily-2000-01-01.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(f"<p>{html.escape(LEAD[:40])}</p>", encoding="utf-8")  # an archived report quoting one
    (report.parent / "daily-2000-01-01.pdf").write_bytes(b"%PDF-1.4 old")

    from store.erase import main as erase

    assert erase(["--author", VICTIM, "--reason", "本人申请删除（工单 42）", "--actor", "张老师",
                  "--config", str(config), "--data-dir", str(svc.settings.data_dir)]) == 0

    after = pages(app, store)
    for text in mine:
        for piece in quoted(text):
            assert piece not in after, f"{piece!r} is still shown"
    assert "食堂最近的饭菜好多了" in after  # other people's posts stay
    assert "砍三成" in after  # and so do their rumours
    exported = tmp_path / "posts.jsonl"
    from dashboard.export import main as export

    assert export(["--what", "posts", "--format", "jsonl", "--out", str(exported), "--clear", "--actor", "t",
                   "--reason", "检查", "--data-dir", str(svc.settings.data_dir), "--quiet"]) == 0
    dumped = exported.read_text(encoding="utf-8")
    assert all(piece not in dumped for t in mine for piece in quoted(t)) and "食堂最近" in dumped
    assert LEAD[:10] not in report.read_text(encoding="utf-8")  # the archived report was written again
    # what is left in the database: nothing of theirs but the audit log's record of the erasure
    import sqlite3

    db = sqlite3.connect(svc.settings.db_path)
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in db.execute(f'SELECT * FROM "{table}"'):
            value = " ".join(map(str, row))
            assert not any(piece in value for t in mine for piece in quoted(t)), (table, value[:200])
    event = next(e for e in store.audit_log(limit=20) if e.action == "privacy.erase")
    assert event.actor == "张老师" and event.detail["author"] == VICTIM and event.detail["posts"] == 4
    assert event.detail["reason"] == "本人申请删除（工单 42）" and event.detail["rows"]["posts"] == 4
    admin = app.test_client()
    do_login(admin, "admin", "demo")
    audit_page = html.unescape(admin.get("/admin/audit").get_data(as_text=True))
    assert "privacy.erase" in audit_page and VICTIM in audit_page
    # the outbox: deliveries of alerts left with none of their posts are not sent any more
    for a in store.alerts(limit=100):
        if not a.post_ids:
            assert all(d.state.value == "sent" for d in store.deliveries(a.id))


def test_retention_with_pii_days_0_redacts_phone_numbers_on_the_next_run(service):
    svc, _ = service
    svc.settings.retention_pii_days = 0
    lead = svc.store.find_post("board", "lead")
    assert "13912345678" in lead.text
    report = svc.retain()
    assert report.redacted >= 1
    assert "13912345678" not in svc.store.get_post(lead.id).text
    assert "139****5678" in svc.store.get_post(lead.id).text
    assert svc.store.audit_log(limit=1)[0].action == "retention.run"
    assert re.search(r"遮盖了 \d+ 条帖子", report.summary(RetentionPolicy.from_settings(svc.settings)))
