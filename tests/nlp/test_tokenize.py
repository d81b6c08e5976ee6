"""Tokens: the batch segmenter agrees with jieba, the user dictionary is used, search tokens normalise."""
from __future__ import annotations

import jieba
import pytest

from nlp import resources
from nlp.components import analyse_texts
from nlp.tokenizer import search_tokens

SENTENCES = [
    "法院判决书当初刚出道时真的跟风黑过她们",
    "今天的天气真不错，我们一起去公园散步吧",
    "南京市长江大桥欢迎您",
    "这家外卖送餐速度很快，味道也很好，下次还会再点",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_segmenter_matches_jieba_without_hmm(text: str) -> None:
    jieba.setLogLevel(60)
    ours = analyse_texts([text])[0][1]
    ref = [w for w in resources.search_tokenizer().lcut(text, HMM=False) if w.strip() and w not in "，"]
    assert ours == ref


def test_user_dictionary_words_stay_whole() -> None:
    toks = analyse_texts(["教代会上讨论了绩效工资和周转房的问题，疗休养名额也要公布"])[0][1]
    for word in ("教代会", "绩效工资", "周转房", "疗休养"):
        assert word in toks


def test_ascii_runs_and_batches() -> None:
    out = analyse_texts(["加微信abc123详聊", "", "QQ群 12345"])
    assert "abc123" in out[0][1]
    assert out[1] == ("", [])
    assert "12345" in out[2][1]


def test_search_tokens_normalise_and_expand() -> None:
    toks = search_tokens("職稱評審不公平！教代会什么时候开？")
    assert "职称评审" in toks and "职称" in toks and "评审" in toks  # search mode adds sub-words
    assert "教代会" in toks
    assert not any(t in toks for t in ("！", "？", "!", "?"))
    assert search_tokens("加薇信") == search_tokens("加微信")


def test_search_tokens_never_feed_jieba_hmm_a_run_longer_than_a_piece(monkeypatch):
    """jieba's HMM is quadratic in the length of an unbroken run; long runs are cut into pieces first,
    so a 20,000-character post costs what 300 short ones do."""
    import jieba.finalseg

    from nlp.tokenizer import MAX_PIECE, search_tokens

    seen: list[int] = []
    real = jieba.finalseg.cut

    def cut(sentence):
        seen.append(len(sentence))
        return real(sentence)

    monkeypatch.setattr(jieba.finalseg, "cut", cut)
    for text in ("出" * 20_000, "哈" * 5_000 + "好" * 5_000, "绩效工资" * 3_000):
        tokens = search_tokens(text)
        assert tokens and all(len(t) <= MAX_PIECE for t in tokens)
    assert seen and max(seen) <= MAX_PIECE
    assert "绩效" in search_tokens("绩效工资" * 3_000)
