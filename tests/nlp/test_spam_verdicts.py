"""Spam verdicts a text model alone gets wrong: phishing dressed as a notice, warnings against fraud."""
from __future__ import annotations

import pytest


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
    assert a.spam >= 0.85 and "phishing" in codes(a), (text, a.spam, a.reasons_for("spam"))


def test_the_same_request_through_an_official_link_is_not_phishing(analyzer, make_post) -> None:
    text = "【财务处】系统升级后请登录 {} 重新绑定工资卡，有疑问请到财务处咨询"
    official, outside = analyzer.pipe([make_post(text.format("https://cwc.example.edu.cn")),
                                       make_post(text.format("http://cwc-pay.top"))])
    assert "phishing" not in codes(official)
    assert "phishing" in codes(outside) and outside.spam >= 0.85


@pytest.mark.parametrize("text", WARNINGS)
def test_a_warning_against_fraud_is_not_an_advert(analyzer, make_post, text) -> None:
    a = analyzer.pipe([make_post(text)])[0]
    assert a.spam <= 0.3 and "fraud_warning" in codes(a), (text, a.spam, a.reasons_for("spam"))


def test_an_advert_that_says_beware_of_fraud_keeps_its_contact_and_its_score(analyzer, make_post) -> None:
    a = analyzer.pipe([make_post("正规兼职不收任何费用，谨防诈骗，日结三百，加薇 jz52013 详聊")])[0]
    assert "fraud_warning" not in codes(a) and a.spam >= 0.8, (a.spam, a.reasons_for("spam"))
