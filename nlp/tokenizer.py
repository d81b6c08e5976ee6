"""Tokens for full-text search: the store indexes `search_tokens(text)` and tokenises queries with it.

`search_tokens` normalises (Traditional → Simplified, full-width → half-width, evasions undone,
lower-case ASCII) and cuts with jieba's search mode (long words also yield their dictionary
sub-words), with the union user dictionary. Punctuation and whitespace are dropped.
"""
from __future__ import annotations

import re

from nlp import resources

_KEEP = re.compile(r"[\u3400-\u9fff0-9a-zA-Z]")


def search_tokens(text: str) -> list[str]:
    """Normalised jieba search-mode tokens of `text` (index and query use the same function)."""
    norm = resources.normalizer()(text).text
    tk = resources.search_tokenizer()
    return [t for t in tk.cut_for_search(norm) if _KEEP.search(t)]


def tokens(text: str) -> list[str]:
    """Analysis tokens of one text (the batch segmenter, as `Analysis.tokens`)."""
    from nlp.components import analyse_texts

    return analyse_texts([text])[0][1]
