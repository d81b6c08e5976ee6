"""Turning matches into what the store keeps: flags, cases and alerts, with realert de-duplication.

Realert (ElastAlert's silence window) works on EVENT time: an alert is raised unless one with the
same dedupe key was raised less than `realert` before this match's event time (or at/after it). The
last time comes from the store (`last_alert_at`) and from the alerts raised earlier in the same
batch, so one batch can never raise the same alert twice.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from core.domain import Alert, Case, CaseKind, Debunk, Flag
from rules.model import Match
from rules.templates import post_fields, render
from store.base import RuleResults

MAX_ALERT_POSTS = 200  # an alert lists at most this many post ids (the newest)

LastAlertAt = Callable[[str], "datetime | None"]


class ResultBuilder:
    def __init__(self, notifier_names: Sequence[str], last_alert_at: LastAlertAt,
                 debunks: Mapping[int, Debunk], tz: ZoneInfo) -> None:
        self.notifier_names = list(notifier_names)
        self.last_alert_at = last_alert_at
        self.debunks = debunks
        self.tz = tz
        self.results = RuleResults()
        self._last: dict[str, datetime | None] = {}
        self._cases: dict[tuple[str, str], Case] = {}

    def add(self, match: Match, type_fields: dict[str, Any]) -> None:
        spec = match.rule
        fields = post_fields(match.trigger, spec.name, spec.title, self.debunks, self.tz, type_fields)
        if spec.flag:
            reason = render(spec.flag.reason, fields, match.trigger)
            self.results.flags.extend(
                Flag(post_id=pid, rule=spec.name, reason=reason, created_at=match.at) for pid in match.flag_post_ids
            )
            if spec.remove:
                self.results.removals.extend(
                    (pid, spec.name, spec.remove.reason_code, match.at) for pid in match.flag_post_ids)
        case = self._case(match, fields) if spec.case and (match.case_key or match.key) is not None else None
        if spec.alert and self._due(spec.dedupe_key(match.key), match.at, spec.realert):
            alert = Alert(
                rule=spec.name,
                level=spec.alert.level,
                title=render(spec.alert.title, fields, match.trigger),
                body=render(spec.alert.body, fields, match.trigger),
                dedupe_key=spec.dedupe_key(match.key),
                post_ids=[e.post_id for e in match.events][-MAX_ALERT_POSTS:],
                notifiers=list(spec.alert.notifiers) or list(self.notifier_names),
                created_at=match.at,
                kind=spec.alert.kind or "other",
                topics=[t for t, _ in Counter(e.topic for e in match.events if e.topic).most_common()],
                channels=list(dict.fromkeys(e.channel for e in match.events)),
            )
            self.results.alerts.append(alert)
            if case is not None:
                self.results.alert_case[len(self.results.alerts) - 1] = (case.kind.value, case.key)

    def finish(self, seen: list[tuple[int, int]]) -> RuleResults:
        self.results.seen = seen
        self.results.cases = list(self._cases.values())
        return self.results

    def _case(self, match: Match, fields: Mapping[str, Any]) -> Case:
        """Upsert-by-key within the batch; the store merges it with the stored case."""
        spec = match.rule
        case_key = match.case_key or match.key
        assert spec.case is not None and case_key is not None  # checked by the caller
        title = render(spec.case.title, fields, match.trigger)
        post_ids = match.flag_post_ids or [e.post_id for e in match.events]
        key = (spec.case.kind.value, case_key)
        case = self._cases.get(key)
        if case is None:
            case = Case(kind=spec.case.kind, key=case_key, title=title, post_ids=[],
                        created_at=match.at, updated_at=match.at)
            self._cases[key] = case
        if case.kind is not CaseKind.RUMOUR:  # a rumour case keeps the claim as its first post said it
            case.title = title
        case.updated_at = max(case.updated_at, match.at)
        case.post_ids = list(dict.fromkeys([*case.post_ids, *post_ids]))
        return case

    def _due(self, dedupe_key: str, at: datetime, window: timedelta) -> bool:
        if dedupe_key not in self._last:
            self._last[dedupe_key] = self.last_alert_at(dedupe_key)
        last = self._last[dedupe_key]
        if last is not None and (at <= last or at < last + window):
            return False
        self._last[dedupe_key] = at
        return True
