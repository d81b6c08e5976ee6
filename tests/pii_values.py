"""Well-formed personal values for tests: the ID check character (ISO 7064, as `nlp.pii` checks it), the
Luhn digit of a bank card, and Hypothesis strategies for mobile numbers, ID numbers and bank cards."""
from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:  # doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


mobiles = st.builds(lambda b, rest: "1" + b + rest, st.sampled_from("3456789"), digits(9))


@st.composite
def id_numbers(draw, valid: bool | None = None) -> str:
    region = draw(st.sampled_from("12345678")) + draw(digits(5))
    born = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2020, 12, 31))).strftime("%Y%m%d")
    first17 = region + born + draw(digits(3))
    good = id_check(first17)
    if valid is None:
        valid = draw(st.booleans())
    check = good if valid else draw(st.sampled_from([c for c in "0123456789X" if c != good]))
    return first17 + check


@st.composite
def bank_cards(draw) -> str:
    n = draw(st.integers(16, 19))
    partial = draw(st.sampled_from(["62", "4", "5", "60"]))
    partial += draw(digits(n - 1 - len(partial)))
    return partial + luhn_digit(partial)
