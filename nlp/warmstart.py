"""Learning from moderators where the public corpora are not: a warm-start fit from the committed bundle.

`python -m nlp.train --data-dir DIR --from-bundle` (also chosen automatically when the public corpora
are missing) starts from the model committed in nlp/models/ and updates it with the committed union
seed set (nlp/seed/union_*.csv training files; never the dev files) plus the moderator decisions in the
service's store. Only the heads that moderators gave labels for are refitted (spam, rumour; abuse →
the sentiment heads); the others stay exactly as bundled.

Each refitted head minimises, over its columns, the weighted logistic loss of the seed rows and the
moderator rows plus ½‖w − w_bundle‖² (and the same for the intercept): a Gaussian prior centred on the
bundled weights. Columns the new texts touch can move; everything the bundle learned from the public
corpora is kept unless the data pushes against it, so a handful of labels cannot wreck the model. The
IDF vector and the feature configuration are the bundle's. The fit is L-BFGS (deterministic): the same
bundle, seed files and decisions give the same model bytes.

Before writing, the union dev sets (nlp/seed/union_dev_*.csv) are scored with the bundled and the new
model; if a metric drops by more than `--max-dev-drop` (default 0.05) nothing is written. The manifest
records the base model, the data (file hashes, label counts), the parameters and both sets of metrics.
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from nlp import data as D
from nlp import model as model_io
from nlp.components import PIPELINE
from nlp.cues import FEATURES
from nlp.features import weight
from nlp.model import BUNDLED_DIR, ModelBundle

C_WARM = 1.0  # weight of the data term against the prior (unit precision around the bundled weights)
MODERATOR_ROW_WEIGHT = 3.0  # one moderator decision counts as much as this many seed rows
MAX_ITER = 500
DEFAULT_MAX_DEV_DROP = 0.05
SEED_SOURCES = ("union_sentiment", "union_spam", "union_rumour")
TASK_HEADS = {"sentiment": ("polar", "subjective"), "spam": ("spam",), "rumour": ("rumour",),
              "grievance": ("grievance",), "abuse": ("abuse",), "sarcasm": ()}
# the metric each union dev set (`data.DEV_ONLY`) must not lose: macro-F1 for sentiment, F1 otherwise
DEV_KEYS = {s.name: "macro_f1" if s.task == "sentiment" else "f1" for s in D.DEV_ONLY}


def no_labels_message(data_dir: str) -> str:
    return (f"没有可用于训练的审核员标注：{data_dir} 的存储中还没有审核决定（删除为垃圾广告、谣言或辱骂，"
            "或标记为误报/内容正常）。请先在审核队列中处理一些帖子，再运行 "
            f"python -m nlp.train --data-dir {data_dir}；有公开语料时也可用 --corpus-dir 指向语料目录做完整训练。")


def train_from_bundle(args: argparse.Namespace, say) -> dict:
    """Warm-start training (see the module docstring); returns the manifest written."""
    from nlp.train import Split, dev_metrics, featurize, head_columns, settings_for

    if not args.data_dir:
        raise SystemExit("增量训练需要审核员标注：请用 --data-dir DIR（或 --config FILE）指定服务数据目录")
    base = model_io.load(BUNDLED_DIR)
    if base.dense_features != FEATURES or base.heads != model_io.HEADS:
        raise SystemExit("随仓库提供的模型与当前程序版本不符，无法在其上增量训练；请在有公开语料的机器上运行 "
                         "python -m nlp.train 重新生成 nlp/models/")
    say(f"基础模型：{base.version}（随仓库提供）")
    settings = settings_for(args)
    if settings.store.get("backend", "sqlite") == "sqlite" and not settings.db_path.exists():
        raise SystemExit(f"没有可用于训练的审核员标注：未找到数据库 {settings.db_path}。请确认 --data-dir（或 --config）"
                         f"指向服务的数据目录，并在审核队列中处理过一些帖子后再运行 python -m nlp.train --data-dir DIR")
    labels = D.store_labels(settings)
    if not labels:
        raise SystemExit(no_labels_message(str(args.data_dir)))
    for task, rows in sorted(labels.items()):
        counts_txt = "，".join(f"{k}：{v}" for k, v in sorted(_label_counts(rows).items()))
        say(f"审核员标注 {task}：{len(rows)} 条（{counts_txt}）")
    seeds, info = _seed_splits(Path(args.seed_dir), say)
    heads = [h for h in model_io.HEADS if any(h in TASK_HEADS[t] for t in labels)]
    per_head = {h: _head_rows(h, seeds, labels, args.seed) for h in heads}
    all_texts = sorted({t for texts, _, _, _ in per_head.values() for t in texts})
    index = {t: i for i, t in enumerate(all_texts)}
    counts, dense = featurize(all_texts, base.cfg, say)
    x_all = weight(counts, base.idf, dense, base.cfg)
    coef, intercept = base.coef.copy(), base.intercept.copy()
    for h in heads:
        texts, ys, ws, n_mod = per_head[h]
        j = base.head(h)
        say(f"增量训练 {h}：{len(texts)} 条（其中审核员标注 {n_mod} 条）")
        rows = np.array([index[t] for t in texts])
        coef[:, j], intercept[j] = fit_warm(head_columns(x_all[rows], h, len(base.idf)),
                                            np.array(ys, dtype=np.float64), ws,
                                            base.coef[:, j], float(base.intercept[j]), C_WARM)
    # the bundled logit scales stay: the prior keeps each head near the bundled one, and the union dev
    # sets alone are too few to refit them
    bundle = ModelBundle(base.cfg, base.idf, coef, intercept, base.heads, base.dense_features, version="(training)",
                         logit_scale=dict(base.logit_scale))
    dev = _dev_splits(Path(args.seed_dir), Split)
    say("开发集（原模型）：")
    before = dev_metrics(base, dev, say)
    say("开发集（新模型）：")
    after = dev_metrics(bundle, dev, say)
    _check_dev(before, after, DEFAULT_MAX_DEV_DROP if args.max_dev_drop is None else args.max_dev_drop)
    for task, rows in sorted(labels.items()):
        info.append({"source": rows.source, "task": task, "path": "sentinel.db", "sha256": rows.sha256,
                     "rows": len(rows), "train": len(rows), "dev": 0, "weight": MODERATOR_ROW_WEIGHT,
                     "labels": _label_counts(rows)})
    manifest = _manifest(args, base, heads, info, before, after, say)
    out = Path(args.out) if args.out else Path(args.data_dir) / "models"
    manifest = model_io.save(bundle, out, manifest, keep=3)
    say(f"已写入 {out / manifest['bundle']}（版本 {manifest['version']}，基于 {base.version}）")
    return manifest


def fit_warm(x: sp.csr_matrix, y: np.ndarray, s: np.ndarray, w0: np.ndarray, b0: float,
             c: float) -> tuple[np.ndarray, float]:
    """argmin over (w, b) of c·Σ s_i·logloss(y_i, x_i·w + b) + ½‖w − w0‖² + ½(b − b0)².

    Only the columns `x` uses can move (the prior alone keeps the others at w0); L-BFGS over those."""
    from scipy.optimize import minimize

    x = sp.csr_matrix(x, dtype=np.float64)
    cols = np.unique(x.indices)
    xs = x[:, cols]
    w_start = w0[cols].astype(np.float64)
    sign = 2.0 * y - 1.0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = xs @ w + b
        dw, db = w - w_start, b - b0
        loss = c * float(np.dot(s, np.logaddexp(0.0, -sign * z))) + 0.5 * float(dw @ dw) + 0.5 * db * db
        g = c * s * (_sigmoid(z) - y)
        return loss, np.concatenate([xs.T @ g + dw, [g.sum() + db]])

    theta0 = np.concatenate([w_start, [b0]])
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                   options={"maxiter": MAX_ITER, "gtol": 1e-6, "ftol": 1e-12})
    w = w0.astype(np.float32).copy()
    w[cols] = res.x[:-1].astype(np.float32)
    return w, float(res.x[-1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _seed_splits(seed_dir: Path, say) -> tuple[dict, list[dict]]:
    """The union seed training files (the dev files never), as `nlp.train.Split`s."""
    from nlp.train import Split

    splits: dict = {}
    info: list[dict] = []
    for src in D.SOURCES:
        if src.name not in SEED_SOURCES:
            continue
        path = seed_dir / src.path[len("nlp:seed/"):]
        if not path.exists():
            raise SystemExit(f"缺少工会种子集 {path}：它随仓库提供，请检查代码目录是否完整（或 --seed-dir）")
        rows = D.dedupe(D.read_csv(path, src.task, src.name))
        splits[src.name] = Split(rows, rows.subset([]), src.weight)
        info.append({"source": src.name, "task": src.task, "path": "/".join(path.parts[-2:]), "sha256": rows.sha256,
                     "rows": len(rows), "train": len(rows), "dev": 0, "weight": 1.0})
        say(f"读取 {src.name}：{len(rows)} 条")
    return splits, info


def _head_rows(head: str, seeds: dict, labels: dict[str, D.Rows],
               seed: int) -> tuple[list[str], list[int], np.ndarray, int]:
    """Texts, 0/1 targets and row weights of one head, and how many rows are moderator decisions: the
    seed rows as the full build uses them (their weights scaled to a mean of 1) and each moderator row
    at `MODERATOR_ROW_WEIGHT`."""
    from nlp.train import head_rows

    texts, ys, ws = head_rows(head, seeds, seed)
    w = np.asarray(ws, dtype=np.float64)
    w = w / w.mean() if len(w) else w
    mod_t: list[str] = []
    mod_y: list[int] = []
    for task, rows in sorted(labels.items()):
        if head not in TASK_HEADS[task]:
            continue
        for t, lab in zip(rows.texts, rows.labels):
            if head == "polar":  # abuse: negative
                mod_y.append(1 if lab == "pos" else 0)
            elif head == "subjective":  # an opinion, not a neutral notice
                mod_y.append(0 if lab == "neu" else 1)
            else:
                mod_y.append(int(lab))
            mod_t.append(t)
    return texts + mod_t, ys + mod_y, np.concatenate([w, np.full(len(mod_t), MODERATOR_ROW_WEIGHT)]), len(mod_t)


def _label_counts(rows: D.Rows) -> dict[str, int]:
    out: dict[str, int] = {}
    for lab in rows.labels:
        out[str(lab)] = out.get(str(lab), 0) + 1
    return out


def _dev_splits(seed_dir: Path, split_cls) -> dict:
    out = {}
    for src in D.DEV_ONLY:
        path = seed_dir / src.path[len("nlp:seed/"):]
        if path.exists():
            rows = D.read_csv(path, src.task, src.name)
            out[src.name] = split_cls(rows.subset([]), rows, 0.0)
    return out


def _check_dev(before: dict[str, dict], after: dict[str, dict], tolerance: float) -> None:
    worse = []
    for name, key in DEV_KEYS.items():
        if name in before and name in after and after[name][key] < before[name][key] - tolerance:
            worse.append(f"{name} {key} {before[name][key]:.3f} → {after[name][key]:.3f}")
    if worse:
        raise SystemExit(f"新模型在工会开发集上明显变差（{'；'.join(worse)}，允许下降 {tolerance}），未写入。"
                         "请检查近期的审核决定是否前后矛盾（同类帖子有删有放）；确认无误后可用 --max-dev-drop 放宽")


def _manifest(args: argparse.Namespace, base: ModelBundle, heads: list[str], info: list[dict],
              before: dict, after: dict, say) -> dict:
    from nlp import resources
    from nlp.segment import jieba_dict_path
    from nlp.train import _model_args, _versions

    base_man = base.manifest or {}
    command = ["python -m nlp.train", *_model_args(args.argv)]
    if "--from-bundle" not in command:
        command.append("--from-bundle")
    return {
        "mode": "from_bundle",
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(command),
        "seed": args.seed,
        "base_model": {"version": base.version, "bundle": base_man.get("bundle"), "sha256": base_man.get("sha256"),
                       "trained_at": base_man.get("trained_at")},
        "heads_updated": heads,
        "params": {"features": base.cfg.to_json(), "C_warm": C_WARM, "prior": "gaussian around the bundled weights",
                   "moderator_row_weight": MODERATOR_ROW_WEIGHT, "solver": "L-BFGS-B", "max_iter": MAX_ITER,
                   "max_dev_drop": DEFAULT_MAX_DEV_DROP if args.max_dev_drop is None else args.max_dev_drop},
        "data": info,
        "dev_metrics": after,
        "base_dev_metrics": before,
        "pipeline": list(PIPELINE),
        "resources": {"userdict_sha256": model_io.sha256_file(resources.USERDICT),
                      "jieba_dict_sha256": model_io.sha256_file(jieba_dict_path()), **_versions()},
        "seconds": round(time.perf_counter() - say.t0, 1),
    }
