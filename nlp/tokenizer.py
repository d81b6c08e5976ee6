"""Tokens for full-text search: the store indexes `search_tokens(text)` and tokenises queries with it.

`search_tokens` normalises (Traditional → Simplified, full-width → half-width, evasions undone,
lower-case ASCII) and cuts with jieba's search mode (long words also yield their dictionary
sub-words), with the union user dictionary. Punctuation and whitespace are dropped.
"""
from __future__ import annotations

import re
from typing import Sequence

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
    norm = _pieces(resources.normalizer()(text).text)
    return [t for t in resources.search_tokenizer().cut_for_search(norm) if _KEEP.search(t)]


def search_tokens_many(texts: Sequence[str]) -> list[list[str]]:
    """`[search_tokens(t) for t in texts]`, token for token, at a fraction of the cost: the texts are
    normalised as one batch and cut by `nlp.searchcut` (jieba's route for a whole batch at once).
    The store indexes a batch of analysed posts with it."""
    norms = [_pieces(n.text) for n in resources.normalizer().batch(list(texts))]
    return [[t for t in words if _KEEP.search(t)] for words in resources.search_cut().many(norms)]


def _pieces(norm: str) -> str:
    return _RUN.sub(lambda m: " ".join(_slices(m.group(), MAX_PIECE)), norm) if _RUN.search(norm) else norm


def _slices(run: str, n: int) -> list[str]:
    return [run[i : i + n] for i in range(0, len(run), n)]


def tokens(text: str) -> list[str]:
    """Analysis tokens of one text (the batch segmenter, as `Analysis.tokens`)."""
    from nlp.components import analyse_texts

    return analyse_texts([text])[0][1]
