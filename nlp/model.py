"""Model files: one bundle (linear heads over shared hashed features) plus a manifest.

Layout of a model directory (the bundled `nlp/models/` or `<data-dir>/models/`):

    manifest.json            what is current: version, file name and sha256, data hashes, params,
                             seeds, dev metrics, the command that built it
    nlp-<hash>.npz           the bundle: IDF vector, weight matrix (float16), intercepts, meta

The bundle is written byte-for-byte reproducibly (fixed zip timestamps, no pickles), so the same
training data and seed give the same file and the same version string. The manifest is replaced
atomically after the bundle is written: a reader sees the old model or the new one, never a mix.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.errors import SentinelError
from nlp.features import FeatureConfig

FORMAT = 1
MANIFEST = "manifest.json"
HEADS = ("polar", "subjective", "spam", "rumour", "grievance", "abuse")
BUNDLED_DIR = Path(__file__).resolve().parent / "models"


class ModelError(SentinelError):
    """Model files missing, unreadable or from an incompatible version."""


@dataclass
class ModelBundle:
    cfg: FeatureConfig
    idf: np.ndarray  # float32, 2**bits
    coef: np.ndarray  # float32, (2**bits + n_dense) x n_heads
    intercept: np.ndarray  # float32, n_heads
    heads: tuple[str, ...]
    dense_features: tuple[str, ...]
    version: str = ""
    # per head, the factor on the log-odds of its final score that makes it a probability (see
    # `calibrate`); a head not listed is used as scored
    logit_scale: dict[str, float] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None
    _occ_table: np.ndarray | None = field(default=None, repr=False, compare=False)

    def decision(self, x: sp.csr_matrix) -> np.ndarray:
        """Raw linear scores, n_docs x n_heads, of a full design matrix (text + cue columns)."""
        return np.asarray(x @ self.coef) + self.intercept

    def decision_occurrences(self, occ: list[tuple[np.ndarray, np.ndarray]], dense: np.ndarray) -> np.ndarray:
        """The same as `decision` on the weighted design matrix of these occurrences (see
        `features.weight`), from one gather per occurrence: per document, the sum of idf*coef over
        its occurrences divided by the norm sqrt(sum of idf**2), plus the cue part. `occ` holds
        (docs, columns) arrays sorted by document, as `features.occurrences` returns them."""
        n = len(dense)
        table = self._table()
        sums = np.zeros((n, table.shape[1]))
        docs = np.arange(n)
        for rows, cols in occ:
            if not len(rows):
                continue
            g = np.take(table, cols, axis=0)
            starts = np.searchsorted(rows, docs)
            present = np.searchsorted(rows, docs, side="right") > starts
            sums[present] += np.add.reduceat(g, starts[present], axis=0)
        norms = np.sqrt(sums[:, 0])
        norms[norms == 0] = 1.0
        t = len(self.idf)
        z = sums[:, 1:] / norms[:, None]
        z += (dense * np.float32(self.cfg.dense_scale)) @ self.coef[t:]
        return z + self.intercept

    def _table(self) -> np.ndarray:
        """[idf**2, idf*coef_head...] per hashed column, built once."""
        if self._occ_table is None:
            t = len(self.idf)
            self._occ_table = np.column_stack([self.idf**2, self.idf[:, None] * self.coef[:t]]).astype(np.float32)
        return self._occ_table

    def head(self, name: str) -> int:
        return self.heads.index(name)

    def calibrate(self, name: str, p: float) -> float:
        """Score `p` of head `name` as a probability: its log-odds times the head's `logit_scale`
        (fitted on the dev splits by `nlp.train`, as in temperature scaling). Monotone, and 0.5 stays
        0.5: what a threshold of 0.5 decides does not change; above and below it the score says how
        often such posts are 1s."""
        t = self.logit_scale.get(name, 1.0)
        if t == 1.0 or p <= 0.0 or p >= 1.0:
            return p
        x = t * math.log(p / (1.0 - p))
        return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else 1.0 - 1.0 / (1.0 + math.exp(x))

    # ------------------------------------------------------------------ files
    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "features": self.cfg.to_json(),
            "heads": list(self.heads),
            "dense_features": list(self.dense_features),
        }
        if self.logit_scale:
            meta["logit_scale"] = self.logit_scale
        arrays = {
            "idf": self.idf.astype(np.float16),
            "coef": self.coef.astype(np.float16),
            "intercept": self.intercept.astype(np.float32),
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            _write(z, "meta.json", json.dumps(meta, sort_keys=True).encode())
            for name, arr in arrays.items():
                b = io.BytesIO()
                np.save(b, arr, allow_pickle=False)
                _write(z, name + ".npy", b.getvalue())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ModelBundle":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            meta = json.loads(z.read("meta.json"))
            if meta.get("format") != FORMAT:
                raise ModelError(f"模型文件格式版本 {meta.get('format')} 与程序（{FORMAT}）不符，"
                                 "请运行 python -m nlp.train 重新训练")
            arr = {n: np.load(io.BytesIO(z.read(n + ".npy")), allow_pickle=False)
                   for n in ("idf", "coef", "intercept")}
        return cls(
            cfg=FeatureConfig.from_json(meta["features"]),
            idf=arr["idf"].astype(np.float32),
            coef=arr["coef"].astype(np.float32),
            intercept=arr["intercept"].astype(np.float32),
            heads=tuple(meta["heads"]),
            dense_features=tuple(meta["dense_features"]),
            logit_scale={h: float(t) for h, t in meta.get("logit_scale", {}).items()},
        )


def _write(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, data)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save(bundle: ModelBundle, model_dir: Path, manifest: dict[str, Any], keep: int = 3) -> dict[str, Any]:
    """Write the bundle and (atomically) the manifest; prune old bundles beyond `keep`."""
    model_dir.mkdir(parents=True, exist_ok=True)
    data = bundle.to_bytes()
    digest = sha256_bytes(data)
    name = f"nlp-{digest[:12]}.npz"
    tmp = model_dir / (name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, model_dir / name)
    manifest = dict(manifest)
    manifest.update({"format": FORMAT, "version": f"nlp.v1-{digest[:10]}", "bundle": name, "sha256": digest})
    tmp_m = model_dir / (MANIFEST + ".tmp")
    tmp_m.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp_m, model_dir / MANIFEST)
    _prune(model_dir, name, keep)
    return manifest


def _prune(model_dir: Path, current: str, keep: int) -> None:
    old = sorted((p for p in model_dir.glob("nlp-*.npz") if p.name != current),
                 key=lambda p: p.stat().st_mtime, reverse=True)
    for p in old[max(keep - 1, 0):]:
        p.unlink(missing_ok=True)


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    path = model_dir / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ModelError(f"无法读取模型清单 {path}：{e}。请重新运行 python -m nlp.train") from e


def load(model_dir: Path, verify: bool = True) -> ModelBundle:
    manifest = read_manifest(model_dir)
    if manifest is None:
        raise ModelError(f"{model_dir} 下没有模型清单 {MANIFEST}，请先运行 python -m nlp.train")
    path = model_dir / manifest["bundle"]
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"无法读取模型文件 {path}：{e}。请重新运行 python -m nlp.train") from e
    if verify and sha256_bytes(data) != manifest["sha256"]:
        raise ModelError(f"模型文件 {path} 与清单中的校验值不符（文件可能损坏），请重新运行 python -m nlp.train")
    bundle = ModelBundle.from_bytes(data)
    bundle.version = manifest["version"]
    bundle.manifest = manifest
    return bundle
