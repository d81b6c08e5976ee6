"""Accounts: password hashing, creating users and the demo accounts. Shared by the web admin pages
and the `python -m dashboard.users` command; every change is audited."""
from __future__ import annotations

import re

from werkzeug.security import check_password_hash, generate_password_hash

from core.domain import AuditEvent, Role, User
from store.base import Store

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
MIN_PASSWORD = 8
DEMO_PASSWORD = "demo"
DEMO_USERS = (
    ("admin", Role.ADMIN),
    ("moderator", Role.MODERATOR),
    ("officer", Role.OFFICER),
    ("leader", Role.LEADER),
)


class AccountError(ValueError):
    """A user-facing problem with an account request (message in Chinese)."""


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's default method)."""
    return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def check_username(username: str) -> str:
    if not USERNAME_RE.match(username or ""):
        raise AccountError("用户名须为 2–32 位字母、数字或 _ . -，例如 zhang.san")
    return username


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"密码至少 {MIN_PASSWORD} 位，请换一个更长的密码")
    return password


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        valid = "、".join(f"{r.value}（{r.label_zh}）" for r in Role)
        raise AccountError(f"未知角色 {value!r}，可选：{valid}") from None


def create_user(store: Store, username: str, role: Role, password: str, actor: str, via: str) -> User:
    """Create an account (name and password checked) and audit it; AccountError if not possible."""
    check_username(username)
    check_password(password)
    try:
        user = store.add_user(User(username=username, role=role, password_hash=hash_password(password)))
    except ValueError:
        raise AccountError(f"用户名 {username} 已存在，请换一个，或用“重置密码”") from None
    store.audit(AuditEvent(actor, "user.create", f"user:{username}", {"role": role.value, "via": via}))
    return user


def reset_password(store: Store, username: str, password: str, actor: str, via: str) -> None:
    """Set a new password and audit it. The store ends every session of the user in the same
    transaction: whoever was signed in as `username`, on any browser, must sign in again."""
    check_password(password)
    if store.get_user(username) is None:
        raise AccountError(f"用户 {username} 不存在，请先创建")
    store.set_password(username, hash_password(password))
    store.audit(AuditEvent(actor, "user.password", f"user:{username}", {"via": via}))


def seed_demo_users(store: Store) -> list[str]:
    """Create admin/moderator/officer/leader with password `demo` where absent (demo mode only).
    Returns the names created; each creation is audited as `system`."""
    created: list[str] = []
    for name, role in DEMO_USERS:
        if store.get_user(name) is not None:
            continue
        try:
            store.add_user(User(username=name, role=role, password_hash=hash_password(DEMO_PASSWORD)))
        except ValueError:  # created concurrently
            continue
        store.audit(AuditEvent("system", "user.create", f"user:{name}", {"role": role.value, "via": "demo"}))
        created.append(name)
    return created
