"""The domain types that flow through Union Sentinel.

One `Post` enters through a collector, gets an `Analysis` from nlp/, is stored by store/,
and may raise `Flag`s, `Case`s and `Alert`s in rules/. Moderators answer with `Decision`s;
every action leaves an `AuditEvent`. No other module defines domain types.

User-facing strings (reasons, titles, labels) are Simplified Chinese; identifiers are English.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC). All stored times are aware."""
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- posts
@dataclass
class Post:
    """One comment, message or suggestion from a channel. Identity: (channel, source_id)."""

    channel: str
    source_id: str
    author: str  # pseudonymous, stable id on the platform
    text: str
    created_at: datetime  # timezone-aware
    thread: str | None = None  # article / group / topic the post belongs to
    url: str | None = None
    reply_to: str | None = None  # source_id of the post it answers
    author_name: str | None = None  # display name (personal data: never sent to group chats)
    raw: dict[str, Any] = field(default_factory=dict)  # platform extras, kept as-is
    id: int | None = None  # store id, set once stored
    version: int = 1  # 1 + number of edits seen

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.source_id)


# --------------------------------------------------------------------------- analysis
class Sentiment(str, enum.Enum):
    POS = "pos"
    NEU = "neu"
    NEG = "neg"

    @property
    def label_zh(self) -> str:
        return {"pos": "正面", "neu": "中性", "neg": "负面"}[self.value]


@dataclass
class PIISpan:
    """Personal data found in a post's original text: text[start:end] is the match."""

    kind: str  # phone | id_card | bank_card | email | qq | wechat (labels: PII_LABELS_ZH)
    start: int
    end: int

    @property
    def label_zh(self) -> str:
        return PII_LABELS_ZH.get(self.kind, self.kind)


PII_LABELS_ZH = {
    "phone": "手机号",
    "id_card": "身份证号",
    "bank_card": "银行卡号",
    "email": "电子邮箱",
    "qq": "QQ 号",
    "wechat": "微信号",
}


@dataclass
class Reason:
    """Why a score is what it is, short enough for a review card (Chinese `text`)."""

    score: str  # sentiment | spam | rumour | pii | keywords
    code: str  # machine code, e.g. "ad_lexicon", "hearsay", "near_duplicate"
    text: str  # 中文说明, e.g. "命中广告词：兼职、刷单"
    weight: float = 0.0  # contribution to the score, when known


@dataclass
class Analysis:
    """What nlp/ concluded about one post version."""

    normalized: str
    tokens: list[str]
    sentiment: Sentiment
    polarity: float  # [-1, 1]
    spam: float  # [0, 1]
    rumour: float  # [0, 1]
    keywords: list[str] = field(default_factory=list)
    pii: list[PIISpan] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    model_version: str = ""
    topic: str | None = None  # coarse topic (薪酬/职称/食堂/…), when one applies
    debunk_id: int | None = None  # a debunk registry entry this post matches
    extra: dict[str, Any] = field(default_factory=dict)
    post_version: int = 0  # which version of the post this describes (set by the store; 0 = not stored)
    grievance: float = 0.0  # [0, 1] a staff member's own complaint or request (诉求), see nlp.voice
    abuse: float = 0.0  # [0, 1] personal insult or harassment

    def reasons_for(self, score: str) -> list[Reason]:
        return [r for r in self.reasons if r.score == score]


# --------------------------------------------------------------------------- rules output
class Level(str, enum.Enum):
    """预警 levels, lowest first."""

    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"

    @property
    def label_zh(self) -> str:
        return {"yellow": "黄", "orange": "橙", "red": "红"}[self.value]

    @property
    def rank(self) -> int:
        return ["yellow", "orange", "red"].index(self.value)


class FlagStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REMOVED = "removed"


@dataclass
class Flag:
    """A rule fired on a post: the post waits in the review queue with this reason."""

    post_id: int
    rule: str
    reason: str  # 中文
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


class CaseKind(str, enum.Enum):
    RUMOUR = "rumour"
    FLOOD = "flood"
    SURGE = "surge"


class CaseState(str, enum.Enum):
    """The rumour-response loop: 疑似 → 核实中 → 已澄清 → 平息, or 误报."""

    SUSPECTED = "suspected"
    VERIFYING = "verifying"
    CLARIFIED = "clarified"
    SUBSIDED = "subsided"
    FALSE_ALARM = "false_alarm"

    @property
    def label_zh(self) -> str:
        return {"suspected": "疑似", "verifying": "核实中", "clarified": "已澄清", "subsided": "平息",
                "false_alarm": "误报"}[self.value]


@dataclass
class CaseResponse:
    """A leader's answer to a rumour: where they answered and what they said."""

    case_id: int
    username: str
    where: str  # e.g. 教职工QQ群、公众号留言区、学院例会
    text: str
    url: str = ""
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass
class Case:
    """Similar posts grouped: one rumour, one spam flood, one negative surge."""

    kind: CaseKind
    key: str  # stable grouping key (cluster id, rule + query key)
    title: str
    post_ids: list[int] = field(default_factory=list)
    status: str = "open"  # open | closed
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    id: int | None = None
    state: CaseState = CaseState.SUSPECTED
    clarified_at: datetime | None = None
    assignees: list[str] = field(default_factory=list)


class DeliveryState(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILING = "failing"  # still retried, with backoff


@dataclass
class Alert:
    """A warning for people: shown on the dashboard and delivered by notifiers via the outbox."""

    rule: str
    level: Level
    title: str  # 中文
    body: str  # 中文, no personal data
    dedupe_key: str  # alerts with the same key inside the rule's realert window are one alert
    post_ids: list[int] = field(default_factory=list)
    notifiers: list[str] = field(default_factory=list)  # names; empty = all configured
    created_at: datetime = field(default_factory=utcnow)
    case_id: int | None = None
    acknowledged_by: str | None = None
    id: int | None = None
    kind: str = "other"  # rumour | surge | spam | pii | collector | other: what routing goes by
    topics: list[str] = field(default_factory=list)  # what it is about (the posts' topics, most first)
    channels: list[str] = field(default_factory=list)  # where (channel ids)
    claimed_by: str | None = None  # who took it on (认领)
    claimed_at: datetime | None = None
    escalated: int = 0  # escalation tiers already notified
    raised_at: datetime | None = None  # wall-clock time it was raised (created_at is the posts' time)
    hold_until: datetime | None = None  # quiet hours: deliveries wait until then (not stored on the row)
    # who routing chose, written with the alert: (notifier, recipient username or "", why); None (not
    # routed): each of `notifiers` once (not stored on the alert row: the outbox rows are the record)
    routes: list[tuple[str, str, str]] | None = None
    acknowledged_at: datetime | None = None  # when `acknowledged_by` confirmed it (确认)


ALERT_KINDS_ZH = {"rumour": "传言", "surge": "负面激增", "spam": "垃圾广告", "pii": "个人信息泄露",
                  "collector": "渠道故障", "other": "其他"}


@dataclass
class Debunk:
    """An entry of the debunk registry (辟谣库): a claim the union has already clarified.
    New posts that match the claim carry the official clarification with them."""

    claim: str  # the rumour as people tell it, e.g. "下月起绩效工资砍掉三成"
    clarification: str  # the union's answer, with the facts
    keywords: list[str] = field(default_factory=list)  # extra match terms
    source_url: str = ""  # the official notice
    active: bool = True
    created_by: str = "system"
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


# --------------------------------------------------------------------------- people
class Role(str, enum.Enum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    OFFICER = "officer"
    LEADER = "leader"

    @property
    def label_zh(self) -> str:
        return {"admin": "管理员", "moderator": "审核员", "officer": "工会干部", "leader": "意见领袖"}[
            self.value
        ]


class Action(str, enum.Enum):
    APPROVE = "approve"
    REMOVE = "remove"


class ReasonCode(str, enum.Enum):
    """Why a moderator decided as they did; doubles as a training label."""

    SPAM = "spam"
    RUMOUR = "rumour"
    ABUSE = "abuse"
    PRIVACY = "privacy"
    OFF_TOPIC = "off_topic"
    FALSE_POSITIVE = "false_positive"
    OK = "ok"

    @property
    def label_zh(self) -> str:
        return REASON_CODE_LABELS_ZH[self.value]


# the codes of a removal (the others, ok and false_positive, approve)
REMOVE_REASONS = (ReasonCode.SPAM, ReasonCode.RUMOUR, ReasonCode.ABUSE, ReasonCode.PRIVACY, ReasonCode.OFF_TOPIC)

REASON_CODE_LABELS_ZH = {
    "spam": "垃圾广告",
    "rumour": "谣言/不实信息",
    "abuse": "辱骂攻击",
    "privacy": "泄露个人信息",
    "off_topic": "无关内容",
    "false_positive": "误报",
    "ok": "内容正常",
}


AUTO_MODERATOR_PREFIX = "auto:"  # Decision.moderator of a rule's automatic removal: "auto:<rule name>"


@dataclass
class Decision:
    """A moderator's answer to a flagged post, or a rule's automatic removal (moderator "auto:<rule>")."""

    post_id: int
    moderator: str
    action: Action
    reason_code: ReasonCode
    note: str = ""
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @property
    def auto_rule(self) -> str | None:
        """The rule that removed the post automatically, or None for a person's decision."""
        return self.moderator[len(AUTO_MODERATOR_PREFIX):] if self.moderator.startswith(AUTO_MODERATOR_PREFIX) else None

    @property
    def by_zh(self) -> str:
        rule = self.auto_rule
        return f"自动审核（规则 {rule}）" if rule is not None else self.moderator


class WriteBackState(str, enum.Enum):
    PENDING = "pending"
    FAILING = "failing"  # still retried, with backoff
    SENT = "sent"  # the platform accepted it
    REFUSED = "refused"  # the platform said no for good (e.g. the comment is already gone)


WRITEBACK_ACTIONS_ZH = {"delete": "在平台上删除", "ban": "禁言作者", "reply": "官方回复", "elect": "精选评论"}


@dataclass
class WriteBack:
    """An action on the platform a post came from, asked for by a moderator or a leader: delete the
    comment, mute its author, post the union's official reply. Queued, then carried out by the
    collector of that channel (collectors/writeback.py), with the platform's answer kept."""

    post_id: int
    collector: str  # the channel's configured name (Post.raw["_collector"])
    action: str  # delete | ban | reply | elect
    requested_by: str
    payload: dict[str, Any] = field(default_factory=dict)
    state: WriteBackState = WriteBackState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    result: str = ""
    created_at: datetime = field(default_factory=utcnow)
    done_at: datetime | None = None
    id: int | None = None

    @property
    def action_zh(self) -> str:
        return WRITEBACK_ACTIONS_ZH.get(self.action, self.action)


@dataclass
class AuditEvent:
    """Append-only record of who did what. `detail` never holds personal data in clear."""

    actor: str  # username, or "system"
    action: str  # e.g. "decision.remove", "login.ok", "login.fail", "user.create"
    target: str = ""  # e.g. "post:42"
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)
    id: int | None = None


ROUTES = ("email", "wecom", "dingtalk", "feishu")  # the contact routes a personal notifier may use


@dataclass
class User:
    username: str
    role: Role
    password_hash: str
    active: bool = True
    id: int | None = None
    # contact routes (personal data: shown to admins and the user only)
    email: str = ""
    wecom_userid: str = ""
    dingtalk_userid: str = ""
    feishu_userid: str = ""
    # subscriptions: what the user is told about (empty topic or channel lists: all)
    topics: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    min_level: Level = Level.YELLOW
    # reports mailed to the user: "daily" / "weekly" / "monthly" (dashboard.report.PERIOD_ZH)
    reports: list[str] = field(default_factory=list)
    # moderators: the channels whose posts they review and decide (empty: every channel); set by an admin
    review_channels: list[str] = field(default_factory=list)

    @property
    def review_scope(self) -> list[str] | None:
        """The channels this user reviews; None for every channel (admins, and users not limited)."""
        return None if self.role is Role.ADMIN or not self.review_channels else list(self.review_channels)

    def reviews(self, channel: str) -> bool:
        """Whether this user's review scope includes `channel`."""
        scope = self.review_scope
        return scope is None or channel in scope

    def address(self, route: str) -> str:
        """The user's address on a contact route ("" when they have none)."""
        return {"email": self.email, "wecom": self.wecom_userid, "dingtalk": self.dingtalk_userid,
                "feishu": self.feishu_userid}.get(route, "")

    def subscribed(self, level: Level, topics: list[str], channels: list[str]) -> bool:
        """Whether an alert of this level, about these topics, in these channels is for this user."""
        return (level.rank >= self.min_level.rank
                and (not self.topics or bool(set(self.topics) & set(topics)))
                and (not self.channels or bool(set(self.channels) & set(channels))))


# --------------------------------------------------------------------------- reports
REPORT_PERIODS_ZH = {"daily": "日报", "weekly": "周报", "monthly": "月报"}  # 舆情报告 kinds (dashboard.report)


# --------------------------------------------------------------------------- channels
CHANNEL_LABELS_ZH = {
    "wechat": "微信公众号",
    "weibo": "微博",
    "qq": "QQ群",
    "board": "建言献策",
    "douyin": "抖音",
    "portal": "门户网站",
    "proposal": "电子提案",
}


def channel_label(channel: str) -> str:
    """The Chinese display name of a channel id (the id itself when unknown)."""
    return CHANNEL_LABELS_ZH.get(channel, channel)
