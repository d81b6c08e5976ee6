"""`nlp.metrics.calibration` (Brier score, ECE, reliability bins) and `nlp.evaluate --calibration`."""
from __future__ import annotations

import json
import random

from hypothesis import given, strategies as st

from nlp.metrics import calibration
from tests.nlp.test_cli import run, write_csv

labelled = st.lists(st.tuples(st.integers(0, 1), st.floats(0.0, 1.0, allow_nan=False)), min_size=1, max_size=300)


@given(labelled)
def test_scores_stay_in_range_and_the_bins_hold_every_post(rows) -> None:
    y, s = [r[0] for r in rows], [r[1] for r in rows]
    c = calibration(y, s)
    assert 0.0 <= c["brier"] <= 1.0 and 0.0 <= c["ece"] <= 1.0
    assert sum(b["n"] for b in c["bins"]) == len(rows) == c["n"]
    for b in c["bins"]:
        assert b["lo"] <= b["mean_score"] <= b["hi"] and 0.0 <= b["positive_rate"] <= 1.0
    # the ECE is the size-weighted gap of the bins it reports
    gap = sum(b["n"] * abs(b["mean_score"] - b["positive_rate"]) for b in c["bins"]) / len(rows)
    assert abs(gap - c["ece"]) < 1e-3


@given(st.lists(st.integers(0, 1), min_size=1, max_size=200))
def test_scores_equal_to_the_labels_are_perfect(y) -> None:
    c = calibration(y, [float(v) for v in y])
    assert c["brier"] == 0.0 and c["ece"] == 0.0


@given(st.lists(st.integers(0, 1), min_size=1, max_size=200))
def test_the_opposite_scores_are_as_bad_as_can_be(y) -> None:
    c = calibration(y, [1.0 - v for v in y])
    assert c["brier"] == 1.0 and c["ece"] == 1.0


@given(st.integers(0, 2**32 - 1))
def test_scores_drawn_as_probabilities_are_nearly_calibrated_and_overconfident_ones_are_not(seed) -> None:
    rng = random.Random(seed)
    p = [rng.random() for _ in range(4000)]
    y = [1 if rng.random() < q else 0 for q in p]
    honest = calibration(y, p)
    sharp = calibration(y, [1.0 if q >= 0.5 else 0.0 for q in p])  # same ranking, pushed to 0 and 1
    assert honest["ece"] < 0.06
    assert sharp["ece"] > honest["ece"] + 0.1 and sharp["brier"] > honest["brier"]


def test_evaluate_prints_the_calibration_only_when_asked(tmp_path) -> None:
    data = write_csv(tmp_path / "spam.csv", [
        ("兼职刷单日结，加薇信abc12345，日赚300", "1"),
        ("食堂的饭菜越来越难吃了", "0"),
        ("请问今年疗休养什么时候报名？", "0"),
    ])
    p = run("--task", "spam", "--data", str(data), "--json", "--calibration")
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)["calibration"]
    assert c["n"] == 3 and sum(b["n"] for b in c["bins"]) == 3
    text = run("--task", "spam", "--data", str(data), "--calibration")
    assert "期望校准误差" in text.stdout and "分数段" in text.stdout
    wrong = run("--task", "sentiment", "--data", str(data), "--calibration")
    assert wrong.returncode == 2 and "--calibration" in wrong.stderr
