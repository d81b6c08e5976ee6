"""The rumour-response loop (传言应对闭环): which case states may follow which, how a claim's volume
changed after the union answered it, and cases that subside by themselves.

    疑似 → 核实中 → 已澄清 → 平息        the loop
    疑似 → 误报, 核实中 → 误报           not a rumour after all (误报 → 疑似 undoes it)
    已澄清 → 核实中, 平息 → 核实中        the clarification did not hold; the rumour came back

Officers and admins move a case along `TRANSITIONS`; a leader assigned to the case may move it from
核实中 to 已澄清 once they have answered (dashboard/cases.py). A case in 已澄清 whose claim has been quiet
(no new post) for `cases.subside_after_hours` goes to 平息 by itself (`subside_quiet_cases`, run by
`Sentinel.maintain`, audited as `system`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from core.domain import AuditEvent, CaseState

S = CaseState
TRANSITIONS: dict[CaseState, tuple[CaseState, ...]] = {
    S.SUSPECTED: (S.VERIFYING, S.FALSE_ALARM),
    S.VERIFYING: (S.CLARIFIED, S.FALSE_ALARM),
    S.CLARIFIED: (S.SUBSIDED, S.VERIFYING),
    S.SUBSIDED: (S.VERIFYING,),
    S.FALSE_ALARM: (S.SUSPECTED,),
}
# What the button for a transition says (to the state), when it is more than the state's name.
TRANSITION_LABELS: dict[tuple[CaseState, CaseState], str] = {
    (S.SUSPECTED, S.VERIFYING): "开始核实",
    (S.VERIFYING, S.CLARIFIED): "标记为已澄清",
    (S.CLARIFIED, S.SUBSIDED): "标记为平息",
    (S.CLARIFIED, S.VERIFYING): "澄清未奏效，重新核实",
    (S.SUBSIDED, S.VERIFYING): "传言再起，重新核实",
    (S.FALSE_ALARM, S.SUSPECTED): "撤销误报",
}


def allowed(current: CaseState, to: CaseState) -> bool:
    return to in TRANSITIONS.get(current, ())


def transition_label(current: CaseState, to: CaseState) -> str:
    return TRANSITION_LABELS.get((current, to), f"标记为{to.label_zh}")


# --------------------------------------------------------------------------- volume before / after
WINDOW = timedelta(hours=24)  # how far before and after the answer the volume is compared
HOURLY_SPAN = timedelta(hours=72)  # up to this span the chart counts per hour, beyond it per day
MAX_DAYS = 120  # the daily chart shows at most this many days (the latest ones)
SANE_PAST = timedelta(days=3650)  # older post times are not charted


@dataclass
class Volume:
    """A case's posts per hour or day, and how many came in the same time before and after the first
    answer (the first leader response or the clarification, whichever came first)."""

    bucket: str  # hour | day
    starts: list[datetime] = field(default_factory=list)  # bucket starts, local time, oldest first
    counts: list[int] = field(default_factory=list)
    marks: list[tuple[str, datetime]] = field(default_factory=list)  # (首次回应 / 澄清, when)
    pivot: datetime | None = None
    pivot_name: str = ""  # 首次回应 | 澄清
    window_hours: int = 0  # length of each compared window (0: no comparison yet)
    before: int = 0
    after: int = 0
    verdict: str = ""

    @property
    def change(self) -> float | None:
        """after ÷ before − 1 (−0.8: 80% fewer); None without posts before."""
        return None if not self.window_hours or not self.before else self.after / self.before - 1

    def labels(self) -> list[str]:
        fmt = "%m-%d %H:00" if self.bucket == "hour" else "%m-%d"
        return [s.strftime(fmt) for s in self.starts]

    def mark_index(self, at: datetime) -> int | None:
        """The bucket `at` falls in (None outside the chart)."""
        local = at.astimezone(self.starts[0].tzinfo) if self.starts else at
        found = None
        for i, s in enumerate(self.starts):
            if s <= local:
                found = i
            else:
                break
        if found is not None and found == len(self.starts) - 1 and local >= _next(self.starts[-1], self.bucket):
            return None
        return found

    def as_json(self) -> dict[str, Any]:
        labels = self.labels()
        marks = []
        for name, at in self.marks:
            i = self.mark_index(at)
            if i is not None:
                marks.append({"name": name, "index": i, "label": labels[i], "at": at.isoformat()})
        return {"bucket": self.bucket, "labels": labels, "counts": self.counts, "marks": marks,
                "window_hours": self.window_hours, "before": self.before, "after": self.after,
                "pivot": self.pivot.isoformat() if self.pivot else None, "pivot_name": self.pivot_name,
                "verdict": self.verdict}


def case_volume(times: Sequence[datetime], *, now: datetime, tz: ZoneInfo,
                first_response: datetime | None = None, clarified_at: datetime | None = None,
                window: timedelta = WINDOW) -> Volume:
    """Bucket the case's post times and compare equal windows before and after the first answer:
    24 hours each, or as long as has passed since the answer when that is less. Posts dated more than
    `SANE_PAST` ago or in the future (a store written before the ingestion boundary may hold them)
    are left out; a time no calendar arithmetic can handle gives an empty chart, never an error."""
    try:
        return _case_volume([t for t in times if now - SANE_PAST <= t <= now + timedelta(days=1)], now, tz,
                            first_response, clarified_at, window)
    except (OverflowError, ValueError):
        return Volume(bucket="day", verdict="帖子时间异常，无法统计声量。")


def _case_volume(times: list[datetime], now: datetime, tz: ZoneInfo, first_response: datetime | None,
                 clarified_at: datetime | None, window: timedelta) -> Volume:
    times = sorted(times)
    answers = [(n, t) for n, t in (("首次回应", first_response), ("澄清", clarified_at)) if t is not None]
    pivot_name, pivot = min(answers, key=lambda x: x[1]) if answers else ("", None)
    points = list(times) + ([pivot - window, min(now, pivot + window)] if pivot else [])
    if not points:
        return Volume(bucket="hour", verdict="本事件还没有帖子。")
    start, end = min(points), max(points)
    bucket = "hour" if end - start <= HOURLY_SPAN else "day"
    starts = _buckets(start, end, bucket, tz)
    counts = [0] * len(starts)
    index = {s: i for i, s in enumerate(starts)}
    for t in times:
        i = index.get(_floor(t, bucket, tz))
        if i is not None:
            counts[i] += 1
    vol = Volume(bucket=bucket, starts=starts, counts=counts, marks=sorted(answers, key=lambda x: x[1]),
                 pivot=pivot, pivot_name=pivot_name)
    if pivot is None:
        vol.verdict = "尚未回应或澄清，暂无前后对比。"
        return vol
    hours = min(int(window.total_seconds() // 3600), max(0, int((now - pivot).total_seconds() // 3600)))
    if hours < 1:
        vol.verdict = f"{pivot_name}至今不足 1 小时，稍后再看前后对比。"
        return vol
    span = timedelta(hours=hours)
    vol.window_hours = hours
    vol.before = sum(1 for t in times if pivot - span <= t < pivot)
    vol.after = sum(1 for t in times if pivot <= t < pivot + span)
    vol.verdict = verdict(pivot_name, hours, vol.before, vol.after)
    return vol


def verdict(what: str, hours: int, before: int, after: int) -> str:
    """One line: 澄清后 24 小时新增帖子比之前 24 小时减少 80%（10 → 2 条）。"""
    counts = f"（{before} → {after} 条）"
    if before == 0 and after == 0:
        return f"{what}前后各 {hours} 小时都没有新增帖子。"
    if before == 0:
        return f"{what}前 {hours} 小时没有新增帖子，{what}后 {hours} 小时新增 {after} 条。"
    if after == before:
        return f"{what}后 {hours} 小时新增帖子与之前 {hours} 小时持平{counts}。"
    pct = round(abs(after - before) * 100 / before)
    word = "减少" if after < before else "增加"
    return f"{what}后 {hours} 小时新增帖子比之前 {hours} 小时{word} {pct}%{counts}。"


def _floor(t: datetime, bucket: str, tz: ZoneInfo) -> datetime:
    local = t.astimezone(tz)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return datetime.combine(local.date(), time(0), tz)


def _next(start: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return (start.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(start.tzinfo)
    d = start.date() + timedelta(days=1)
    return datetime.combine(d, time(0), start.tzinfo)


def _buckets(start: datetime, end: datetime, bucket: str, tz: ZoneInfo) -> list[datetime]:
    first, last = _floor(start, bucket, tz), _floor(end, bucket, tz)
    if bucket == "hour":
        n = int((last - first).total_seconds() // 3600) + 1
        utc = first.astimezone(timezone.utc)
        return [(utc + timedelta(hours=i)).astimezone(tz) for i in range(n)]
    days = (last.date() - first.date()).days + 1
    if days > MAX_DAYS:
        first_day: date = last.date() - timedelta(days=MAX_DAYS - 1)
        days = MAX_DAYS
    else:
        first_day = first.date()
    return [datetime.combine(first_day + timedelta(days=i), time(0), tz) for i in range(days)]


# --------------------------------------------------------------------------- auto-subside
def subside_quiet_cases(store: Any, now: datetime, quiet: timedelta) -> list[int]:
    """Move every case in 已澄清 whose claim has been quiet for `quiet` (no new post since, nor since
    the clarification) to 平息, each audited as `system`. Returns the ids of the cases moved."""
    moved: list[int] = []
    hours = quiet.total_seconds() / 3600
    for case in store.cases_to_subside(now - quiet):
        times = store.case_post_times(case.id)
        detail = {"from": S.CLARIFIED.value, "to": S.SUBSIDED.value,
                  "quiet_hours": int(hours) if hours == math.floor(hours) else round(hours, 2),
                  "last_post_at": times[-1].isoformat() if times else None}
        audit = AuditEvent("system", "case.subside", f"case:{case.id}", detail, at=now)
        if store.set_case_state(case.id, S.SUBSIDED, audit, expect=S.CLARIFIED):
            moved.append(case.id)
    return moved
