"""PII: checksum-valid ID numbers accepted, invalid rejected; Luhn for bank cards; spans in the original."""
from __future__ import annotations

from nlp.normalize import Normalizer
from nlp.pii import find_pii, id_card_valid, luhn_valid

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_valid(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


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
