"""Spam verdicts a text model alone gets wrong: phishing dressed as a notice, warnings against fraud."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st


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
