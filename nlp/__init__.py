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
normalize.v1 → tokenize.v1 → cues.v2 → featurize.v1 → neardup.v1 → debunk.v1 → sentiment.v1 →
spam.v1 → grievance.v1 → abuse.v1 (`nlp.voice`) → rumour.v2 (with claim clustering, `nlp.claims`) →
pii.v1 → keywords.v1.

Phishing (`nlp.scoring`, `nlp.domains`): a link whose real site (registrable domain) differs from the
university's but carries its name — `cw.xxdx.edu.cn.kx8.top`, `xxdx-cwc.com`, and with the config's
`official_domains` any other site named after them — or a message that claims to come from one of its
offices (财务处, 人事处, 工会, 信息中心…) and asks for card numbers, passwords, codes or a fee through an
outside link, a QR code or a private reply, is phishing (spam ≥ 0.85, reason ``phishing_verdict`` naming
the office, the real site and the request). Warnings that quote such messages are not, and without a
look-alike link neither is a post the text model scores under 0.3 (a member asking whether such a
message is real names the office, the ask and their own phone too).

Grievance (诉求) and abuse (`nlp.voice`): two model heads. A grievance is a staff member's complaint or
request about their own situation; it feeds the officers' 提案线索 page and never a removal. Abuse is
personal insult or harassment (the `abusive_post` rule flags ≥ 0.8); criticism is not abuse. The abuse
head alone reads the `insult` and `threat` cue columns, and its log-odds are shifted for insults at
colleagues (`voice.ABUSE_LOGIT_SHIFT`), which its public corpora rate low.

Rumour (`nlp.rumour`): the model head, then: unsourced claims about pay/benefits raised; a debunk
registry match is a rumour; spam ≥ 0.8 (an advert or a screen flood) is not one (reason ``spam``);
refutation (reason ``refute``) and a real citation — a named official channel or document (官网通知,
人事处正式文件, 校发〔2026〕12号, 工会公众号发布, a link to an .edu.cn/.gov.cn site) — cap it (reason
``official_source``). Hearsay (朋友说, 内部消息, 听说), chain-forwarding (速转, 不转不是) and absolute
claims (千真万确, 文件已经签了) void an apparent citation (reason ``citation_overridden``); a department
name alone (人事处) is no citation. Rumour-ish posts (score ≥ 0.4 before spread, no verdict) are
grouped into claims; a claim spreading across channels and authors raises its posts (reason ``spread``).
The final score is then made a probability: its log-odds times the bundle's logit scale for the head
(`ModelBundle.calibrate`; `nlp.train` fits it on the rumour dev splits, `train.CALIBRATED`). Ranking
and what 0.5 decides are unchanged; a rumour score of 0.85 means about 85% of such posts are rumours.
The grievance score is rescaled the same way (`voice._Head`, fitted on `union_dev_grievance`).

Analysis fields: `normalized` (NFKC, Simplified, lower-case ASCII, evasions undone; the original stays on
the Post), `tokens`, `sentiment` (pos/neu/neg), `polarity` [-1, 1] (> 0 means positive),
`spam`, `rumour`, `grievance` and `abuse` [0, 1], `keywords` (top 5, TF-IDF), `pii` (spans into the ORIGINAL text),
`reasons` (score ∈ sentiment|spam|rumour|grievance|abuse|pii|keywords, Chinese text), `model_version`,
`topic` (one of 薪酬待遇 职称评审 食堂餐饮 停车交通 住房保障 子女教育 工会活动 福利慰问 考勤管理
科研经费, or None when no topic word appears), `debunk_id` (matching debunk registry entry or None).

`Analysis.extra` keys (JSON-serialisable, always present unless marked optional):

- ``cluster``: near-duplicate cluster key (``dup-<hex>``), stable across restarts; None for texts
  too short to cluster (fewer than 8 letters/characters). Copies and near-copies (spam floods).
- ``cluster_size``: posts in the cluster within the recent window (default 24 h), this one included.
- ``cluster_authors``: distinct authors in the cluster within the window.
- ``cluster_channels``: distinct channels in the cluster within the window.
- ``cluster_author_posts``: posts by this post's author in the cluster within the window (flooding).
- ``claim``: claim cluster key (``claim-<hex>``): posts that make the same claim in different words
  ("绩效工资要砍三成" / "绩效统一下调30%" / "绩效打七折"), matched on content words after cue words and
  stop words are dropped, synonyms merged (砍/下调/降 → 降; 取消/不发/没了 → 取消) and numbers normalised
  (三成 = 30% = 百分之三十 = 打七折). Only rumour-ish posts get one (rumour ≥ 0.4 before spread, not an
  advert, refutation or cited notice, at least two claim terms); None otherwise and when the analyzer
  keeps no window. Stable across restarts (`warm` reuses stored keys). Rules group rumour cases by it.
- ``claim_size``, ``claim_authors``, ``claim_channels``: posts, distinct authors and distinct channels
  of the claim within the claim window (default 48 h), this post included (1 when ``claim`` is None).
- ``evasions`` (optional): evasion tricks undone by normalisation, codes from
  zero_width, fullwidth, spaced_out, contact_variant, cn_digits, split_number, obfuscated_url.
- ``debunk_score`` (optional): how well the post matched its debunk entry (0-1).

Models: nlp/models/ holds one bundle (six linear heads — polar, subjective, spam, rumour, grievance,
abuse — over 2^19 hashed character/word n-gram columns and cue columns, ~6.3 MB) and manifest.json (data hashes, parameters, seed, dev metrics, the command).
The cue columns include an emoticon polarity lexicon (`lexicon.EMOTICON_POLARITY`: [哈哈] [爱你] … / [泪]
[抓狂] …, strong 1.0 or leaning 0.5) as ``emo_pos``/``emo_neg`` counts, ``emo_score`` (tanh of the
summed polarity) and ``emo_last`` (the last one's polarity), and ``pii_id_card``/``pii_bank_card``:
the ID and bank-card numbers the post gives (found by the PII detector, which `Cues` runs before the
models: a member pasting their own numbers for help reads unlike phishing, which asks for them). The
polar head is the mean of an NBSVM-style fit (naive-Bayes-scaled features, folded back into plain
weights) and a plain one (`train.BLEND`) and also learns from Weibo posts of the rumour corpora
labelled by their emoticons (distant supervision, training splits only); the rumour head learns
adverts (spam rows) as non-rumours.
Rebuild with ``python -m nlp.train`` (needs ../shared/data; about 3.5–6 min on a 2-core machine;
byte-for-byte reproducible). Besides the first-round corpora it learns from the second round: China
Mobile SMS ads, fake-base-station SMS and telecom fraud scripts (spam positives; their DIGIT/URL/… placeholders are
replaced by ordinary values, `data.unmask`), SMP2020 Weibo 3-way and COVID Weibo sentiment, ToSarcasm
(read, but weighing nothing since session 28: its sarcasm is praise words), COLD and SWSR's sexist rows
(abuse). tests/nlp/test_artifacts.py checks the committed files against the manifest, the
seed files and the user dictionary; ``NLP_VERIFY_REBUILD=1 python -m pytest tests/nlp`` rebuilds and
compares bytes where the corpora exist. ``python -m nlp.train --data-dir DIR`` adds moderator
decisions from the service's store (``--data-dir`` / ``--config``, opened with `store.open_store`) and
writes DIR/models/, which a running Analyzer hot-swaps in. Where the public corpora are missing (a
union's server) it trains from the bundle instead (``--from-bundle``, `nlp.warmstart`): the committed
bundle is refitted on the union seed training files plus the moderator labels with a prior that keeps it
close to the bundled weights (only the heads moderators labelled; deterministic, a few seconds); it
refuses without labels and when the union dev metrics would drop. A model built on the shipped bundle is
preferred over it; one built on an older bundle gives way to the shipped one.

Speed: one batch is a handful of whole-batch array passes (hashed dictionary look-ups, n-grams, MinHash)
plus a little Python per post (reasons, window bookkeeping); the cyclic garbage collector is paused
during a batch (`analyzer.gc_paused`). ``python -m nlp.bench`` measures it against the naive pipeline.

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
