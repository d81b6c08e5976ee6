"""Sentiment: emoticon polarity (Weibo/WeChat tags and emoji) as evidence next to the words."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from core.domain import Sentiment


@pytest.mark.parametrize("tail, sign", [("[哈哈]", 1), ("[爱你][爱你]", 1), ("👍", 1),
                                        ("[泪]", -1), ("[抓狂][抓狂]", -1), ("😭", -1)])
def test_a_clear_emoticon_sets_the_polarity_of_a_neutral_sentence(analyzer, make_post, tail, sign) -> None:
    a = analyzer.pipe([make_post("今天下午的会终于开完了" + tail)])[0]
    assert np.sign(a.polarity) == sign, (tail, a.polarity)
    assert a.sentiment is (Sentiment.POS if sign > 0 else Sentiment.NEG)


def test_emoticon_features_sum_the_polarity_and_keep_the_last_one() -> None:
    from nlp.components import Cues, Normalize, Tokenize, make_batch
    from nlp.cues import FEATURES

    batch = make_batch(["累死了，不过值了[哈哈]", "[哈哈]结果又加班[泪][泪]", "没有表情", "[doge]"])
    for comp in (Normalize(), Tokenize(), Cues()):
        batch = comp.pipe(batch, None)  # type: ignore[arg-type]
    score = batch.dense[:, FEATURES.index("emo_score")]
    last = batch.dense[:, FEATURES.index("emo_last")]
    assert score[0] > 0 and last[0] == 1.0
    assert score[1] < 0 and last[1] == -1.0
    assert score[2] == 0 and last[2] == 0
    assert 0 < score[3] < score[0] and last[3] == 0.5  # a leaning emoticon counts half


@pytest.mark.parametrize("text, label", [("太好了[哈哈]", 1), ("[泪][衰]", 0), ("[哈哈][泪]", None),
                                         ("[doge]", None), ("[doge][笑cry]", 1), ("没有表情", None)])
def test_distant_labels_need_a_clear_one_sided_emoticon_polarity(text, label) -> None:
    from nlp.train import emoticon_label

    assert emoticon_label(text) == label


# ---------------------------------------------------------------- subjectivity moves with the polar head's confidence
logits = st.floats(-30.0, 30.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(z_sub=logits, z_pol=logits, more=st.floats(0.0, 20.0))
def test_a_surer_polarity_never_makes_a_post_more_neutral(z_sub, z_pol, more) -> None:
    from nlp.scoring import SUBJ_POLAR_FREE, SUBJ_SHIFT, sigmoid, subjectivity

    s = subjectivity(np.array([z_sub, z_sub]), np.array([z_pol, -z_pol]))
    assert s[0] == s[1]  # the direction of the attitude does not matter, only how sure the polar head is
    surer = subjectivity(np.array([z_sub]), np.array([abs(z_pol) + more]))
    assert surer[0] >= s[0]
    if abs(z_pol) <= SUBJ_POLAR_FREE:  # weak polar evidence: the subjective head alone, shifted
        assert s[0] == pytest.approx(sigmoid(np.array([z_sub - SUBJ_SHIFT]))[0])


@settings(max_examples=100, deadline=None)
@given(z=st.lists(st.tuples(logits, logits), min_size=1, max_size=20))
def test_the_label_is_the_likeliest_class_and_the_polarity_sign_is_the_polar_heads(z) -> None:
    from types import SimpleNamespace

    from nlp.components import make_batch
    from nlp.model import HEADS
    from nlp.scoring import SentimentScorer, sigmoid, subjectivity

    z_sub, z_pol = np.array([a for a, _ in z]), np.array([b for _, b in z])
    batch = make_batch(["帖子"] * len(z))
    for d in batch.docs:
        d.blank = False  # as `Normalize` leaves a post with text
    batch.z = np.zeros((len(z), len(HEADS)))
    batch.z[:, HEADS.index("subjective")], batch.z[:, HEADS.index("polar")] = z_sub, z_pol
    ctx = SimpleNamespace(models=SimpleNamespace(head=HEADS.index))
    scorer = SentimentScorer()
    scorer._terms = lambda batch, m, label: [[] for _ in batch.docs]  # type: ignore[method-assign]
    docs = scorer.pipe(batch, ctx).docs  # type: ignore[arg-type]
    s, p = subjectivity(z_sub, z_pol), sigmoid(z_pol)
    probs = np.stack([s * p, 1 - s, s * (1 - p)], axis=1)
    for d, row, zp in zip(docs, probs, z_pol):
        assert d.sentiment is (Sentiment.POS, Sentiment.NEU, Sentiment.NEG)[int(row.argmax())], (row, d.sentiment)
        assert np.sign(d.polarity) in (np.sign(zp), 0.0)
