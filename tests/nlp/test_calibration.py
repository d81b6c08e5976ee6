"""`nlp.metrics.calibration` (Brier score, ECE, reliability bins), `nlp.evaluate --calibration`, and the
logit scale that makes a head's score a probability (`metrics.fit_logit_scale`, `ModelBundle.calibrate`)."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from core.domain import Post
from nlp.metrics import calibration, fit_logit_scale, score_task
from nlp.model import BUNDLED_DIR, ModelBundle, load
from tests.nlp.conftest import REPO
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


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@settings(max_examples=25, deadline=None)
@given(st.floats(0.4, 3.0), st.integers(0, 2**32 - 1))
def test_the_fitted_logit_scale_is_the_one_the_labels_were_drawn_with(scale, seed) -> None:
    """Scores whose truth is σ(scale·logit(score)): the fit finds the scale, over two sets of other sizes
    and score ranges."""
    rng = random.Random(seed)
    sets = []
    for n, spread in ((3000, 3.0), (1500, 1.5)):
        s = [_sigmoid(rng.uniform(-spread, spread)) for _ in range(n)]
        y = [1 if rng.random() < _sigmoid(scale * math.log(p / (1 - p))) else 0 for p in s]
        sets.append((y, s))
    fitted = fit_logit_scale(sets)
    assert abs(fitted - scale) <= 0.2 * scale, (fitted, scale)
    # the rescaled scores are as calibrated as the true probabilities the labels were drawn from, give
    # or take sampling noise
    fit = dataclasses.replace(_tiny_bundle(), logit_scale={"rumour": fitted})
    truth = dataclasses.replace(_tiny_bundle(), logit_scale={"rumour": scale})
    for y, s in sets:
        ece = calibration(y, [fit.calibrate("rumour", p) for p in s])["ece"]
        assert ece <= calibration(y, [truth.calibrate("rumour", p) for p in s])["ece"] + 0.02


def test_no_data_leaves_the_scores_as_they_are() -> None:
    assert fit_logit_scale([]) == 1.0 and fit_logit_scale([([], [])]) == 1.0


@given(st.floats(0.25, 4.0), st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=2, max_size=50))
def test_calibrating_keeps_the_order_the_range_and_what_half_decides(scale, ps) -> None:
    bundle = dataclasses.replace(_tiny_bundle(), logit_scale={"rumour": scale})
    out = [bundle.calibrate("rumour", p) for p in ps]
    assert all(0.0 <= q <= 1.0 for q in out)
    for p, q in zip(ps, out):
        assert (p >= 0.5) == (q >= 0.5)
        assert bundle.calibrate("spam", p) == p  # a head without a scale is left alone
    for (p1, q1), (p2, q2) in zip(sorted(zip(ps, out)), sorted(zip(ps, out))[1:]):
        assert q1 <= q2 or p1 == p2
    assert bundle.calibrate("rumour", 0.5) == 0.5


def test_the_logit_scale_travels_with_the_bundle_and_old_bundles_have_none() -> None:
    b = _tiny_bundle()
    assert ModelBundle.from_bytes(b.to_bytes()).logit_scale == {}
    scaled = dataclasses.replace(b, logit_scale={"rumour": 1.61})
    assert ModelBundle.from_bytes(scaled.to_bytes()).logit_scale == {"rumour": 1.61}


@pytest.mark.parametrize("task, path, bound", [
    ("rumour", "nlp/seed/union_dev_rumour.csv", 0.05),
    ("rumour", "nlp/seed/union_dev3_rumour.csv", 0.05),
    ("rumour", "nlp/seed/eval/union_dev2_rumour.csv", 0.05),  # not among the splits the scale was fitted on
    ("grievance", "nlp/seed/union_dev_grievance.csv", 0.055),
])
def test_the_shipped_scores_are_calibrated_on_the_union_dev_sets_and_decide_as_before(task, path, bound) -> None:
    """The rumour and grievance heads' scores as they come out (under-confident: union dev ECE 0.08 and
    0.07) and rescaled by the shipped bundle's logit scales: closer to probabilities on every union dev
    set, and a threshold of 0.5 flags the same posts."""
    from nlp.analyzer import Analyzer

    shipped = load(BUNDLED_DIR)
    assert shipped.logit_scale.get(task, 1.0) > 1.0
    raw = Analyzer(dataclasses.replace(shipped, logit_scale={}), use_window=False)
    scaled = Analyzer(shipped, use_window=False)
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    with open(REPO / path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    posts = [Post("dev", str(i), f"u{i}", r["text"], epoch) for i, r in enumerate(rows)]
    y = [int(r["label"]) for r in rows]
    before, after = raw.pipe(posts), scaled.pipe(posts)
    ece_before = calibration(y, [getattr(a, task) for a in before])["ece"]
    ece_after = calibration(y, [getattr(a, task) for a in after])["ece"]
    assert ece_after <= bound < ece_before
    assert [getattr(a, task) >= 0.5 for a in before] == [getattr(a, task) >= 0.5 for a in after]
    assert score_task(task, y, before) == score_task(task, y, after)


def _tiny_bundle() -> ModelBundle:
    import numpy as np

    from nlp.features import FeatureConfig

    return ModelBundle(FeatureConfig(bits=4), np.ones(16, np.float32), np.zeros((16, 2), np.float32),
                       np.zeros(2, np.float32), ("spam", "rumour"), ())
