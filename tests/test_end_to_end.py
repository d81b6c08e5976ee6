"""End to end on the embedded default: demo sample + an inbox file → store → NLP → rules → review
queue → dashboard over real HTTP as a logged-in moderator → remove with a reason → audit row; and
the alerts the rules raised reach a real SMTP server on loopback through the outbox."""
from __future__ import annotations

import json
import os
import re
import threading
import time

import pytest
import requests
from aiosmtpd.controller import Controller
from waitress.server import create_server

from core.config import load_settings
from core.domain import FlagStatus
from core.service import Sentinel
from dashboard import create_app, seed_demo_users
from tests.service_process import free_port

CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture(scope="module")
def running(tmp_path_factory, smtp):
    controller, _ = smtp
    tmp = tmp_path_factory.mktemp("e2e")
    data = tmp / "data"
    (data / "inbox").mkdir(parents=True)
    lines = [
        {"channel": "board", "source_id": "f1", "author": "t1", "text": "建议工会多组织羽毛球比赛",
         "created_at": "2026-03-01T09:00:00+08:00"},
        "{broken json",
        {"channel": "board", "source_id": "f2", "author": "t2", "text": "食堂周末能不能开早餐",
         "created_at": "2026-03-01 09:00"},
    ]
    (data / "inbox" / "upload.jsonl").write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
        encoding="utf-8")
    config = tmp / "sentinel.yaml"
    config.write_text(
        "notifiers:\n"
        f"  - {{name: 审核组邮件, type: email, host: 127.0.0.1, port: {controller.port},"
        " sender: sentinel@union.test, to: [mod@union.test]}\n",
        encoding="utf-8",
    )
    settings = load_settings(config, overrides={"data_dir": str(data)}, env={})
    settings.demo = True
    service = Sentinel.build(settings)
    # the inbox collector waits until a file has settled; age the file instead of sleeping
    past = time.time() - 60
    os.utime(data / "inbox" / "upload.jsonl", (past, past))
    service.run_until_idle()
    seed_demo_users(service.store)
    app = create_app(service.store, settings, status=service.status)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield service, f"http://127.0.0.1:{server.effective_port}", data
    server.close()
    service.close()


def login(base: str, username: str) -> requests.Session:
    s = requests.Session()
    token = CSRF.search(s.get(base + "/login").text).group(1)
    r = s.post(base + "/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert r.status_code == 200 and "退出" in r.text, r.text[:500]
    return s


def test_the_demo_sample_is_stored_analysed_and_flagged(running):
    service, base, _ = running
    health = requests.get(base + "/healthz").json()
    assert health["status"] == "ok" and health["posts"] >= 2000 and health["flagged"] >= 1
    counts = service.store.counts()
    assert counts["analyzed"] == counts["posts"]
    kinds = {case.kind.value for case in service.store.cases(limit=100)}
    assert "flood" in kinds or "rumour" in kinds


def test_inbox_file_good_lines_ingested_bad_lines_dead_lettered(running):
    service, _, data = running
    assert service.store.find_post("board", "f1") is not None
    errors = {d.source: d.error for d in service.store.dead_letters()}
    assert "不是合法的 JSON" in errors["inbox/upload.jsonl:2"]
    assert "时区" in errors["inbox/upload.jsonl:3"]
    assert (data / "inbox" / "done" / "upload.jsonl").exists()


def test_moderator_removes_a_flagged_post_over_http_and_it_is_audited(running):
    service, base, _ = running
    s = login(base, "moderator")
    page = s.get(base + "/queue")
    assert page.status_code == 200
    post_id = int(re.search(r"/queue/(\d+)/decide", page.text).group(1))
    item = service.store.queue_item(post_id)
    assert item.status is FlagStatus.PENDING and item.flags
    token = CSRF.search(page.text).group(1)
    r = s.post(base + f"/queue/{post_id}/decide",
               data={"action": "remove", "reason_code": "spam", "note": "端到端测试删除", "csrf_token": token})
    assert r.status_code == 200
    assert service.store.queue_item(post_id).status is FlagStatus.REMOVED
    events = [e for e in service.store.audit_log(limit=50) if e.target == f"post:{post_id}"]
    assert [(e.actor, e.action) for e in events] == [("moderator", "decision.remove")]
    removed = s.get(base + "/queue", params={"status": "removed"})
    assert f"/posts/{post_id}" in removed.text or f"/queue/{post_id}" in removed.text


def test_an_officer_cannot_decide(running):
    service, base, _ = running
    s = login(base, "officer")
    assert s.get(base + "/queue").status_code == 403


def test_alerts_reach_the_smtp_server_through_the_outbox(running, smtp):
    service, _, _ = running
    _, inbox = smtp
    alerts = service.store.alerts(limit=500)
    assert alerts, "演示数据应触发至少一条预警"
    assert inbox.messages
    assert all(d.state.value == "sent" for a in alerts for d in service.store.deliveries(a.id))
    subjects = b"\n".join(inbox.messages)
    assert b"Subject:" in subjects
