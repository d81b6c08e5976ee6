"""Server-side sessions (logout, password change, deactivation, idle and absolute timeouts), the
Secure cookie flag, trusted proxies, and login backoff that cannot lock anyone out from elsewhere."""
from __future__ import annotations

import dataclasses
import hashlib
import http.cookiejar
import io
import re
import threading
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from waitress.server import create_server

from core.config import load_settings
from core.domain import AuditEvent, utcnow
from dashboard import LoginThrottle, auth, create_app, server_options
from dashboard.users import main as users_main
from tests.dashboard.helpers import csrf_from, do_login, password_for

COOKIE = "sentinel_session"
ADDR_A, ADDR_B = "10.0.0.1", "10.0.0.2"


# ---------------------------------------------------------------------------- helpers
def cookie_value(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def session_data(app, value: str) -> dict:
    """What a session cookie says (the signature checked with the app's key)."""
    return app.session_interface.get_signing_serializer(app).loads(value)


def replay(app, value: str, path: str = "/overview"):
    """A fresh browser that sends a copied cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other, other.get(path)


def logout(client):
    return client.post("/logout", data={"csrf_token": csrf_from(client, "/")})


def sid_hash(app, value: str) -> str:
    return hashlib.sha256(session_data(app, value)["sid"].encode()).hexdigest()


def no_session_renewed(app, resp) -> None:
    """The response to a refused cookie deletes it, or sets one with no session token in it."""
    for header in resp.headers.getlist("Set-Cookie"):
        if not header.startswith(COOKIE + "="):
            continue
        value = header.split(";", 1)[0].split("=", 1)[1]
        if value:
            assert "sid" not in session_data(app, value)


@pytest.fixture
def clock(monkeypatch):
    """Session time under the test's control: clock[0] is now."""
    now = [utcnow()]
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    return now


# ---------------------------------------------------------------------------- the cookie and the record
def test_cookie_carries_a_random_token_and_the_store_only_its_hash(app, client, store, settings):
    do_login(client, "officer")
    data = session_data(app, cookie_value(client))
    assert "user" not in data and "pwv" not in data  # no name, no password fingerprint
    token = data["sid"]
    assert len(token) >= 43  # secrets.token_urlsafe(32)
    assert store.get_session(token) is None  # the token itself is not stored
    record = store.get_session(hashlib.sha256(token.encode()).hexdigest())
    assert record.username == "officer" and record.revoked_at is None and record.net == "127.0.0.0/24"
    assert record.expires_at - record.created_at == settings.session_lifetime


def test_login_replaces_whatever_session_the_browser_had(app, client, store):
    do_login(client, "officer")
    first = cookie_value(client)
    do_login(client, "officer")  # signing in again (or over a planted cookie) starts a new session
    second = cookie_value(client)
    assert session_data(app, first)["sid"] != session_data(app, second)["sid"]
    assert store.get_session(sid_hash(app, first)).revoked_at is not None
    assert replay(app, first)[1].status_code == 302
    assert client.get("/overview").status_code == 200


def test_cookie_from_before_server_side_sessions_is_refused(app, store):
    old_style = app.session_interface.get_signing_serializer(app).dumps({"user": "admin", "pwv": "0123456789abcdef"})
    other, resp = replay(app, old_style, "/admin/users")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    no_session_renewed(app, resp)


# ---------------------------------------------------------------------------- logout
def test_cookie_replayed_after_logout_is_refused_and_not_renewed(app, client, store):
    do_login(client, "officer")
    copied = cookie_value(client)
    assert replay(app, copied)[1].status_code == 200  # the copy works while signed in
    assert logout(client).status_code == 302
    assert store.get_session(sid_hash(app, copied)).revoked_at is not None
    assert audit_actions(store, "officer")[0] == "logout"

    other, resp = replay(app, copied)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    no_session_renewed(app, resp)
    assert other.get("/overview").status_code == 302  # and stays signed out
    page = other.get("/login").get_data(as_text=True)
    assert "登录已失效" in page
    for path in ("/queue", "/admin/users", "/alerts"):
        assert replay(app, copied, path)[1].status_code == 302
    api = replay(app, copied, "/api/sentiment")[1]
    assert api.status_code == 401 and api.get_json() == {"error": "请先登录"}


def test_logout_ends_only_that_browser(app, store):
    laptop, phone = app.test_client(), app.test_client()
    do_login(laptop, "moderator")
    do_login(phone, "moderator")
    logout(laptop)
    assert laptop.get("/queue").status_code == 302
    assert phone.get("/queue").status_code == 200


# ---------------------------------------------------------------------------- password change, deactivation
def test_replay_after_admin_resets_the_password_is_refused_and_the_admin_stays(app, store):
    victim, admin = app.test_client(), app.test_client()
    do_login(victim, "officer")
    copied = cookie_value(victim)
    do_login(admin, "admin")
    token = csrf_from(admin, "/admin/users")
    resp = admin.post("/admin/users/officer/password",
                      data={"password": "new-pass-123", "password2": "new-pass-123", "csrf_token": token})
    assert resp.status_code == 302
    page = admin.get("/admin/users")
    assert page.status_code == 200  # the admin who changed someone else's password is still in
    assert "其所有已登录的会话已随之失效" in page.get_data(as_text=True)
    assert victim.get("/overview").status_code == 302
    assert replay(app, copied)[1].status_code == 302
    assert do_login(app.test_client(), "officer", "new-pass-123").status_code == 302


def test_admin_resetting_their_own_password_keeps_this_browser_and_ends_the_others(app, store):
    here, elsewhere = app.test_client(), app.test_client()
    do_login(here, "admin")
    do_login(elsewhere, "admin")
    before = cookie_value(here)
    token = csrf_from(here, "/admin/users")
    here.post("/admin/users/admin/password",
              data={"password": "admin-new-123", "password2": "admin-new-123", "csrf_token": token})
    page = here.get("/admin/users")
    assert page.status_code == 200
    assert "当前浏览器保持登录" in page.get_data(as_text=True)
    assert cookie_value(here) != before
    assert elsewhere.get("/admin/users").status_code == 302
    assert replay(app, before, "/admin/users")[1].status_code == 302


def test_replay_after_password_change_on_the_command_line_is_refused(app, client, settings, capsys):
    do_login(client, "leader")
    copied = cookie_value(client)
    assert users_main(["passwd", "leader", "--data-dir", str(settings.data_dir), "--password-stdin"],
                      stdin=io.StringIO("leader-new-pass\n")) == 0
    assert "其所有已登录的会话已随之失效" in capsys.readouterr().out
    assert client.get("/alerts").status_code == 302
    assert replay(app, copied, "/alerts")[1].status_code == 302


def test_deactivated_users_session_is_refused(app, client, store):
    do_login(client, "moderator")
    copied = cookie_value(client)
    store.update_user("moderator", AuditEvent("admin", "user.deactivate", "user:moderator"), active=False)
    resp = client.get("/queue")
    assert resp.status_code == 302
    no_session_renewed(app, resp)
    assert replay(app, copied, "/queue")[1].status_code == 302


def test_inactive_user_is_signed_out_even_if_the_session_was_left_open(app, client, store):
    do_login(client, "moderator")
    copied = cookie_value(client)
    with store._tx() as c:  # deactivated behind the store's back: the session is still open
        c.execute("UPDATE users SET active = 0 WHERE username = 'moderator'")
    assert client.get("/queue").status_code == 302
    assert store.get_session(sid_hash(app, copied)).revoked_at is not None  # and now it is ended


# ---------------------------------------------------------------------------- idle timeout and lifetime
def test_idle_timeout_signs_out(app, client, store, settings, clock):
    assert settings.idle_timeout == timedelta(minutes=120)
    do_login(client, "officer")
    copied = cookie_value(client)
    clock[0] += timedelta(minutes=119)
    assert client.get("/overview").status_code == 200  # used just in time: idle time starts again
    clock[0] += timedelta(minutes=119)
    assert client.get("/overview").status_code == 200
    clock[0] += timedelta(minutes=121)
    resp = client.get("/overview")
    assert resp.status_code == 302
    no_session_renewed(app, resp)
    assert "登录已超时" in client.get("/login").get_data(as_text=True)
    assert replay(app, copied)[1].status_code == 302


def test_absolute_lifetime_ends_even_a_busy_session(app, client, settings, clock):
    assert settings.session_lifetime == timedelta(hours=12)
    do_login(client, "officer")
    for _ in range(11):
        clock[0] += timedelta(hours=1)
        assert client.get("/overview").status_code == 200
    clock[0] += timedelta(minutes=59)
    assert client.get("/overview").status_code == 200
    clock[0] += timedelta(minutes=1)
    assert client.get("/overview").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(app, client, store, clock):
    do_login(client, "officer")
    touches = []
    real_touch = store.touch_session
    store.touch_session = lambda h, at: (touches.append(at), real_touch(h, at))  # type: ignore[method-assign]
    for _ in range(5):
        clock[0] += timedelta(seconds=10)
        assert client.get("/overview").status_code == 200
    assert touches == []
    clock[0] += timedelta(seconds=11)  # 61 s after sign-in
    client.get("/overview")
    client.get("/overview")
    assert touches == [clock[0]]


def test_configured_lifetimes_are_used(store, users, tmp_path, clock):
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "web.idle_minutes": 5,
                                        "web.session_hours": 1}, env={})
    app = create_app(store, settings, secret_key="k" * 40)
    client = app.test_client()
    do_login(client, "officer")
    left = client.get_cookie(COOKIE).expires - datetime.now(timezone.utc)
    assert timedelta(minutes=59) < left <= timedelta(hours=1)  # the cookie lasts as long as the session
    clock[0] += timedelta(minutes=4)
    assert client.get("/overview").status_code == 200
    clock[0] += timedelta(minutes=6)
    assert client.get("/overview").status_code == 302


def test_cookie_is_not_renewed_on_every_request(client):
    do_login(client, "officer")
    client.get("/overview")  # the first page adds the CSRF token to the cookie
    assert "Set-Cookie" not in client.get("/overview").headers


# ---------------------------------------------------------------------------- Secure cookies
@pytest.mark.parametrize("web, secure", [
    ({"web.external_url": "https://yuqing.union.example.edu.cn/"}, True),
    ({"web.external_url": "https://yuqing.union.example.edu.cn/", "web.secure_cookies": False}, False),
    ({"web.external_url": "http://10.1.2.3:8000/"}, False),
    ({"web.secure_cookies": True}, True),
    ({}, False),
])
def test_secure_cookie_flag_follows_the_settings(store, users, tmp_path, web, secure):
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), **web}, env={})
    assert settings.secure_cookies is secure
    client = create_app(store, settings, secret_key="k" * 40).test_client()
    cookies = [h for h in do_login(client, "officer").headers.getlist("Set-Cookie") if h.startswith(COOKIE)]
    assert cookies
    assert all(("; Secure" in h) is secure for h in cookies)
    assert all("HttpOnly" in h and "SameSite=Lax" in h for h in cookies)


# ---------------------------------------------------------------------------- trusted proxies
def proxied_app(store, settings, proxies: int, throttle: LoginThrottle | None = None):
    return create_app(store, dataclasses.replace(settings, trusted_proxies=proxies), secret_key="k" * 40,
                      throttle=throttle)


def login_via_proxy(app, username: str, forwarded_for: str, password: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # nginx on the same machine
    headers = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "yq.example.edu.cn"}
    client.get("/login", headers=headers)
    token = csrf_from(client, "/login")
    return client.post("/login", headers={**headers, "Referer": "https://yq.example.edu.cn/login"},
                       data={"username": username, "password": password or password_for(username),
                             "csrf_token": token})


def login_nets(store, actor: str) -> list[str]:
    return [e.detail["net"] for e in store.audit_log(limit=50, actor=actor) if e.action.startswith("login")]


def test_forwarded_for_is_believed_with_a_trusted_proxy(store, settings, users):
    app = proxied_app(store, settings, 1)
    assert login_via_proxy(app, "officer", "203.0.113.7").status_code == 302
    # a client that sends its own X-Forwarded-For gets nginx's real address appended: only the last counts
    assert login_via_proxy(app, "leader", "198.51.100.9, 203.0.113.8").status_code == 302
    assert login_nets(store, "officer") == ["203.0.113.0/24"]
    assert login_nets(store, "leader") == ["203.0.113.0/24"]


def test_forwarded_headers_are_ignored_without_trusted_proxies(store, settings, users):
    app = proxied_app(store, settings, 0)
    assert login_via_proxy(app, "officer", "203.0.113.7").status_code == 302
    assert login_nets(store, "officer") == ["127.0.0.0/24"]  # the socket peer, not the header


def test_throttle_keys_on_the_forwarded_address_only_behind_a_trusted_proxy(store, settings, users):
    for proxies, other_user_blocked in ((1, False), (0, True)):
        app = proxied_app(store, settings, proxies, LoginThrottle())
        for _ in range(5):
            assert login_via_proxy(app, "admin", "203.0.113.66", "wrong-password").status_code == 401
        assert login_via_proxy(app, "admin", "203.0.113.66").status_code == 429
        resp = login_via_proxy(app, "admin", "198.51.100.20")
        assert resp.status_code == (429 if other_user_blocked else 302)


def login_through_waitress(app, options: dict, forwarded_for: str) -> int:
    """Sign in over real HTTP through waitress (as scheduler.py serves the app); the status code."""
    server = create_server(app, host="127.0.0.1", port=0, threads=2, **options)

    def serve() -> None:
        try:
            server.run()
        except OSError:  # the socket closed under the loop's feet by server.close() below
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        headers = {"X-Forwarded-For": forwarded_for}
        page = opener.open(urllib.request.Request(base + "/login", headers=headers)).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "officer", "password": password_for("officer"),
                                       "csrf_token": token}).encode()
        return opener.open(urllib.request.Request(base + "/login", data=form, headers=headers)).status
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(5)


def test_behind_waitress_the_forwarded_address_needs_server_options(store, settings, users):
    trusted = dataclasses.replace(settings, trusted_proxies=1)
    app = create_app(store, trusted, secret_key="k" * 40)
    assert server_options(trusted) == {"clear_untrusted_proxy_headers": False}
    assert login_through_waitress(app, server_options(trusted), "203.0.113.7") == 200
    assert login_nets(store, "officer") == ["203.0.113.0/24"]
    # waitress's defaults strip X-Forwarded-* before ProxyFix sees them: every user would share nginx's address
    assert login_through_waitress(app, {}, "203.0.113.7") == 200
    assert login_nets(store, "officer") == ["127.0.0.0/24", "203.0.113.0/24"]
    assert server_options(settings) == {"clear_untrusted_proxy_headers": True}


# ---------------------------------------------------------------------------- no lockout from elsewhere
def test_a_hundred_failures_for_admin_elsewhere_do_not_stop_the_admin(store, settings, users):
    throttle = LoginThrottle(clock=lambda: 0.0)
    app = create_app(store, settings, secret_key="k" * 40, throttle=throttle)
    attacker, admin = app.test_client(), app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = ADDR_A
    admin.environ_base["REMOTE_ADDR"] = ADDR_B
    statuses = {do_login(attacker, "admin", f"guess-{i}").status_code for i in range(20)}
    assert statuses == {401, 429}
    for _ in range(100):  # and a hundred more failures counted for admin at that address
        throttle.failure("admin", ADDR_A)
    assert throttle.locked_for("admin", ADDR_A) == throttle.max_delay
    assert throttle.locked_for("someone", ADDR_A) > 0  # the address itself is slowed down too
    assert throttle.locked_for("admin", ADDR_B) == 0
    resp = do_login(admin, "admin")  # at once, from another address
    assert resp.status_code == 302
    assert admin.get("/admin/users").status_code == 200
    assert do_login(attacker, "admin").status_code == 429  # still waiting at the attacker's address


def test_many_names_from_one_address_are_slowed_without_touching_other_addresses():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for i in range(29):
        throttle.failure(f"user{i}", ADDR_A)
    assert throttle.locked_for("admin", ADDR_A) == 0
    throttle.failure("user29", ADDR_A)  # 30 failures within 15 minutes
    assert throttle.locked_for("admin", ADDR_A) == 30
    assert throttle.locked_for("admin", ADDR_B) == 0
    now[0] += 30
    throttle.failure("user30", ADDR_A)
    assert throttle.locked_for("admin", ADDR_A) == 60  # backoff, doubling
    throttle.success("user31", ADDR_A)  # signing in to one's own account does not reset the address
    assert throttle.locked_for("admin", ADDR_A) == 60


def test_backoff_doubles_up_to_the_cap_and_success_clears_the_pair():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    waits = []
    for _ in range(12):
        now[0] += throttle.locked_for("zhang", ADDR_A)  # wait out each delay: every try is a real failure
        throttle.failure("Zhang", ADDR_A)  # names compare without case
        waits.append(throttle.locked_for("zhang", ADDR_A))
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]
    throttle.success("zhang", ADDR_A)
    assert throttle.locked_for("zhang", ADDR_A) == 0
    throttle.failure("zhang", ADDR_A)
    assert throttle.locked_for("zhang", ADDR_A) == 0  # five free tries again


def test_failures_are_forgotten_after_an_hour_of_quiet():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(4):
        throttle.failure("li", ADDR_A)
    now[0] += 3600
    throttle.failure("li", ADDR_A)
    assert throttle.locked_for("li", ADDR_A) == 0


def test_each_wait_is_audited_once():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(5):
        throttle.failure("wang", ADDR_A)
    assert throttle.first_refusal("wang", ADDR_A) is True
    assert throttle.first_refusal("wang", ADDR_A) is False
    now[0] += 30
    throttle.failure("wang", ADDR_A)  # a new, longer wait
    assert throttle.first_refusal("wang", ADDR_A) is True
    assert throttle.first_refusal("wang", ADDR_B) is False


def test_memory_stays_bounded_and_locked_entries_survive_longest():
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0], max_keys=100)
    for _ in range(5):
        throttle.failure("admin", ADDR_A)
    for i in range(5000):
        now[0] += 0.001
        throttle.failure(f"name{i}", f"10.1.{i // 250}.{i % 250}")
    assert len(throttle._entries) <= 100
    assert throttle.locked_for("admin", ADDR_A) > 0  # a pair still waiting is not the one dropped
    now[0] += 3600
    throttle.failure("late", "10.2.0.1")  # everything before is forgotten, nothing is locked
    assert len(throttle._entries) == 2


def test_throttle_is_thread_safe():
    throttle = LoginThrottle(clock=lambda: 0.0, max_keys=500)
    errors = []

    def hammer(n: int) -> None:
        try:
            for i in range(300):
                throttle.failure(f"u{n}-{i % 50}", f"10.3.{n}.{i % 7}")
                throttle.locked_for("admin", f"10.3.{n}.1")
                throttle.first_refusal(f"u{n}-{i % 50}", f"10.3.{n}.{i % 7}")
                throttle.success(f"u{n}-{(i + 1) % 50}", f"10.3.{n}.{i % 7}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(throttle._entries) <= 500
    for _ in range(5):
        throttle.failure("shared", ADDR_B)
    assert throttle.locked_for("shared", ADDR_B) == 30


def audit_actions(store, actor):
    return [e.action for e in store.audit_log(limit=50, actor=actor)]
