"""Sentiment: emoticon polarity (Weibo/WeChat tags and emoji) as evidence next to the words."""
from __future__ import annotations

import numpy as np
import pytest

from core.domain import Sentiment
from tests.nlp.cued import cued_batch


@pytest.mark.parametrize("tail, sign", [("[哈哈]", 1), ("[爱你][爱你]", 1), ("👍", 1),
                                        ("[泪]", -1), ("[抓狂][抓狂]", -1), ("😭", -1)])
def test_a_clear_emoticon_sets_the_polarity_of_a_neutral_sentence(analyzer, make_post, tail, sign) -> None:
    a = analyzer.pipe([make_post("今天下午的会终于开完了" + tail)])[0]
    assert np.sign(a.polarity) == sign, (tail, a.polarity)
    assert a.sentiment is (Sentiment.POS if sign > 0 else Sentiment.NEG)


def test_emoticon_features_sum_the_polarity_and_keep_the_last_one() -> None:
    from nlp.cues import FEATURES

    batch = cued_batch(["累死了，不过值了[哈哈]", "[哈哈]结果又加班[泪][泪]", "没有表情", "[doge]"])
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
