"""Dev splits hold no near-duplicate of a training row: one SMS template with other numbers, or one post
reposted with other punctuation, lands on one side as a whole."""
from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from nlp import data as D

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
texts = st.lists(st.sampled_from(HAN), min_size=12, max_size=60).map("".join)
PUNCT = "，。！？、 ~…"


def with_digits(text: str, rng: random.Random) -> str:
    """The text with a number put in the middle: the template of an SMS."""
    k = len(text) // 2
    return text[:k] + str(rng.randint(0, 10**9)) + text[k:]


def repunctuated(text: str, rng: random.Random) -> str:
    return "".join(ch + (rng.choice(PUNCT) if rng.random() < 0.2 else "") for ch in text)


@st.composite
def corpora(draw):
    """Rows of distinct texts, some of them repeated with other numbers or other punctuation."""
    base = draw(st.lists(texts, min_size=4, max_size=60, unique=True))
    rng = random.Random(draw(st.integers(0, 2**32)))
    out: list[tuple[str, int]] = []
    twins: list[tuple[str, str]] = []
    for t in base:
        label = rng.randint(0, 1)
        original = with_digits(t, rng)
        out.append((original, label))
        for _ in range(rng.choice((0, 0, 1, 3))):
            other = with_digits(t, rng) if rng.random() < 0.5 else repunctuated(with_digits(t, rng), rng)
            out.append((other, rng.randint(0, 1)))
            twins.append((original, other))
    rng.shuffle(out)
    rows = D.Rows("t", "spam", [t for t, _ in out], [lab for _, lab in out], sha256="ab" * 32)
    return D.dedupe(rows), twins


@settings(max_examples=60, deadline=None)
@given(corpora(), st.integers(0, 1000), st.sampled_from([0.1, 0.3, 0.5]))
def test_twins_never_straddle_train_and_dev(case, seed: int, fraction: float) -> None:
    rows, twins = case
    train, dev = D.split(rows, fraction, 10_000, seed)
    assert sorted(train.texts + dev.texts) == sorted(rows.texts)
    side = {t: "train" for t in train.texts} | {t: "dev" for t in dev.texts}
    for a, b in twins:
        if a in side and b in side:
            assert side[a] == side[b], (a, b)
    assert D.split(rows, fraction, 10_000, seed) == (train, dev)  # deterministic


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=2, max_size=40, unique=True), st.integers(0, 2**32))
def test_groups_join_twins_and_only_twins(base: list[str], seed: int) -> None:
    rng = random.Random(seed)
    originals = [with_digits(t, rng) for t in base]
    copies = [repunctuated(with_digits(t, rng), rng) for t in base]
    groups = D.near_duplicate_groups(originals + copies).tolist()
    n = len(base)
    for i in range(n):
        assert groups[i] == groups[n + i]
    # texts drawn independently from 3,000 characters share no trigram: each pair is a group of its own
    assert len(set(groups)) == n


def test_a_reworded_repost_joins_its_original() -> None:
    post = ("网传学校下个月起取消全体教职工的取暖补贴和防暑降温费，据说文件已经下发到各学院，"
            "工会也没有办法，大家赶紧去问问自己学院的领导吧")
    repost = post.replace("赶紧", "快点").replace("据说", "听说") + "！！转发"
    groups = D.near_duplicate_groups([post, repost, "今天食堂的红烧肉真不错，推荐大家中午去二楼尝尝"]).tolist()
    assert groups[0] == groups[1] != groups[2]


def test_short_texts_are_groups_of_their_own() -> None:
    assert D.near_duplicate_groups([]).tolist() == []
    assert D.near_duplicate_groups(["收到"]).tolist() == [0]
    groups = D.near_duplicate_groups(["收到", "+1", "好的", "收到！"]).tolist()  # under nlp.dedup.MIN_CHARS
    assert len(set(groups)) == 4


def test_dev_keeps_the_requested_share_per_label() -> None:
    rng = random.Random(3)
    rows = D.Rows("t", "spam", [], [], sha256="cd" * 32)
    for i in range(2000):
        rows.texts.append("".join(rng.choice(HAN) for _ in range(20)))
        rows.labels.append(int(i % 4 == 0))
    train, dev = D.split(rows, 0.1, 10_000, 7)
    assert len(dev) == 200
    assert sum(dev.labels) == 50
