"""The accounts command (`python -m dashboard.users`), demo accounts and the secret key."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import create_app, load_secret_key, seed_demo_users
from dashboard.accounts import verify_password
from dashboard.users import main
from store.sqlite import SqliteStore
from tests.dashboard.helpers import do_login

ROOT = Path(__file__).resolve().parents[2]


def open_db(data_dir: Path) -> SqliteStore:
    store = SqliteStore(data_dir / "sentinel.db")
    store.migrate()
    return store


def test_add_list_and_passwd(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["add", "wang", "--role", "officer", "--data-dir", str(data), "--password-stdin"],
                stdin=io.StringIO("first-pass-1\n")) == 0
    assert main(["--data-dir", str(data), "list"]) == 0
    out = capsys.readouterr().out
    assert "已创建用户 wang（工会干部）" in out and "wang\tofficer（工会干部）\t启用" in out
    assert main(["passwd", "wang", "--data-dir", str(data), "--password-stdin"],
                stdin=io.StringIO("second-pass-2\n")) == 0
    store = open_db(data)
    user = store.get_user("wang")
    assert verify_password(user.password_hash, "second-pass-2")
    assert not verify_password(user.password_hash, "first-pass-1")
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    actions = [(e.actor, e.action, e.target, e.detail) for e in store.audit_log()]
    assert ("system", "user.password", "user:wang", {"via": "cli"}) in actions
    assert ("system", "user.create", "user:wang", {"role": "officer", "via": "cli"}) in actions
    store.close()


def test_cli_errors_are_chinese_and_exit_non_zero(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["add", "wang", "--role", "officer", "--data-dir", data, "--password-stdin"],
                stdin=io.StringIO("short\n")) == 2
    assert "至少 8 位" in capsys.readouterr().err
    main(["add", "wang", "--role", "officer", "--data-dir", data, "--password-stdin"], stdin=io.StringIO("x" * 10))
    assert main(["add", "wang", "--role", "admin", "--data-dir", data, "--password-stdin"],
                stdin=io.StringIO("y" * 10)) == 2
    assert "已存在" in capsys.readouterr().err
    assert main(["passwd", "nobody", "--data-dir", data, "--password-stdin"], stdin=io.StringIO("z" * 10)) == 2
    assert "不存在" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["add", "wang", "--role", "boss", "--data-dir", data])
    assert exc.value.code == 2


def test_cli_as_a_real_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    help_text = subprocess.run([sys.executable, "-m", "dashboard.users", "--help"], cwd=ROOT, env=env,
                               capture_output=True, text=True, check=True).stdout
    assert "管理看板账号" in help_text and "add" in help_text and "passwd" in help_text
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard.users", "add", "chen", "--role", "leader", "--data-dir",
         str(tmp_path), "--password-stdin"],
        cwd=ROOT, env=env, input="leader-pass-9\n", capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "已创建用户 chen" in proc.stdout
    store = open_db(tmp_path)
    assert store.get_user("chen").role.value == "leader"
    store.close()


def test_seed_demo_users_once_and_audited(store, settings):
    assert seed_demo_users(store) == ["admin", "moderator", "officer", "leader"]
    assert seed_demo_users(store) == []
    events = [e for e in store.audit_log() if e.action == "user.create"]
    assert len(events) == 4 and {e.actor for e in events} == {"system"}
    client = create_app(store, settings, secret_key="k" * 40).test_client()
    assert do_login(client, "moderator", "demo").status_code == 302


def test_secret_key_file_is_created_once_with_0600(tmp_path):
    key = load_secret_key(tmp_path, env={})
    path = tmp_path / "secret_key"
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(tmp_path, env={}) == key
    assert load_secret_key(tmp_path / "other", env={}) != key  # random, not a constant


def test_secret_key_from_environment_wins(tmp_path):
    assert load_secret_key(tmp_path, env={"SENTINEL_SECRET_KEY": "from-env-key"}) == "from-env-key"
    assert not (tmp_path / "secret_key").exists()


def test_loose_permissions_are_tightened(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("existing-key-value\n")
    path.chmod(0o644)
    assert load_secret_key(tmp_path, env={}) == "existing-key-value"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_app_without_explicit_key_uses_the_data_dir_file(store, settings, monkeypatch):
    monkeypatch.delenv("SENTINEL_SECRET_KEY", raising=False)
    app = create_app(store, settings)
    assert app.secret_key == (settings.data_dir / "secret_key").read_text().strip()
