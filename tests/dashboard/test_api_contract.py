"""The API against its own OpenAPI document, by a schema-driven tester (schemathesis): every generated
request gets an answer the document allows (status codes, bodies, headers), with and without a token."""
from __future__ import annotations

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings

from core.domain import AuditEvent, utcnow
from dashboard import api as api_mod, create_app
from dashboard.apitokens import token_hash
from store.base import ApiToken
from tests.dashboard.helpers import seed_store

TOKEN = "sst_contract_token"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    from core.config import load_settings
    from store import open_store

    data = tmp_path_factory.mktemp("api") / "data"
    cfg = load_settings(None, overrides={"data_dir": str(data)})
    store = open_store(cfg)
    seed_store(store)
    store.add_api_token(ApiToken("contract", ["posts:read", "cases:read", "alerts:read", "decisions:read", "pii:read"], utcnow(), "test"),
                        token_hash(TOKEN), AuditEvent("test", "api_token.add", "contract"))
    app = create_app(store, cfg, secret_key="c" * 40, api_limits=api_mod.api_client_limits(per_minute=10**6))
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    store.close()


def _each_operation(schema, check, examples: int) -> int:
    """Run `check(case)` on generated requests of every operation of the document."""
    n = 0
    for result in schema.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            check(case)

        run()
        n += 1
    return n


def test_answers_follow_the_document_with_a_token(api_schema) -> None:
    # Every check but "schema-valid data must be accepted": a cursor is opaque (any string is schema-valid,
    # only one the API gave out is accepted, anything else is a clear 400), as is any paging token.
    assert _each_operation(api_schema, lambda case: case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[positive_data_acceptance]), 60) == 4


def test_answers_follow_the_document_without_a_token(api_schema) -> None:
    def check(case) -> None:
        response = case.call(headers={})
        assert response.status_code == 401
        case.validate_response(response)

    assert _each_operation(api_schema, check, 10) == 4
