"""Fake but well-formed personal data for the pii_leak scenario.

ID numbers carry a valid ISO 7064 MOD 11-2 check character and a plausible birth date; bank
card numbers pass the Luhn check; mobile numbers use real 1[3-9]x prefixes. All are random:
any match with a real person or account is chance.
"""
from __future__ import annotations

import random
import string
from datetime import date, timedelta

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
AREA_CODES = ("110105", "320102", "420106", "510104", "430103", "370102", "330106", "610113",
              "440106", "350102", "410105", "210102")
CARD_BINS = ("622202", "621700", "622848", "621226", "622588", "621483", "623058", "622700")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150",
                   "151", "152", "153", "155", "156", "157", "158", "159", "166", "172", "173",
                   "175", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
                   "188", "189", "191", "195", "198", "199")
MAIL_DOMAINS = ("163.com", "126.com", "qq.com", "foxmail.com", "sina.com", "mail.example.edu.cn")


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def id_valid(number: str) -> bool:
    """18-digit resident ID: digits, a real calendar date, and a matching check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return number[17].upper() == id_check_char(number[:17])


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    if len(digits) < 12 or len(digits) != len(number.replace(" ", "")):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


BIRTH_RANGES = {"adult": (date(1962, 1, 1), date(1998, 12, 31)),
                "child": (date(2019, 9, 1), date(2022, 8, 31)),
                "senior": (date(1940, 1, 1), date(1962, 12, 31))}


def id_number(rng: random.Random, age: str = "adult") -> str:
    first, last = BIRTH_RANGES[age]
    born = first + timedelta(days=rng.randrange((last - first).days))
    first17 = rng.choice(AREA_CODES) + born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)


def bank_card(rng: random.Random) -> str:
    length = rng.choice((16, 19))
    body = rng.choice(CARD_BINS) + "".join(str(rng.randrange(10)) for _ in range(length - 7))
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one Luhn check digit always fits")


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))


def email(rng: random.Random) -> str:
    local = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 7)))
    if rng.random() < 0.6:
        local += str(rng.choice((rng.randint(1970, 1999), rng.randint(1, 999))))
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


def qq_number(rng: random.Random) -> str:
    return str(rng.randint(10**7, 3 * 10**9))


def spaced_card(card: str) -> str:
    return " ".join(card[i:i + 4] for i in range(0, len(card), 4))


def fill(template: str, rng: random.Random) -> tuple[str, dict[str, int]]:
    """Replace <PHONE>/<ID>/<ID_CHILD>/<ID_SENIOR>/<BANK>/<EMAIL>/<QQ>; returns the text and
    counts per PII kind."""
    makers = {"<PHONE>": ("phone", mobile), "<ID>": ("id_card", id_number),
              "<ID_CHILD>": ("id_card", lambda r: id_number(r, "child")),
              "<ID_SENIOR>": ("id_card", lambda r: id_number(r, "senior")),
              "<BANK>": ("bank_card", bank_card), "<EMAIL>": ("email", email),
              "<QQ>": ("qq", qq_number)}
    kinds: dict[str, int] = {}
    for placeholder, (kind, make) in makers.items():
        while placeholder in template:
            value = make(rng)
            if kind == "bank_card" and rng.random() < 0.4:
                value = spaced_card(value)
            template = template.replace(placeholder, value, 1)
            kinds[kind] = kinds.get(kind, 0) + 1
    return template, kinds
