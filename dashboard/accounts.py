"""Accounts: password hashing, creating and editing users, the demo accounts. Shared by the web admin
pages, the 我的订阅 page (/me) and the `python -m dashboard.users` command; every change is audited.

A user's profile is their contact routes (email, WeCom / DingTalk / Feishu user id: personal data) and
their subscriptions (topics, channels, lowest alert level; core.domain.User.subscribed). `clean_profile`
is the one validation of those fields, with Chinese errors, whoever sets them; `edit_user` applies a
change and audits the names of the fields changed, never their values."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Mapping

from werkzeug.security import check_password_hash, generate_password_hash

from core.domain import CHANNEL_LABELS_ZH, REPORT_PERIODS_ZH, AuditEvent, Level, Role, User
from nlp.lexicon import TOPICS
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


# --------------------------------------------------------------------------- profiles
ROUTE_FIELDS = ("email", "wecom_userid", "dingtalk_userid", "feishu_userid")  # personal data
SUBSCRIPTION_FIELDS = ("topics", "channels", "min_level", "reports")  # the user may change these (/me)
ADMIN_FIELDS = ("review_channels",)  # only an admin sets these: they widen or narrow what a user may do
PROFILE_FIELDS = ROUTE_FIELDS + SUBSCRIPTION_FIELDS + ADMIN_FIELDS
FIELD_LABELS = {
    "email": "电子邮箱",
    "wecom_userid": "企业微信 UserID",
    "dingtalk_userid": "钉钉 userid",
    "feishu_userid": "飞书 user_id",
    "topics": "关注话题",
    "channels": "关注渠道",
    "min_level": "最低预警级别",
    "reports": "订阅报告",
    "review_channels": "审核渠道",
    "role": "角色",
    "active": "启用状态",
}
KNOWN_TOPICS: tuple[str, ...] = tuple(name for name, _ in TOPICS)  # nlp.lexicon: what alerts can be about
KNOWN_CHANNELS: tuple[str, ...] = tuple(CHANNEL_LABELS_ZH)
PLATFORM_ID_MAX = 64
EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
# ASCII only (the mail notifier does not speak SMTPUTF8); dot-atoms; a domain of at least two labels.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{}~-]+"
_EMAIL_RE = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}"
)
# WeCom joins user ids with "|", DingTalk with ","; a space or either separator in an id would turn one
# person into several recipients (or none), so none of them is ever part of an id.
_ID_SEPARATORS = re.compile(r"[|,，]")
_LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted for an error message: shortened, with invisible characters made visible."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return ascii(text)[1:-1] if any(not ch.isprintable() for ch in text) else text


def _invisible(ch: str) -> bool:
    """Whitespace, control, format (zero-width …), private-use, surrogate or unassigned characters."""
    return ch.isspace() or unicodedata.category(ch)[0] in ("C", "Z")


def check_email(value: str) -> str:
    """An email address, trimmed; AccountError (Chinese) unless it is a plain ASCII address."""
    v = (value or "").strip()
    if not v:
        raise AccountError("电子邮箱不能为空")
    local = v.rsplit("@", 1)[0]
    if len(v) > EMAIL_MAX or len(local) > EMAIL_LOCAL_MAX or not _EMAIL_RE.fullmatch(v):
        raise AccountError(f"电子邮箱“{_shown(v)}”格式不正确：应形如 zhang.san@univ.edu.cn（英文字母、数字和 . _ - + "
                           f"等常见符号，不含空格，最长 {EMAIL_MAX} 个字符）")
    return v


def check_platform_id(field: str, value: str) -> str:
    """A WeCom / DingTalk / Feishu user id (`field` names which), trimmed: non-empty, at most 64
    characters, no spaces, invisible characters, "|" or commas."""
    label = FIELD_LABELS[field]
    v = (value or "").strip()
    if not v:
        raise AccountError(f"{label} 不能为空")
    if len(v) > PLATFORM_ID_MAX:
        raise AccountError(f"{label} 太长（{len(v)} 个字符），最多 {PLATFORM_ID_MAX} 个字符")
    if any(_invisible(ch) for ch in v):
        raise AccountError(f"{label}“{_shown(v)}”含空格或不可见字符：请照平台通讯录里的 ID 原样填写")
    if _ID_SEPARATORS.search(v):
        raise AccountError(f"{label}“{_shown(v)}”不能含“|”或逗号（平台用它们分隔多个收件人）：一次只填一个 ID")
    return v


def split_list(value: str | Iterable[str] | None) -> list[str]:
    """Items of a list written as text ("住房保障,薪酬待遇"; commas, 、, semicolons or spaces) or given
    as several values (a form's checkboxes), trimmed, empty ones dropped, each once, in order."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    items: list[str] = []
    for part in parts:
        for item in _LIST_SEPARATORS.split(str(part)):
            if item and item not in items:
                items.append(item)
    return items


def parse_topics(value: str | Iterable[str] | None) -> list[str]:
    """Topics to subscribe to, in the order of nlp.lexicon.TOPICS; [] means every topic."""
    items = split_list(value)
    unknown = [t for t in items if t not in KNOWN_TOPICS]
    if unknown:
        raise AccountError(f"未知话题：{'、'.join(_shown(t) for t in unknown)}。可选话题：{'、'.join(KNOWN_TOPICS)}"
                           "（不选表示全部话题）")
    return [t for t in KNOWN_TOPICS if t in items]


def parse_channels(value: str | Iterable[str] | None) -> list[str]:
    """Channel ids to subscribe to (an id such as weibo, or its Chinese label 微博), in the order of
    core.domain.CHANNEL_LABELS_ZH; [] means every channel."""
    by_label = {label: cid for cid, label in CHANNEL_LABELS_ZH.items()}
    items = [by_label.get(c, c.lower() if c.isascii() else c) for c in split_list(value)]
    unknown = [c for c in items if c not in KNOWN_CHANNELS]
    if unknown:
        known = "、".join(f"{cid}（{label}）" for cid, label in CHANNEL_LABELS_ZH.items())
        raise AccountError(f"未知渠道：{'、'.join(_shown(c) for c in unknown)}。可选渠道：{known}（不选表示全部渠道）")
    return [c for c in KNOWN_CHANNELS if c in items]


def parse_reports(value: str | Iterable[str] | None) -> list[str]:
    """Report kinds mailed to a user (daily / weekly / monthly, or 日报 / 周报 / 月报); [] means none."""
    by_label = {label: kind for kind, label in REPORT_PERIODS_ZH.items()}
    items = [by_label.get(r, r.lower()) for r in split_list(value)]
    unknown = [r for r in items if r not in REPORT_PERIODS_ZH]
    if unknown:
        known = "、".join(f"{k}（{v}）" for k, v in REPORT_PERIODS_ZH.items())
        raise AccountError(f"未知报告类型：{'、'.join(_shown(r) for r in unknown)}。可选：{known}（不选表示不订阅）")
    return [r for r in REPORT_PERIODS_ZH if r in items]


def parse_level(value: str | Level | None) -> Level:
    """The lowest alert level a user is told about: yellow / orange / red (or 黄 / 黄色 …)."""
    if isinstance(value, Level):
        return value
    v = (value or "").strip()
    for level in Level:
        if v.lower() == level.value or v in (level.label_zh, f"{level.label_zh}色"):
            return level
    valid = "、".join(f"{lv.value}（{lv.label_zh}）" for lv in Level)
    raise AccountError(f"未知预警级别“{_shown(v)}”，可选：{valid}")


def clean_profile(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the profile fields present in `raw` (only those: absent fields are left alone) and
    return them normalized. A contact route given as "" (or only spaces) means "none" and clears it;
    topics or channels given as "" or [] mean "all". AccountError lists every problem at once."""
    unknown = set(raw) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")  # a programming error, not the user's
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name in PROFILE_FIELDS:
        if name not in raw:
            continue
        value = raw[name]
        try:
            if name in ROUTE_FIELDS:
                text = "" if value is None else str(value)
                if not text.strip():
                    out[name] = ""
                else:
                    out[name] = check_email(text) if name == "email" else check_platform_id(name, text)
            elif name == "topics":
                out[name] = parse_topics(value)
            elif name in ("channels", "review_channels"):
                out[name] = parse_channels(value)
            elif name == "reports":
                out[name] = parse_reports(value)
            else:
                out[name] = parse_level(value)
        except AccountError as exc:
            problems.append(str(exc))
    if problems:
        raise AccountError("；".join(problems))
    return out


def _same(field: str, old: Any, new: Any) -> bool:
    if field in ("topics", "channels", "reports", "review_channels"):
        return set(old) == set(new)
    return bool(old == new)


def edit_user(store: Store, username: str, actor: str, via: str, *, role: Role | None = None,
              active: bool | None = None, profile: Mapping[str, Any] | None = None) -> list[str]:
    """Change a user's role, active flag and/or profile fields (validated by `clean_profile`); only
    what differs from the stored value is written. Returns the names of the fields changed, in the
    order of FIELD_LABELS ([] when there was nothing to change). Audited: `user.profile` for routes
    and subscriptions (the detail names the fields, never their values: routes are personal data) and
    `user.update` for role and active flag. The last active admin cannot be demoted or deactivated."""
    user = store.get_user(username)
    if user is None:
        raise AccountError(f"用户 {username} 不存在，请先创建")
    cleaned = clean_profile(profile or {})
    changed = {k: v for k, v in cleaned.items() if not _same(k, getattr(user, k), v)}
    new_role = role if role is not None and role is not user.role else None
    new_active = active if active is not None and active != user.active else None
    if user.role is Role.ADMIN and user.active and (new_role is not None or new_active is False):
        others = [u for u in store.users() if u.role is Role.ADMIN and u.active and u.username != username]
        if not others:
            raise AccountError(f"{username} 是唯一启用的管理员，不能停用或改为其他角色：请先新增或启用另一位管理员")
    try:
        if changed:
            store.update_profile(username, AuditEvent(actor, "user.profile", f"user:{username}",
                                                      {"fields": list(changed), "via": via}), **changed)
        if new_role is not None or new_active is not None:
            detail: dict[str, Any] = {"fields": [], "via": via}
            if new_role is not None:
                detail["fields"].append("role")
                detail["role"] = new_role.value
            if new_active is not None:
                detail["fields"].append("active")
                detail["active"] = new_active
            store.update_user(username, AuditEvent(actor, "user.update", f"user:{username}", detail),
                              role=new_role, active=new_active)
    except ValueError:  # removed meanwhile
        raise AccountError(f"用户 {username} 不存在，请先创建") from None
    names = set(changed) | ({"role"} if new_role is not None else set()) | (
        {"active"} if new_active is not None else set())
    return [f for f in FIELD_LABELS if f in names]


def profile_from_form(form: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The profile `fields` as a submitted form (a Werkzeug MultiDict) gives them: text inputs for the
    routes, checkboxes (several values) for topics and channels, one choice for the level. Every field
    asked for is present: a form shows the whole state, so no box ticked means "all"."""
    out: dict[str, Any] = {}
    for name in fields:
        if name in ("topics", "channels", "reports", "review_channels"):
            out[name] = form.getlist(name)
        else:
            out[name] = form.get(name, "")
    return out


def field_labels(fields: Iterable[str]) -> str:
    """"电子邮箱、关注话题" for a list of field names (flash messages, the command's output)."""
    return "、".join(FIELD_LABELS.get(f, f) for f in fields)


def create_user(store: Store, username: str, role: Role, password: str, actor: str, via: str,
                profile: Mapping[str, Any] | None = None) -> User:
    """Create an account (name, password and profile fields checked) and audit it (the detail names
    the profile fields given, never their values); AccountError if not possible."""
    check_username(username)
    check_password(password)
    cleaned = clean_profile(profile or {})
    try:
        user = store.add_user(User(username=username, role=role, password_hash=hash_password(password), **cleaned))
    except ValueError:
        raise AccountError(f"用户名 {username} 已存在，请换一个，或用“重置密码”") from None
    detail: dict[str, Any] = {"role": role.value, "via": via}
    if cleaned:
        detail["fields"] = list(cleaned)
    store.audit(AuditEvent(actor, "user.create", f"user:{username}", detail))
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
