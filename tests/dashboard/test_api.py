"""/api/v1/: tokens made by the CLI, scopes, masking, keyset paging, rate limits, the OpenAPI contract."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from core.domain import AuditEvent, PIISpan, utcnow
from dashboard import api as api_mod
from dashboard.apitokens import main as tokens_main, token_hash
from dashboard.openapi import document, load_schema
from store.base import ApiToken
from tests.dashboard.helpers import add_post, make_analysis

PHONE = "13912345678"


def cli(settings, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    rc = tokens_main(["--data-dir", str(settings.data_dir), *argv], out=out)
    return rc, out.getvalue()


@pytest.fixture
def token(store):
    """Make a token straight in the store: name → token."""
    def make(name: str, scopes: list[str]) -> str:
        tok = f"sst_test_{name}"
        store.add_api_token(ApiToken(name, scopes, utcnow(), "test"), token_hash(tok),
                            AuditEvent("test", "api_token.add", name))
        return tok
    return make


@pytest.fixture(autouse=True)
def roomy_limits(app):
    from dashboard.context import EXTENSION_KEY

    app.extensions[EXTENSION_KEY].api_limits = api_mod.api_client_limits(per_minute=10**6)


def get(client, path: str, tok: str | None = None):
    return client.get(path, headers={"Authorization": f"Bearer {tok}"} if tok else {})


def test_the_cli_prints_the_token_once_as_the_last_word_and_it_works(settings, client, capsys) -> None:
    from dashboard import create_app
    from store import open_store

    rc, out = cli(settings, "add", "人事处平台", "--scopes", "posts:read,cases:read")
    assert rc == 0
    tok = out.split()[-1].split("：")[-1]
    assert tok.startswith("sst_") and tok not in cli(settings, "list")[1]
    store = open_store(settings)
    try:
        app = create_app(store, settings, secret_key="k" * 40)
        c = app.test_client()
        assert get(c, "/api/v1/posts", tok).status_code == 200
        assert cli(settings, "revoke", "人事处平台")[0] == 0
        assert get(c, "/api/v1/posts", tok).status_code == 401
        assert [e.action for e in store.audit_log(10)][:2] == ["api_token.revoke", "api_token.add"]
    finally:
        store.close()
    assert cli(settings, "add", "x", "--scopes", "posts:write")[0] == 2
    assert "posts:write" in capsys.readouterr().err


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "bearer  "])
def test_without_a_valid_token_the_answer_is_401(client, header) -> None:
    resp = client.get("/api/v1/posts", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401 and resp.json["error"] and "Bearer" in resp.headers["WWW-Authenticate"]


def test_a_token_without_the_scope_gets_403(client, token) -> None:
    tok = token("cases-only", ["cases:read"])
    assert get(client, "/api/v1/posts", tok).status_code == 403
    assert get(client, "/api/v1/cases", tok).status_code == 200


def test_personal_data_is_masked_without_pii_read_and_audited_with_it(store, client, token) -> None:
    text = f"我的手机号{PHONE}，报销的事请联系我"
    add_post(store, "p", "board", text, 1, make_analysis(text, pii=[PIISpan("phone", 5, 16)]), author_name="李老师")
    masked = get(client, "/api/v1/posts", token("plain", ["posts:read"])).json["items"][0]
    assert PHONE not in str(masked) and "李老师" not in str(masked)
    assert masked["author"].startswith("u_") and masked["source_id"] is None and masked["analysis"]["pii"] == ["phone"]
    clear_token = token("clear", ["posts:read", "pii:read"])
    before = len(store.audit_log(100))
    clear = get(client, "/api/v1/posts", clear_token).json["items"][0]
    assert PHONE in clear["text"] and clear["author_name"] == "李老师"
    events = store.audit_log(100)
    assert len(events) == before + 1 and events[0].action == "api.pii_read" and events[0].actor == "api:clear"
    assert PHONE not in str(events[0].detail)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 23), limit=st.integers(1, 7), same_time=st.booleans())
def test_paging_returns_every_post_once_in_order(store, client, token, n, limit, same_time) -> None:
    tok = "sst_test_page"
    if store.api_token(token_hash(tok)) is None:
        token("page", ["posts:read"])
    start = utcnow() - timedelta(days=400)
    seen_before = {p["id"] for p in _all(client, tok, limit, start)}
    for i in range(n):
        add_post(store, f"pg-{utcnow().timestamp()}-{i}", "weibo", f"第{i}条", 24 * 300 if same_time else 24 * 300 - i,
                 make_analysis(f"第{i}条"))
    items = _all(client, tok, limit, start)
    ids = [p["id"] for p in items]
    assert len(ids) == len(set(ids)) == len(seen_before) + n
    keys = [(p["created_at"], p["id"]) for p in items]
    assert keys == sorted(keys)


def _all(client, tok: str, limit: int, since) -> list[dict]:
    out, cursor = [], None
    for _ in range(1000):
        q = f"/api/v1/posts?since={since.isoformat().replace('+', '%2B')}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = get(client, q, tok).json
        out += body["items"]
        cursor = body["next"]
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("query", ["since=yesterday", "limit=0", "limit=501", "limit=x", "cursor=%%%", "cursor=abc"])
def test_bad_parameters_are_a_clear_400(client, token, query) -> None:
    resp = get(client, f"/api/v1/posts?{query}", token("q", ["posts:read"]))
    assert resp.status_code == 400 and re.search(r"since|limit|cursor", resp.json["error"])


def test_over_the_limit_a_client_gets_429_with_retry_after(app, client, token) -> None:
    from dashboard.context import EXTENSION_KEY

    app.extensions[EXTENSION_KEY].api_limits = api_mod.api_client_limits(per_minute=2)
    tok = token("busy", ["posts:read"])
    codes = [get(client, "/api/v1/posts", tok).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = get(client, "/api/v1/posts", tok)
    assert int(resp.headers["Retry-After"]) >= 1 and "频繁" in resp.json["error"]


def test_the_rate_limit_window_slides() -> None:
    from core.ratelimit import KeyedLimits

    now = [0.0]
    lim = KeyedLimits(((3, 60.0),), lambda: now[0])
    assert [lim.admit("a") for _ in range(3)] == [0, 0, 0]
    assert lim.admit("a") > 0 and lim.admit("b") == 0
    now[0] = 61.0
    assert lim.admit("a") == 0


def test_items_follow_the_committed_json_schemas(store, client, token, seeded) -> None:
    import jsonschema

    tok = token("all", ["posts:read", "cases:read"])
    for path, name in (("/api/v1/posts", "post"), ("/api/v1/cases?status=all", "case")):
        items = get(client, path, tok).json["items"]
        assert items, path
        for item in items:
            jsonschema.validate(item, load_schema(name), format_checker=jsonschema.FormatChecker())


def test_the_openapi_document_is_valid_and_served(client) -> None:
    from openapi_spec_validator import validate

    validate(document("1.0.0", 500, 100))
    assert client.get("/api/v1/openapi.json").json["openapi"] == "3.1.0"


# ---------------------------------------------------------------------------- alerts and decisions feeds
def _alerts_and_decisions(store, n: int) -> None:
    from core.domain import Action, Alert, Decision, Flag, Level, ReasonCode
    from store.base import RuleResults

    t0 = utcnow() - timedelta(days=1)
    for i in range(n):
        p = add_post(store, f"f{i}", "weibo", f"第{i}条 联系{PHONE}", 1, make_analysis(f"第{i}条"))
        store.commit_rule_results(RuleResults(
            flags=[Flag(post_id=p.id, rule="r", reason="x")],
            alerts=[Alert(rule="r", level=Level.ORANGE, title=f"预警{i} 电话{PHONE}", body="正文",
                          dedupe_key=f"k{i}", post_ids=[p.id], created_at=t0 + timedelta(minutes=i // 2))]))
        store.decide(Decision(post_id=p.id, moderator="moderator", action=Action.REMOVE, reason_code=ReasonCode.SPAM,
                              note=f"备注 {PHONE}", created_at=t0 + timedelta(minutes=i // 2)),
                     AuditEvent("moderator", "decision.remove", f"post:{p.id}"))


@pytest.mark.parametrize("what", ["alerts", "decisions"])
def test_alerts_and_decisions_feeds_page_once_and_mask(client, store, token, what) -> None:
    from jsonschema import Draft202012Validator

    _alerts_and_decisions(store, 7)
    masked, clear = token("m", [f"{what}:read"]), token("c", [f"{what}:read", "pii:read"])
    assert get(client, f"/api/v1/{what}").status_code == 401
    assert get(client, f"/api/v1/{what}", token("other", ["posts:read"])).status_code == 403
    validator = Draft202012Validator(load_schema(what[:-1]))
    ids, url = [], f"/api/v1/{what}?limit=3"
    while url:
        body = get(client, url, masked).get_json()
        for item in body["items"]:
            validator.validate(item)
            assert PHONE not in str(item)
        ids += [i["id"] for i in body["items"]]
        url = f"/api/v1/{what}?limit=3&cursor={body['next']}" if body["next"] else None
    assert len(ids) == len(set(ids)) == 7  # equal times: the id breaks the tie, nothing repeats or drops
    items = get(client, f"/api/v1/{what}?limit=100", clear).get_json()["items"]
    assert any(PHONE in str(i) for i in items)
    assert store.audit_log(1)[0].action == "api.pii_read"
    assert get(client, f"/api/v1/{what}?since=昨天", masked).status_code == 400
