"""Tokens for full-text search: the store indexes `search_tokens(text)` and tokenises queries with it.

`search_tokens` normalises (Traditional → Simplified, full-width → half-width, evasions undone,
lower-case ASCII) and cuts with jieba's search mode (long words also yield their dictionary
sub-words), with the union user dictionary. Punctuation and whitespace are dropped.
"""
from __future__ import annotations

import re

from nlp import resources

_KEEP = re.compile(r"[\u3400-\u9fff0-9a-zA-Z]")
# jieba's HMM (for words not in the dictionary) copies its whole path at every character: quadratic in
# the length of a run without punctuation ("哈" × 20,000 took 1.7 s). Runs are cut into pieces of at
# most MAX_PIECE characters (a real sentence is shorter; a cut inside a word only loses that word).
MAX_PIECE = 64
_RUN = re.compile(r"[\u3400-\u9fff0-9a-zA-Z]{%d,}" % (MAX_PIECE + 1))


def search_tokens(text: str) -> list[str]:
    """Normalised jieba search-mode tokens of `text` (index and query use the same function).
    Linear in the length of the text."""
    norm = resources.normalizer()(text).text
    tk = resources.search_tokenizer()
    if _RUN.search(norm):
        norm = _RUN.sub(lambda m: " ".join(_slices(m.group(), MAX_PIECE)), norm)
    return [t for t in tk.cut_for_search(norm) if _KEEP.search(t)]


def _slices(run: str, n: int) -> list[str]:
    return [run[i : i + n] for i in range(0, len(run), n)]


def tokens(text: str) -> list[str]:
    """Analysis tokens of one text (the batch segmenter, as `Analysis.tokens`)."""
    from nlp.components import analyse_texts

    return analyse_texts([text])[0][1]
