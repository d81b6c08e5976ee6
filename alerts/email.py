"""`email`: plain-text Chinese mail over SMTP (smtplib), optionally STARTTLS or SSL, with login."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping, Sequence

from alerts.base import (
    DEFAULT_TZ, ENV_NAME, AlertMessage, DeliveryError, Notifier, Recipient, Secrets, SendReport, options_schema
)
from core.errors import ConfigError

_ADDRESS = {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}


class EmailNotifier(Notifier):
    type_name = "email"
    title_zh = "电子邮件（SMTP）"
    options_schema = options_schema("email", {
        "host": {"type": "string", "minLength": 1},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "starttls": {"type": "boolean"},
        "ssl": {"type": "boolean"},
        "username": {"type": "string", "minLength": 1},
        "password_env": ENV_NAME,
        "sender": _ADDRESS,
        "to": {"type": "array", "minItems": 1, "items": _ADDRESS},
    }, required=("host", "sender"))

    def __init__(self, name: str, host: str, sender: str, to: list[str], port: int = 25,
                 starttls: bool = False, use_ssl: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 15.0, dashboard_url: str | None = None,
                 timezone: str = DEFAULT_TZ) -> None:
        super().__init__(name)
        self.host, self.port, self.sender, self.to = host, port, sender, list(to)
        # without `to`, a personal notifier: one mail to each person routing chose, at their email
        self.route = None if self.to else "email"
        self.starttls, self.use_ssl = starttls, use_ssl
        self.username, self.password = username, password
        self.timeout, self.dashboard_url, self.timezone = timeout, dashboard_url, timezone

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "EmailNotifier":
        where = secrets.where
        if cfg.get("ssl") and cfg.get("starttls"):
            raise ConfigError(secrets.config_file, f"{where}.starttls",
                              "ssl 与 starttls 只能选一个：465 端口用 ssl，587 端口用 starttls")
        if bool(cfg.get("username")) != bool(cfg.get("password_env")):
            raise ConfigError(secrets.config_file, f"{where}.password_env",
                              "username 和 password_env 需同时设置（或都不设置）")
        tz = secrets.timezone(cfg)
        use_ssl = bool(cfg.get("ssl"))
        return cls(
            name=cfg["name"], host=cfg["host"], sender=cfg["sender"], to=list(cfg.get("to") or []),
            port=int(cfg.get("port", 465 if use_ssl else 25)), starttls=bool(cfg.get("starttls")),
            use_ssl=use_ssl, username=cfg.get("username"), password=secrets.get(cfg, "password_env"),
            timeout=float(cfg.get("timeout", 15.0)), dashboard_url=cfg.get("dashboard_url"),
            timezone=tz,
        )

    def describe(self) -> str:
        if not self.to:
            return f"邮件 {self.host}:{self.port} → 按路由发给个人"
        return f"邮件 {self.host}:{self.port} → {len(self.to)} 位收件人"

    def build(self, message: AlertMessage, to: Sequence[str] | None = None, ack_url: str | None = None) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(to if to is not None else self.to)
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(idstring=f"alert{message.alert_id}", domain=self.sender.split("@")[-1])
        mail.set_content(self.body_text(message, ack_url))
        return mail

    def body_text(self, message: AlertMessage, ack_url: str | None = None) -> str:
        lines = [
            message.subject, "",
            f"级别：{message.level_zh}",
            f"时间：{message.local_time(self.timezone)}（{self.timezone}）",
            f"规则：{message.rule}", "",
            message.body,
        ]
        if message.posts:
            lines += ["", "相关帖子（个人信息已遮盖）："]
            lines += [f"  {i}. [{p.channel_zh}] {p.excerpt}" for i, p in enumerate(message.posts, 1)]
        link = message.link(self.dashboard_url)
        if ack_url:
            lines += ["", f"认领或确认（登录后打开，7 天内有效）：{ack_url}"]
        elif link:
            lines += ["", f"在看板中查看和处理：{link}"]
        lines += ["", "—— 高校工会舆情哨兵自动发送，请勿直接回复。"]
        return "\n".join(lines) + "\n"

    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        if self.route and not recipients:
            raise DeliveryError(f"“{self.name}” 是发给个人的邮件通知（未配置 to），但这条投递没有收件人")
        mails = ([self.build(message, [r.address], r.ack_url) for r in recipients] if recipients
                 else [self.build(message)])
        refused = self.send_mails(mails, per_recipient=bool(recipients))
        if refused:
            return SendReport(invalid=refused, note="邮件服务器拒收这些地址")
        return None

    def send_mails(self, mails: Sequence[EmailMessage], per_recipient: bool = True) -> list[str]:
        """Send `mails` in one SMTP session; returns the addresses the server refused (when
        `per_recipient`: one refused person does not stop the others). DeliveryError when the
        server cannot be reached, refuses the login or (not `per_recipient`) refuses a recipient."""
        smtp_cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        refused: list[str] = []
        try:
            with smtp_cls(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                for mail in mails:
                    try:
                        smtp.send_message(mail)
                    except smtplib.SMTPRecipientsRefused as exc:
                        if not per_recipient:
                            raise
                        refused.extend(exc.recipients)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"邮件发送失败（{self.host}:{self.port}）：{_explain(exc)}") from exc
        return refused

    def document(self, to: str, subject: str, body: str, attachments: Sequence[tuple[str, bytes]] = (),
                 message_id: str = "") -> EmailMessage:
        """A mail with files attached (name, PDF bytes): the reports mailed to subscribers."""
        mail = EmailMessage()
        mail["Subject"] = subject
        mail["From"] = self.sender
        mail["To"] = to
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(idstring=message_id or None, domain=self.sender.split("@")[-1])
        mail.set_content(body)
        for name, data in attachments:
            mail.add_attachment(data, maintype="application", subtype="pdf", filename=name)
        return mail


def _explain(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "用户名或密码被拒绝，请检查 username 和 password_env 指向的环境变量"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"收件人被拒收：{'、'.join(exc.recipients)}"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝，请检查 host、port 以及邮件服务器是否在运行"
    if isinstance(exc, TimeoutError):
        return "连接超时，请检查网络或调大 timeout"
    return f"{type(exc).__name__}: {exc}"
