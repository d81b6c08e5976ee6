"""Grievances (诉求) and abuse: scores with reasons, never a removal by themselves."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_staff_grievance_scores_high_with_a_reason_and_is_not_a_rumour(analyzer, make_post) -> None:
    a = analyzer.pipe([make_post("我是合同制实验员，干的活和在编的一样，去年在编的涨了岗位津贴我们一分没涨，"
                                 "希望工会在教代会上提一下同工同酬")])[0]
    assert a.grievance >= 0.7, a.grievance
    assert any(r.code == "model" for r in a.reasons_for("grievance"))
    assert a.rumour < 0.5 and a.spam < 0.5


def test_adverts_questions_and_small_talk_are_not_grievances(analyzer, make_post) -> None:
    texts = ["兼职刷单日结三百，加薇 jz52013 详聊", "请问今年体检在哪里报名？", "哈哈哈 周末愉快", "收到"]
    for a, t in zip(analyzer.pipe([make_post(t) for t in texts]), texts):
        assert a.grievance < 0.5, (t, a.grievance)


def test_an_insult_scores_as_abuse_and_criticism_does_not(analyzer, make_post) -> None:
    insult, criticism = analyzer.pipe([
        make_post("楼上的你个废物脑残，滚出我们学校"),
        make_post("这次绩效方案考虑得太不周全了，一线老师意见很大，希望重新讨论"),
    ])
    assert insult.abuse >= 0.8 and any(r.code == "model" for r in insult.reasons_for("abuse")), insult.abuse
    assert criticism.abuse < 0.5, criticism.abuse


def test_a_bundle_without_the_new_heads_scores_zero(analyzer, make_post) -> None:
    from nlp.analyzer import Analyzer
    from nlp.model import ModelBundle

    m = analyzer.models
    keep = [m.head(h) for h in ("polar", "subjective", "spam", "rumour")]
    old = ModelBundle(m.cfg, m.idf, m.coef[:, keep], m.intercept[keep], ("polar", "subjective", "spam", "rumour"),
                      m.dense_features, version="old")
    a = Analyzer(old, use_window=False).pipe([make_post("我的报销拖了三个月还没到账，希望财务处给个说法")])[0]
    assert a.grievance == 0.0 and a.abuse == 0.0 and not a.reasons_for("grievance")


def test_evaluate_grievance_task_on_the_held_out_set() -> None:
    p = subprocess.run([sys.executable, "-m", "nlp.evaluate", "--task", "grievance", "--data",
                        str(REPO / "nlp/seed/eval/union_grievance_blind.csv"), "--json"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["task"] == "grievance" and out["n"] == 320
    assert out["f1"] >= 0.8, out  # measured 0.847 for the committed model; a guard against regressions
