"""PII: checksum-valid ID numbers accepted, invalid rejected; Luhn for bank cards; spans in the original;
every obfuscated form of the issue found (table), ordinary numbers not."""
from __future__ import annotations

import pytest

from nlp.normalize import Normalizer
from nlp.pii import find_pii, id_card_valid, luhn_valid
from tests.pii_values import id_check, luhn_digit


def make_id(first17: str) -> str:
    return first17 + id_check(first17)


def luhn_complete(prefix: str) -> str:
    """The card number with its Luhn digit, computed apart from `nlp.pii` (the code under test)."""
    return prefix + luhn_digit(prefix)


def find(text: str):
    return [(p.kind, text[p.start : p.end]) for p in find_pii(Normalizer()(text))]


def test_id_checksum() -> None:
    good = make_id("11010519491231002")
    assert id_card_valid(good)
    assert id_card_valid(good.lower())
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert not id_card_valid(wrong_check)
    assert not id_card_valid(make_id("11010519491331002"))  # month 13


def test_valid_id_found_invalid_not() -> None:
    good = make_id("44030419900101123")
    bad = good[:17] + ("1" if good[17] != "1" else "2")
    assert find(f"我的身份证号是{good}") == [("id_card", good)]
    assert [k for k, _ in find(f"编号{bad}")] != ["id_card"]


def test_luhn_bank_card() -> None:
    card = luhn_complete("622202123456789")
    assert luhn_valid(card)
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert not luhn_valid(broken)
    assert find(f"卡号{card}转账") == [("bank_card", card)]
    assert find(f"卡号{broken}转账") == []
    grouped = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    assert find(f"卡号 {grouped} 谢谢") == [("bank_card", grouped)]


def test_phone_email_qq_with_spans_in_the_original_text() -> None:
    text = "电话：１３８ １２３４ ５６７８，邮箱 Zhang.San@abc.edu.cn，扣扣：一二三四五六七八九"
    found = find(text)
    assert ("phone", "１３８ １２３４ ５６７８") in found
    assert ("email", "Zhang.San@abc.edu.cn") in found
    assert ("qq", "一二三四五六七八九") in found


def test_zero_width_inside_a_number_still_maps_to_the_whole_number() -> None:
    text = "手机1\u200b3812345678"
    assert find(text) == [("phone", "1\u200b3812345678")]


def test_ordinary_numbers_are_not_pii() -> None:
    assert find("今年涨了 300 元，2024年5月1日开会，编号12345") == []


ID = make_id("11010519900101123")  # 110105199001011232
ID_X = make_id("11010519491231002")  # ends in X
CARD = luhn_complete("622202123456789")


def spaced(s: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for n in sizes:
        out.append(s[i : i + n])
        i += n
    return sep.join(out)


@pytest.mark.parametrize("text, kind, value", [
    # ID numbers: spaces, dashes, groups of four, between every digit, full-width, Chinese numerals
    (f"身份证 {spaced(ID_X, (6, 8, 4), ' ')} 请核对", "id_card", spaced(ID_X, (6, 8, 4), " ")),
    (f"身份证号：{spaced(ID, (6, 8, 4), '-')}", "id_card", spaced(ID, (6, 8, 4), "-")),
    (f"证件号 {spaced(ID_X, (4, 4, 4, 4, 2), ' ')}", "id_card", spaced(ID_X, (4, 4, 4, 4, 2), " ")),
    (f"证件号 {' '.join(ID)}", "id_card", " ".join(ID)),
    ("身份证：" + ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")), "id_card",
     ID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))),
    ("身份证：" + ID.translate(str.maketrans("0123456789", "零一二三四五六七八九")), "id_card",
     ID.translate(str.maketrans("0123456789", "零一二三四五六七八九"))),
    (f"身份证 {ID_X.lower()}", "id_card", ID_X.lower()),
    # mobile numbers in every separated form
    ("电话 138 1234 5678 找我", "phone", "138 1234 5678"),
    ("电话 138-1234-5678", "phone", "138-1234-5678"),
    ("电话 138.1234.5678", "phone", "138.1234.5678"),
    ("电话1 3 8 1 2 3 4 5 6 7 8", "phone", "1 3 8 1 2 3 4 5 6 7 8"),
    ("电话 1-3-8-1-2-3-4-5-6-7-8", "phone", "1-3-8-1-2-3-4-5-6-7-8"),
    ("电话 138 - 1234 - 5678", "phone", "138 - 1234 - 5678"),
    ("电话 １３８１２３４５６７８", "phone", "１３８１２３４５６７８"),
    ("电话 一三八一二三四五六七八", "phone", "一三八一二三四五六七八"),
    ("电话 壹叁捌壹贰叁肆伍陆柒捌", "phone", "壹叁捌壹贰叁肆伍陆柒捌"),
    ("电话 幺三八 1234 五六七八", "phone", "幺三八 1234 五六七八"),
    ("电话 1\u200b38\u200c1234\u200d5678", "phone", "1\u200b38\u200c1234\u200d5678"),
    ("电话 +86 138 1234 5678", "phone", "+86 138 1234 5678"),
    ("电话 (+86)13812345678", "phone", "(+86)13812345678"),
    ("电话 +8613812345678", "phone", "+8613812345678"),
    ("tel13812345678", "phone", "13812345678"),
    # bank cards
    (f"卡号 {spaced(CARD, (4, 4, 4, 4), '-')}", "bank_card", spaced(CARD, (4, 4, 4, 4), "-")),
    (f"卡号 {' '.join(CARD)}", "bank_card", " ".join(CARD)),
    # emails
    ("邮箱 zhang(at)abc.cn", "email", "zhang(at)abc.cn"),
    ("邮箱 zhang[at]abc.edu.cn 谢谢", "email", "zhang[at]abc.edu.cn"),
    ("邮箱 zhang（at）abc.cn", "email", "zhang（at）abc.cn"),
    ("邮箱 zhang 艾特 abc.com", "email", "zhang 艾特 abc.com"),
    ("邮箱 zhang艾特abc点com", "email", "zhang艾特abc点com"),
    ("邮箱 zhang＠abc.com", "email", "zhang＠abc.com"),
    ("邮箱 zhang at abc dot com", "email", "zhang at abc dot com"),
    ("邮箱 zhang@abc(dot)edu[dot]cn", "email", "zhang@abc(dot)edu[dot]cn"),
    ("邮箱 Zhang.San@ABC.edu.cn", "email", "Zhang.San@ABC.edu.cn"),
    # QQ, after a context word
    ("QQ 12345678", "qq", "12345678"),
    ("qq号：123456", "qq", "123456"),
    ("扣扣：一二三四五六七八", "qq", "一二三四五六七八"),
    ("企鹅 123456", "qq", "123456"),
    ("企鹅号：1234567", "qq", "1234567"),
    ("Q号：123456", "qq", "123456"),
    ("Q:123456", "qq", "123456"),
    ("q群123456", "qq", "123456"),
    ("加q群 1 2 3 4 5 6 7", "qq", "1 2 3 4 5 6 7"),
    ("ＱＱ：１２３４５６７", "qq", "１２３４５６７"),
    # WeChat ids, after a context word, and wxid_
    ("微信号：abc12345", "wechat", "abc12345"),
    ("加微信zhangsan", "wechat", "zhangsan"),
    ("vx: abc_def", "wechat", "abc_def"),
    ("VX：Zhang_San88", "wechat", "Zhang_San88"),
    ("wx：zhangsan", "wechat", "zhangsan"),
    ("V信 abcdef1", "wechat", "abcdef1"),
    ("薇信abcdef", "wechat", "abcdef"),
    ("威信 fyjl_888", "wechat", "fyjl_888"),
    ("加V abcdef", "wechat", "abcdef"),
    ("v:abcdef", "wechat", "abcdef"),
    ("➕V：hs_card", "wechat", "hs_card"),
    ("+vyc2901", "wechat", "yc2901"),
    ("微信号是 zhang-san", "wechat", "zhang-san"),
    ("ＶＸ：ｚｃｌｗ８８", "wechat", "ｚｃｌｗ８８"),
    ("我的 wxid_abc123xyz 加我", "wechat", "wxid_abc123xyz"),
    ("加微信 13812345678", "phone", "13812345678"),
])
def test_obfuscated_personal_data_is_found(text: str, kind: str, value: str) -> None:
    assert find(text) == [(kind, value)]


@pytest.mark.parametrize("text", [
    "2026-03-01 开会", "2026-03-01 08:30", "2026年3月1日", "20260301", "2026.03.01-2026.03.05", "08:30:00",
    "涨了 3000元", "1.5万", "12.5%", "版本 v3.10.12", "#12345", "编号12345", "第 3 食堂 302 室",
    "1381234567",  # 10 digits: not a phone
    "138123456789",  # 12 digits: not a phone
    "订单号DD13812345678X",  # an order number with letters
    "订单号 SF1381234567890",
    "110105199001011233",  # wrong ID checksum
    "1101 0519 9001 0112 33",  # wrong ID checksum, grouped
    "6222021234567890",  # not Luhn-valid
    "look at baidu.com", "访问 www.pku.edu.cn", "@张老师 您好",
    "关注微信公众号", "微信群里说", "微信 12345", "QQ群", "QQ 1234",  # no id, too short
    "微信 abcde",  # WeChat ids have 6–20 characters
    "我在wechat group 里",
    "一二三四五六",  # six Chinese numerals: words, not a number
])
def test_not_personal_data(text: str) -> None:
    assert find(text) == []


def test_find_pii_spans_are_sorted_in_bounds_and_do_not_overlap() -> None:
    text = f"电话 138 1234 5678，身份证 {spaced(ID, (6, 8, 4), '-')}，邮箱 a.b(at)abc.cn，微信 abc12345，QQ 123456"
    spans = find_pii(Normalizer()(text))
    assert [s.kind for s in spans] == ["phone", "id_card", "email", "wechat", "qq"]
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


def test_wechat_label() -> None:
    from core.domain import PII_LABELS_ZH, PIISpan

    assert PII_LABELS_ZH["wechat"] == "微信号"
    assert PIISpan("wechat", 0, 6).label_zh == "微信号"


def test_reasons_and_keywords_never_quote_personal_data(analyzer, make_post) -> None:
    """Reasons and keywords are shown to every role: contact cues carry masked values, the PII reason
    names kinds and counts only."""
    texts = [
        "兼职刷单日赚500，加微信abc12345，电话13812345678，QQ：12345678",
        "高价回收购物卡 vx：hs_card88 电话 138 1234 5678 扣扣 一二三四五六七八 办公室 0571-88886666",
        "点击链接 http://x.cn/?tel=13912345678 领取补贴，加薇信 zhangsan2024，wxid_qwe123rty",
        f"我的邮箱 zhang(at)abc.edu.cn，身份证 {ID}，微信号 lisi_1990，工资怎么又降了",
    ]
    values = ["abc12345", "13812345678", "12345678", "hs_card88", "138 1234 5678", "一二三四五六七八", "88886666",
              "13912345678", "zhangsan2024", "wxid_qwe123rty", "zhang(at)", ID, "lisi_1990"]
    analyses = analyzer.pipe([make_post(t) for t in texts])
    for a in analyses:
        shown = " ".join([r.text for r in a.reasons] + a.keywords)
        assert not [v for v in values if v in shown], shown
    spam_reasons = " ".join(r.text for r in analyses[0].reasons)
    assert "微信ab****45" in spam_reasons and "138****5678" in spam_reasons and "12****78" in spam_reasons
    (pii_reason,) = [r.text for r in analyses[3].reasons if r.score == "pii"]
    assert pii_reason == "含个人信息：电子邮箱 1 处、身份证号 1 处、微信号 1 处"


@pytest.mark.parametrize("text", ["下 q QQ10000，下下下", "加qQQ123456", "qqq 5201314 找我"])
def test_a_stray_q_next_to_qq_does_not_hide_the_number(text) -> None:
    """Found by the property test: "q QQ10000" normalised to "QQq10000", and the number was lost."""
    assert [k for k, _ in find(text)] == ["qq"], find(text)
