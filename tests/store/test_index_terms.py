"""store.index_terms.IndexTerms gives the terms its docstring describes, for any run of tokens:
each token's sub-words and the token itself (cleaned), and the 2- and 3-character joins of every
run of single Chinese characters, each term once, in order of first use."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from store.index_terms import IndexTerms, clean_terms


def halves(token: str) -> list[str]:
    """A stand-in for jieba's search mode: the token's two-character pieces."""
    return [token[i : i + 2] for i in range(0, len(token) - 1)]


def reference(tokens: list[str]) -> list[str]:
    out: list[str] = []

    def add(term: str) -> None:
        if term not in out:
            out.append(term)

    def joins(run: list[str]) -> None:
        for n in (2, 3):
            for i in range(len(run) - n + 1):
                add("".join(run[i : i + n]))

    run: list[str] = []
    for token in tokens:
        for term in clean_terms([*halves(token), token]):
            add(term)
        if len(token) == 1 and "\u3400" <= token <= "\u9fff":
            run.append(token)
        else:
            joins(run)
            run = []
    joins(run)
    return out


tokens = st.lists(st.sampled_from(["工", "会", "微", "信", "好", "工会会员", "会员", "30%", "ab", " ", "\n", "x y",
                                   "，", "a", "1", "点赞"]) | st.text(max_size=4), max_size=30)


@settings(max_examples=500)
@given(st.lists(tokens, min_size=1, max_size=4))
def test_terms_are_the_documented_ones_in_order_of_first_use(texts):
    terms = IndexTerms(halves)  # one instance for all texts: the memo carries over between them
    for t in texts:
        assert terms(t) == reference(t)


def test_a_run_of_single_characters_is_joined_in_twos_and_threes():
    assert IndexTerms(halves)(["我", "们", "点", "赞", "工会会员"]) == [
        "我", "们", "点", "赞", "工会", "会会", "会员", "工会会员", "我们", "们点", "点赞", "我们点", "们点赞"]
