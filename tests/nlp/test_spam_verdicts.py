"""Spam verdicts a text model alone gets wrong: phishing dressed as a notice, warnings against fraud."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from tests.nlp.cued import cued_batch
from tests.pii_values import bank_cards, id_numbers, luhn_digit, mobiles


def codes(a) -> set[str]:
    return {r.code for r in a.reasons_for("spam")}


PHISHING = [
    "【财务处】工资系统升级，原工资卡今晚失效，请登录 http://cw-pay.top 重新绑定工资卡并填写短信验证码",
    "【工会】春节慰问金发放，请扫码登记个人信息并提供银行卡号，逾期视为放弃",
]
WARNINGS = [
    "提醒各位：群里那条“兼职刷单日结五百加微信”的是骗子，已经踢了，别加！",
    "反诈中心提醒：冒充财务处让你点击链接填写银行卡号和验证码的都是诈骗，财务处从不这样做",
]


@pytest.mark.parametrize("text", PHISHING)
def test_phishing_that_imitates_an_official_notice_is_spam(analyzer, make_post, text) -> None:
    a = analyzer.pipe([make_post(text)])[0]
    assert a.spam >= 0.85 and "phishing_verdict" in codes(a), (text, a.spam, a.reasons_for("spam"))


def test_the_same_request_through_an_official_link_is_not_phishing(analyzer, make_post) -> None:
    text = "【财务处】系统升级后请登录 {} 重新绑定工资卡，有疑问请到财务处咨询"
    official, outside = analyzer.pipe([make_post(text.format("https://cwc.example.edu.cn")),
                                       make_post(text.format("http://cwc-pay.top"))])
    assert "phishing_verdict" not in codes(official)
    assert "phishing_verdict" in codes(outside) and outside.spam >= 0.85


@pytest.mark.parametrize("text", WARNINGS)
def test_a_warning_against_fraud_is_not_an_advert(analyzer, make_post, text) -> None:
    a = analyzer.pipe([make_post(text)])[0]
    assert a.spam <= 0.3 and "fraud_warning" in codes(a), (text, a.spam, a.reasons_for("spam"))


def test_an_advert_that_says_beware_of_fraud_keeps_its_contact_and_its_score(analyzer, make_post) -> None:
    a = analyzer.pipe([make_post("正规兼职不收任何费用，谨防诈骗，日结三百，加薇 jz52013 详聊")])[0]
    assert "fraud_warning" not in codes(a) and a.spam >= 0.8, (a.spam, a.reasons_for("spam"))


# ---------------------------------------------------------------- phishing that dresses as the university
OFFICES = ["财务处", "人事处", "校工会", "信息中心", "教务处", "后勤处"]
ASKS = ["重新绑定工资卡并填写短信验证码", "输入账号和密码完成验证", "上传身份证正反面及银行卡号", "填写银行卡信息领取补贴"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(office=st.sampled_from(OFFICES), ask=st.sampled_from(ASKS),
       sub=st.from_regex(r"[a-z]{2,4}", fullmatch=True), site=st.from_regex(r"[a-z]{3,6}[0-9]?", fullmatch=True),
       tld=st.sampled_from(["top", "cc", "xyz", "com", "vip"]))
def test_a_university_prefix_on_another_site_is_phishing_and_the_reason_names_the_real_site(
        analyzer, make_post, office, ask, sub, site, tld) -> None:
    host = f"{sub}.xxdx.edu.cn.{site}.{tld}"
    a = analyzer.pipe([make_post(f"【{office}】通知：请于三日内登录 {host} {ask}，逾期作废")])[0]
    reasons = " ".join(r.text for r in a.reasons_for("spam"))
    assert a.spam >= 0.85 and "phishing_verdict" in codes(a), (host, a.spam, reasons)
    assert f"{site}.{tld}" in reasons and office in reasons


# labels that are also contact words: "qqa" once became "QQa", "weixin" became "微信"
_CONTACT_LABELS = st.sampled_from(["qq", "qqa", "qqq1", "vx", "vx2", "wx", "wx1a", "weixin", "wechat", "q12345"])


@settings(max_examples=60, deadline=None)
@given(sub=st.one_of(st.from_regex(r"[a-z]{2,4}", fullmatch=True), _CONTACT_LABELS),
       site=st.from_regex(r"[a-z0-9]{0,3}www[a-z0-9]{0,3}", fullmatch=True),
       tld=st.sampled_from(["top", "cc", "com"]))
def test_a_label_that_holds_www_does_not_cut_the_host_short(sub, site, tld) -> None:
    """"awww.top" inside "cw.xxdx.edu.cn.awww.top" once became the link "www.top", and the reason named a
    site that is not there. A first label that reads as a contact word ("qqa") must not be rewritten."""
    host = f"{sub}.xxdx.edu.cn.{site}.{tld}"
    (doc,) = cued_batch([f"请登录 {host} 填写"]).docs
    assert doc.cues is not None and doc.cues.words("lookalike_url", 4) == [host], doc.cues.hits


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"[a-z]{2,6}[0-9]{0,3}(?:-[a-z]{2,6}[0-9]{0,2})?", fullmatch=True),  # rsc-xxdx, cw8-pay
       tlds=st.sampled_from(["com.cn", "net.cn", "org.cn", "com.cc", "cn.com", "top", "com"]),
       after=st.sampled_from([" 核对", "/login?id=3 填写", "，", ""]))
def test_a_host_that_ends_in_two_domain_labels_is_one_link(name, tlds, after) -> None:
    """"rsc-xxdx.com.cn" was read as two links, rsc-xxdx.com and rsc-xxdx.com.cn: the url column counted
    two and the phishing reason named both."""
    host = f"{name}.{tlds}"
    (doc,) = cued_batch([f"请登录 {host}{after}"]).docs
    assert doc.cues is not None and doc.cues.words("url", 4) == [host], doc.cues.hits


@settings(max_examples=40, deadline=None)
@given(path=st.from_regex(r"[A-Za-z0-9_\-]{6,22}", fullmatch=True),
       host=st.sampled_from(["mp.weixin.qq.com", "weixin.qq.com", "wx.qq.com", "qq.com", "www.wechat.com"]))
def test_a_wechat_or_qq_link_keeps_its_host(path, host) -> None:
    """Contact words are canonicalised ("weixin" -> 微信), but not inside a host: an article link read as
    "mp.微信.qq.com" once."""
    link = f"https://{host}/s/{path}"
    (doc,) = cued_batch([f"原文见 {link} 大家看看"]).docs
    urls = doc.cues.words("url", 4) if doc.cues is not None else []
    assert any(u.startswith(f"https://{host}/") for u in urls), doc.cues


def test_configured_official_domains_tell_their_lookalikes_from_their_own_sites(make_post) -> None:
    from nlp import Analyzer

    an = Analyzer.load(use_window=False, official_domains=("xxdx.edu.cn",))
    text = "【财务处】个税补贴申领：请登录 {} 填写银行卡信息，截止本周五"
    own, fake = an.pipe([make_post(text.format("https://cwc.xxdx.edu.cn/bt")),
                         make_post(text.format("https://xxdx-cwc.com/bt"))])
    assert "phishing_verdict" not in codes(own)
    assert "phishing_verdict" in codes(fake) and fake.spam >= 0.85
    assert any("xxdx-cwc.com" in r.text and "xxdx.edu.cn" in r.text for r in fake.reasons_for("spam"))


def test_an_office_asking_for_card_numbers_by_private_reply_is_phishing(analyzer, make_post) -> None:
    a = analyzer.pipe([make_post("离退休处：慰问金不用来学校领了，把姓名+卡号发到群里或者私发给我登记就行")])[0]
    assert a.spam >= 0.85 and "phishing_verdict" in codes(a), (a.spam, a.reasons_for("spam"))


def test_a_warning_that_quotes_a_lookalike_is_not_phishing(analyzer, make_post) -> None:
    a = analyzer.pipe([make_post("提醒大家：那个让输邮箱密码的网址是 mail.xxdx.edu.cn.upd-box.top，是钓鱼链接，别点")])[0]
    assert "phishing_verdict" not in codes(a) and a.spam < 0.5, (a.spam, a.reasons_for("spam"))


# ---------------------------------------------------------------- a member's own numbers are not phishing
ids = id_numbers(valid=True)
cards = bank_cards()
HELP = [
    "麻烦财务处老师看下，我报销一直被退回，身份证号{id}，卡号{card}",
    "公积金提取材料我先贴这：身份证 {id} 银行卡 {card}，哪里不对请告诉我",
    "工资卡换了，新卡号{card}，身份证{id}，人事处的老师帮忙更新一下谢谢",
    "体检系统一直说我身份证号不对，我的是{id}，工会能帮忙查查吗",
    "疗休养报名表：姓名张红，身份证号{id}，开户行工商银行，卡号{card}",
    "我爸的医保报销，身份证{id}，银行卡{card}，校医院说材料不全，到底还缺啥",
]


@pytest.fixture(scope="module")
def one_by_one():
    """An analyzer without the near-duplicate window: each example is scored as a post of its own
    (the module's analyzer would count the examples as a flood of one template)."""
    from nlp import Analyzer

    return Analyzer.load(use_window=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(HELP), id_number=ids, card=cards)
def test_a_member_pasting_their_own_id_or_card_number_for_help_is_not_phishing(
        one_by_one, make_post, template, id_number, card) -> None:
    """Phishing asks for these numbers; a request for help gives them. The model sees the numbers
    (`pii_id_card`, `pii_bank_card` columns) and keeps the post out of the spam queue."""
    a = one_by_one.pipe([make_post(template.format(id=id_number, card=card))])[0]
    assert a.spam < 0.8, (template, a.spam, a.reasons_for("spam"))
    assert {s.kind for s in a.pii} & {"id_card", "bank_card"}


GIVES = HELP + ["代办公积金提取，身份证{id} 银行卡{card} 照这个格式发我，加微信 gjj{n} 详聊",
                "出售实名资料：身份证号{id}，卡号{card}，另有一批，需要的私聊"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(GIVES), id_number=ids, card=cards, n=st.integers(100, 9999))
def test_a_post_that_gives_the_numbers_is_not_said_to_ask_for_them(
        one_by_one, make_post, template, id_number, card, n) -> None:
    """Whatever its score, a post holding an ID or card number is never described as asking for one
    unless it was judged phishing; the cue words are still shown, under a label that says so."""
    a = one_by_one.pipe([make_post(template.format(id=id_number, card=card, n=n))])[0]
    texts = [r.text for r in a.reasons_for("spam")]
    assert not any(t.startswith("索要敏感信息") for t in texts), texts
    if a.spam >= 0.3:  # the cue reasons are written
        assert any(t.startswith("提及敏感信息") for t in texts), texts


def test_phishing_that_quotes_a_card_number_is_still_said_to_ask(analyzer, make_post) -> None:
    card = "621700001001234567" + luhn_digit("621700001001234567")
    a = analyzer.pipe([make_post(f"【财务处】工资卡系统升级，请登录 cw-xxdx.top 填写身份证号和银行卡号重新绑定，"
                                 f"原卡{card}将冻结")])[0]
    texts = [r.text for r in a.reasons_for("spam")]
    assert "phishing_verdict" in codes(a) and any(t.startswith("索要敏感信息") for t in texts), texts


@pytest.mark.parametrize("text", [
    "【财务处】工资卡系统升级，请登录 cw-xxdx.top 填写身份证号和银行卡号重新绑定，逾期停发",
    "【工会】慰问金发放，扫码提交身份证号、银行卡号及验证码即可到账",
    "人事处通知：职称津贴补发，请私发身份证号和工资卡号给我核对",
])
def test_phishing_that_asks_for_those_numbers_stays_spam(analyzer, make_post, text) -> None:
    assert analyzer.pipe([make_post(text)])[0].spam >= 0.85


@given(id_number=ids, card=cards)
@settings(max_examples=30, deadline=None)
def test_the_cue_columns_count_the_numbers_the_pii_step_reports(id_number, card) -> None:
    from nlp.components import PII
    from nlp.cues import FEATURES

    texts = [f"身份证{id_number}，卡号{card}", f"我的身份证是 {id_number}", f"{card} {card}", "请提供身份证号和银行卡号"]
    batch = cued_batch(texts)
    found = [[s.kind for s in d.pii] for d in batch.docs]
    assert found == [["id_card", "bank_card"], ["id_card"], ["bank_card", "bank_card"], []]
    cols = {k: FEATURES.index(f"pii_{k}") for k in ("id_card", "bank_card")}
    for row, kinds in zip(batch.dense, found):
        for k, j in cols.items():
            assert np.isclose(row[j], np.log1p(kinds.count(k)))
    batch = PII().pipe(batch, None)  # type: ignore[arg-type]  # uses what Cues found
    assert [[s.kind for s in d.pii] for d in batch.docs] == found
    assert [any(r.code == "pii_found" for r in d.reasons) for d in batch.docs] == [True, True, True, False]


# ---------------------------------------------------------------- a member's own trouble, a warning that quotes
TROUBLES = ["我统一身份认证密码被锁了，工号{n}，手机号{phone}收不到验证码", "验证码发到我以前的手机号{phone}了，那个号早停了，怎么办",
            "求助：{office}让我重新绑定工资卡，输入卡号后一直登不上，电话{phone}", "收到短信说{office}要我提供银行卡号和验证码，是{office}发的吗？号码是{phone}"]
QUOTED = ["大家注意！刚收到一条：“【{office}】请登录 {site}.top 填写银行卡号领取补贴”，这是骗子，千万别点！",
          "骗子又来了，自称{office}，让我报银行卡号和验证码，来电{phone}，大家小心"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(TROUBLES + QUOTED), office=st.sampled_from(OFFICES), phone=mobiles,
       n=st.integers(100000, 999999), site=st.from_regex(r"cw-[a-z]{3,6}", fullmatch=True))
def test_a_members_own_trouble_or_a_warning_that_quotes_the_scam_gets_no_phishing_verdict(
        one_by_one, make_post, template, office, phone, n, site) -> None:
    a = one_by_one.pipe([make_post(template.format(office=office, phone=phone, n=n, site=site))])[0]
    assert "phishing_verdict" not in codes(a), (template, a.spam, a.reasons_for("spam"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(office=st.sampled_from(OFFICES), ask=st.sampled_from(ASKS), phone=mobiles,
       reach=st.sampled_from(["扫码", "登录 http://cw-pay.top", "私发给我", "回复本短信"]))
def test_an_office_asking_for_credentials_keeps_its_verdict_when_it_says_what_to_do_if_it_fails(
        one_by_one, make_post, office, ask, phone, reach) -> None:
    """A phishing notice that adds a help line ("收不到验证码怎么办？") still reaches out by a link, a
    QR code or a private reply, and keeps the verdict."""
    text = f"【{office}】请{reach}{ask}，收不到验证码怎么办？请致电 {phone}"
    a = one_by_one.pipe([make_post(text)])[0]
    if "扫码" in reach or "http" in reach:
        assert "phishing_verdict" in codes(a) and a.spam >= 0.85, (text, a.spam, a.reasons_for("spam"))
    else:
        assert a.spam >= 0.8, (text, a.spam, a.reasons_for("spam"))


# ---------------------------------------------------------------- the verdict needs the text model's assent
@settings(max_examples=60, deadline=None)
@given(office=st.sampled_from(OFFICES), ask=st.sampled_from(ASKS),
       reach=st.sampled_from(["扫码", "登录 http://cw-pay.top", "私发给我", "回复本短信"]),
       base=st.floats(0.0, 1.0))
def test_without_a_lookalike_link_the_phishing_verdict_needs_the_text_model_to_see_an_advert(
        office, ask, reach, base) -> None:
    """A member asking whether a message is real, or passing one on, names the office, the ask and the
    link too; what tells them apart is the whole post, which the text model reads. Below
    `PHISHING_MIN_BASE` only a look-alike of a configured official site gives the verdict."""
    from nlp.scoring import PHISHING_MIN_BASE, _verdict

    (doc,) = cued_batch([f"【{office}】请{reach}{ask}，逾期作废"]).docs
    assert _verdict(doc, base) == ("phishing" if base >= PHISHING_MIN_BASE else None), base
    (fake,) = cued_batch([f"【{office}】请登录 https://cwc.xxdx.edu.cn.pay-{len(ask)}.top {ask}，逾期作废"]).docs
    assert _verdict(fake, base, ("xxdx.edu.cn",)) == "phishing", base


# ---------------------------------------------------------------- a member passing on a scam they received
REPORTS = ["有人冒充{office}的老师加我，{contact}，让我报银行卡号，大家别信，已举报",
           "刚收到短信说是{office}的，要核对工资卡，{contact}，这是真的吗？",
           "我妈接到电话，自称{office}，让她把钱转到安全账户，{contact}，幸好没信，大家提醒家里老人",
           "请问各位，{contact} 加我说是{office}王老师，要我发身份证照片，是否属实？",
           "提醒：今天冒充{office}的号是 {contact}，收到的直接拉黑",
           # what the message asked of the member, or whether the office has such a person (session 33)
           "这个人加我好友 说是{office}的 {contact} 我们{office}有这个人吗？",
           "请问这是咱们学校的吗？{contact} 让我登录更新银行卡信息，我看着不对，没敢填"]
# the same frame, turned by a spammer: vouching for the message, or offering a channel of their own
VOUCHED = ["大家小心骗子！冒充{office}的太多了，正规渠道请联系王经理 {contact}",
           "大家注意了 冒充{office}的诈骗太多了 建议都装一个防诈骗软件 我装了以后再也没收到骚扰电话 {contact}",
           "有人收到{office}的短信吗？是真的，我领到了，挺快的，{contact}",
           "别信群里那些乱七八糟的，想了解{office}补贴流程的可以加我，{contact}",
           "谨防诈骗！我是{office}合作的专员，有需要的加我 {contact}",
           # an impostor collecting money in a report's words (session 33)
           "群里的老师注意一下，我是{office}主席的助理，主席让我收一下大家今年的会费，每人120，{contact}"]
contacts = st.one_of(
    mobiles.map(lambda m: f"号码 {m}"),
    st.integers(10000, 9999999999).map(lambda n: f"QQ {n}"),
    st.from_regex(r"[a-z]{2,6}_[a-z0-9]{3,8}", fullmatch=True).map(lambda w: f"微信 {w}"),
    st.from_regex(r"[a-z]{2,4}\.xxdx\.edu\.cn\.[a-z]{3,6}\.top", fullmatch=True).map(lambda u: f"网址 {u}"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(REPORTS), office=st.sampled_from(OFFICES), contact=contacts)
def test_a_member_reporting_a_scam_with_its_number_or_link_is_not_an_advert(
        one_by_one, make_post, template, office, contact) -> None:
    """The scam's own number, QQ, WeChat ID or look-alike link is quoted; the post warns, doubts or
    reports. The text model reads the quoted scam (members' reports like these scored 0.59-0.97)."""
    from nlp.scoring import FRAUD_WARNING_CAP

    a = one_by_one.pipe([make_post(template.format(office=office, contact=contact))])[0]
    reasons = [r for r in a.reasons_for("spam") if r.code in ("scam_report", "fraud_warning")]
    assert a.spam <= FRAUD_WARNING_CAP and reasons, (template, contact, a.spam, a.reasons_for("spam"))
    if reasons[0].code == "fraud_warning":  # a look-alike link is not a contact: the older verdict holds
        assert contact.startswith("网址"), (contact, reasons)
    elif contact.startswith("网址"):  # the link it quotes is named as a fake, for the moderators' warning
        assert "冒充" in reasons[0].text and ".top" in reasons[0].text, reasons[0].text


# a member pasting the message they received, in its sender's voice (您的, 请您), and asking about it
PASTED_SCAMS = ["【{office}】您的工资卡因信息不全已被冻结，请您尽快登录 {link} 完成认证",
                "【{office}】您好，您的年度补贴待领取，请于今日登录 {link} 填写银行卡号",
                "【{office}】尊敬的老师，您的个税退税已到账，请点击 {link} 领取"]
ASKING = ["这个是不是诈骗啊？刚收到短信：{scam}", "收到这个短信，是真的吗？“{scam}”", "我妈收到的短信：{scam}，是不是假的",
          "刚接到一条：{scam}。是诈骗吗？咱们学校有这回事吗",
          # pointing at the one message without saying it was received (session 32)
          "这条短信是真的吗？“{scam}” 我觉得不像", "我这有个短信，说“{scam}”，是真是假", "请问这个链接是咱们学校的吗？“{scam}” 没敢点",
          # quoting the message, no word for receiving it (session 33)
          "请问这个是真的吗“{scam}” 我看着不像咱们工会的风格啊", "「{scam}」这是学校发的吗？", "大家看看“{scam}”靠谱吗"]


@settings(max_examples=40, deadline=None)
@given(asking=st.sampled_from(ASKING), scam=st.sampled_from(PASTED_SCAMS), office=st.sampled_from(OFFICES),
       link=st.from_regex(r"[a-z]{2,4}-xxdx\.(cn\.top|com|cc)", fullmatch=True), base=st.floats(0.0, 1.0))
def test_a_member_asking_about_a_pasted_scam_gets_the_report_verdict(asking, scam, office, link, base) -> None:
    """The pasted message's 您的 and 请您 are the scam speaking, not the member; "是不是诈骗" asks, its
    不是诈骗 vouches for nothing. Such posts scored 0.96-1.0 (session 31, a new writer's batch)."""
    from nlp.scoring import _verdict

    text = asking.format(scam=scam.format(office=office, link=link))
    (doc,) = cued_batch([text]).docs
    assert _verdict(doc, base) == "scam_report", text


@settings(max_examples=40, deadline=None)
@given(template=st.sampled_from(VOUCHED), office=st.sampled_from(OFFICES), contact=contacts,
       base=st.floats(0.0, 1.0))
def test_a_scam_dressed_as_a_warning_gets_no_report_verdict(template, office, contact, base) -> None:
    from nlp.scoring import _verdict

    (doc,) = cued_batch([template.format(office=office, contact=contact)]).docs
    assert _verdict(doc, base) != "scam_report", (template, contact)


def _verdict_of(doc, base, official=()):
    from nlp.scoring import _verdict

    return _verdict(doc, base, official) if doc.cues is not None else None  # as `Spam.pipe` calls it


def _verdict_on(template: str, base: float, **values: str) -> str | None:
    (doc,) = cued_batch([template.format(**values)]).docs
    return _verdict_of(doc, base)


# ---------------------------------------------------------------- a colleague's testimony for a subsidy link
TESTIMONIES = ["我在这领到了{benefit}，1500块已到账，你们也试试 {link}",
               "{benefit}是真的！我已经领了300，链接在这 {link}",
               "刚才那个发链接的不是骗子，我就是在那领的{benefit}，到账了，快去 {link}",
               "亲测能领{benefit}，{link} 填一下工号就行"]
BENEFIT_WORDS = ["补贴", "福利", "教师关爱金", "慰问金", "红包", "津贴"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(TESTIMONIES), benefit=st.sampled_from(BENEFIT_WORDS),
       site=st.from_regex(r"(gh|jzg|butie|fuli)-[a-z]{3,8}\.(com|cn|top|cc)", fullmatch=True))
def test_a_colleagues_testimony_for_a_benefit_link_is_phishing(one_by_one, make_post, template, benefit, site) -> None:
    """The text reads as a colleague's chat (the model scored such posts 0.12-0.42); the outside link and
    the benefit the writer says they got there are the lure."""
    a = one_by_one.pipe([make_post(template.format(benefit=benefit, link=site))])[0]
    reasons = " ".join(r.text for r in a.reasons_for("spam"))
    assert a.spam >= 0.85 and "phishing_verdict" in codes(a), (template, site, a.spam, reasons)
    named = re.search(r"链接“([^”]+)”", reasons)  # the link as normalised
    assert "现身说法" in reasons and named and named.group(1) in a.normalized, reasons
    assert named.group(1).endswith(site[site.rindex("."):]) and len(named.group(1)) == len(site), (named, site)


@given(template=st.sampled_from(TESTIMONIES), benefit=st.sampled_from(BENEFIT_WORDS), base=st.floats(0.0, 1.0))
@settings(max_examples=30, deadline=None)
def test_the_same_testimony_for_the_universitys_own_site_is_not_phishing(template, benefit, base) -> None:
    text = template.format(benefit=benefit, link="https://gh.xxdx.edu.cn/fuli")
    (doc,) = cued_batch([text]).docs
    assert _verdict_of(doc, base, ("xxdx.edu.cn",)) != "phishing", text


WARNINGS_THAT_ASK = ["⚠️反诈提醒⚠️ 近期诈骗频发，请下载国家反诈APP升级版 fanzha-plus.apk 并按提示绑定银行卡进行资金安全检测",
                     "谨防诈骗！为保障资金安全，请扫码安装防护插件并绑定工资卡，{office}统一部署",
                     "防骗提醒：请点击链接完成{office}账户安全认证，输入卡号和密码，以免上当受骗"]


@pytest.mark.parametrize("template", WARNINGS_THAT_ASK)
@pytest.mark.parametrize("office", OFFICES[:3])
def test_a_warning_that_asks_to_install_or_bind_a_card_is_not_capped_as_a_warning(template, office) -> None:
    (doc,) = cued_batch([template.format(office=office)]).docs
    assert _verdict_of(doc, 0.5) != "fraud_warning", template


@pytest.mark.parametrize("office", OFFICES[:3])
@pytest.mark.parametrize("quote", ["“{office}通知：请点击 hxxp://gh-fl.cn 填写银行卡信息领取补贴”",
                                   "「您的工资卡将被冻结，请登录 xx银行.wang 输入卡号和密码」",
                                   "\"请下载安全助手并按提示绑定银行卡\""])
def test_a_warning_that_quotes_the_ask_keeps_its_warning_verdict(quote, office) -> None:
    text = f"大家注意！今天有老师收到短信{quote.format(office=office)}，这是诈骗，{office}从来不发这种短信，别点！"
    (doc,) = cued_batch([text]).docs
    assert _verdict_of(doc, 0.5) in ("fraud_warning", "scam_report"), text


# a member's own contact for a real reason (lost and found, a flat wanted, a car-pool, 接龙, a new number), and
# adverts and scams in the same colleague's voice; each with a phone, a WeChat id, a QQ number or spaced digits.
# Written for this test after the session-31 model was chosen, not from its training batches
_CONTACTS = ("13857214603", "微信 li_wei2024", "QQ 384716205", "138 5721 4603")
_MEMBERS_OWN = ("我的工作证丢在图书馆三楼了，捡到的老师麻烦联系我 {c}，谢谢", "在二食堂捡到一串钥匙，上面挂着小熊，失主联系我 {c}",
                "下周三去新校区开会，有顺路的老师可以一起拼车，联系 {c}", "工会羽毛球赛报名接龙：\n1. 王磊 机械学院 {c}\n2.",
                "我下个月退休了，谢谢大家这些年的照顾，以后联系我 {c}", "我换号了，新号码 {c}，麻烦大家改一下备注",
                "想在东区租个一室户，老师们有房子出租的请联系我 {c}", "孩子在附小一年级，班级群进不去了，哪位家长拉我一下 {c}",
                "我是新来的分工会联络员，以后有事可以找我 {c}", "收到一条短信说工会发补贴，让我加 {c}，这是真的吗？",
                "搬家了，旧书柜送给有需要的同事，自己来搬，联系 {c}", "周末有没有老师一起去爬山的，人多热闹，联系 {c}")
_COLLEAGUE_ADS = ("我表哥开装修公司的，同事们装修报我名字打八折，电话 {c}", "本人代理进口保健品，好几位老教授都在吃，需要的加 {c}",
                  "专业代写国自然申请书，包中，联系 {c}", "兼职打字员，日结200，在家手机就能做，加 {c}",
                  "理财产品年化12%，保本，有闲钱的老师联系 {c}", "工会福利补贴1280元待领取，请添加工会专员 {c} 登记银行卡",
                  "少儿英语一对一，教职工子女优惠，试听免费，{c}", "代办各类职称证书，全国联网可查，加 {c}")


def test_members_own_contacts_are_not_adverts(analyzer, make_post) -> None:
    texts = [t.format(c=c) for t in _MEMBERS_OWN for c in _CONTACTS]
    res = analyzer.pipe([make_post(t) for t in texts])
    flagged = [(t, a.spam) for t, a in zip(texts, res) if a.spam >= 0.5]
    # measured 2 of 48 (nlp.v1-9da88c77aa: "想在东区租个一室户…请联系我" with a WeChat id or QQ); 10 by the model before it
    assert len(flagged) <= 0.1 * len(texts), flagged


def test_adverts_in_a_colleagues_voice_are_caught(analyzer, make_post) -> None:
    texts = [t.format(c=c) for t in _COLLEAGUE_ADS for c in _CONTACTS]
    res = analyzer.pipe([make_post(t) for t in texts])
    missed = [(t, a.spam) for t, a in zip(texts, res) if a.spam < 0.5]
    assert len(missed) <= 0.1 * len(texts), missed  # measured 0 of 32


# ---------------------------------------------------------------- a member's own numbers, given for a matter of their own
def _star_masked(number: str) -> str:
    """How members half-hide a number: 6217 **** **** 5130, 130***********8218."""
    return number[:4] + " **** **** " + number[-4:] if len(number) != 18 else number[:3] + "*" * 11 + number[-4:]


def _mistyped(number: str) -> str:
    """One digit off: the ID and Luhn checks fail, as they do on numbers members type by hand."""
    last = number[-2]
    return number[:-2] + ("1" if last != "1" else "2") + number[-1]


_given = st.one_of(ids, cards, ids.map(_star_masked), cards.map(_star_masked), ids.map(_mistyped),
                   cards.map(_mistyped), ids.map(lambda n: n[:14] + "****"))
# written for this test (session 32), after the verdict's word lists were chosen on a writer's batch
_OWN_NUMBERS = ("报销一直没到账，我的卡号{n}，财务处的老师帮忙看看", "家母身份证号{n}，行动不便，养老金认证可以子女代办吗？",
                "请问补助打到哪张卡了，我报的是{n}，到现在没收到", "本人工资卡{n}已挂失，新卡号下午补给人事处",
                "老师你刚把身份证号发群里了 {n} 快撤回", "我爸的医保卡号{n}，校医院说查不到，是哪里填错了？",
                "名单上我的卡号是{n}吗？好像是旧卡", "体检报名 我和我爱人 {n} 一起",
                "报名亲子活动 孩子 乐乐 {n} 家长 王老师")  # a sign-up (session 33)
# the same numbers wanting something: a transfer or pay-in, a fee, a click or a code, an impostor, a sender
_WANTS = ("{n}，急用，先转到这张卡上，明天还你", "我是王院长，这是我的卡号{n}，今天下班前办一下", "我的账号{n}，户名王芳，开户行工行",
          "入会需交手续费200元，我的卡号{n}", "我的卡号{n}收到验证码了，发我一下", "我的卡{n}已冻结，请点击链接解冻",
          "【工会】您的卡号{n}已登记，回复1确认", "我的卡号{n}，代办职称，需要的私聊", "本人收购银行卡，我的卡号{n}，加微信 sk_8842",
          "稳赚不赔 先转5000到我的卡{n} 给你开户", "我是房东，这次租金请汇我爱人卡上{n}，谢谢",
          "考证培训报名 报名费转到{n} 名额有限")


@settings(max_examples=40, deadline=None)
@given(template=st.sampled_from(_OWN_NUMBERS), number=_given, base=st.floats(0.0, 1.0))
@example(template=_OWN_NUMBERS[0], number="486***********000X", base=0.0)  # no run of four digits
def test_a_member_giving_their_own_numbers_for_a_matter_of_their_own_gets_the_own_details_verdict(
        template, number, base) -> None:
    """Such posts scored 0.6-1.0 by the text model (a writer's batch, session 32: union_spam_b10)."""
    assert _verdict_on(template, base, n=number) == "own_details", (template, number)


@settings(max_examples=60, deadline=None)
@given(template=st.sampled_from(_WANTS), number=_given, base=st.floats(0.0, 1.0))
def test_a_number_given_to_get_something_gets_no_own_details_verdict(template, number, base) -> None:
    assert _verdict_on(template, base, n=number) != "own_details", (template, number)


def test_a_roll_of_colleagues_phones_is_not_an_advert_but_a_group_buy_roll_is(one_by_one, make_post) -> None:
    roll = "接龙 工会电影票\n1. 邵红 13509773026\n2. 潘伟 13585872429\n3. 田甜 15586985558 要两张"
    buy = "接龙下单 土鸡蛋30枚45元 转账给我\n1. 邵红 13509773026\n2. 潘伟 13585872429"
    a, b = one_by_one.pipe([make_post(roll), make_post(buy)])
    assert a.spam <= 0.3 and "own_details" in codes(a), (a.spam, a.reasons_for("spam"))
    assert "own_details" not in codes(b)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(_OWN_NUMBERS), number=_given)
def test_own_numbers_are_kept_out_of_the_spam_queue_with_the_reason(one_by_one, make_post, template, number) -> None:
    from nlp.scoring import FRAUD_WARNING_CAP, OWN_DETAILS_REASON

    a = one_by_one.pipe([make_post(template.format(n=number))])[0]
    assert a.spam <= FRAUD_WARNING_CAP, (template, number, a.spam)
    assert OWN_DETAILS_REASON in [r.text for r in a.reasons_for("spam")]


# ---------------------------------------------------------------- a fraud script that says 诈骗 is not a warning
_SCRIPTS = ("我是{city}公安局民警，您的身份证涉嫌一起诈骗案，请立即配合调查，不得告知他人",
            "您好，这里是{city}反诈中心，您名下银行卡涉嫌电信诈骗，需要您配合我们核实资金",
            "我是京东客服，您的账户存在诈骗风险，请您按提示操作保护资金安全",
            "你好，我是{city}派出所的警察，你涉嫌诈骗被举报了，请你配合调查，把资金转到指定账户证明清白")
_REAL_WARNINGS = ("冒充{city}公安局说你涉嫌诈骗、让你“配合调查”的都是骗子，公安不会电话办案",
                  "提醒大家：自称客服说“您的账户存在风险”的电话都是诈骗，直接挂断",
                  "我妈今天接到电话，说她涉嫌洗钱，是诈骗！大家提醒家里老人，不要转账",
                  "大家注意，这种是诈骗短信：【{city}公安局】您的银行卡涉嫌洗钱，请您配合调查")


@settings(max_examples=30, deadline=None)
@given(template=st.sampled_from(_SCRIPTS), city=st.sampled_from(["南京市", "西安", "杭州市西湖区", "本市"]),
       base=st.floats(0.0, 1.0))
def test_a_fraud_script_in_the_voice_of_police_or_a_service_desk_is_not_a_warning(template, city, base) -> None:
    """Before session 32 the fraud_warning verdict capped 360 of the public corpus's 11,570 fraud scripts."""
    assert _verdict_on(template, base, city=city) != "fraud_warning", template


@settings(max_examples=20, deadline=None)
@given(template=st.sampled_from(_REAL_WARNINGS), city=st.sampled_from(["南京市", "西安", "本市"]), base=st.floats(0.0, 1.0))
def test_a_warning_that_quotes_the_script_keeps_its_verdict(template, city, base) -> None:
    assert _verdict_on(template, base, city=city) == "fraud_warning", template


# ---------------------------------------------------------------- money asked to a personal card
_PAY_INS = ("统一订的大闸蟹到了 8只装298 要的转账到{card} 户名陈静", "我是院办小李 院长让我通知你 课题经费先转到这个账户 {card}",
            "书款每人186 麻烦今晚转到{card} 户名郑晓雨 明天到前台领书", "年化12% 保本保息 起投1万 转账到{card}",
            "急！我是高老师 手机掉了 能不能先转5000到这个卡{card} 是我爱人的", "会费每人240元 请转到我的工行卡{card} 转完截图",
            "王老师 你的报销款多打了5000 麻烦退到这个账户{card} 户名陈小娟", "表弟出车祸急需手术费 谁能先借我 直接转他卡上{card}",
            "学校组织去香港交流 报名费1500 交费账户{card} 户名国际交流服务中心")
_NOT_PAY_INS = ("提醒大家 有人冒充工会主席 让转账到{card} 千万别转", "补助打到哪张卡了？我的是{card}",
                "刚才说转到{card}的那个是骗子吗？", "我昨天被骗了 对方让我转到{card} 已报警", "我的卡号{card}，报销一直没到账",
                "保单{card}已退保，保费已退还到您的支付宝账户")
_cards_any = st.one_of(cards, cards.map(_mistyped), cards.map(lambda c: " ".join(c[i:i + 4] for i in range(0, len(c), 4))))


@settings(max_examples=40, deadline=None)
@given(template=st.sampled_from(_PAY_INS), card=_cards_any, base=st.floats(0.0, 1.0))
def test_money_asked_to_a_personal_card_gets_the_pay_in_verdict(template, card, base) -> None:
    """Such posts scored 0.28-0.38 by the text model (a writer's batch, session 32: union_spam_b11)."""
    assert _verdict_on(template, base, card=card) == "pay_in", (template, card)


@settings(max_examples=40, deadline=None)
@given(template=st.sampled_from(_NOT_PAY_INS), card=_cards_any, base=st.floats(0.0, 1.0))
def test_a_warning_or_a_question_about_such_a_transfer_gets_no_pay_in_verdict(template, card, base) -> None:
    assert _verdict_on(template, base, card=card) != "pay_in", (template, card)


def test_a_pay_in_post_is_raised_with_its_reason(one_by_one, make_post) -> None:
    from nlp.scoring import PAY_IN_REASON, PHISHING_FLOOR

    card = "621700001001234567" + luhn_digit("621700001001234567")
    a = one_by_one.pipe([make_post(f"各位老师 工会活动摄影集 每本128元 有需要的转账到{card} 户名刘摄影")])[0]
    assert a.spam >= PHISHING_FLOOR and PAY_IN_REASON in [r.text for r in a.reasons_for("spam")], a.reasons_for("spam")


# ---------------------------------------------------------------- an advert that sends readers to a private chat
# offers in a colleague's voice, with no number or link (a new writer's batch, session 33: the text model scored
# such posts 0.04-0.49)
LURE_OFFERS = ["产后肚子一直下不去的 我用了这个燃脂腰带 两个月腰围少了8cm {lure}",
               "孩子起名改名看八字 我师父是易经协会的 {lure}",
               "今天群里老师推的票又涨停了 本周还有一只 {lure}",
               "在读博士 帮忙做数据分析 SPSS Stata 都行 价格好商量 {lure}",
               "我嫂子那边有款带病也能买的保险 过几天就下架 {lure}",
               # 出一 that ends a verb (推出一款, 研发出一套) is not a colleague selling one thing
               "朋友公司新推出一款降压茶 喝了一个月血压稳了 {lure}",
               "我们团队研发出一套论文降重方法 知网查重包过 {lure}"]
LURES = ["想要的私", "需要的扣1", "要的滴滴我", "感兴趣的老师私我", "有意的可以私聊", "滴滴我", "戳我头像", "抓紧私我",
         "想了解的私信[抱拳]"]
# the same lures where a colleague sells or gives away something of their own once, or warns
ONE_OFFS = ["出一辆儿童自行车 九成新 {lure}", "孩子大了 想出一台钢琴 {lure}", "搬家清闲置 书架衣柜都有 {lure}",
            "家属院3栋两室一厅招租 本校老师优先 {lure}",
            "周四早上去体检中心 能拼车坐三个人 {lure}", "有两张周六的话剧票 原价转 {lure}", "蛋糕券我不吃甜的 送人了 {lure}",
            "团购五常大米 十斤58 {lure} 周五统一下单"]
WARNED = ["群里那个说“减肥茶 {lure}”的是骗子 已经踢了", "大家小心 最近好多“{lure}”的广告号", "“荐股老师 {lure}”这种靠谱吗"]


@settings(max_examples=60, deadline=None)
@given(template=st.sampled_from(LURE_OFFERS), lure=st.sampled_from(LURES), base=st.floats(0.0, 1.0))
def test_an_offer_that_sends_readers_to_a_private_chat_gets_the_lure_verdict(template, lure, base) -> None:
    assert _verdict_on(template, base, lure=lure) == "lure_offer", template.format(lure=lure)


@settings(max_examples=60, deadline=None)
@given(template=st.sampled_from(ONE_OFFS + WARNED), lure=st.sampled_from(LURES), base=st.floats(0.0, 1.0))
def test_a_colleagues_own_sale_or_a_warning_with_the_same_lure_does_not(template, lure, base) -> None:
    assert _verdict_on(template, base, lure=lure) != "lure_offer", template.format(lure=lure)


@pytest.mark.parametrize("text", ["这个视频太戳我笑点了", "回忆点点滴滴我都记得", "需要私家车主自发接送", "感兴趣的私信交流，这是个学术问题",
                                  "本月工资扣12.6元会费", "需要私人定制的旅行方案吗"])
def test_words_that_only_look_like_a_lure_are_not_one(text) -> None:
    assert _verdict_on(text, 0.5) != "lure_offer"


def test_the_lure_verdict_raises_to_the_review_line_with_its_reason(one_by_one, make_post) -> None:
    from nlp.scoring import LURE_FLOOR

    a = one_by_one.pipe([make_post("失眠的老师看过来 我用了一款助眠喷雾 现在沾枕头就着 要的滴滴我")])[0]
    reasons = [r for r in a.reasons_for("spam") if r.code == "lure_offer"]
    assert a.spam >= LURE_FLOOR and reasons and "要的滴滴我" in reasons[0].text, a.reasons_for("spam")
