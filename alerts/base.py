"""The notifier contract and the message every notifier sends.

A notifier is one class in one file: its options are a JSON schema on the class, checked before
construction (errors name the config file and `notifiers[i]（name）.field`); secrets come from the
environment through `*_env` options, never from the file; `send` raises `DeliveryError` and only
that, whatever the transport did. Delivery, retries and backoff belong to the outbox, not here.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.config import validate
from core.domain import Alert, Level, channel_label
from core.errors import ConfigError, SentinelError
from core.masking import redact
from core.timefmt import format_local

DEFAULT_TZ = "Asia/Shanghai"
INLINE_SECRETS = ("password", "secret", "token", "key")


class DeliveryError(SentinelError):
    """A notifier could not deliver (network, refused, bad response). The outbox retries, not before
    `retry_after` seconds when the platform said how long to wait (a rate limit)."""

    def __init__(self, message: str, *, retry_after: float | None = None, code: Any = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.code = code


@dataclass(frozen=True)
class Recipient:
    """A person a personal notifier writes to: the dashboard user and their address on the notifier's
    route (an email address, a WeCom / DingTalk / Feishu user id), and a signed link that opens the
    alert after login and offers 认领 / 确认 (None when no dashboard URL is configured)."""

    username: str
    address: str
    ack_url: str | None = None


@dataclass
class SendReport:
    """What a platform said about a send that went through: the addresses it could not deliver to
    (WeCom's `invaliduser`, DingTalk's invalid user ids …). The outbox records them."""

    invalid: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class PostExcerpt:
    channel: str
    excerpt: str  # personal data already masked

    @property
    def channel_zh(self) -> str:
        return channel_label(self.channel)


@dataclass
class AlertMessage:
    """An alert ready to send: its texts plus masked excerpts of the posts behind it."""

    alert_id: int
    rule: str
    level: Level
    title: str
    body: str
    created_at: datetime
    posts: list[PostExcerpt] = field(default_factory=list)
    case_id: int | None = None

    @classmethod
    def of(cls, alert: Alert, posts: list[PostExcerpt]) -> "AlertMessage":
        """The message for `alert`. Notifiers reach group chats and mailboxes: title and body pass the
        masking policy (core.masking.redact) whatever the rule's templates put in them."""
        return cls(alert_id=alert.id or 0, rule=alert.rule, level=alert.level, title=redact(alert.title),
                   body=redact(alert.body), created_at=alert.created_at, posts=posts, case_id=alert.case_id)

    @property
    def level_zh(self) -> str:
        """橙色预警 etc."""
        return f"{self.level.label_zh}色预警"

    @property
    def subject(self) -> str:
        return f"【{self.level_zh}】{self.title}"

    def local_time(self, tz: str = DEFAULT_TZ) -> str:
        return format_local(self.created_at, tz)

    def link(self, dashboard_url: str | None) -> str | None:
        return f"{dashboard_url.rstrip('/')}/alerts/{self.alert_id}" if dashboard_url else None


BASE_URL = {"type": "string", "pattern": r"^https?://[^\s?#]+$"}  # a platform's API root (tests: a local fake)
ENV_NAME = {"type": "string", "minLength": 1}  # an `*_env` option: the name of an environment variable

COMMON_OPTIONS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1},
    "timeout": {"type": "number", "exclusiveMinimum": 0},
    "dashboard_url": {"type": "string", "pattern": r"^https?://"},
    "timezone": {"type": "string", "minLength": 1},
}


def options_schema(type_name: str, properties: dict[str, Any], required: tuple[str, ...] = (),
                   without: tuple[str, ...] = ()) -> dict[str, Any]:
    """A notifier type's config schema: its own properties plus the common ones (less `without`)."""
    common = {k: v for k, v in COMMON_OPTIONS.items() if k not in without}
    return {
        "type": "object",
        "required": ["name", "type", *required],
        "properties": {**common, "type": {"const": type_name}, **properties},
        "additionalProperties": False,
    }


class Secrets:
    """Reads `*_env` options: the value of the environment variable the option names. Also knows the
    config file and entry (`where`) for errors about other options."""

    def __init__(self, env: Mapping[str, str], config_file: str, where: str) -> None:
        self.env, self.config_file, self.where = env, config_file, where

    def get(self, cfg: Mapping[str, Any], option: str) -> str | None:
        var = cfg.get(option)
        if not var:
            return None
        value = self.env.get(var)
        if not value:
            raise ConfigError(self.config_file, f"{self.where}.{option}",
                              f"环境变量 {var} 未设置或为空；请先设置它（例如 export {var}=…）再启动")
        return value

    def timezone(self, cfg: Mapping[str, Any]) -> str:
        """The entry's `timezone` (default Asia/Shanghai), refused unless it is a known IANA name."""
        tz = cfg.get("timezone", DEFAULT_TZ)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(self.config_file, f"{self.where}.timezone",
                              f"未知的时区 {tz!r}；请写 IANA 时区名，例如 Asia/Shanghai") from None
        return tz


class Notifier(abc.ABC):
    """A group notifier (`route = None`: a robot in a group chat, a webhook, a fixed mailing list)
    sends each alert once. A personal notifier (`route` names the user contact route it uses: "email",
    "wecom", "dingtalk", "feishu") sends to the people routing chose, given as `recipients`."""

    type_name: ClassVar[str]
    title_zh: ClassVar[str]
    options_schema: ClassVar[dict[str, Any]]  # JSON schema of the whole config entry
    # options where people paste a secret by mistake -> the `*_env` option to use instead
    inline_secrets: ClassVar[Mapping[str, str]] = {}
    route: ClassVar[str | None] = None

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], env: Mapping[str, str], *,
                    config_file: str = "<默认配置>", where: str | None = None) -> "Notifier":
        """Validate a config entry and build the notifier; secrets are read from `env`."""
        where = where or f"notifiers（{cfg.get('name', '?')}）"
        inline = {**{opt: f"{opt}_env" for opt in INLINE_SECRETS}, **cls.inline_secrets}
        for opt, instead in inline.items():
            if opt in cfg:
                raise ConfigError(config_file, f"{where}.{opt}",
                                  f"密钥不能写在配置文件里；请改用 {instead} 写环境变量名，把值放进该环境变量")
        validate(dict(cfg), cls.options_schema, config_file, prefix=where)
        return cls.create(cfg, Secrets(env, config_file, where))

    @classmethod
    @abc.abstractmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "Notifier":
        """Build from a validated config entry (plain values to the constructor)."""

    @abc.abstractmethod
    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        """Deliver one message (to `recipients`, for a personal notifier) or raise DeliveryError.
        Group chats get no author names and no personal data (the message is already masked)."""

    def describe(self) -> str:
        """Where it sends to, for log lines (no secrets)."""
        return self.type_name
