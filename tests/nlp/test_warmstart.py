"""Learning from moderators without the public corpora: `python -m nlp.train --data-dir DIR --from-bundle`.

A tmp store holds moderator decisions on an ad wording the bundled model misses (tea sold to colleagues);
the warm-start retrain must score unseen variants of it higher, keep ordinary posts and the union dev
sets where they were, be byte-for-byte reproducible, and refuse to run without labels.
"""
from __future__ import annotations

import itertools
import json
import random
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.config import load_settings
from core.domain import Action, AuditEvent, Decision, Post, ReasonCode
from nlp import model as model_io
from nlp.data import read_csv
from nlp.model import BUNDLED_DIR
from nlp.train import main as train_main
from store import open_store

SEED_DIR = Path(__file__).resolve().parents[2] / "nlp" / "seed"
HOOKS = ["需要茶叶的老师看过来", "过节送礼的同事看一下", "家里亲戚自己茶园出的", "给大家推荐一款口粮茶", "今年新茶到了"]
PRODUCTS = ["明前龙井", "安吉白茶", "武夷岩茶", "云南古树普洱", "正山小种", "信阳毛尖", "洞庭碧螺春", "安溪铁观音",
            "福鼎老白茶", "黄山毛峰"]
# no lure words (私聊, 戳头像…) the bundle already knows: a wording it has not seen, sold by 接龙
CALLS = ["接龙预订", "到我办公室来拿", "下班后门卫室取", "按斤称，接龙就行", "需要的同事接龙"]
ORDINARY = ["食堂今天的红烧肉有点咸", "请问下周的教代会在哪个会议室开", "工会组织的羽毛球赛什么时候报名",
            "图书馆三楼的空调又坏了", "周转房的维修申请提交了两周还没人来", "体检报告什么时候可以领",
            "谢谢工会送的月饼，很好吃", "停车场新划的车位太窄了", "今年的疗休养安排出来了吗", "孩子入学的证明在哪里开"]
# ordinary posts that share words with the adverts (老师, 同事, 茶): must not become spam
NEAR_MISSES = ["下午茶歇在三楼会议室，各位老师记得来", "同事们，明天的教研活动改到九点", "食堂的茶叶蛋涨到两块了",
               "老师们辛苦了，工会给大家准备了慰问品", "有没有同事知道周转房怎么申请"]
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def adverts() -> list[str]:
    combos = list(itertools.product(HOOKS, PRODUCTS, CALLS))
    random.Random(1).shuffle(combos)
    return [f"{h}，{p}，{c}" for h, p, c in combos]


TRAIN_ADS, HELD_OUT_ADS = adverts()[:30], adverts()[30:90]


def make_store(data_dir: Path, decisions: list[tuple[str, Action, ReasonCode]]) -> None:
    """A store at data_dir, opened as the service opens it, with one post per decision."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(load_settings(None, overrides={"data_dir": str(data_dir)}))
    try:
        posts = [Post("wechat", f"p{i}", f"u{i % 7}", text, T0 + timedelta(minutes=i))
                 for i, (text, _, _) in enumerate(decisions)]
        store.ingest("test", posts, None)
        for post, (_, action, code) in zip(posts, decisions):
            pid = store.find_post(post.channel, post.source_id).id
            store.decide(Decision(pid, "mod", action, code), AuditEvent("mod", "decision." + action.value))
    finally:
        store.close()


def tea_decisions() -> list[tuple[str, Action, ReasonCode]]:
    return ([(t, Action.REMOVE, ReasonCode.SPAM) for t in TRAIN_ADS]
            + [(t, Action.APPROVE, ReasonCode.FALSE_POSITIVE) for t in ORDINARY])


def train(data_dir: Path, *extra: str) -> dict:
    assert train_main(["--data-dir", str(data_dir), "--quiet", *extra]) == 0
    return json.loads((data_dir / "models" / model_io.MANIFEST).read_text(encoding="utf-8"))


def spam_scores(analyzer, texts: list[str]) -> list[float]:
    posts = [Post("t", str(i), f"a{i}", t, T0) for i, t in enumerate(texts)]
    return [a.spam for a in analyzer.pipe(posts)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    data_dir = tmp_path_factory.mktemp("ws") / "data"
    make_store(data_dir, tea_decisions())
    return data_dir, train(data_dir, "--from-bundle")


def test_learns_a_new_ad_wording_and_keeps_the_rest(trained) -> None:
    from nlp import Analyzer

    data_dir, manifest = trained
    bundled = Analyzer.load(use_window=False)
    tuned = Analyzer.load(data_dir, use_window=False)
    assert tuned.model_version == manifest["version"] != bundled.model_version
    before, after = spam_scores(bundled, HELD_OUT_ADS), spam_scores(tuned, HELD_OUT_ADS)
    assert sum(before) / len(before) < 0.5  # the bundle misses this wording...
    assert sum(after) / len(after) > sum(before) / len(before) + 0.3  # ...the retrained model learnt it
    assert sum(s >= 0.5 for s in after) >= 0.9 * len(after)
    # the words the adverts share with ordinary posts did not become spam
    assert all(s < 0.5 for s in spam_scores(tuned, NEAR_MISSES + ORDINARY))


def test_union_dev_metrics_stay_close(trained) -> None:
    from nlp.evaluate import evaluate

    data_dir, manifest = trained
    for task, key in (("spam", "f1"), ("rumour", "f1"), ("sentiment", "macro_f1")):
        path = SEED_DIR / f"union_dev_{task}.csv"
        base, new = evaluate(task, path), evaluate(task, path, data_dir)
        assert new["model_version"] == manifest["version"]
        assert new[key] >= base[key] - 0.02, (task, base[key], new[key])
        assert manifest["dev_metrics"][f"union_dev_{task}"][key] == pytest.approx(new[key], abs=1e-4)


def test_manifest_says_what_it_was_built_from(trained) -> None:
    _, manifest = trained
    bundled = model_io.read_manifest(BUNDLED_DIR)
    assert manifest["mode"] == "from_bundle"
    assert manifest["base_model"]["version"] == bundled["version"]
    assert manifest["base_model"]["sha256"] == bundled["sha256"]
    assert "--from-bundle" in manifest["command"] and "--data-dir" in manifest["command"]
    sources = {d["source"]: d for d in manifest["data"]}
    assert set(sources) == {"union_sentiment", "union_spam", "union_rumour", "moderator_spam", "moderator_rumour"}
    for name in ("union_sentiment", "union_spam", "union_rumour"):  # the committed training files, not dev files
        assert sources[name]["sha256"] == model_io.sha256_file(SEED_DIR / f"{name}.csv")
    assert sources["moderator_spam"]["labels"] == {"1": len(TRAIN_ADS), "0": len(ORDINARY)}
    assert sources["moderator_rumour"]["labels"] == {"0": len(TRAIN_ADS) + len(ORDINARY)}
    assert manifest["heads_updated"] == ["spam", "rumour"]
    assert set(manifest["base_dev_metrics"]) == set(manifest["dev_metrics"]) == {
        "union_dev_sentiment", "union_dev_spam", "union_dev_rumour", "union_dev3_sentiment", "union_dev3_spam",
        "union_dev3_rumour", "union_dev4_sentiment", "union_dev4_spam",
        "union_dev5_sentiment", "union_dev6_sentiment", "union_dev7_sentiment", "union_dev8_sentiment",
        "union_spam_b10", "union_spam_b11", "union_spam_b12", "union_spam_b13",
        "union_dev_grievance"}


def test_heads_without_labels_stay_as_bundled(trained) -> None:
    data_dir, _ = trained
    base, new = model_io.load(BUNDLED_DIR), model_io.load(data_dir / "models")
    for head in ("polar", "subjective"):
        j = base.head(head)
        assert (base.coef[:, j] == new.coef[:, j]).all() and base.intercept[j] == new.intercept[j]
    assert (base.idf == new.idf).all()
    assert not (base.coef[:, base.head("spam")] == new.coef[:, new.head("spam")]).all()
    assert new.logit_scale == base.logit_scale and {"rumour", "grievance"} <= set(new.logit_scale)  # kept


def test_same_decisions_same_bytes_and_a_running_analyzer_swaps(trained, tmp_path) -> None:
    """Without the public corpora, --data-dir alone trains from the bundle; same inputs, same model."""
    from nlp import Analyzer

    first_dir, first = trained
    data_dir = tmp_path / "data"
    make_store(data_dir, tea_decisions())
    running = Analyzer.load(data_dir)
    assert running.model_version == model_io.read_manifest(BUNDLED_DIR)["version"]
    again = train(data_dir, "--corpus-dir", str(tmp_path / "no-corpora"))
    assert again["mode"] == "from_bundle"
    assert again["version"] == first["version"] and again["sha256"] == first["sha256"]
    assert (data_dir / "models" / again["bundle"]).read_bytes() == (first_dir / "models" / first["bundle"]).read_bytes()
    assert running.maybe_reload() is True and running.model_version == again["version"]


@pytest.mark.parametrize("with_store", [True, False])
def test_refuses_without_labels(tmp_path, with_store) -> None:
    data_dir = tmp_path / "data"
    if with_store:
        make_store(data_dir, [])  # a store, but no decision in it
    with pytest.raises(SystemExit, match="没有可用于训练的审核员标注.*python -m nlp.train --data-dir"):
        train_main(["--data-dir", str(data_dir), "--from-bundle", "--quiet"])
    assert not (data_dir / "models").exists()


def test_refuses_a_model_that_got_worse(tmp_path) -> None:
    """Contradictory decisions (ordinary posts removed as spam, adverts approved) are not written."""
    seeds = read_csv(SEED_DIR / "union_spam.csv", "spam")
    seed_ads = [t for t, lab in zip(seeds.texts, seeds.labels) if lab == 1][:100]
    wrong = ([(t, Action.APPROVE, ReasonCode.OK) for t in seed_ads]
             + [(f"{t}（{i}）", Action.REMOVE, ReasonCode.SPAM) for i, t in enumerate(ORDINARY * 4)])
    data_dir = tmp_path / "data"
    make_store(data_dir, wrong)
    with pytest.raises(SystemExit, match="明显变差"):
        train_main(["--data-dir", str(data_dir), "--from-bundle", "--quiet"])
    assert not (data_dir / "models").exists()


def test_model_on_the_shipped_bundle_wins_and_one_on_an_old_bundle_gives_way(tmp_path) -> None:
    from nlp.analyzer import select_models

    bundled = model_io.read_manifest(BUNDLED_DIR)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(BUNDLED_DIR / bundled["bundle"], models / bundled["bundle"])
    man = dict(bundled, mode="from_bundle", version="nlp.v1-tuned", trained_at="2000-01-01T00:00:00+00:00",
               base_model={"version": bundled["version"]})
    (models / model_io.MANIFEST).write_text(json.dumps(man), encoding="utf-8")
    assert select_models(tmp_path).version == "nlp.v1-tuned"  # older clock, but built on the shipped bundle
    man.update(base_model={"version": "nlp.v1-older"}, trained_at="2999-01-01T00:00:00+00:00")
    (models / model_io.MANIFEST).write_text(json.dumps(man), encoding="utf-8")
    assert select_models(tmp_path).version == bundled["version"]  # built on another bundle: the shipped one


def test_config_file_names_the_store(trained, tmp_path) -> None:
    """--config alone: the data dir (and store) the service's config names."""
    _, first = trained
    data_dir = tmp_path / "service-data"
    make_store(data_dir, tea_decisions())
    cfg = tmp_path / "sentinel.yaml"
    cfg.write_text(f"data_dir: {data_dir}\n", encoding="utf-8")
    assert train_main(["--config", str(cfg), "--from-bundle", "--quiet"]) == 0
    assert model_io.read_manifest(data_dir / "models")["sha256"] == first["sha256"]
