"""Process-wide, load-once resources (dictionaries, converters), behind explicit loader functions.

Each loader builds its resource on first call and returns the same object afterwards; the cost is
paid once per process (about a second for the segmenter's dictionary), not per batch or per test.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path

from nlp.claims import TermExtractor
from nlp.cues import CueScanner
from nlp.keywords import KeywordExtractor, jieba_idf_path
from nlp.normalize import Normalizer
from nlp.segment import Segmenter, jieba_dict_path

RESOURCE_DIR = Path(__file__).resolve().parent / "resources"
USERDICT = RESOURCE_DIR / "userdict.txt"


@functools.lru_cache(maxsize=4)
def segmenter(userdict: Path = USERDICT) -> Segmenter:
    return Segmenter.from_files(jieba_dict_path(), [userdict])


@functools.lru_cache(maxsize=1)
def normalizer() -> Normalizer:
    return Normalizer()


@functools.lru_cache(maxsize=1)
def cue_scanner() -> CueScanner:
    return CueScanner()


@functools.lru_cache(maxsize=1)
def keyword_extractor() -> KeywordExtractor:
    return KeywordExtractor.from_file(jieba_idf_path())


@functools.lru_cache(maxsize=1)
def claim_terms() -> TermExtractor:
    """Claim terms of a post (`nlp.claims`), weighted with jieba's IDF table."""
    kx = keyword_extractor()
    return TermExtractor(lambda t: kx.idf.get(t, kx.median))


@functools.lru_cache(maxsize=1)
def search_tokenizer():  # -> jieba.Tokenizer
    """jieba with the union user dictionary (same word frequencies as the batch segmenter)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    seg = segmenter()
    for line in USERDICT.read_text(encoding="utf-8").splitlines():
        word = line.split()[0] if line.strip() and not line.startswith("#") else ""
        if word:
            tk.add_word(word, int(seg.words.get(word, 0) or seg.suggest_freq(word)))
    return tk


@functools.lru_cache(maxsize=1)
def search_cut():  # -> nlp.searchcut.SearchCut
    """`search_tokenizer()`'s search-mode cut for whole batches (nlp.searchcut)."""
    from nlp.searchcut import SearchCut

    return SearchCut(search_tokenizer())
