"""Pipeline components: one small class per step, all with the same batch contract.

Every component has a versioned `name` and `pipe(batch, ctx) -> batch`, working on a `Batch` of
`Doc`s (the whole batch at once where arrays make it fast). The pipeline is the list `PIPELINE` of
names; `build_pipeline(names)` looks them up in `REGISTRY`. `Context` carries what components share
and what can change while the service runs (the model bundle, the window, the debunk registry).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, Sequence

import numpy as np

from core.domain import PIISpan, Post, Reason, Sentiment
from core.errors import UnknownNameError
from nlp import resources
from nlp.cues import FEATURES, PII_FEATURE_KINDS, CueHits
from nlp.debunk import DebunkMatch, DebunkMatcher
from nlp.claims import ClaimIndex, ClaimInfo
from nlp.dedup import ClusterInfo, NearDupIndex, signatures
from nlp.features import SALT_WORD, occurrences
from nlp.hashing import SpanHasher, bucket, codes_of
from nlp.keywords import topic_of
from nlp.model import ModelBundle
from nlp.normalize import Normalized, matching_docs
from nlp.pii import HINT as PII_HINT, find_pii
from nlp.segment import Tokens, is_alnum, is_han

NOT_EVASIONS = frozenset({"traditional"})


class Doc:
    """One post as it moves through the pipeline (internal; `Analysis` is what leaves nlp/).

    A plain slotted class with a hand-written constructor: one is made per post per batch, so its
    construction cost counts. `text` is the normalised text ("" until `Normalize` ran), `blank` whether
    it has no visible content."""

    __slots__ = ("post", "norm", "text", "blank", "tokens", "cues", "evasions", "sentiment", "polarity", "spam",
                 "rumour", "keywords", "pii", "topic", "debunk", "cluster", "claim", "reasons", "extra", "flood",
                 "lookalikes", "grievance", "abuse")

    def __init__(self, post: Post) -> None:
        self.post = post
        self.norm: Normalized | None = None
        self.text = ""
        self.blank = True
        self.tokens: list[str] = []
        self.cues: CueHits | None = None
        self.evasions: list[str] = []
        self.sentiment = Sentiment.NEU
        self.polarity = 0.0
        self.spam = 0.0
        self.rumour = 0.0
        self.keywords: list[str] = []
        self.pii: list[PIISpan] = []
        self.topic: str | None = None
        self.debunk: DebunkMatch | None = None
        self.cluster: ClusterInfo | None = None
        self.claim: ClaimInfo | None = None  # set for rumour-ish posts when the analyzer keeps a window
        self.reasons: list[Reason] = []
        self.extra: dict[str, Any] = {}
        self.flood = 0.0  # repetition when the text itself is a screen flood
        self.lookalikes: list = []  # links dressed as the university's site (nlp.domains.Lookalike)
        self.grievance = 0.0
        self.abuse = 0.0

    def set_norm(self, norm: Normalized) -> None:
        self.norm = norm
        self.text = norm.text
        self.blank = not norm.text or norm.text.isspace()


@dataclass
class Batch:
    docs: list[Doc]
    text: str = ""  # normalised texts joined by NUL (plus a final NUL)
    codes: np.ndarray | None = None
    hasher: SpanHasher | None = None
    starts: np.ndarray | None = None  # start of each document in `text`
    doc_of_pos: np.ndarray | None = None
    tokens: Tokens | None = None
    token_hash: np.ndarray | None = None
    word_index: np.ndarray | None = None  # indices into `tokens` of word-like tokens (Doc.tokens)
    word_cuts: list[int] | None = None  # Doc i's words are word_index[word_cuts[i]:word_cuts[i+1]]
    words: list[str] | None = None  # the word-like tokens of the whole batch, in order
    _content: tuple[np.ndarray, np.ndarray] | None = None

    def content_words(self) -> tuple[np.ndarray, np.ndarray]:
        """(mask, idf) over `words`: which are content words (2+ Chinese characters or a 3+ letter
        word, not a stop word), and their IDF (jieba's table). Computed once per batch."""
        if self._content is None:
            assert self.tokens is not None and self.word_index is not None and self.codes is not None
            assert self.token_hash is not None
            wi = self.word_index
            start = self.tokens.start[wi]
            lens = self.tokens.end[wi] - start
            first = self.codes[start]
            ok = (is_han(first) & (lens >= 2)) | ((first >= 97) & (first <= 122) & (lens >= 3))
            idf = resources.keyword_extractor().idf_of(self.token_hash[wi])
            ok &= idf > 0  # stop words have weight 0
            self._content = (ok, idf)
        return self._content
    dense: np.ndarray | None = None
    z: np.ndarray | None = None  # model decision values, n_docs x n_heads
    pii_found: bool = False  # Doc.pii is set for every document (`find_batch_pii` ran)


@dataclass
class Context:
    models: ModelBundle
    window: NearDupIndex | None = None
    debunks: DebunkMatcher | None = None
    claims: ClaimIndex | None = None
    warm_keys: Sequence[str | None] | None = None  # cluster keys to reuse (warm-up only)
    warm_claims: Sequence[str | None] | None = None  # claim keys to reuse (warm-up only)
    official_domains: Sequence[str] = ()  # the university's own sites (config `official_domains`)


class Component(Protocol):
    name: str

    def pipe(self, batch: Batch, ctx: Context) -> Batch: ...


# ---------------------------------------------------------------------------- text
class Normalize:
    name = "normalize.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        norms = resources.normalizer().batch([d.post.text for d in batch.docs])
        for d, n in zip(batch.docs, norms):
            d.set_norm(n)
            if n.evasions:
                d.evasions = [e for e in n.evasions if e not in NOT_EVASIONS]
        texts = [n.text for n in norms]
        batch.text = "\x00".join(texts) + "\x00"
        batch.codes = codes_of(batch.text)
        lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        batch.starts = np.cumsum(lens + 1) - (lens + 1)
        batch.doc_of_pos = np.repeat(np.arange(len(texts)), lens + 1)
        batch.hasher = SpanHasher(batch.codes)
        return batch


class Tokenize:
    name = "tokenize.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        assert batch.codes is not None and batch.hasher is not None and batch.starts is not None
        tk = resources.segmenter().segment(batch.codes, batch.hasher, batch.starts)
        batch.tokens = tk
        batch.token_hash = batch.hasher(tk.start, tk.end)
        first = batch.codes[tk.start]
        wordlike = np.nonzero(is_han(first) | is_alnum(first))[0]
        words = spans_to_strings(batch.codes, tk.start[wordlike], tk.end[wordlike])
        cuts = np.searchsorted(tk.doc[wordlike], np.arange(len(batch.docs) + 1)).tolist()
        batch.word_index, batch.word_cuts, batch.words = wordlike, cuts, words
        for i, d in enumerate(batch.docs):
            d.tokens = words[cuts[i] : cuts[i + 1]]
        return batch


def docs_matching(rx: re.Pattern[str], batch: Batch) -> list[int]:
    """Indices of the documents in which `rx` finds a match, from searches over the batch string (at
    most one per matching document). `rx` must not match across the NUL that ends each document."""
    assert batch.starts is not None
    return matching_docs(rx, batch.text, batch.starts.tolist())


def spans_to_strings(codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> list[str]:
    """The strings codes[start:end], built in C: copy the spans with a separator after each into
    one array, decode it once and split it (much cheaper than slicing a str once per token)."""
    if not len(start):
        return []
    lens = end - start
    slot = lens + 1
    total = int(slot.sum())
    out = np.full(total, 1, dtype=np.uint32)  # U+0001 separates tokens: never inside a token
    offs = np.cumsum(slot) - slot
    k = np.repeat(np.arange(len(start)), lens)
    within = np.arange(len(k)) - np.repeat(np.cumsum(lens) - lens, lens)
    out[np.take(offs, k) + within] = np.take(codes, np.take(start, k) + within)
    return out.tobytes().decode("utf-32-le").split("\x01")[:-1]


class Cues:
    name = "cues.v2"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        assert batch.starts is not None
        dense, hits = resources.cue_scanner().scan(
            batch.text, batch.starts, batch.codes, batch.doc_of_pos, [len(d.evasions) for d in batch.docs],
            batch.hasher,
        )
        batch.dense = dense
        for d, h in zip(batch.docs, hits):
            d.cues = h
            d.topic = topic_of(h.topics)  # known before scoring: the rumour score looks at it
        # Personal data is found before the models score: a post that gives an ID or bank-card number
        # (a member pasting their own for help) reads unlike phishing, which asks for one.
        find_batch_pii(batch)
        for i, d in enumerate(batch.docs):
            if d.pii:
                kinds = [s.kind for s in d.pii]
                for kind, col in PII_COLUMNS.items():
                    dense[i, col] = np.log1p(kinds.count(kind))
        return batch


PII_COLUMNS: dict[str, int] = {kind: FEATURES.index(f"pii_{kind}") for kind in PII_FEATURE_KINDS}


def find_batch_pii(batch: Batch) -> None:
    """Set `Doc.pii` for every document of the batch (once: later calls do nothing)."""
    if batch.pii_found:
        return
    docs = batch.docs
    todo = set(docs_matching(PII_HINT, batch))  # most posts hold no digits run or "@": skipped
    todo.update(i for i, d in enumerate(docs) if "obfuscated_url" in d.evasions)  # name at abc dot com
    for i in sorted(todo):
        d = docs[i]
        assert d.norm is not None
        d.pii = find_pii(d.norm, hinted=True)
    batch.pii_found = True


class Featurize:
    name = "featurize.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        assert batch.codes is not None and batch.hasher is not None and batch.tokens is not None
        m = ctx.models
        occ = occurrences(m.cfg, batch.codes, batch.hasher, batch.doc_of_pos, batch.tokens, batch.token_hash)
        dense = batch.dense
        if m.dense_features != FEATURES:  # a model from another version: its cue columns, by name
            col = {f: i for i, f in enumerate(FEATURES)}
            dense = np.zeros((len(batch.docs), len(m.dense_features)), dtype=np.float32)
            for j, f in enumerate(m.dense_features):
                if f in col:
                    dense[:, j] = batch.dense[:, col[f]]
        batch.z = m.decision_occurrences(occ, dense)
        return batch


# ---------------------------------------------------------------------------- window and registry
class NearDup:
    name = "neardup.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        if ctx.window is None:
            for d in batch.docs:
                d.cluster = ClusterInfo(None)
            return batch
        assert batch.codes is not None and batch.doc_of_pos is not None
        sig, ok = signatures(batch.codes, batch.doc_of_pos, len(batch.docs))
        infos = ctx.window.add_batch(sig, ok, [d.text for d in batch.docs], [d.post for d in batch.docs],
                                     ctx.warm_keys)
        for d, info in zip(batch.docs, infos):
            d.cluster = info
        return batch


class DebunkLookup:
    name = "debunk.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        if ctx.debunks:
            for d in batch.docs:
                d.debunk = ctx.debunks.match(d.text, d.tokens)
        return batch


# ---------------------------------------------------------------------------- other outputs
class PII:
    """PII spans per post. The reason names the kinds found and how often, never a value; words of
    those values are taken out of the term reasons (and, later, the keywords), which every role sees."""

    name = "pii.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        find_batch_pii(batch)  # `Cues` has found them already, in the standard pipeline
        for d in batch.docs:
            if d.pii:
                _drop_pii_terms(d)
                kinds: dict[str, int] = {}
                for s in d.pii:
                    kinds[s.label_zh] = kinds.get(s.label_zh, 0) + 1
                txt = "、".join(f"{k} {v} 处" for k, v in kinds.items())
                d.reasons.append(Reason("pii", "pii_found", f"含个人信息：{txt}", float(len(d.pii))))
        return batch


def _pii_values(d: Doc) -> list[str]:
    """The personal values of the post, roughly as the normaliser writes them (NFKC, lower case)."""
    post = d.post.text
    return [unicodedata.normalize("NFKC", post[s.start:s.end]).lower() for s in d.pii]


def _pii_free(words: list[str], d: Doc) -> list[str]:
    """`words` without those that are part of a personal value of the post (a WeChat id, an email's
    name): keywords and terms are shown to every role."""
    if not d.pii or not words:
        return words
    values = _pii_values(d)
    return [w for w in words if not any(w in v for v in values)]


TERM_REASONS = ("positive_terms", "negative_terms")  # "正面词：a、b" (nlp.scoring), written before PII runs


def _drop_pii_terms(d: Doc) -> None:
    """Take personal values out of the term reasons already written for the post."""
    out = []
    for r in d.reasons:
        if r.code in TERM_REASONS:
            head, sep, rest = r.text.partition("：")
            words = rest.split("、")
            kept = _pii_free(words, d)
            if not kept:
                continue
            if kept != words:
                r = Reason(r.score, r.code, head + sep + "、".join(kept), r.weight)
        out.append(r)
    d.reasons = out


class Keywords:
    """Top-5 TF-IDF keywords per post (vectorised over the batch) and the coarse topic."""

    name = "keywords.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        assert batch.words is not None and batch.tokens is not None and batch.word_index is not None
        ok, idf = batch.content_words()
        for d, kws in zip(batch.docs, top_per_doc(batch, idf * ok, k=5)):
            d.keywords = kws = _pii_free(kws, d)
            if kws:
                d.reasons.append(Reason("keywords", "tfidf", "关键词：" + "、".join(kws)))
        return batch


def top_per_doc(batch: Batch, weights: np.ndarray, k: int, only: np.ndarray | None = None) -> list[list[str]]:
    """For each doc, its `k` distinct words with the highest summed weight (weight > 0 only).
    `weights` is aligned with `batch.words`; `only` optionally masks docs to compute."""
    assert batch.tokens is not None and batch.word_index is not None and batch.token_hash is not None
    assert batch.words is not None
    out: list[list[str]] = [[] for _ in batch.docs]
    wi = batch.word_index
    doc = batch.tokens.doc[wi]
    sel = np.nonzero(weights > 0)[0] if only is None else np.nonzero((weights > 0) & only[doc])[0]
    if not len(sel):
        return out
    d, h, w = doc[sel], batch.token_hash[wi][sel], weights[sel]
    order = _sort_by(d, h)  # group repeats of a word within a doc
    d, h, w, sel = d[order], h[order], w[order], sel[order]
    first = np.r_[True, (d[1:] != d[:-1]) | (h[1:] != h[:-1])]
    starts = np.nonzero(first)[0]
    score = np.add.reduceat(w, starts)
    d, h, sel = d[starts], h[starts], sel[starts]
    order = _sort_by(d, -score, h)
    d, sel = d[order], sel[order]
    rank = np.arange(len(d)) - np.searchsorted(d, d)
    keep = rank < k
    words = batch.words
    for di, si in zip(d[keep].tolist(), sel[keep].tolist()):
        out[di].append(words[si])
    return out


def _sort_by(doc: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """`np.lexsort((*reversed(keys), doc))`: by document, then by each key in turn, stable. Done as
    one stable sort per key, the document index last with a radix sort (much faster than lexsort)."""
    if len(doc) and int(doc.max()) >= 1 << 16:
        return np.lexsort((*reversed(keys), doc))
    order = np.argsort(keys[-1], kind="stable")
    for k in reversed(keys[:-1]):
        order = order[np.argsort(k[order], kind="stable")]
    return order[np.argsort(doc[order].astype(np.uint16), kind="stable")]


def build_pipeline(names: Sequence[str]) -> list[Component]:
    from nlp.rumour import Rumour
    from nlp.scoring import SentimentScorer, Spam
    from nlp.voice import Abuse, Grievance

    registry: dict[str, type] = {c.name: c for c in (
        Normalize, Tokenize, Cues, Featurize, NearDup, DebunkLookup, SentimentScorer, Spam, Grievance, Abuse, Rumour,
        PII, Keywords,
    )}
    out = []
    for n in names:
        if n not in registry:
            raise UnknownNameError(f"未知的 NLP 组件“{n}”，可选：{'、'.join(sorted(registry))}")
        out.append(registry[n]())
    return out


PIPELINE: tuple[str, ...] = (
    "normalize.v1", "tokenize.v1", "cues.v2", "featurize.v1", "neardup.v1", "debunk.v1",
    "sentiment.v1", "spam.v1", "grievance.v1", "abuse.v1", "rumour.v2", "pii.v1", "keywords.v1",
)
TEXT_PIPELINE: tuple[str, ...] = ("normalize.v1", "tokenize.v1")


def make_batch(texts: Sequence[str]) -> Batch:
    """A batch of bare texts (no real posts), for training, evaluation and the registry."""
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    return Batch([Doc(Post("_", str(i), "_", t, epoch)) for i, t in enumerate(texts)])


def analyse_texts(texts: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(normalised text, tokens) for each text."""
    batch = make_batch(texts)
    for comp in (Normalize(), Tokenize()):
        batch = comp.pipe(batch, None)  # type: ignore[arg-type]  # text components need no context
    return [(d.text, d.tokens) for d in batch.docs]


def word_weights(batch: Batch, coef: np.ndarray, bits: int) -> np.ndarray:
    """The model weight of each token of the batch (for 'top terms' reasons)."""
    assert batch.token_hash is not None
    return coef[bucket(batch.token_hash, bits, SALT_WORD)]
