"""Fixtures for the alerts tests: a real SQLite store, a real SMTP server (aiosmtpd) and a real HTTP
server on loopback, both on free ports, and a hand-driven clock."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.domain import Alert, Analysis, Level, PIISpan, Post, Sentiment, utcnow
from store.base import RuleResults

PII_TEXT = "请联系王老师 13812345678 报名，身份证号 110101199003071234 也发我"
T0 = datetime(2026, 3, 2, 6, 5, tzinfo=timezone.utc)  # 14:05 in Beijing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    return free_port()


@pytest.fixture
def make_alert(store) -> Callable[..., Alert]:
    """Store a post with personal data and an alert about it, queued for `notifiers`."""
    counter = iter(range(10_000))

    def make(notifiers: list[str], level: Level = Level.ORANGE, title: str = "负面情绪集中：60 分钟内 31 条负面评论",
             text: str = PII_TEXT) -> Alert:
        n = next(counter)
        post = Post(channel="weibo", source_id=f"p{n}", author=f"u{n}", author_name="王某某", text=text,
                    created_at=T0)
        store.ingest("test", [post], None)
        spans = [PIISpan("phone", text.index("13812345678"), text.index("13812345678") + 11)] \
            if "13812345678" in text else []
        if "110101199003071234" in text:
            start = text.index("110101199003071234")
            spans.append(PIISpan("id_card", start, start + 18))
        analysis = Analysis(normalized=text, tokens=[], sentiment=Sentiment.NEG, polarity=-0.7, spam=0.0,
                            rumour=0.0, pii=spans, model_version="test-1")
        store.save_analyses([(post, analysis)])
        alert = Alert(rule="negative_surge", level=level, title=title, body="涉及渠道：微博；主要话题：薪酬。",
                      dedupe_key=f"negative_surge:{n}", post_ids=[post.id], notifiers=notifiers, created_at=T0)
        (saved,) = store.commit_rule_results(RuleResults(alerts=[alert]))
        return saved

    return make


@dataclass
class Clock:
    """Starts a minute ahead of the wall clock, so outbox rows the store queues during a test
    (stamped with the real time) are due at once; tests then move it by hand."""

    now: datetime = field(default_factory=lambda: utcnow() + timedelta(minutes=1))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# ---------------------------------------------------------------------------- SMTP
class Inbox:
    """Collects what the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox
    logins: list[tuple[str, str]]


def _authenticator(logins: list[tuple[str, str]], accept: tuple[str, str]) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            logins.append((login, password))
            return AuthResult(success=(login, password) == accept, handled=False)
        return AuthResult(success=False, handled=False)

    return check


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; accepts AUTH for sentinel / s3cret (without TLS, loopback only)."""
    inbox, logins = Inbox(), []
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost",
                            authenticator=_authenticator(logins, ("sentinel", "s3cret")),
                            auth_require_tls=False)
    controller.start()
    yield SmtpServer("127.0.0.1", port, inbox, logins)
    controller.stop()


# ---------------------------------------------------------------------------- HTTP
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class HookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.received: list[Received] = []
        self.status = 200  # what the next requests get

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/sentinel"


class HookHandler(BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(Received(self.path, dict(self.headers.items()), body))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write("收到".encode() if self.server.status < 300 else "服务暂不可用".encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server():
    server = HookServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
