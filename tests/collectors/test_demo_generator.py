"""The demo generator: the committed sample is what it writes, and `--days N` makes longer streams
for long replays (one incident per later 30-day cycle)."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from collectors.demo_data import clock
from collectors.demo_data.generate import DEFAULT_OUT, main


def read(path: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return lines[0]["_meta"], lines[1:]


def test_the_committed_sample_is_what_the_generator_writes(tmp_path):
    out = tmp_path / "sample.jsonl"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == DEFAULT_OUT.read_bytes()


def test_more_days_repeat_the_month_with_one_incident_per_cycle(tmp_path):
    out = tmp_path / "long.jsonl"
    assert main(["--out", str(out), "--days", "95"]) == 0
    meta, posts = read(out)
    assert meta["days"] == 95 and [c["incident"] for c in meta["cycles"]] == ["rumour", "spam_flood",
                                                                               "pay_reform_surge"]
    backlog, live = posts[: meta["live_from"]], posts[meta["live_from"]:]
    times = [datetime.fromisoformat(p["created_at"]) for p in backlog]
    assert times == sorted(times) and times[-1] < clock.at(95) <= datetime.fromisoformat(live[0]["created_at"])
    assert len(live) == 300 and len({(p["channel"], p["source_id"]) for p in posts}) == len(posts)

    def days(scenario: str) -> Counter:
        return Counter((clock.day_of(datetime.fromisoformat(p["created_at"])) // 30)
                       for p in backlog if p["scenario"] == scenario)

    assert set(days("rumour")) == {0, 1}  # the demo month, then cycle 2
    flood = days("spam_flood")  # the burst in month 1 and cycle 3; background adverts every cycle
    assert flood[2] > flood[1] + 50 and flood[0] > flood[1] + 50
    assert set(days("pay_reform_surge")) == {0}  # cycle 4 is cut at day 95, before its surge (day 21)
    per_day = len([t for t in times if t >= clock.at(30)]) / 65
    assert 40 < per_day < 200  # ordinary talk goes on every day


def test_fewer_than_thirty_days_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "x.jsonl"), "--days", "10"])
    assert exc.value.code == 2
    assert "至少 30 天" in capsys.readouterr().err
