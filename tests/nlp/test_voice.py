"""Grievances (诉求) and abuse: scores with reasons, never a removal by themselves."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# insults at a colleague, a leader or a group, in the forms staff write them: plain, spaced out, 繁體, pinyin
_TARGETS = ("张老师", "老王", "李处长", "财务处那个小姑娘", "楼上", "工会的刘干事", "那帮搞行政的")
_INSULTS = ("{t}你个废物", "{t}就是个白痴", "{t}脑残吧", "{t}真是个人渣", "{t}傻逼", "S B {t}", "{t}你個廢物",
            "{t} shabi", "{t}蠢货一个", "{t}滚出去", "{t}你怎么不去死", "{t}王八蛋", "{t}臭不要脸",
            "{t}你 个 白 痴", "猪都比{t}聪明")
# criticism, swearing at things and reported insults: sharp, but nobody is insulted
_NOT_INSULTS = ("{t}这个方案太不合理了，希望重新讨论", "{t}办事效率太低，报销拖了三个月", "这破系统又崩了，{t}快修修吧",
                "卧槽今天食堂排队一小时，{t}管管吧", "有人在群里骂{t}是废物，请管理员处理", "{t}说的没错，绩效方案就是在坑青年教师",
                "呵呵，{t}真是好福利", "{t}辛苦了，这事办得漂亮")


def test_insults_in_many_forms_score_as_abuse(analyzer, make_post) -> None:
    texts = [i.format(t=t) for i in _INSULTS for t in _TARGETS]
    res = analyzer.pipe([make_post(t) for t in texts])
    missed = [(t, a.abuse) for t, a in zip(texts, res) if a.abuse < 0.5]
    assert len(missed) <= 0.1 * len(texts), missed  # measured 0 of 105 (nlp.v1-221536a76d); 76 by the model before it


def test_criticism_and_reported_insults_are_not_abuse(analyzer, make_post) -> None:
    texts = [i.format(t=t) for i in _NOT_INSULTS for t in _TARGETS]
    res = analyzer.pipe([make_post(t) for t in texts])
    flagged = [(t, a.abuse) for t, a in zip(texts, res) if a.abuse >= 0.5]
    assert len(flagged) <= 0.05 * len(texts), flagged  # measured 2 of 56: reported insults


def test_the_abuse_reason_names_the_insult(analyzer, make_post) -> None:
    a = analyzer.pipe([make_post("李处长你个窝囊废，经费被砍一半屁都不敢放")])[0]
    (r,) = [r for r in a.reasons_for("abuse") if r.code == "model"]
    assert "窝囊废" in r.text, r.text


@pytest.mark.parametrize("task,path,n,bound", [
    ("grievance", "union_grievance_blind.csv", 320, 0.8),  # measured 0.880 (session 29); guards against regressions
    ("abuse", "union_blind_abuse.csv", 390, 0.85),  # measured 0.903 (session 30), 0.412 before
])
def test_evaluate_scores_a_held_out_set(task, path, n, bound) -> None:
    p = subprocess.run([sys.executable, "-m", "nlp.evaluate", "--task", task, "--data",
                        str(REPO / "nlp/seed/eval" / path), "--json"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["task"] == task and out["n"] == n
    assert out["f1"] >= bound, out


@settings(max_examples=80, deadline=None)
@given(before=st.from_regex(r"[a-z]{0,3}", fullmatch=True), after=st.from_regex(r"[a-z]{0,3}", fullmatch=True),
       word=st.sampled_from(["sb", "shabi", "nmsl", "loser", "tmd", "cnm"]))
def test_an_ascii_insult_counts_only_as_a_word_of_its_own(before, after, word) -> None:
    """"sb" in "usb接口" is no insult; "你sb吧" is."""
    from tests.nlp.cued import cued_batch

    inside, alone = cued_batch([f"这个{before}{word}{after}坏了", f"这个 {word} 坏了"]).docs
    assert inside.cues is not None and alone.cues is not None
    assert (word in [w for _, w in inside.cues.hits]) == (not before and not after), inside.cues
    assert word in [w for _, w in alone.cues.hits], alone.cues
