"""Model files: loading from the data dir, hot reload without restart, fallback on a broken file."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nlp import model as model_io
from nlp.model import BUNDLED_DIR, ModelBundle


def copy_bundled(dest: Path) -> dict:
    dest.mkdir(parents=True)
    man = model_io.read_manifest(BUNDLED_DIR)
    shutil.copy(BUNDLED_DIR / man["bundle"], dest / man["bundle"])
    shutil.copy(BUNDLED_DIR / model_io.MANIFEST, dest / model_io.MANIFEST)
    return man


def write_variant(model_dir: Path, shift: float, trained_at: str) -> dict:
    """A different, valid model: the bundled one with the spam intercept shifted."""
    base = model_io.load(BUNDLED_DIR)
    b = ModelBundle(base.cfg, base.idf, base.coef, base.intercept.copy(), base.heads, base.dense_features)
    b.intercept[b.head("spam")] += shift
    man = dict(base.manifest or {})
    man["trained_at"] = trained_at
    return model_io.save(b, model_dir, man)


def test_data_dir_model_is_used_and_hot_reloaded(tmp_path, make_post) -> None:
    from nlp import Analyzer

    models = tmp_path / "models"
    copy_bundled(models)
    an = Analyzer.load(tmp_path)
    v1 = an.model_version
    assert an.maybe_reload() is False  # nothing changed
    post = make_post("周末有空的老师可以来参加读书会")
    spam_before = an.pipe([post])[0].spam
    man = write_variant(models, shift=6.0, trained_at="2999-01-01T00:00:00+00:00")
    assert man["version"] != v1
    assert an.maybe_reload() is True
    assert an.model_version == man["version"]
    after = an.pipe([make_post("周末有空的老师可以来参加读书会")])[0]
    assert after.model_version == man["version"]
    assert after.spam > spam_before
    assert an.maybe_reload() is False


def test_broken_data_dir_model_falls_back_to_bundled(tmp_path, caplog) -> None:
    from nlp import Analyzer

    models = tmp_path / "models"
    man = copy_bundled(models)
    (models / man["bundle"]).write_bytes(b"not a model")
    an = Analyzer.load(tmp_path)
    assert an.model_version == model_io.read_manifest(BUNDLED_DIR)["version"]
    assert "模型" in caplog.text


def test_bundle_bytes_round_trip_and_are_deterministic() -> None:
    b = model_io.load(BUNDLED_DIR)
    data = b.to_bytes()
    assert data == ModelBundle.from_bytes(data).to_bytes()
    assert model_io.sha256_bytes(data) == b.manifest["sha256"]


def test_missing_models_say_what_to_do(tmp_path, monkeypatch) -> None:
    from nlp import analyzer as an_mod

    monkeypatch.setattr(an_mod, "BUNDLED_DIR", tmp_path / "nowhere")
    with pytest.raises(model_io.ModelError, match="python -m nlp.train"):
        an_mod.Analyzer.load(tmp_path)
