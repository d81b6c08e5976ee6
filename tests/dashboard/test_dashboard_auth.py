"""Login, logout, throttling, CSRF, sessions and security headers."""
from __future__ import annotations

from core.domain import Role
from dashboard import LoginThrottle, create_app
from dashboard.accounts import hash_password
from dashboard.security import CSP
from tests.dashboard.helpers import csrf_from, do_login, password_for


def audit_actions(store, actor=None):
    return [(e.action, e.detail) for e in store.audit_log(limit=100, actor=actor)]


def test_login_ok_redirects_to_role_home_and_audits(client, store):
    resp = do_login(client, "moderator")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/queue")
    assert client.get("/queue").status_code == 200
    actions = audit_actions(store, "moderator")
    assert actions[0][0] == "login.ok"
    assert actions[0][1]["net"] == "127.0.0.0/24"  # the client address, coarsened


def test_login_wrong_password_refused_and_audited(client, store):
    resp = do_login(client, "officer", "wrong-password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/overview").status_code == 302  # still anonymous
    assert audit_actions(store, "officer")[0] == ("login.fail", {"reason": "bad_password", "net": "127.0.0.0/24"})


def test_login_unknown_user_audited_without_revealing_it(client, store):
    resp = do_login(client, "nobody", "whatever-123")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert audit_actions(store, "nobody")[0][1]["reason"] == "unknown_user"


def test_five_failures_make_that_name_wait_at_that_address_even_for_the_right_password(client, store):
    for _ in range(5):
        resp = do_login(client, "admin", "nope-nope")
        assert resp.status_code == 401
    assert "连续失败 5 次后须等待 30 秒再试" in resp.get_data(as_text=True)
    resp = do_login(client, "admin")  # correct password, but this name must wait at this address
    assert resp.status_code == 429
    text = resp.get_data(as_text=True)
    assert "请 1 分钟后再试" in text and "只针对当前网络地址" in text
    assert client.get("/admin/users").status_code == 302
    assert audit_actions(store, "admin")[0][1]["reason"] == "locked"
    assert do_login(client, "admin").status_code == 429
    reasons = [d["reason"] for a, d in audit_actions(store, "admin")]
    assert reasons == ["locked"] + ["bad_password"] * 5  # the wait is audited once, not per try
    assert do_login(client, "officer").status_code == 302  # other accounts are unaffected
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert do_login(other, "admin").status_code == 302  # and so is the same account elsewhere


def test_wait_ends_then_doubles_with_each_further_failure(store, settings, users):
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    app = create_app(store, settings, secret_key="k" * 40, throttle=throttle)
    client = app.test_client()
    for _ in range(5):
        assert do_login(client, "leader", "bad-password").status_code == 401
    assert do_login(client, "leader").status_code == 429
    now[0] += 31
    assert do_login(client, "leader", "bad-password").status_code == 401  # a 6th failure: 60 s
    now[0] += 59
    assert do_login(client, "leader").status_code == 429
    now[0] += 2
    assert do_login(client, "leader").status_code == 302
    assert throttle.locked_for("leader", "127.0.0.1") == 0  # success clears the pair


def test_throttle_slows_an_address_trying_many_names():
    throttle = LoginThrottle(ip_free_failures=3, clock=lambda: 0.0)
    for name in ("a", "b", "c"):
        throttle.failure(name, "10.0.0.9")
    assert throttle.locked_for("d", "10.0.0.9") > 0
    assert throttle.locked_for("d", "10.0.0.10") == 0


def test_logout_is_a_post_and_ends_the_session(client, store, login):
    login("officer")
    assert client.get("/logout").status_code == 405
    token = csrf_from(client, "/overview")
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/overview").status_code == 302
    assert audit_actions(store, "officer")[0][0] == "logout"


def test_post_without_csrf_token_is_refused(client, store, login, seeded):
    assert client.post("/login", data={"username": "admin", "password": password_for("admin")}).status_code == 400
    login("moderator")
    post_id = seeded.posts["spam"]
    resp = client.post(f"/queue/{post_id}/decide", data={"action": "remove", "reason_code": "spam"})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    assert store.decisions() == []
    resp = client.post(f"/queue/{post_id}/decide",
                       data={"action": "remove", "reason_code": "spam", "csrf_token": "forged-token"})
    assert resp.status_code == 400
    assert store.decisions() == []


def test_next_parameter_cannot_redirect_off_site(app):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client = app.test_client()
        token = csrf_from(client, "/login")
        resp = client.post("/login", data={"username": "officer", "password": password_for("officer"),
                                           "csrf_token": token, "next": target})
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/overview"


def test_next_parameter_returns_to_the_page_asked_for(client):
    resp = client.get("/alerts?level=red")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    token = csrf_from(client, resp.headers["Location"])
    resp = client.post("/login", data={"username": "leader", "password": password_for("leader"),
                                       "csrf_token": token, "next": "/alerts?level=red"})
    assert resp.headers["Location"] == "/alerts?level=red"


def test_password_change_ends_existing_sessions(client, store, login):
    login("officer")
    assert client.get("/overview").status_code == 200
    store.set_password("officer", hash_password("a-new-password"))
    assert client.get("/overview").status_code == 302


def test_session_cookie_flags(client):
    resp = do_login(client, "admin")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # no https external URL configured (see test_dashboard_sessions.py)


def test_security_headers_on_pages_static_and_json(client):
    for path in ("/login", "/static/style.css", "/healthz"):
        resp = client.get(path)
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP


def test_inactive_user_cannot_log_in(store, settings):
    from core.domain import User

    store.add_user(User(username="gone", role=Role.ADMIN, password_hash=hash_password("pw-gone-123"), active=False))
    client = create_app(store, settings, secret_key="k" * 40).test_client()
    assert do_login(client, "gone", "pw-gone-123").status_code == 401
