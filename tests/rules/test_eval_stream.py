"""The default rules replayed over the hand-written evaluation stream (rules/eval): the rumour, the
advert flood and the surge are caught in time, by the right kind of rule; ordinary days raise nothing."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from rules.backtest import main
from rules.eval.stream import RUMOUR_START, SPAM_START, SURGE_START, build

SURGE_RULES = {"negative_spike", "topic_negative_spike", "negative_surge", "topic_negative_surge", "new_subject"}


def replay(tmp_path, capsys, records) -> list[dict]:
    path = tmp_path / "stream.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert main(["--input", str(path), "--json", "--quiet"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def first(alerts: list[dict], prefix: str, rules: set[str] | None = None) -> datetime | None:
    times = [datetime.fromisoformat(a["ts"]) for a in alerts
             if all(p.startswith(prefix) for p in a["post_ids"]) and (rules is None or a["rule"] in rules)]
    return min(times, default=None)


def test_ordinary_days_raise_nothing(tmp_path, capsys):
    assert replay(tmp_path, capsys, build(ordinary_only=True)) == []


def test_rumour_flood_and_surge_are_caught_in_time_by_their_own_rules(tmp_path, capsys):
    alerts = replay(tmp_path, capsys, build())
    rumour = first(alerts, "r", {a["rule"] for a in alerts if a["rule"].startswith("rumour")})
    assert rumour is not None and rumour <= RUMOUR_START + timedelta(minutes=30)
    spam = first(alerts, "s", {"spam_burst", "spam_flood"})
    assert spam is not None and spam <= SPAM_START + timedelta(minutes=30)
    surge = [a for a in alerts if any(p.startswith("p") for p in a["post_ids"])]
    assert surge and {a["rule"] for a in surge} <= SURGE_RULES  # a published policy: no rumour rule
    assert min(datetime.fromisoformat(a["ts"]) for a in surge) <= SURGE_START + timedelta(hours=3)
    assert all(a["level"] != "red" for a in alerts)
    assert not [a for a in alerts if all(p.startswith("o") for p in a["post_ids"])]
