"""nlp/: from a post's text to an `Analysis` (core.domain), in batches, with reasons.

Use::

    from nlp import Analyzer
    analyzer = Analyzer.load(data_dir)          # models: DIR/models/ if trained there, else nlp/models/
    analyses = analyzer.pipe(posts, batch_size=1000)   # one Analysis per Post, same order
    analyzer.maybe_reload()                     # hot-swap to newer model files (cheap to call often)
    analyzer.set_debunks(store.debunks())       # the debunk registry (辟谣库)
    analyzer.warm(store.recent_analyzed(since)) # refill the recent window after a restart

    from nlp.tokenizer import search_tokens     # tokens for the store's full-text index and queries
    from nlp.keywords import hot_topics         # hot topics over a window of (post, analysis) pairs

Pipeline (`nlp.components.PIPELINE`, versioned component names, each `pipe(batch, ctx)`):
normalize.v1 → tokenize.v1 → cues.v1 → featurize.v1 → neardup.v1 → debunk.v1 → sentiment.v1 →
spam.v1 → rumour.v1 → pii.v1 → keywords.v1.

Analysis fields: `normalized` (NFKC, Simplified, lower-case ASCII, evasions undone; the original stays on
the Post), `tokens`, `sentiment` (pos/neu/neg), `polarity` [-1, 1] (> 0 means positive),
`spam` and `rumour` [0, 1], `keywords` (top 5, TF-IDF), `pii` (spans into the ORIGINAL text),
`reasons` (score ∈ sentiment|spam|rumour|pii|keywords, Chinese text), `model_version`,
`topic` (one of 薪酬待遇 职称评审 食堂餐饮 停车交通 住房保障 子女教育 工会活动 福利慰问 考勤管理
科研经费, or None when no topic word appears), `debunk_id` (matching debunk registry entry or None).

`Analysis.extra` keys (JSON-serialisable, always present unless marked optional):

- ``cluster``: near-duplicate cluster key (``dup-<hex>``), stable across restarts; None for texts
  too short to cluster (fewer than 8 letters/characters).
- ``cluster_size``: posts in the cluster within the recent window (default 24 h), this one included.
- ``cluster_authors``: distinct authors in the cluster within the window.
- ``cluster_channels``: distinct channels in the cluster within the window.
- ``cluster_author_posts``: posts by this post's author in the cluster within the window (flooding).
- ``evasions`` (optional): evasion tricks undone by normalisation, codes from
  zero_width, fullwidth, spaced_out, contact_variant, cn_digits, split_number, obfuscated_url.
- ``debunk_score`` (optional): how well the post matched its debunk entry (0-1).

Models: nlp/models/ holds one bundle (linear heads over hashed character/word n-grams and cue
columns, ~2.3 MB) and manifest.json (data hashes, parameters, seed, dev metrics, the command).
Rebuild with ``python -m nlp.train`` (needs ../shared/data; ~40 s on 2 cores; byte-for-byte
reproducible). tests/nlp/test_artifacts.py checks the committed files against the manifest, the
seed files and the user dictionary; ``NLP_VERIFY_REBUILD=1 python -m pytest tests/nlp`` rebuilds and
compares bytes where the corpora exist. ``python -m nlp.train --data-dir DIR`` adds moderator
decisions from DIR/sentinel.db and writes DIR/models/, which a running Analyzer hot-swaps in.

Commands: ``python -m nlp.train``, ``python -m nlp.evaluate --task T --data F.csv --json``,
``python -m nlp.bench [--n 20000] --json`` (see --help).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlp.analyzer import Analyzer

__all__ = ["Analyzer"]


def __getattr__(name: str):  # lazy: `python -m nlp.bench` must limit threads before numpy loads
    if name == "Analyzer":
        from nlp.analyzer import Analyzer

        return Analyzer
    raise AttributeError(name)
