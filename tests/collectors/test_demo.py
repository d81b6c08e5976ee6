"""The demo collector: backlog at once, live posts trickle, restarts shift identically."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from collectors import CollectorRunner
from collectors.demo import SAMPLE, DemoCollector, Sample

BASE = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=8)))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def tiny_sample() -> Sample:
    recs = [{"channel": "qq", "source_id": f"b{i}", "author": "u", "text": f"历史{i}",
             "created_at": (BASE + timedelta(days=i * 10)).isoformat()} for i in range(3)]
    recs += [{"channel": "qq", "source_id": f"l{i}", "author": "u", "text": f"实时{i}",
              "created_at": (BASE + timedelta(days=30, minutes=i + 1)).isoformat()} for i in range(2)]
    return Sample(recs, BASE, 30, live_from=3)


def test_backlog_now_live_later_and_loops_with_fresh_ids(store):
    start = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    clock = Clock(start)
    runner = CollectorRunner(store, [DemoCollector("demo", tiny_sample(), clock=clock)])
    assert runner.run_once().new == 3
    newest = max(store.get_post(i).created_at for i in (1, 2, 3))
    # the 30 days end at the local midnight before the anchor (12:00 UTC = 20:00 Beijing)
    assert newest == datetime(2026, 10, 31, 16, tzinfo=timezone.utc) - timedelta(days=10)
    clock.now = start + timedelta(minutes=1, seconds=1)
    assert runner.run_once().new == 1
    clock.now = start + timedelta(minutes=10)
    # the live part spans 3 minutes, then loops: l1, l0-r1, l1-r1, l0-r2, l1-r2, l0-r3 (at 10 min)
    assert runner.run_once().new == 6
    assert store.find_post("qq", "l0-r1") is not None


def test_restart_resumes_from_checkpoint_with_the_same_anchor(store):
    start = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    CollectorRunner(store, [DemoCollector("demo", tiny_sample(), clock=Clock(start))]).run_once()
    later = Clock(start + timedelta(hours=1, seconds=30))
    result = CollectorRunner(store, [DemoCollector("demo", tiny_sample(), batch_size=2, clock=later)]).run_once()
    assert result.unchanged == 0 and result.new > 0
    assert store.find_post("qq", "b0").created_at == datetime(2026, 10, 1, 16, tzinfo=timezone.utc)


def test_bundled_sample_matches_what_the_demo_promises():
    header = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])["_meta"]
    assert header["synthetic"] is True
    sample = Sample.load()
    backlog = sample.records[: sample.live_from]
    assert len(backlog) >= 2000 and len(sample.records) > len(backlog)
    assert {r["channel"] for r in backlog} == {"wechat", "weibo", "qq", "board"}
    scenarios = Counter(r["scenario"] for r in backlog)
    for needed in ("spam_flood", "rumour", "pay_reform_surge", "pii_leak", "official_clarification"):
        assert scenarios[needed] > 0, needed
    days = {(datetime.fromisoformat(r["created_at"]) - sample.base).days for r in backlog}
    assert min(days) == 0 and max(days) == 29
    assert len({(r["channel"], r["source_id"]) for r in sample.records}) == len(sample.records)
