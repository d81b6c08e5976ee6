"""Fixtures for the dashboard tests: a real SQLite file per test, data inserted through the store
API (tests/dashboard/helpers.py), one account per role, and Flask test clients."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.config import Settings, load_settings
from core.domain import Role, User
from dashboard import create_app
from dashboard.accounts import hash_password
from store.sqlite import SqliteStore
from tests.dashboard.helpers import ROLES, Seed, csrf_from, do_login, password_for, search_tokens, seed_store


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    """Hashing is deliberately slow (scrypt): hash each test password once per session."""
    return {role: hash_password(password_for(role)) for role in ROLES}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(overrides={"data_dir": str(tmp_path / "data")}, env={})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "data" / "sentinel.db", tokenize=search_tokens)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def users(store: SqliteStore, password_hashes: dict[str, str]) -> list[str]:
    """One account per role, named after the role."""
    for role in ROLES:
        store.add_user(User(username=role, role=Role(role), password_hash=password_hashes[role]))
    return ROLES


@pytest.fixture
def seeded(store: SqliteStore) -> Seed:
    return seed_store(store)


@pytest.fixture
def app(store: SqliteStore, settings: Settings, users: list[str]) -> Flask:
    flask_app = create_app(store, settings, status=lambda: {"model_version": "test-model-1", "last_run": {}},
                           secret_key="test-secret-" + "x" * 32)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], FlaskClient]:
    """Sign the test client in as the account of a role."""

    def _login(role: str) -> FlaskClient:
        resp = do_login(client, role)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client

    return _login


@pytest.fixture
def post_form(client: FlaskClient) -> Callable[..., Any]:
    """POST a form with the session's CSRF token, taken from `page` (default: the user's home)."""

    def _post(path: str, data: dict[str, Any], page: str = "/") -> Any:
        token = csrf_from(client, page)
        return client.post(path, data={**data, "csrf_token": token})

    return _post
