"""The Analyzer contract: order, reasons, scores that make sense, debunks, floods, warm-up."""
from __future__ import annotations

from core.domain import Analysis, Debunk, Sentiment

SCORES = ("sentiment", "spam", "rumour")


def test_one_analysis_per_post_in_order_with_reasons(analyzer, make_post) -> None:
    texts = ["食堂的饭菜越来越难吃了", "感谢工会组织的趣味运动会，太开心了", "请问疗休养什么时候报名？",
             "兼职刷单日结，加薇信abc12345，日赚300", "職稱評審什麼時候開始"]
    posts = [make_post(t) for t in texts]
    res = analyzer.pipe(posts, batch_size=2)  # several batches
    assert len(res) == len(posts)
    for post, a in zip(posts, res):
        assert isinstance(a, Analysis)
        assert a.model_version == analyzer.model_version != ""
        for score in SCORES:
            assert a.reasons_for(score), (post.text, score)
            assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r.text) for r in a.reasons_for(score))
        assert -1.0 <= a.polarity <= 1.0 and 0.0 <= a.spam <= 1.0 and 0.0 <= a.rumour <= 1.0
    assert res[4].normalized.startswith("职称评审")
    assert "职称评审" in res[4].tokens or "职称" in res[4].tokens


def test_scores_point_the_right_way(analyzer, make_post) -> None:
    neg, pos, neu, spam = analyzer.pipe([
        make_post("拖欠了三个月的课时费还不发，太寒心了"),
        make_post("工会送的生日蛋糕券收到了，谢谢工会，很暖心"),
        make_post("请问今年体检是在校医院还是外面的医院？"),
        make_post("在家就能做的兼职，每单佣金5到50元，当天结算，威信：xq8826"),
    ])
    assert neg.sentiment is Sentiment.NEG and neg.polarity < 0
    assert pos.sentiment is Sentiment.POS and pos.polarity > 0
    assert neu.sentiment is Sentiment.NEU
    assert spam.spam >= 0.8 and max(neg.spam, pos.spam, neu.spam) < 0.5
    assert "contact_variant" in spam.extra["evasions"]
    codes = {r.code for r in spam.reasons_for("spam")}
    assert {"ad_lexicon", "wechat_id", "evasion"} <= codes


def test_rumour_cues_vs_refutation_and_official_source(analyzer, make_post) -> None:
    rumour, refute, official = analyzer.pipe([
        make_post("听说下个月绩效工资要砍一半，内部消息，千真万确，速转！"),
        make_post("网传下个月绩效工资要砍一半，纯属谣言，请大家不信谣不传谣"),
        make_post("人事处正式文件：下月起绩效工资按新办法发放，详见学校官网通知"),
    ])
    assert rumour.rumour >= 0.7
    assert {"hearsay", "urgency"} <= {r.code for r in rumour.reasons_for("rumour")}
    assert refute.rumour < 0.5 and "refute" in {r.code for r in refute.reasons_for("rumour")}
    assert official.rumour < 0.5 and "official_source" in {r.code for r in official.reasons_for("rumour")}


def test_debunk_registry_matches_and_carries_the_clarification(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load()
    an.set_debunks([
        Debunk(claim="下月起绩效工资砍掉三成", clarification="经核实，绩效工资方案没有调整，以人事处通知为准。",
               keywords=["绩效砍三成"], id=11),
        Debunk(claim="食堂要承包给外面的公司", clarification="食堂仍由后勤集团自营。", id=12),
        Debunk(claim="停车费明年涨到每月五百", clarification="旧条目", active=False, id=13),
    ])
    hit, other, inactive, plain = an.pipe([
        make_post("有人说下个月开始绩效工资要砍掉三成，大家赶紧转告"),
        make_post("听说食堂要承包给外面的公司了"),
        make_post("停车费明年涨到每月五百"),
        make_post("今天食堂的红烧肉不错"),
    ])
    assert hit.debunk_id == 11 and hit.rumour >= 0.8
    assert any("绩效工资方案没有调整" in r.text for r in hit.reasons_for("rumour"))
    assert other.debunk_id == 12
    assert inactive.debunk_id is None and plain.debunk_id is None
    an.set_debunks([])
    assert an.pipe([make_post("有人说下个月开始绩效工资要砍掉三成")])[0].debunk_id is None


def test_near_duplicate_flood_from_many_authors_and_channels(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load()
    ad = "暑假兼职招聘，在家手机操作，日结两百，有意者加微信 abc{}88 咨询"
    variants = [ad.format(i) for i in range(8)]
    channels = ["weibo", "wechat", "qq"]
    posts = [make_post(v, author=f"bot{i}", channel=channels[i % 3]) for i, v in enumerate(variants)]
    posts.append(make_post("食堂今天的红烧肉很好吃，推荐大家去尝尝"))
    res = an.pipe(posts)
    keys = {a.extra["cluster"] for a in res[:8]}
    assert len(keys) == 1 and None not in keys
    assert [a.extra["cluster_size"] for a in res[:8]] == list(range(1, 9))
    assert res[7].extra["cluster_authors"] == 8 and res[7].extra["cluster_channels"] == 3
    assert res[8].extra["cluster"] not in keys and res[8].extra["cluster_size"] == 1
    assert any(r.code == "near_duplicate" for r in res[7].reasons_for("spam"))
    assert res[7].spam >= res[0].spam


def test_one_author_repeating_and_short_texts(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load()
    same = [make_post("这个月的绩效工资到底什么时候发下来啊", author="same") for _ in range(4)]
    short = [make_post("支持", author=f"s{i}") for i in range(4)]
    res = an.pipe(same + short)
    assert res[3].extra["cluster_author_posts"] == 4 and res[3].extra["cluster_authors"] == 1
    assert all(a.extra["cluster"] is None and a.extra["cluster_size"] == 1 for a in res[4:])


def test_window_expires_old_posts(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load(window_hours=1)
    text = "紧急通知：明天全校停水停电一天，请大家相互转告做好准备"
    first = an.pipe([make_post(text, minutes=0), make_post(text, minutes=10)])
    later = an.pipe([make_post(text, minutes=200)])
    assert first[1].extra["cluster_size"] == 2
    assert later[0].extra["cluster"] == first[0].extra["cluster"]  # same stable key
    assert later[0].extra["cluster_size"] == 1  # the first two left the window


def test_warm_refills_the_window_without_rescoring(make_post) -> None:
    from nlp import Analyzer

    text = "听说学校周转房要全部收回，已经住的下个月就得搬走，大家快转告"
    posts = [make_post(text, author=f"a{i}", channel=["weibo", "qq"][i % 2]) for i in range(3)]
    before = Analyzer.load()
    analyses = before.pipe(posts)
    key = analyses[0].extra["cluster"]
    restarted = Analyzer.load()
    fake = [Analysis(normalized=a.normalized, tokens=[], sentiment=Sentiment.NEU, polarity=0.0, spam=0.0,
                     rumour=0.0, extra=dict(a.extra)) for a in analyses]
    restarted.warm(list(zip(posts, fake)))
    nxt = restarted.pipe([make_post(text, author="a9", channel="wechat")])[0]
    assert nxt.extra["cluster"] == key
    assert nxt.extra["cluster_size"] == 4 and nxt.extra["cluster_channels"] == 3
    assert fake[0].rumour == 0.0  # warm does not rescore


def test_keywords_topic_and_pii(analyzer, make_post) -> None:
    a, b = analyzer.pipe([
        make_post("职称评审的代表作要求今年又改了，青年教师压力太大"),
        make_post("我的手机是13812345678，停车位的事请联系我"),
    ])
    assert a.topic == "职称评审"
    assert "职称评审" in a.keywords or "代表作" in a.keywords
    assert 1 <= len(a.keywords) <= 5
    assert b.topic == "停车交通"
    assert [(p.kind, b.normalized[p.start:p.end]) for p in b.pii] == [("phone", "13812345678")]
    assert b.reasons_for("pii")
    assert analyzer.pipe([make_post("好")])[0].topic is None


def test_hot_topics_group_a_window(analyzer, make_post) -> None:
    from nlp.keywords import hot_topics

    texts = ["食堂的饭菜又涨价了，太贵了", "食堂今天的菜太咸了", "食堂窗口排队太久了",
             "职称评审结果什么时候出来", "兼职刷单日结，加薇信abc12345"]
    posts = [make_post(t) for t in texts]
    for i, p in enumerate(posts):
        p.id = i + 1
    hot = hot_topics(zip(posts, analyzer.pipe(posts)), limit=5, min_posts=2)
    assert hot[0].label == "食堂餐饮" and hot[0].posts == 3 and hot[0].post_ids == [1, 2, 3]
    assert hot[0].negative >= 2 and hot[0].keywords
    assert all(h.label != "职称评审" for h in hot)  # one post is not a hot topic


def test_blank_posts_and_screen_floods(analyzer, make_post) -> None:
    blank, spaces, flood, laugh = analyzer.pipe([
        make_post(""), make_post(" \n\t"), make_post("垃圾学校" * 8), make_post("哈哈哈哈哈哈哈哈"),
    ])
    for a in (blank, spaces):
        assert (a.sentiment, a.polarity, a.spam, a.rumour) == (Sentiment.NEU, 0.0, 0.0, 0.0)
        assert {r.score for r in a.reasons} >= {"sentiment", "spam", "rumour"}
    assert flood.spam >= 0.8 and any(r.code == "flood_text" for r in flood.reasons_for("spam"))
    assert flood.rumour < 0.5
    assert laugh.rumour < 0.5 and laugh.spam < 0.5
