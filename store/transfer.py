"""Copying a store into another backend (`python -m store.migrate --to opensearch --hosts URL`).

The copy goes through the store contract on both sides, as a collector would: pages of posts (oldest
first, by (created_at, id)) are ingested into the target, then their analyses are saved, then the
position is written as the target's checkpoint of the collector `migrate:<source>`. Interrupted (Ctrl-C,
kill -9, a cluster node lost), the next run resumes after the last page whose analyses were saved; a
page done twice changes nothing (posts are keyed by channel and source id). Posts that were never
analysed are copied as they are and analysed by the service on the target.

An analysed post is copied as already seen by the rules (its rules cursor moved to the copied
version): the service on the target does not run the rules again over history, which would raise
old alerts a second time. Its moderation comes along (`copy_moderation`), so the review queue is the
same on the target: the rules' flags (with their times), the latest decision (moderator, action,
reason and time kept; an audit event `decision.migrate` on the target says it was copied), and a
pending removal request. A post analysed again on the target (edited after its last analysis) is
flagged by the target's rules instead. Dashboard users (with their password hashes, roles, contact
routes and subscriptions) and the debunk registry are copied after the posts (`copy_people`; a user
or debunk already in the target is left as it is), then the cases, open and closed (`copy_cases`:
their posts, state, assigned leaders and the leaders' responses), so the leaders' work goes on, and
then the alerts (`copy_alerts`: acknowledged, claimed, escalated, and their outbox: what was not sent
yet is sent by the target's service, what was sent is recorded as sent), and last the audit log
(`copy_audit`: every event, in order, its references moved to the target's ids). API clients are not
copied (their tokens are kept only as hashes: issue new ones), nor the earlier decisions of a post
decided twice (the copied audit log records them).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable, Hashable, Iterable, Iterator

from core.domain import Alert, AuditEvent, Case, CaseState, Decision, DeliveryState, Flag, Post, utcnow
from store.base import RuleResults, Store

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class TransferReport:
    copied: int = 0  # posts written to the target in this run
    analysed: int = 0  # of which with their analysis
    flagged: int = 0  # posts whose flags were copied (the review queue)
    decisions: int = 0  # decisions copied (the latest of each post)
    cases: int = 0  # cases copied (new in the target)
    users: int = 0  # dashboard users copied (new in the target)
    debunks: int = 0  # debunk registry entries copied (new in the target)
    alerts: int = 0  # alerts copied (new in the target)
    audit: int = 0  # audit events copied
    resumed_after: str | None = None  # the checkpoint this run started from
    seconds: float = 0.0


def collector_name(source: str) -> str:
    return f"migrate:{source}"


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    at, _, pid = text.rpartition("|")
    return datetime.fromisoformat(at), int(pid)


def copy_posts(source: Store, target: Store, *, source_name: str = "sqlite", batch: int = 1000,
               progress: Callable[[int], None] | None = None) -> TransferReport:
    """Copy every post of `source` (and its analysis) into `target`, resuming where an earlier run stopped."""
    started = time.perf_counter()
    name = collector_name(source_name)
    report = TransferReport(resumed_after=target.checkpoint(name))
    after = _cursor(report.resumed_after)
    # posts already waiting for analysis in the target (copied without one) come first in its
    # `posts_to_analyze`: a page's posts are found after them; counted once, then kept up to date
    backlog = _backlog(target)
    while True:
        page = source.posts_page(EPOCH, after, batch)
        if not page:
            break
        posts = [p for p, _ in page]
        target.ingest(name, [replace(p, id=None) for p in posts], None)  # the target numbers its posts
        # an analysis of an earlier version (edited since, not analysed again yet) is left behind
        analysed = [(p, a) for p, a in page if a is not None and a.post_version == p.version]
        if analysed:
            stored = {(p.channel, p.source_id): p for p in target.posts_to_analyze(len(posts) + backlog)}
            pairs = [(stored[(p.channel, p.source_id)], a) for p, a in analysed if (p.channel, p.source_id) in stored]
            known = {p.key: p.id for p, _ in pairs if p.id is not None}  # target ids the page has read
            target.save_analyses(pairs)
            # seen by the rules in the source: not ruled again on the target (no second alert about history)
            target.commit_rule_results(RuleResults(seen=[(p.id, p.version) for p, _ in pairs]))  # type: ignore[misc]
            report.analysed += len(pairs)
            # also after a resume (pairs then empty): what the target already has is not copied twice
            copy_moderation(source, target, [p for p, _ in analysed], report, source_name, known)
        backlog += len(posts) - len(analysed)
        last = posts[-1]
        after = (last.created_at, int(last.id or 0))
        target.ingest(name, [], f"{after[0].isoformat()}|{after[1]}")  # the page is done: move the checkpoint
        report.copied += len(posts)
        if progress:
            progress(report.copied)
    report.seconds = time.perf_counter() - started
    return report


def copy_moderation(source: Store, target: Store, posts: list[Post], report: TransferReport,
                    source_name: str = "sqlite", known: dict[tuple[str, str], int] | None = None) -> None:
    """The flags, the latest decision and a pending removal request of these source posts, onto the
    same posts in the target (`known`: target ids by post key already at hand; others are looked up).
    Each step is skipped where the target already has it (flags, a decision), so a page copied again
    after a crash adds nothing twice."""
    items = source.queue_items([p.id for p in posts if p.id is not None])
    if not items:
        return
    known = known or {}
    to_target: dict[int, int] = {}
    for pid in items:
        src = items[pid].post
        tid = known.get(src.key)
        if tid is None:
            found = target.find_post(src.channel, src.source_id)
            tid = found.id if found is not None else None
        if tid is not None:
            to_target[pid] = tid
    have = target.queue_items(list(to_target.values()))
    flags = [Flag(post_id=to_target[pid], rule=f.rule, reason=f.reason, created_at=f.created_at)
             for pid, item in items.items() if pid in to_target and to_target[pid] not in have for f in item.flags]
    if flags:
        target.commit_rule_results(RuleResults(flags=flags))
        report.flagged += len({f.post_id for f in flags})
        have = target.queue_items(list(to_target.values()))
    decisions = [(Decision(post_id=tid, moderator=d.moderator, action=d.action, reason_code=d.reason_code,
                           note=d.note, created_at=d.created_at),
                  AuditEvent("system", "decision.migrate", f"post:{tid}",
                             {"from": source_name, "moderator": d.moderator, "action": d.action.value,
                              "decided_at": d.created_at.isoformat()}))
                 for pid, item in items.items()
                 if (tid := to_target.get(pid)) is not None and (d := item.decision) is not None
                 and tid in have and have[tid].decision is None]
    target.decide_many(decisions)  # together: one by one, they took most of a copy's time on a cluster
    report.decisions += len(decisions)
    requests = source.removal_requests(list(items))
    if requests:
        pending = target.removal_requests([to_target[pid] for pid in requests if pid in to_target])
        for pid, (by, code, note, at) in requests.items():
            tid = to_target.get(pid)
            if tid is not None and tid not in pending:
                target.request_removal(tid, by, code, note,
                                       AuditEvent("system", "removal.migrate", f"post:{tid}",
                                                  {"from": source_name, "requested_by": by}, at=at))


def _backlog(target: Store) -> int:
    """Posts waiting for analysis in the target."""
    counts = target.counts()
    return max(0, int(counts.get("posts", 0)) - int(counts.get("analyzed", 0)))


def copy_people(source: Store, target: Store, report: TransferReport) -> None:
    """Dashboard users and the debunk registry; what the target already has is left as it is."""
    from dataclasses import replace as copy_of

    for user in source.users():
        if target.get_user(user.username) is None:
            try:
                target.add_user(copy_of(user, id=None))
                report.users += 1
            except ValueError:  # added meanwhile (another run): theirs stays
                pass
    known = {(d.claim, d.clarification) for d in target.debunks(active_only=False)}
    for d in source.debunks(active_only=False):
        if (d.claim, d.clarification) not in known:
            target.save_debunk(copy_of(d, id=None), AuditEvent("system", "debunk.migrate", "", {"from": "sqlite"}))
            report.debunks += 1


def copy_cases(source: Store, target: Store, report: TransferReport, source_name: str = "sqlite") -> None:
    """Every case of the source (open and closed), onto the copied posts: created in the target where it
    has no case of that kind and key, then brought to the source's state (through 已澄清 first when the
    source was clarified, so `clarified_at` is kept), leaders and responses, each step only where the
    target lacks it (a run cut half-way is completed by the next, nothing is added twice). Run after
    `copy_posts`: a post not copied yet is left out of its case."""
    def audit(action: str, case_id: int, at: datetime | None = None, **detail: str) -> AuditEvent:
        return AuditEvent("system", action, f"case:{case_id}", {"from": source_name, **detail}, at=at or utcnow())

    def move(mine: Case, state: CaseState, at: datetime) -> Case:
        assert mine.id is not None
        target.set_case_state(mine.id, state, audit("case.migrate", mine.id, at, state=state.value))
        return target.get_case(mine.id) or mine

    existing = {(c.kind, c.key): c for c in target.cases(status=None, limit=1_000_000)}
    for cs in reversed(source.cases(status=None, limit=1_000_000)):  # oldest first
        mine = existing.get((cs.kind, cs.key))
        if mine is None:
            posts = source.posts_by_ids(cs.post_ids)
            found = (target.find_post(p.channel, p.source_id) for p in posts.values())
            new = Case(kind=cs.kind, key=cs.key, title=cs.title, post_ids=[p.id for p in found if p and p.id],
                       created_at=cs.created_at)
            target.commit_rule_results(RuleResults(cases=[new]))
            report.cases += 1
            mine = target.get_case(new.id) if new.id is not None else None
            if mine is None:
                continue
        assert mine.id is not None and cs.id is not None
        if cs.clarified_at is not None and mine.clarified_at is None and mine.status == "open":
            mine = move(mine, CaseState.CLARIFIED, cs.clarified_at)
        if cs.state is not mine.state and mine.status == "open":
            mine = move(mine, cs.state, cs.clarified_at if cs.state is CaseState.CLARIFIED and cs.clarified_at
                        else cs.updated_at)
        missing = [u for u in cs.assignees if u not in mine.assignees]
        if missing:
            target.assign_case(mine.id, missing, audit("case.assign.migrate", mine.id, assignees="、".join(missing)))
        have = {(r.username, r.created_at, r.text) for r in target.case_responses(mine.id)}
        for r in source.case_responses(cs.id):
            if (r.username, r.created_at, r.text) not in have:
                target.add_case_response(replace(r, id=None, case_id=mine.id),
                                         audit("case.respond.migrate", mine.id, r.created_at, username=r.username))


NEVER = datetime(9999, 1, 1, tzinfo=timezone.utc)  # a copied delivery already sent waits here until marked sent


def _alert_ident(a: Alert) -> tuple:
    """What one alert is in any store: its rule, de-duplication key, time and title."""
    return a.rule, a.dedupe_key, a.created_at, a.title


def _same_in_target(mine: Iterable[Any], theirs: Iterable[Any], key: Callable[[Any], Hashable]) -> dict[int, int]:
    """Source id -> the target's id of the thing with the same `key` (cases, alerts, debunks: each
    store numbers its own)."""
    there = {key(x): x.id for x in theirs}
    return {x.id: there[key(x)] for x in mine if key(x) in there}


def _case_ids(source: Store, target: Store) -> dict[int, int]:
    return _same_in_target(source.cases(status=None, limit=1_000_000), target.cases(status=None, limit=1_000_000),
                           lambda c: (c.kind, c.key))


def _every_alert(store: Store, batch: int = 500) -> Iterator[Alert]:
    after: tuple[datetime, int] | None = None
    while page := store.alerts_page(EPOCH, after, batch):
        yield from page
        after = (page[-1].created_at, int(page[-1].id or 0))


def copy_alerts(source: Store, target: Store, report: TransferReport, source_name: str = "sqlite") -> None:
    """Every alert of the source, oldest first, onto the copied posts and cases: its level, text, rule
    and de-duplication key (so the target's rules do not raise it again inside the realert window),
    who acknowledged and who claimed it and when, its escalation tier, and its outbox. A delivery not
    sent yet is queued in the target as it was (the target's service sends it); one already sent is
    recorded as sent, never sent again: it is written due at year 9999 first and then marked sent, so
    a run cut in between leaves it waiting there, and the next run marks it. Each step is done only
    where the target lacks it, so a cut run is completed by the next and nothing is added twice."""
    def audit(actor: str, action: str, alert_id: int, at: datetime | None) -> AuditEvent:
        return AuditEvent(actor, action, f"alert:{alert_id}", {"from": source_name}, at=at or utcnow())

    have = {_alert_ident(a): a for a in _every_alert(target)}
    cases = _case_ids(source, target)
    posts: dict[int, int | None] = {}
    for a in _every_alert(source):
        assert a.id is not None
        mine = have.get(_alert_ident(a))
        if mine is None:
            _resolve_posts(source, target, a.post_ids, posts)
            copy = replace(a, id=None, post_ids=[t for t in (posts.get(p) for p in a.post_ids) if t is not None],
                           case_id=cases.get(a.case_id),  # type: ignore[arg-type]
                           routes=[], hold_until=None, acknowledged_by=None, acknowledged_at=None,
                           claimed_by=None, claimed_at=None, escalated=0)
            target.commit_rule_results(RuleResults(alerts=[copy]))
            report.alerts += 1
            mine = target.get_alert(copy.id) if copy.id is not None else None
            if mine is None:
                continue
        assert mine.id is not None
        if a.acknowledged_by and not mine.acknowledged_by:
            target.acknowledge_alert(mine.id, audit(a.acknowledged_by, "alert.ack.migrate", mine.id, a.acknowledged_at))
        if a.claimed_by and not mine.claimed_by:
            target.claim_alert(mine.id, audit(a.claimed_by, "alert.claim.migrate", mine.id, a.claimed_at))
        if a.escalated > mine.escalated:
            target.add_deliveries(mine.id, [], utcnow(), escalated=a.escalated)
        theirs = {(d.notifier, d.recipient): d for d in target.deliveries(mine.id)}
        for d in source.deliveries(a.id):
            t = theirs.get((d.notifier, d.recipient))
            sent = d.state is DeliveryState.SENT
            if t is None:
                target.add_deliveries(mine.id, [(d.notifier, d.recipient, d.reason)],
                                      NEVER if sent else d.next_attempt_at or utcnow())
                t = next((x for x in target.deliveries(mine.id) if (x.notifier, x.recipient) == (d.notifier, d.recipient)),
                         None)
            if sent and t is not None and t.id is not None and t.state is not DeliveryState.SENT:
                target.delivery_sent(t.id, d.sent_at or a.created_at, d.last_error)


def _resolve_posts(source: Store, target: Store, ids: Iterable[int], known: dict[int, int | None]) -> None:
    """Add to `known` the target's id of each source post in `ids` not looked up yet (None: not there)."""
    wanted = set(ids) - known.keys()
    for pid, p in source.posts_by_ids(sorted(wanted)).items():
        found = target.find_post(p.channel, p.source_id)
        known[pid] = found.id if found is not None else None
    known.update({pid: None for pid in wanted - known.keys()})


def copy_audit(source: Store, target: Store, report: TransferReport, source_name: str = "sqlite",
               batch: int = 1000, progress: Callable[[int], None] | None = None) -> None:
    """The source's audit log, in order, after everything else (so its references can be resolved).
    Each event keeps its actor, action, time and detail; the detail also records where it came from
    (`migrated_from`, `source_id`). What it is about is written in the target's terms: `post:N`,
    `case:N`, `debunk:N` and `alert:N` name the target's copy; one the target does not have (a post
    purged before the copy) becomes `sqlite:post:N`, an id in the archive. Resumable: each copied
    page moves a checkpoint, and a run cut before the checkpoint moved finds the page among the
    target's newest events, so a cut run adds nothing twice."""
    after = _last_copied_audit(target, source_name, batch)
    posts: dict[int, int | None] = {}  # source post id -> target post id (None: not in the target)
    resolve: dict[str, Callable[[int], int | None]] = {  # a source id -> the target's id of the same thing
        "post": posts.get,
        "case": _case_ids(source, target).get,
        "debunk": _same_in_target(source.debunks(active_only=False), target.debunks(active_only=False),
                                  lambda d: (d.claim, d.clarification)).get,
        "alert": _same_in_target(_every_alert(source), _every_alert(target), _alert_ident).get,
    }

    def translate(ref: str) -> str:
        kind, _, num = ref.partition(":")
        if kind not in resolve or not num.isdigit():
            return ref  # user:…, author:…, or nothing: the same in the target
        tid = resolve[kind](int(num))
        return f"{kind}:{tid}" if tid is not None else f"{source_name}:{ref}"

    while page := source.audit_page(after, batch):
        _resolve_posts(source, target, (int(e.target[5:]) for e in page
                                        if e.target.startswith("post:") and e.target[5:].isdigit()), posts)

        target.audit_batch([AuditEvent(e.actor, e.action, translate(e.target),
                                       {**e.detail, "migrated_from": source_name, "source_id": e.id}, at=e.at)
                            for e in page])
        after = int(page[-1].id or after)
        target.ingest(collector_name(source_name) + ":audit", [], str(after))  # the page is done
        report.audit += len(page)
        if progress:
            progress(report.audit)


def _last_copied_audit(target: Store, source_name: str, page: int) -> int:
    """The source id of the last event a copy wrote into the target (0: none yet): its checkpoint, or
    the newest copied event when a run was cut between writing a page and moving the checkpoint (that
    page is then the newest in the target: every step before the audit log is done by then)."""
    last = int(target.checkpoint(collector_name(source_name) + ":audit") or 0)
    for e in target.audit_log(limit=page):
        if e.detail.get("migrated_from") == source_name and isinstance(e.detail.get("source_id"), int):
            last = max(last, int(e.detail["source_id"]))
    return last
