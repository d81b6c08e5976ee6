"""The committed model files: they match their manifest, are small, and say how they were built.

CI does not have the training corpora (../shared/data is not part of the repository), so it checks the
committed artifacts against the manifest here. Set NLP_VERIFY_REBUILD=1 on a machine that has the
corpora to rebuild with the recorded command and compare the model bytes (about a minute).
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp import model as model_io
from nlp.components import PIPELINE
from nlp.model import BUNDLED_DIR
from nlp.resources import USERDICT

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def manifest() -> dict:
    man = model_io.read_manifest(BUNDLED_DIR)
    assert man is not None, "nlp/models/manifest.json is missing: run python -m nlp.train"
    return man


def test_bundle_matches_manifest_and_is_small(manifest) -> None:
    path = BUNDLED_DIR / manifest["bundle"]
    assert model_io.sha256_file(path) == manifest["sha256"]
    assert manifest["version"].endswith(manifest["sha256"][:10])
    total = sum(p.stat().st_size for p in BUNDLED_DIR.iterdir())
    assert total < 15 * 1024 * 1024
    assert not list(BUNDLED_DIR.glob("*.tmp"))


def test_manifest_records_how_it_was_built(manifest) -> None:
    assert manifest["command"].startswith("python -m nlp.train")
    assert isinstance(manifest["seed"], int)
    assert manifest["pipeline"] == list(PIPELINE)
    assert manifest["resources"]["userdict_sha256"] == model_io.sha256_file(USERDICT), (
        "nlp/resources/userdict.txt changed since training: run python -m nlp.train")
    names = {d["source"] for d in manifest["data"]}
    assert {"union_sentiment", "union_spam", "union_rumour"} <= names
    for d in manifest["data"]:
        assert len(d["sha256"]) == 64 and d["rows"] >= d["train"]
    assert manifest["dev_metrics"], "dev metrics missing"


def test_seed_files_are_the_ones_trained_on(manifest) -> None:
    for d in manifest["data"]:
        if d["source"].startswith("union_"):
            path = REPO / "nlp" / "seed" / Path(d["path"]).name
            assert model_io.sha256_file(path) == d["sha256"], f"{path} changed since training: run python -m nlp.train"


@pytest.mark.skipif(os.environ.get("NLP_VERIFY_REBUILD") != "1",
                    reason="set NLP_VERIFY_REBUILD=1 to rebuild and compare")
@pytest.mark.skipif(not CORPUS.exists(), reason="needs the training corpora in ../shared/data")
def test_rebuild_gives_the_same_bytes(manifest, tmp_path) -> None:
    args = shlex.split(manifest["command"])[3:]
    p = subprocess.run([sys.executable, "-m", "nlp.train", *args, "--out", str(tmp_path), "--quiet"], cwd=REPO,
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr
    rebuilt = model_io.read_manifest(tmp_path)
    if rebuilt["sha256"] == manifest["sha256"]:
        return
    # Another CPU may round the last bit differently; the weights must still agree.
    ours, theirs = model_io.load(BUNDLED_DIR), model_io.load(tmp_path)
    assert ours.heads == theirs.heads and ours.cfg == theirs.cfg
    np.testing.assert_allclose(theirs.idf, ours.idf, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(theirs.coef, ours.coef, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(theirs.intercept, ours.intercept, rtol=1e-5, atol=1e-7)
