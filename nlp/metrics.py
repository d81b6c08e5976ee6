"""Scoring analyses against labels: the metrics `nlp.evaluate` prints and `nlp.train` records."""
from __future__ import annotations

from typing import Sequence

from core.domain import Analysis


TASKS = ("sentiment", "spam", "rumour", "grievance", "abuse")
BINARY_TASKS = TASKS[1:]  # each one a score in [0, 1] on Analysis, under the task's name


def binary_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    tp = sum(1 for t, p in zip(y_true, y_pred) if t == 1 and p == 1)
    fp = sum(1 for t, p in zip(y_true, y_pred) if t == 0 and p == 1)
    fn = sum(1 for t, p in zip(y_true, y_pred) if t == 1 and p == 0)
    tn = sum(1 for t, p in zip(y_true, y_pred) if t == 0 and p == 0)
    n = len(y_true)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    # macro-F1 over both classes
    prec0 = tn / (tn + fn) if tn + fn else 0.0
    rec0 = tn / (tn + fp) if tn + fp else 0.0
    f10 = 2 * prec0 * rec0 / (prec0 + rec0) if prec0 + rec0 else 0.0
    return {"n": n, "accuracy": (tp + tn) / n if n else 0.0, "macro_f1": (f1 + f10) / 2,
            "precision": prec, "recall": rec, "f1": f1}


def calibration(y_true: Sequence[int], scores: Sequence[float], bins: int = 10) -> dict:
    """How far scores are from probabilities: the Brier score (mean squared gap between score and
    label), the expected calibration error (ECE: over equal-width score bins, the gap between the
    mean score and the share of 1s, weighted by the bin's size) and the bins themselves (empty ones
    left out). A score of 0.9 is calibrated when 90% of the posts scoring about 0.9 are 1s."""
    n = len(y_true)
    if n != len(scores):
        raise ValueError("labels and scores differ in length")
    if not n:
        return {"n": 0, "brier": 0.0, "ece": 0.0, "bins": []}
    brier = sum((s - y) ** 2 for y, s in zip(y_true, scores)) / n
    groups: list[list[tuple[int, float]]] = [[] for _ in range(bins)]
    for y, s in zip(y_true, scores):
        groups[min(int(s * bins), bins - 1)].append((y, s))
    out_bins, ece = [], 0.0
    for k, g in enumerate(groups):
        if not g:
            continue
        mean = sum(s for _, s in g) / len(g)
        rate = sum(y for y, _ in g) / len(g)
        ece += len(g) / n * abs(mean - rate)
        out_bins.append({"lo": round(k / bins, 4), "hi": round((k + 1) / bins, 4), "n": len(g),
                         "mean_score": round(mean, 4), "positive_rate": round(rate, 4)})
    return {"n": n, "brier": round(brier, 4), "ece": round(ece, 4), "bins": out_bins}


def fit_logit_scale(sets: Sequence[tuple[Sequence[int], Sequence[float]]],
                    bounds: tuple[float, float] = (0.25, 4.0)) -> float:
    """The factor t on the log-odds of the scores that makes σ(t·logit(s)) closest to the labels: the
    mean log-loss over the sets, each set counting as much as any other (a big public split must not
    decide alone what a union comment's score means). One parameter and no shift, so the order of the
    scores and what 0.5 decides stay as they are. Rounded to 0.01: a rebuild on another machine,
    whose scores differ in the last bits, gives the same model bytes."""
    import numpy as np
    from scipy.optimize import minimize_scalar

    data = []
    for y, s in sets:
        if len(y):
            p = np.clip(np.asarray(s, dtype=np.float64), 1e-4, 1 - 1e-4)
            data.append((np.asarray(y, dtype=np.float64), np.log(p / (1 - p))))
    if not data:
        return 1.0

    def loss(t: float) -> float:
        total = 0.0
        for y, z in data:
            x = t * z  # log-loss of σ(x): log(1 + e^-x) for a 1, log(1 + e^x) for a 0
            total += float(np.mean(np.logaddexp(0.0, np.where(y == 1, -x, x))))
        return total / len(data)

    return round(float(minimize_scalar(loss, bounds=bounds, method="bounded").x), 2)


def multiclass_metrics(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1; precision/recall/f1 are macro averages too."""
    n = len(y_true)
    ps, rs, fs = [], [], []
    for c in classes:
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred) if t == c and p != c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        ps.append(pr)
        rs.append(rc)
        fs.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    k = len(classes) or 1
    acc = sum(1 for t, p in zip(y_true, y_pred) if t == p) / n if n else 0.0
    return {"n": n, "accuracy": acc, "macro_f1": sum(fs) / k, "precision": sum(ps) / k,
            "recall": sum(rs) / k, "f1": sum(fs) / k}


def score_task(task: str, labels: Sequence, analyses: Sequence[Analysis], binary: bool = False,
               threshold: float = 0.5) -> dict:
    """Metrics of `analyses` against `labels` for one task (see `nlp.evaluate`).

    Sentiment: 3-class (pos/neu/neg) unless `binary`, where polarity > 0 counts as positive.
    Spam / rumour / grievance / abuse: a score >= `threshold` counts as 1."""
    if task == "sentiment" and binary:
        y = [1 if lab == "pos" else 0 for lab in labels]
        p = [1 if a.polarity > 0 else 0 for a in analyses]
        out: dict = binary_metrics(y, p)
        out["mode"] = "binary"
    elif task == "sentiment":
        out = multiclass_metrics([str(x) for x in labels], [a.sentiment.value for a in analyses],
                                 ("pos", "neu", "neg"))
        out["mode"] = "3class"
    else:
        y = [int(x) for x in labels]
        if task not in BINARY_TASKS:
            raise ValueError(f"未知任务“{task}”，可选：sentiment、{'、'.join(BINARY_TASKS)}")
        p = [1 if getattr(a, task) >= threshold else 0 for a in analyses]
        out = binary_metrics(y, p)
    out["task"] = task
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
