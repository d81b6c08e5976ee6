"""The store contract. Every backend (SQLite by default, a search cluster for scale-out) implements
this class, and no other stage touches a database directly.

Invariants every backend keeps:
- Posts are keyed by (channel, source_id). Ingesting the same post again changes nothing; a post
  whose text changed gets a new version and its earlier versions are kept.
- `ingest` saves posts, dead letters and the collector's checkpoint atomically: after a crash either
  all of them are there or none, so a collector that resumes from its checkpoint neither loses nor
  duplicates a post.
- Each post version is analysed once (`posts_to_analyze` / `save_analyses`) and seen by the rules
  once (`posts_for_rules` / `commit_rule_results`), again atomically with what the rules produced.
- Times are timezone-aware datetimes; backends store them in UTC.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from core.domain import (
    Alert,
    Analysis,
    AuditEvent,
    Case,
    Debunk,
    Decision,
    DeliveryState,
    Flag,
    FlagStatus,
    Post,
    ReasonCode,
    Role,
    User,
    WriteBack,
    WriteBackState,
    CaseResponse,
    CaseState,
)


@dataclass
class DeadLetter:
    """A record that could not be ingested, with the reason (中文)."""

    source: str  # where it came from, e.g. "inbox/comments.jsonl:17"
    raw: str  # the record as received
    error: str
    channel: str | None = None
    created_at: datetime | None = None
    id: int | None = None


@dataclass
class IngestResult:
    new: int = 0
    updated: int = 0  # an edited post: a new version
    unchanged: int = 0
    dead: int = 0
    ignored: int = 0  # erased on request, or older than what retention has deleted: not stored again

    def __iadd__(self, other: "IngestResult") -> "IngestResult":
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.dead += other.dead
        self.ignored += other.ignored
        return self


@dataclass
class Erasure:
    """What `erase_author` removed. `rows`: rows deleted or rewritten per table. `sources`: the
    erased texts in the forms they may be quoted elsewhere, for cleaning files outside the store
    (archived reports); never logged, never audited."""

    posts: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


@dataclass
class PostVersion:
    version: int
    text: str
    seen_at: datetime


@dataclass
class QueueItem:
    """A flagged post as the review queue shows it."""

    post: Post
    analysis: Analysis | None
    flags: list[Flag]
    status: FlagStatus
    decision: Decision | None = None


@dataclass
class AuthorHistory:
    """One author in one channel, as moderation has seen them (the author's history page)."""

    posts: int
    flagged: int
    pending: int
    removed: int
    approved: int
    removal_requests: int
    first_at: datetime | None
    last_at: datetime | None
    rules: list[tuple[str, int]] = field(default_factory=list)  # (rule, posts it flagged)
    platform_actions: list[tuple[str, str, int]] = field(default_factory=list)  # (action, state, count)


@dataclass
class SavedFilter:
    """A user's named filter of a page: the query string to open it with."""

    username: str
    page: str
    name: str
    query: str
    id: int | None = None


@dataclass
class ReportMail:
    """One archived report (period kind and first day) to one subscriber: a row of the report mail outbox.
    `state`: pending, failing (retried), sent, dropped (nothing to retry)."""

    period: str
    start: date
    username: str
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    sent_at: datetime | None = None
    id: int | None = None


@dataclass
class Delivery:
    """One alert to one notifier (for one recipient, for a personal notifier): a row of the outbox."""

    alert_id: int
    notifier: str
    recipient: str = ""  # a username for a personal notifier; "" for a group notifier
    reason: str = ""  # why routing chose it: the route's name, 升级, …
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    sent_at: datetime | None = None
    id: int | None = None


@dataclass
class DayCount:
    """Analysed posts of one local day, channel, topic ('' for none) and sentiment (the dashboard's rollup)."""

    day: date
    channel: str
    topic: str
    sentiment: str
    n: int
    polarity: float  # summed over the posts


@dataclass
class CaseLine:
    """A case opened in a period, as the dashboard's case timeline shows it."""

    id: int
    kind: str
    title: str
    state: str
    status: str
    created_at: datetime
    posts: int
    first_answer_at: datetime | None
    clarified_at: datetime | None


@dataclass
class SeriesPoint:
    """Sentiment counts in one time bucket (bucket start, aware)."""

    start: datetime
    pos: int = 0
    neu: int = 0
    neg: int = 0
    polarity_sum: float = 0.0

    @property
    def total(self) -> int:
        return self.pos + self.neu + self.neg

    @property
    def avg_polarity(self) -> float:
        return self.polarity_sum / self.total if self.total else 0.0


@dataclass
class SessionRecord:
    """A dashboard sign-in, kept server-side (the cookie only carries a random token)."""

    token_hash: str  # sha256 hex of the cookie token
    username: str
    created_at: datetime
    last_seen: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    net: str = ""

    def valid_at(self, now: datetime, idle: Any = None) -> bool:
        """Not revoked, not past its absolute end, and (with `idle`, a timedelta) used recently."""
        if self.revoked_at is not None or now >= self.expires_at:
            return False
        return idle is None or now - self.last_seen < idle


@dataclass
class ApiToken:
    """A read-only API client: its name, scopes and state (the token itself is never stored)."""

    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass
class Quarantined:
    """A post version set aside by a stage (analyze, rules) after failing it repeatedly."""

    stage: str
    post_id: int
    version: int
    attempts: int
    error: str
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class LeaseState:
    """Who holds a lease between service instances, and until when (see core/lease.py)."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime

    def held_by(self, holder: str, now: datetime) -> bool:
        return self.holder == holder and now < self.expires_at


@dataclass
class RuleResults:
    """What one rules pass produced, committed together with the rules cursor."""

    seen: list[tuple[int, int]] = field(default_factory=list)  # (post_id, version) consumed
    flags: list[Flag] = field(default_factory=list)
    # posts a rule removes without review: (post_id, rule, reason code, when); a person's decision wins
    removals: list[tuple[int, str, ReasonCode, datetime]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)  # upserted by (kind, key)
    alert_case: dict[int, tuple[str, str]] = field(default_factory=dict)  # alert index -> case (kind, key)


class Store(abc.ABC):
    """Persistence for every stage. Methods are safe to call from several threads."""

    # ---- lifecycle
    @abc.abstractmethod
    def migrate(self, progress: Any = None) -> list[str]:
        """Bring the schema up to date; return the names of the migrations applied."""

    @abc.abstractmethod
    def close(self) -> None: ...

    # ---- ingestion
    @abc.abstractmethod
    def ingest(
        self,
        collector: str,
        posts: Sequence[Post],
        checkpoint: str | None,
        dead: Sequence[DeadLetter] = (),
    ) -> IngestResult:
        """Upsert posts, record dead letters and set `collector`'s checkpoint, in one transaction.
        `checkpoint=None` leaves the checkpoint as it was."""

    @abc.abstractmethod
    def checkpoint(self, collector: str) -> str | None: ...

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]: ...

    # ---- posts
    @abc.abstractmethod
    def get_post(self, post_id: int) -> Post | None: ...

    @abc.abstractmethod
    def find_post(self, channel: str, source_id: str) -> Post | None: ...

    @abc.abstractmethod
    def posts_by_ids(self, ids: Sequence[int]) -> dict[int, Post]:
        """Posts by store id (missing ids are left out)."""

    @abc.abstractmethod
    def analyses_by_ids(self, ids: Sequence[int]) -> dict[int, Analysis]:
        """Current analyses by post id (posts not analysed yet are left out)."""

    @abc.abstractmethod
    def post_versions(self, post_id: int) -> list[PostVersion]:
        """Earlier versions of an edited post, oldest first (the current text is on the Post)."""

    @abc.abstractmethod
    def search(self, query: str, limit: int = 50, offset: int = 0,
               channels: Sequence[str] | None = None) -> list[Post]:
        """Full-text search over post text (Chinese word-aware), most recently stored first; `channels`
        limits it."""

    @abc.abstractmethod
    def author_posts(self, channel: str, author: str, before_id: int | None = None, limit: int = 20) -> list[Post]:
        """One author's posts in a channel, newest first, below `before_id` (keyset)."""

    @abc.abstractmethod
    def author_history(self, channel: str, author: str) -> AuthorHistory:
        """Counts of one author's posts, flags, decisions and platform actions in a channel."""

    # ---- the report mail outbox
    @abc.abstractmethod
    def enqueue_report_mails(self, period: str, start: date, usernames: Sequence[str], at: datetime) -> int:
        """Queue a report for each user (once per period and user); returns how many were new."""

    @abc.abstractmethod
    def report_mails_exist(self, period: str, start: date) -> bool: ...

    @abc.abstractmethod
    def due_report_mails(self, now: datetime, limit: int = 20) -> list[ReportMail]: ...

    @abc.abstractmethod
    def report_mails(self, period: str, start: date) -> list[ReportMail]: ...

    @abc.abstractmethod
    def report_mail_done(self, mail_id: int, state: str, at: datetime, note: str = "") -> None: ...

    @abc.abstractmethod
    def report_mail_failed(self, mail_id: int, error: str, next_attempt_at: datetime) -> None: ...

    # ---- saved filters
    @abc.abstractmethod
    def saved_filters(self, username: str, page: str) -> list[SavedFilter]: ...

    @abc.abstractmethod
    def save_filter(self, f: SavedFilter, limit: int) -> SavedFilter:
        """Add or replace (same user, page and name) a saved filter; ValueError past `limit` per page."""

    @abc.abstractmethod
    def delete_filter(self, username: str, filter_id: int) -> bool: ...

    # ---- analysis
    @abc.abstractmethod
    def posts_to_analyze(self, limit: int, skip_after: int | None = None) -> list[Post]:
        """Post versions not analysed yet, oldest `created_at` first. With `skip_after`, versions
        that failed analysis that many times (the quarantine) are left out."""

    @abc.abstractmethod
    def save_analyses(self, pairs: Sequence[tuple[Post, Analysis]]) -> None:
        """Store analyses for the given post versions (and index them for search)."""

    @abc.abstractmethod
    def get_analysis(self, post_id: int) -> Analysis | None: ...

    # ---- rules
    @abc.abstractmethod
    def grievance_leads(self, since: datetime, until: datetime, min_score: float = 0.5, topic: str | None = None,
                        before: tuple[datetime, int] | None = None, limit: int = 50, state: str | None = None,
                        channel: str | None = None) -> list[tuple[Post, Analysis]]:
        """提案线索: posts of the period whose grievance score is at least `min_score`, newest first;
        `before` = (created_at, id) of the last row shown continues the list (keyset pagination);
        `state`: "open" (nothing done yet), "proposal", "handled", or None for all; `channel` narrows it."""

    # ---- the officers' dashboard: rollups kept as analyses are saved, and period-bounded reads
    @abc.abstractmethod
    def daily_counts(self, first: date, last: date, channel: str | None = None) -> list[DayCount]:
        """Analysed posts per local day (first..last inclusive), channel, topic and sentiment."""

    @abc.abstractmethod
    def top_words(self, first: date, last: date, channel: str | None = None, limit: int = 100) -> list[tuple[str, int]]:
        """The most frequent keywords of non-spam posts of the local days first..last, with counts."""

    @abc.abstractmethod
    def rollup_channels(self, first: date, last: date) -> list[str]:
        """Channels with analysed posts in the local days first..last."""

    @abc.abstractmethod
    def drill_posts(self, since: datetime, until: datetime, *, channel: str | None = None, topic: str | None = None,
                    word: str | None = None, sentiment: str | None = None, before: tuple[datetime, int] | None = None,
                    limit: int = 20, scan: int = 20_000
                    ) -> tuple[list[tuple[Post, Analysis]], tuple[datetime, int] | None]:
        """Analysed posts of [since, until) matching the filters (topic '' = none; word = one of its
        keywords, spam left out), newest first after `before`. Looks at no more than `scan` posts of
        the period: with fewer than `limit` found, also returns where to go on looking (or None)."""

    @abc.abstractmethod
    def moderation_times(self, since: datetime, until: datetime, channel: str | None = None
                         ) -> list[tuple[datetime, datetime | None, bool]]:
        """Decisions made in [since, until): (decided at, the post's first flag at, made by a rule)."""

    @abc.abstractmethod
    def flag_times(self, since: datetime, until: datetime, channel: str | None = None) -> list[datetime]:
        """First flag times of the posts flagged in [since, until)."""

    @abc.abstractmethod
    def cases_opened(self, since: datetime, until: datetime, channel: str | None = None, limit: int = 50
                     ) -> list[CaseLine]:
        """Cases opened in [since, until), newest first, with size and first answer."""

    @abc.abstractmethod
    def set_lead_state(self, post_id: int, state: str | None, note: str, by: str, audit: AuditEvent) -> None:
        """Record what an officer did with a lead (None: open again), with its audit event."""

    @abc.abstractmethod
    def lead_states(self, post_ids: Sequence[int]) -> dict[int, tuple[str, str, str, datetime]]:
        """post id → (state, note, by, at) for the leads that have one."""

    @abc.abstractmethod
    def grievance_topics(self, since: datetime, until: datetime, min_score: float = 0.5) -> list[tuple[str, int]]:
        """(topic, number of leads) in the period, most first; posts without a topic under ""."""

    @abc.abstractmethod
    def posts_for_rules(self, limit: int, skip_after: int | None = None) -> list[tuple[Post, Analysis]]:
        """Analysed post versions the rules have not seen, oldest `created_at` first. With
        `skip_after`, versions that made the rules fail that many times are left out."""

    @abc.abstractmethod
    def recent_analyzed(
        self, since: datetime, until: datetime | None = None, ruled_only: bool = False
    ) -> list[tuple[Post, Analysis]]:
        """Analysed posts with since <= created_at < until, oldest first. `ruled_only`: just those the
        rules have already seen (rules warm their windows with these after a restart)."""

    @abc.abstractmethod
    def commit_rule_results(self, results: RuleResults) -> list[Alert]:
        """Save flags, cases and alerts and advance the rules cursor, in one transaction. Each
        alert is queued in the outbox for each of its notifiers. Returns the alerts with ids."""

    @abc.abstractmethod
    def last_alert_at(self, dedupe_key: str) -> datetime | None:
        """When an alert with this de-duplication key was last raised (for realert windows)."""

    # ---- review queue and decisions
    @abc.abstractmethod
    def review_queue(
        self,
        status: FlagStatus = FlagStatus.PENDING,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[QueueItem]:
        """Flagged posts in a status, most recently flagged first."""

    @abc.abstractmethod
    def review_page(self, status: FlagStatus = FlagStatus.PENDING, channels: Sequence[str] | None = None,
                    rule: str | None = None, after: tuple[datetime, int] | None = None,
                    limit: int = 20) -> list[tuple[datetime, QueueItem]]:
        """A keyset page of the queue: (flagged_at, item), most recently flagged first, after the
        (flagged_at, post id) of the previous page's last row."""

    @abc.abstractmethod
    def queue_rules(self, status: FlagStatus = FlagStatus.PENDING) -> list[tuple[str, int]]:
        """(rule, posts flagged) with flags in `status`."""

    @abc.abstractmethod
    def queue_item(self, post_id: int) -> QueueItem | None: ...

    @abc.abstractmethod
    def queue_items(self, post_ids: Sequence[int]) -> dict[int, QueueItem]:
        """post id -> the flagged ones among `post_ids`, each in its current status."""

    @abc.abstractmethod
    def queue_count(self, status: FlagStatus = FlagStatus.PENDING, channel: str | Sequence[str] | None = None,
                    rule: str | None = None) -> int: ...

    @abc.abstractmethod
    def decide(self, decision: Decision, audit: AuditEvent, writebacks: Sequence[WriteBack] = ()) -> Decision:
        """Record a moderator decision, set the post's flags to approved/removed, append the audit
        event and queue the write-backs it asks for (delete on the platform, mute), in one transaction."""

    def decide_many(self, decisions: Sequence[tuple[Decision, AuditEvent]]) -> list[Decision]:
        """Several decisions, each as `decide` records it (no write-backs), written together: a backend
        sends them in a few round trips instead of a few per decision (copies, bulk actions)."""
        return [self.decide(d, audit) for d, audit in decisions]

    @abc.abstractmethod
    def request_removal(self, post_id: int, by: str, reason_code: str, note: str, audit: AuditEvent) -> None:
        """The first step of a two-person removal (see dashboard.review.needs_second_moderator)."""

    @abc.abstractmethod
    def removal_requests(self, post_ids: Sequence[int]) -> dict[int, tuple[str, str, str, datetime]]:
        """post id → (requested_by, reason_code, note, at) of pending removal requests."""

    @abc.abstractmethod
    def rule_outcomes(self) -> dict[str, tuple[int, int, int]]:
        """Per rule: (posts it flagged, of those decided by a moderator, of those removed). Removed ÷
        decided is the rule's precision: the share of its flags moderators upheld."""

    @abc.abstractmethod
    def decisions(self, since: datetime | None = None) -> list[Decision]:
        """Moderator decisions, oldest first (these are training labels too)."""

    # ---- cases and alerts
    @abc.abstractmethod
    def cases(self, kind: str | None = None, status: str | None = "open", limit: int = 50) -> list[Case]: ...

    @abc.abstractmethod
    def get_case(self, case_id: int) -> Case | None: ...

    @abc.abstractmethod
    def case_alerts(self, case_id: int, limit: int = 50) -> list[Alert]:
        """Alerts raised about a case, newest first."""

    @abc.abstractmethod
    def alerts(self, limit: int = 50, offset: int = 0, level: str | None = None) -> list[Alert]: ...

    @abc.abstractmethod
    def get_alert(self, alert_id: int) -> Alert | None: ...

    @abc.abstractmethod
    def acknowledge_alert(self, alert_id: int, audit: AuditEvent) -> bool:
        """确认: `audit.actor` has seen the alert (first one counts, with the time; False, and nothing
        audited, if it was already acknowledged)."""

    @abc.abstractmethod
    def alerts_notified(self, username: str, open_only: bool = True, limit: int = 50) -> list[Alert]:
        """Alerts with a delivery to this person, newest first; `open_only`: those nobody has
        acknowledged or claimed yet (their inbox)."""

    @abc.abstractmethod
    def claim_alert(self, alert_id: int, audit: AuditEvent) -> bool:
        """认领: `audit.actor` takes the alert on (first one wins; False, and nothing audited, if it was
        already claimed)."""

    @abc.abstractmethod
    def alerts_to_escalate(self, levels: Sequence[str], raised_before: datetime, tier: int,
                           limit: int = 100) -> list[Alert]:
        """Alerts of these levels raised before `raised_before`, neither acknowledged nor claimed,
        whose escalation has not reached `tier` yet."""

    @abc.abstractmethod
    def add_deliveries(self, alert_id: int, routes: Sequence[tuple[str, str, str]], at: datetime,
                       audit: AuditEvent | None = None, escalated: int | None = None) -> int:
        """Queue more deliveries (notifier, recipient, reason) of an existing alert (escalation),
        setting its escalation tier when given; existing ones are kept. Returns how many were new."""

    # ---- the rumour-response loop
    @abc.abstractmethod
    def set_case_state(self, case_id: int, state: "CaseState", audit: AuditEvent,
                       expect: "CaseState | None" = None) -> bool:
        """Move a case to `state` (closed for 平息 and 误报, open otherwise; the first 已澄清 sets
        `clarified_at` to `audit.at`) and append the audit event. With `expect`, only if the case is in
        that state now (nothing changes and nothing is audited otherwise). True if it was changed."""

    @abc.abstractmethod
    def case_post_times(self, case_id: int) -> list[datetime]:
        """When each of the case's posts was written (`created_at`), oldest first."""

    @abc.abstractmethod
    def cases_to_subside(self, quiet_since: datetime, limit: int = 100) -> list[Case]:
        """Cases in 已澄清 clarified no later than `quiet_since` whose newest post is no newer than it."""

    @abc.abstractmethod
    def assign_case(self, case_id: int, usernames: Sequence[str], audit: AuditEvent) -> None:
        """Add leaders to a case (existing assignees stay)."""

    @abc.abstractmethod
    def add_case_response(self, response: "CaseResponse", audit: AuditEvent) -> "CaseResponse": ...

    @abc.abstractmethod
    def case_responses(self, case_id: int) -> list["CaseResponse"]: ...

    @abc.abstractmethod
    def cases_assigned(self, username: str, open_only: bool = True) -> list[Case]:
        """Cases a leader is assigned to, most recently updated first (their inbox)."""

    # ---- debunk registry
    @abc.abstractmethod
    def debunks(self, active_only: bool = True) -> list[Debunk]: ...

    @abc.abstractmethod
    def get_debunk(self, debunk_id: int) -> Debunk | None: ...

    @abc.abstractmethod
    def save_debunk(self, debunk: Debunk, audit: AuditEvent) -> Debunk:
        """Insert (id None) or update a debunk entry and append the audit event."""

    # ---- outbox
    @abc.abstractmethod
    def due_deliveries(self, now: datetime, limit: int = 50) -> list[Delivery]: ...

    @abc.abstractmethod
    def deliveries(self, alert_id: int) -> list[Delivery]: ...

    @abc.abstractmethod
    def failing_notifiers(self, min_attempts: int) -> list[tuple[str, int, str]]:
        """(notifier, deliveries waiting, latest error) for notifiers with a delivery that failed at
        least `min_attempts` times in a row (for /healthz)."""

    @abc.abstractmethod
    def delivery_sent(self, delivery_id: int, at: datetime, note: str = "") -> None:
        """Done (`note`: what the platform said, e.g. recipients it could not reach)."""

    @abc.abstractmethod
    def postpone_delivery(self, delivery_id: int, until: datetime) -> None:
        """Not yet (a digest's next time): move it without counting an attempt."""

    @abc.abstractmethod
    def digest_deliveries(self, notifier: str, recipient: str) -> list[Delivery]:
        """The unsent batched (digest) deliveries of one notifier and recipient, oldest first."""

    @abc.abstractmethod
    def last_digest_at(self, notifier: str, recipient: str) -> datetime | None: ...

    @abc.abstractmethod
    def delivery_failed(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None: ...

    # ---- people and audit
    @abc.abstractmethod
    def add_user(self, user: User) -> User:
        """Create a user; raises ValueError if the name is taken."""

    @abc.abstractmethod
    def set_password(self, username: str, password_hash: str) -> None: ...

    @abc.abstractmethod
    def update_user(self, username: str, audit: AuditEvent, *, role: Role | None = None,
                    active: bool | None = None) -> None:
        """Change a user's role and/or active flag and append the audit event; ValueError if absent."""

    @abc.abstractmethod
    def update_profile(self, username: str, audit: AuditEvent, **fields: Any) -> None:
        """Change a user's contact routes (email, wecom_userid, dingtalk_userid, feishu_userid) and
        subscriptions (topics, channels, min_level) and append the audit event; ValueError if absent."""

    @abc.abstractmethod
    def get_user(self, username: str) -> User | None: ...

    @abc.abstractmethod
    def users(self) -> list[User]: ...

    @abc.abstractmethod
    def audit(self, event: AuditEvent) -> None: ...

    def audit_batch(self, events: Sequence[AuditEvent]) -> None:
        """Append many events at once, in order (their ids are set); a backend writes them together."""
        for event in events:
            self.audit(event)

    @abc.abstractmethod
    def audit_page(self, after_id: int, limit: int) -> list[AuditEvent]:
        """Events with an id above `after_id`, oldest first (the audit log read in order, for copies)."""

    # ---- sessions (server-side, so logout and password changes end them)
    @abc.abstractmethod
    def create_session(self, record: SessionRecord) -> None: ...

    @abc.abstractmethod
    def get_session(self, token_hash: str) -> SessionRecord | None: ...

    @abc.abstractmethod
    def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record that the session was used at `at` (for the idle timeout)."""

    @abc.abstractmethod
    def revoke_session(self, token_hash: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def revoke_user_sessions(self, username: str, at: datetime) -> int:
        """End every open session of a user (password change, deactivation); returns how many."""

    # ---- pushed events (a durable queue a listener fills and a collector reads like a file)
    @abc.abstractmethod
    def period_stats(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Aggregates of one report period, all bounded by it: posts and negative posts by channel and
        by topic, flags and removals, alerts by level, grievance leads, the response times in minutes
        of people's decisions (from the post's first flag), rules' automatic removals, and the rumour
        cases active in it."""

    @abc.abstractmethod
    def add_api_token(self, token: ApiToken, token_hash: str, audit: AuditEvent) -> ApiToken:
        """Store a new API client (names are unique: ValueError if taken), with its audit event."""

    @abc.abstractmethod
    def api_token(self, token_hash: str) -> ApiToken | None:
        """The client a presented token belongs to (revoked ones included: the caller checks)."""

    @abc.abstractmethod
    def api_tokens(self) -> list[ApiToken]: ...

    @abc.abstractmethod
    def revoke_api_token(self, name: str, audit: AuditEvent) -> bool:
        """Revoke a client's token; False when there is no active client of that name."""

    @abc.abstractmethod
    def touch_api_token(self, token_hash: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def alerts_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Alert]:
        """Alerts raised from `since`, oldest first, after the (created_at, id) cursor (API, exports)."""

    @abc.abstractmethod
    def decisions_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Decision]:
        """Moderator decisions from `since`, oldest first, after the (created_at, id) cursor."""

    @abc.abstractmethod
    def posts_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int
                   ) -> list[tuple[Post, Analysis | None]]:
        """Posts created at or after `since`, oldest first, continuing after (created_at, id)."""

    @abc.abstractmethod
    def push_inbound(self, collector: str, payloads: Sequence[str], at: datetime) -> list[int]:
        """Store pushed events (raw text) for `collector`; returns their ids, in order. Durable when
        this returns: only then may the listener answer the platform."""

    @abc.abstractmethod
    def inbound(self, collector: str, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, payload) of `collector`'s pushed events after `after_id`, oldest first."""

    @abc.abstractmethod
    def prune_inbound(self, collector: str, up_to_id: int, received_before: datetime) -> int:
        """Forget `collector`'s pushed events up to `up_to_id` (already taken: their posts and the
        checkpoint are committed) received before `received_before` (recent ones stay, to look into a
        problem). Returns how many were removed."""

    # ---- leases between service instances (core/lease.py)
    @abc.abstractmethod
    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> LeaseState:
        """Atomically give lease `name` to `holder` until `now + ttl` if it is free, expired or
        already theirs (a renewal); otherwise change nothing. Returns who holds it afterwards."""

    @abc.abstractmethod
    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up (only its holder can); True if it was theirs."""

    @abc.abstractmethod
    def lease(self, name: str) -> LeaseState | None: ...

    # ---- write-back outbox (actions on the platforms)
    @abc.abstractmethod
    def queue_writeback(self, writeback: WriteBack, audit: AuditEvent) -> WriteBack:
        """Queue one write-back (due at once) and append the audit event, in one transaction."""

    @abc.abstractmethod
    def due_writebacks(self, now: datetime, limit: int = 20) -> list[WriteBack]: ...

    @abc.abstractmethod
    def writebacks_for(self, post_ids: Sequence[int]) -> dict[int, list[WriteBack]]:
        """Every write-back of these posts, oldest first, by post id."""

    @abc.abstractmethod
    def writeback_done(self, writeback_id: int, state: "WriteBackState", result: str, at: datetime,
                       audit: AuditEvent) -> None:
        """Sent or refused for good: keep the platform's answer and append the audit event."""

    @abc.abstractmethod
    def writeback_failed(self, writeback_id: int, error: str, next_attempt_at: datetime) -> None: ...

    # ---- quarantine (poison records)
    @abc.abstractmethod
    def quarantine_failure(self, stage: str, post_id: int, version: int, error: str, at: datetime) -> int:
        """Count one failure of `stage` on a post version; returns its failures so far."""

    @abc.abstractmethod
    def quarantined(self, stage: str | None = None, limit: int = 100, offset: int = 0,
                    min_attempts: int = 1) -> list[Quarantined]:
        """Post versions that failed a stage, newest failure first."""

    @abc.abstractmethod
    def release_quarantine(self, stage: str, post_id: int) -> bool:
        """Forget a post's failures in a stage so the stage tries it again; False if none."""

    @abc.abstractmethod
    def audit_log(self, limit: int = 100, offset: int = 0, actor: str | None = None) -> list[AuditEvent]:
        """Newest first."""

    # ---- privacy over time (core/privacy.py) and backups
    @abc.abstractmethod
    def redact_personal_data(self, before: datetime, limit: int = 500) -> int:
        """Replace in place the personal data of up to `limit` posts written before `before` that were
        analysed and seen by the rules (text, thread, author name, extras, earlier versions, the
        analysis' texts, the search index); the analysis keeps its PII spans. Returns how many."""

    @abc.abstractmethod
    def redact_dead_letters(self, before: datetime) -> int:
        """Redact the records of dead letters created before `before`; returns how many."""

    @abc.abstractmethod
    def purge_posts(self, before: datetime, limit: int = 2000) -> int:
        """Delete up to `limit` posts written before `before` with their versions, analyses, flags,
        decisions and every other row about them; their counts are kept as aggregates, which every
        count of posts below includes. Such a post ingested again is ignored. Returns how many."""

    @abc.abstractmethod
    def purge_dead_letters(self, before: datetime) -> int: ...

    @abc.abstractmethod
    def purge_leftovers(self, now: datetime, every: Any = None) -> bool:
        """Make what was deleted or redacted unrecoverable from the files (index segments, free
        pages, the write-ahead log); with `every` (a timedelta), at most that often. True if it ran."""

    @abc.abstractmethod
    def erase_author(self, author: str, channel: str | None, audit: AuditEvent) -> Erasure:
        """Erase every post of an author (on one channel or all) wherever it lives: posts, versions,
        analyses, search index, flags and decisions, case links and titles, alert texts and post lists,
        unsent deliveries of alerts left without a post, dead letters and pushed events; the posts'
        counts go to the aggregates, and the same posts fetched again are ignored. `audit` is appended
        in the same transaction with the counts (never the content) added to its detail."""

    @abc.abstractmethod
    def backup(self, target: str | Any, progress: Any = None) -> None:
        """Write a consistent snapshot of the whole store to `target` while it is in use."""

    # ---- aggregates for dashboards and health
    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """At least: posts, analyzed, flagged (posts ever flagged), pending (awaiting review),
        alerts, dead_letters, outbox_pending."""

    @abc.abstractmethod
    def metrics_snapshot(self) -> dict[str, Any]:
        """Cheap counts for /metrics: posts_by_channel (deleted posts included), dead_letters,
        review_queue (flag status → posts), analysis_backlog and analysis_backlog_age_seconds,
        alerts_by_level, deliveries ((notifier, state) → rows)."""

    @abc.abstractmethod
    def sentiment_series(
        self, since: datetime, until: datetime, bucket: str = "day", tz: str = "Asia/Shanghai",
        channel: str | None = None,
    ) -> list[SeriesPoint]:
        """Sentiment counts per hour or day bucket (in time zone `tz`), oldest first, no gaps."""

    @abc.abstractmethod
    def topic_counts(self, since: datetime, limit: int = 10) -> list[tuple[str, int, int]]:
        """(topic, posts, negative posts) since a time, biggest first."""

    @abc.abstractmethod
    def channel_counts(self) -> list[tuple[str, int]]: ...
