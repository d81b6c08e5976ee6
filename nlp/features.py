"""Hashed n-gram features for a whole batch, built with array operations only.

Namespaces: character 1-, 2- and 3-grams of the normalised text (no whitespace inside; digits folded to
0, so amounts and numbers generalise), word
unigrams and word bigrams from the segmenter. Each maps to one of 2**bits columns; values are
IDF-weighted counts, L2-normalised per document. The cue matrix (`nlp.cues.FEATURES`) is appended
as extra columns, so one linear model sees both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from nlp.hashing import P, SpanHasher, bucket, mix
from nlp.segment import Tokens, is_space

SALT_CHAR = (0, 0x51A1, 0x51A2, 0x51A3, 0x51A4, 0x51A5)
SALT_WORD = 0x77A1
SALT_BIGRAM = 0x77A2


@dataclass(frozen=True)
class FeatureConfig:
    bits: int = 18
    char_ngrams: tuple[int, ...] = (1, 2, 3)
    words: bool = True
    bigrams: bool = True
    dense_scale: float = 0.5  # weight of the cue columns next to the L2-normalised text part
    fold_digits: bool = True  # character n-grams see every digit as 0: "50万" and "80万" are one feature

    def to_json(self) -> dict:
        return {"bits": self.bits, "char_ngrams": list(self.char_ngrams), "words": self.words,
                "bigrams": self.bigrams, "dense_scale": self.dense_scale, "fold_digits": self.fold_digits}

    @classmethod
    def from_json(cls, d: dict) -> "FeatureConfig":
        return cls(bits=int(d["bits"]), char_ngrams=tuple(d["char_ngrams"]), words=bool(d["words"]),
                   bigrams=bool(d["bigrams"]), dense_scale=float(d["dense_scale"]),
                   fold_digits=bool(d.get("fold_digits", False)))  # bundles from before the option


def fold_digits(codes: np.ndarray) -> np.ndarray:
    """Character codes with every ASCII digit as 0: "50万" and "80万" read alike."""
    return np.where((codes >= 0x31) & (codes <= 0x39), 0x30, codes)


def occurrences(
    cfg: FeatureConfig, codes: np.ndarray, hasher: SpanHasher, doc_of_pos: np.ndarray, tokens: Tokens,
    token_hash: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(docs, columns) of every n-gram occurrence, one pair of arrays per namespace, each sorted by
    document; a repeated n-gram is another occurrence."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    bad = np.concatenate([[0], np.cumsum(is_space(codes))])  # whitespace and the NUL separators
    npos = len(codes)
    # n-gram hashes at each position (the values `SpanHasher` gives): a 1-gram is its code + 1, an
    # n-gram is the (n-1)-gram at the same position times P plus the next code + 1
    chars = fold_digits(codes) if cfg.fold_digits else codes
    grams = {1: chars.astype(np.uint64) + np.uint64(1)}
    for n in range(2, max(cfg.char_ngrams, default=0) + 1):
        grams[n] = grams[n - 1][:-1] * P + grams[1][n - 1 :]
    for n in cfg.char_ngrams:
        a = np.arange(max(npos - n + 1, 0))
        a = a[(bad[a + n] - bad[a]) == 0]
        rows.append(doc_of_pos[a])
        cols.append(bucket(grams[n][a], cfg.bits, SALT_CHAR[n]))
    if cfg.words and len(tokens.start):
        th = hasher(tokens.start, tokens.end) if token_hash is None else token_hash
        rows.append(tokens.doc)
        cols.append(bucket(th, cfg.bits, SALT_WORD))
        if cfg.bigrams:
            same = tokens.doc[1:] == tokens.doc[:-1]
            bh = mix(th[:-1][same]) * P + th[1:][same]
            rows.append(tokens.doc[1:][same])
            cols.append(bucket(bh, cfg.bits, SALT_BIGRAM))
    return list(zip(rows, cols))


def hashed_counts(
    cfg: FeatureConfig,
    codes: np.ndarray,
    hasher: SpanHasher,
    doc_of_pos: np.ndarray,
    n_docs: int,
    tokens: Tokens,
) -> sp.csr_matrix:
    """Occurrences as a matrix, n_docs x 2**bits: one entry per occurrence (repeats add up in
    products), grouped by document without sorting the columns."""
    occ = occurrences(cfg, codes, hasher, doc_of_pos, tokens)
    r = np.concatenate([o[0] for o in occ]) if occ else np.zeros(0, dtype=np.int64)
    c = np.concatenate([o[1] for o in occ]) if occ else np.zeros(0, dtype=np.int64)
    order = np.argsort(r, kind="stable")  # a few already-sorted runs: merging is linear
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_docs), out=indptr[1:])
    data = np.ones(len(r), dtype=np.float32)
    return sp.csr_matrix((data, c[order], indptr), shape=(n_docs, 1 << cfg.bits))


def idf_from_counts(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed IDF per column: log((1 + N) / (1 + df)) + 1 (as scikit-learn's TfidfTransformer)."""
    once = counts.copy()
    once.sum_duplicates()  # document frequency counts a document once
    n = once.shape[0]
    df = np.bincount(once.indices, minlength=once.shape[1]).astype(np.float64)
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)


def weight_text(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """IDF per occurrence, each document scaled to unit norm over its occurrences."""
    n = counts.shape[0]
    vals = idf[counts.indices]
    row = np.repeat(np.arange(n), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row, weights=vals.astype(np.float64) ** 2, minlength=n))
    norms[norms == 0] = 1.0
    data = (vals / norms[row]).astype(np.float32)
    return sp.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)


def weight(counts: sp.csr_matrix, idf: np.ndarray, dense: np.ndarray, cfg: FeatureConfig) -> sp.csr_matrix:
    """The full design matrix for training: weighted text part, then the scaled cue columns."""
    d = sp.csr_matrix(dense.astype(np.float32) * cfg.dense_scale)
    return sp.hstack([weight_text(counts, idf), d], format="csr", dtype=np.float32)
