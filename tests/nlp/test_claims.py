"""Claim-level clusters: paraphrases of one claim share `extra["claim"]`, copies of an advert do not."""
from __future__ import annotations

from core.domain import Analysis, Sentiment

PAY = [  # one claim, many wordings (qq → weibo → wechat)
    ("【紧急通知】听说下个月起绩效工资要砍三成，年终奖直接取消，内部消息，速转！", "qq"),
    ("内部消息：学校经费紧张，下月起绩效工资统一下调30%，年终奖今年不发了，大家早做准备，速转", "qq"),
    ("千真万确！人事处朋友说的，绩效砍三成、年终奖取消，文件已经签了，不转不是咱学校人！", "weibo"),
    ("紧急扩散：下个月开始绩效工资打七折，年终奖取消，据说下周就发文，速转给身边的老师", "wechat"),
    ("听财务处的人说，学校账上没钱了，绩效要砍三成，年终奖没了，这回是真的，速转", "qq"),
    ("转自某学院群：下月起绩效工资下调百分之三十，年终奖暂停发放，红头文件已经在走流程了，速转", "weibo"),
]
HOUSING = "听说周转房要统一收回了，所有人一个月内搬走，房产科内部说的，速转"


def test_paraphrases_of_one_claim_share_a_claim_but_not_a_cluster(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load()
    posts = [make_post(t, author=f"a{i}", channel=ch) for i, (t, ch) in enumerate(PAY)]
    posts.append(make_post(HOUSING, author="h1", channel="qq"))
    res = an.pipe(posts)
    pay = res[: len(PAY)]
    keys = {a.extra["claim"] for a in pay}
    assert len(keys) == 1 and None not in keys
    assert all(a.extra["claim"].startswith("claim-") for a in pay)
    assert len({a.extra["cluster"] for a in pay}) == len(PAY)  # no two are near-duplicates
    assert [a.extra["claim_size"] for a in pay] == list(range(1, len(PAY) + 1))
    assert pay[-1].extra["claim_authors"] == len(PAY) and pay[-1].extra["claim_channels"] == 3
    assert res[-1].extra["claim"] not in keys and res[-1].extra["claim_size"] == 1
    spread = [r for r in pay[-1].reasons_for("rumour") if r.code == "spread"]
    assert spread and "6 条" in spread[0].text and all(a.rumour >= 0.7 for a in pay)


def test_claim_terms_normalise_numbers_and_synonyms() -> None:
    from nlp import resources
    from nlp.components import analyse_texts

    extract = resources.claim_terms()
    texts = ["绩效要砍三成", "绩效工资下调30%", "绩效打七折", "绩效工资降低百分之三十", "年终奖不发了", "年终奖没了"]
    terms = [set(extract(n, toks)) for n, toks in analyse_texts(texts)]
    for t in terms[:4]:
        assert {"绩效", "降", "30%"} <= t, t
    assert {"年终奖", "取消"} <= terms[4] and {"年终奖", "取消"} <= terms[5]
    norm, toks = analyse_texts(["【紧急通知】听说内部消息，千真万确，速转！"])[0]
    assert len(extract(norm, toks)) < 2  # cue words alone are no claim


SUBSIDY = [  # one claim in the plain voice of worried staff: no 速转, each says "stops" its own way
    ("听说下学期开始住房补贴就不发了，有人知道吗", "wechat"),
    ("同事说房补从下月起就停了，真的假的", "qq"),
    ("住房补贴要全停？我每个月还房贷就靠它", "weibo"),
    ("据说房贴说停就停，周转房也要交回", "board"),
    ("刚听人讲，今年起住房补助停止发放了", "qq"),
]


def test_a_plainly_worded_wave_is_one_claim(make_post) -> None:
    from nlp import Analyzer

    res = Analyzer.load().pipe([make_post(t, author=f"s{i}", channel=ch) for i, (t, ch) in enumerate(SUBSIDY)])
    keys = [a.extra["claim"] for a in res]
    assert None not in keys and len(set(keys)) == 1, keys
    assert res[-1].extra["claim_channels"] == 4


def test_stop_and_hand_back_words_are_claim_verbs() -> None:
    from nlp import resources
    from nlp.components import analyse_texts

    extract = resources.claim_terms()
    stops = ["房补就停了", "住房补贴要停", "住房补贴全停", "房贴说停就停", "住房补助停止发放"]
    for text, (norm, toks) in zip(stops, analyse_texts(stops)):
        assert {"房补", "取消"} <= set(extract(norm, toks)), text
    back = ["周转房要交回", "周转房到期一律不续", "周转房要全部清退"]
    for text, (norm, toks) in zip(back, analyse_texts(back)):
        assert {"周转房", "收回"} <= set(extract(norm, toks)), text
    for text in ["停车场晚上停了很多车", "车停在东门了"]:
        norm, toks = analyse_texts([text])[0]
        assert "取消" not in extract(norm, toks), text  # 停 alone (parking) is no claim verb


def test_different_claims_on_one_topic_stay_apart(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load()
    res = an.pipe([
        make_post("听说下个月绩效工资要砍三成，内部消息，速转", author="a", channel="qq"),
        make_post("听说食堂下个月要关门承包给外面的公司，速转", author="b", channel="weibo"),
        make_post("据说课时费标准要下调三成，千真万确，速转", author="c", channel="wechat"),
    ])
    keys = [a.extra["claim"] for a in res]
    assert None not in keys and len(set(keys)) == 3  # "降 30%" alone does not say which claim


def test_adverts_refutations_and_plain_posts_make_no_claim(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load()
    ad = "产后瘦身，过年前瘦回少女身材，VX号➡lpt4562领试用装"
    res = an.pipe([make_post(ad, author=f"bot{i}", channel=["qq", "weibo", "wechat"][i % 3]) for i in range(6)]
                  + [make_post("网传绩效工资砍三成，纯属谣言，以人事处正式文件为准"),
                     make_post("今天食堂的红烧肉不错")])
    for a in res:
        assert a.extra["claim"] is None and a.extra["claim_size"] == 1
    ads = res[:6]
    assert len({a.extra["cluster"] for a in ads}) == 1 and ads[-1].extra["cluster_size"] == 6
    assert all(a.rumour < 0.3 for a in ads)
    assert not any(r.code == "spread" for a in ads for r in a.reasons_for("rumour"))


def test_a_claim_told_again_after_it_went_quiet_is_a_new_episode(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load(claim_window_hours=2)
    first = an.pipe([make_post(PAY[0][0], minutes=0), make_post(PAY[1][0], minutes=30)])
    later = an.pipe([make_post(PAY[0][0], minutes=400)])
    assert first[1].extra["claim"] == first[0].extra["claim"] and first[1].extra["claim_size"] == 2
    assert later[0].extra["claim"] not in (None, first[0].extra["claim"])  # a new episode, a new case
    assert later[0].extra["claim_size"] == 1  # the first two left the window


def test_a_claim_takes_posts_for_its_lifetime_only() -> None:
    from datetime import datetime, timedelta, timezone

    from core.domain import Post
    from nlp.claims import ClaimIndex

    t0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    index = ClaimIndex(window_hours=48, lifetime_hours=24)
    claim = {"周转房": 9.0, "收回": 6.0, "搬走": 5.0}
    keys = [index.add(claim, Post("qq", f"s{h}", f"a{h}", "…", t0 + timedelta(hours=h))).key for h in range(0, 40, 4)]
    assert len(set(keys[:7])) == 1  # within 24 h of the first post: one claim
    assert keys[7] != keys[0] and len(set(keys[7:])) == 1  # hour 28 on: the next episode


def test_a_claim_does_not_drift_away_from_its_first_post() -> None:
    """A paraphrase chain: every post shares two terms with posts before it, and each new term is
    used twice before the next step, but the later posts share nothing with the first one. Chaining
    on "terms two members used" would pull them all into the first claim."""
    from datetime import datetime, timedelta, timezone

    from core.domain import Post
    from nlp.claims import ClaimIndex

    t0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    index = ClaimIndex()
    words = ["周转房", "房产科", "搬走", "水电费", "物业", "食堂", "饭卡", "班车"]
    chain = [words[0:3]] + [words[i:i + 3] for i in range(0, 6) for _ in range(2)]
    keys = [index.add({w: 8.0 for w in terms}, Post("qq", f"c{i}", f"a{i}", "…", t0 + timedelta(minutes=i))).key
            for i, terms in enumerate(chain)]
    first = keys[0]
    assert all(k == first for k, terms in zip(keys, chain) if terms[0] in words[:3])  # on topic: joins
    assert all(k != first for k, terms in zip(keys, chain) if not set(terms) & set(words[:3])), keys


def test_warm_restores_claims_after_a_restart(make_post) -> None:
    from nlp import Analyzer

    posts = [make_post(t, author=f"w{i}", channel=ch) for i, (t, ch) in enumerate(PAY[:3])]
    analyses = Analyzer.load().pipe(posts)
    key = analyses[0].extra["claim"]
    restarted = Analyzer.load()
    stored = [Analysis(normalized=a.normalized, tokens=[], sentiment=Sentiment.NEU, polarity=0.0, spam=0.0,
                       rumour=0.0, extra=dict(a.extra)) for a in analyses]
    restarted.warm(list(zip(posts, stored)))
    nxt = restarted.pipe([make_post(PAY[3][0], author="w9", channel="wechat")])[0]
    assert nxt.extra["claim"] == key
    assert nxt.extra["claim_size"] == 4 and nxt.extra["claim_channels"] == 3


def test_scoring_texts_alone_has_no_claims(analyzer, make_post) -> None:
    from nlp import Analyzer

    alone = Analyzer.load(use_window=False)
    a = alone.pipe([make_post(PAY[0][0]), make_post(PAY[1][0])])
    assert [x.extra["claim"] for x in a] == [None, None]
    assert [x.extra["claim_size"] for x in a] == [1, 1]


def test_a_borderline_post_joins_a_claim_but_does_not_start_one() -> None:
    from datetime import datetime, timedelta, timezone

    from core.domain import Post
    from nlp.claims import ClaimIndex

    t0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    post = lambda i: Post("qq", f"s{i}", f"a{i}", "…", t0 + timedelta(minutes=i))  # noqa: E731
    index = ClaimIndex()
    rumour = {"周转房": 1.0, "收回": 6.0, "搬走": 1.0}
    assert index.add({"周转房": 1.0, "水电费": 1.0, "线上": 1.0}, post(0), start=False) is None
    first = index.add(rumour, post(1))
    assert first is not None and first.size == 1
    again = index.add({"周转房": 1.0, "收回": 6.0}, post(2), start=False)
    assert again is not None and again.key == first.key and again.size == 2
    assert len(index) == 1
