"""Sentiment and spam scores with their reasons (components of the pipeline; rumour: `nlp.rumour`).

Each score starts from its linear model head (hashed n-grams + cue columns, `nlp.model`) and is then
adjusted by signals a text model cannot see: behaviour in the recent window (near-duplicate floods,
spread across channels and authors), the debunk registry, and explicit official sourcing or refutation.
Reasons name what moved the score, in Chinese, short enough for a review card.
"""
from __future__ import annotations

import re

import numpy as np

from core.domain import Reason, Sentiment
from core.masking import mask_value, redact
from nlp.components import Batch, Context, Doc, top_per_doc, word_weights
from nlp.cues import CUE_LABELS, FEATURES
from nlp.lexicon import PHISHING_STRONG

EVASION_LABELS = {
    "zero_width": "零宽/控制字符",
    "fullwidth": "全角字母数字",
    "spaced_out": "字间插空",
    "contact_variant": "联系方式变体",
    "cn_digits": "汉字数字",
    "split_number": "号码拆分",
    "obfuscated_url": "网址变形",
}
SPAM_CUES = ("ad_lexicon", "contact_add", "phishing", "wechat_id", "qq_id", "phone", "url", "money")
CONTACT_CUES = ("wechat_id", "qq_id", "phone", "url")
LURES = ("扫码", "二维码", "点击", "登录", "链接")  # how a phishing post gets its victim to a form
PHISHING_FLOOR = 0.85
FRAUD_WARNING_CAP = 0.3
FLOOD_REPEAT = 0.6  # trigram repetition (cues.repetition) that makes a long text a screen flood
FLOOD_MIN_CHARS = 16


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


_NOT_DIGIT = re.compile(r"\D")


def _cue_reasons(d: Doc, score: str, codes: tuple[str, ...], weight: float) -> None:
    """One reason per cue code with the words that matched. Contact cues (a WeChat id, a QQ or phone
    number, a link) quote personal data, and the reason is read by every role: a phone number is
    masked as one (`mask_value`), the other words go through `redact`."""
    assert d.cues is not None
    for code in codes:
        words = d.cues.words(code)
        if words:
            if code == "phone":  # a phone number (with dashes) as the cue found it: mask it as one
                words = list(dict.fromkeys(mask_value(_NOT_DIGIT.sub("", w), "phone") for w in words))
            elif code in CONTACT_CUES:
                words = list(dict.fromkeys(redact(w) for w in words))
            d.reasons.append(Reason(score, code, f"{CUE_LABELS[code]}：{'、'.join(words)}", weight))


class SentimentScorer:
    """pos/neu/neg and polarity from two heads: subjective-vs-neutral and positive-vs-negative.

    P(neu) = 1 - s, P(pos) = s * p, P(neg) = s * (1 - p), polarity = P(pos) - P(neg) = s (2p - 1).
    The sign of the polarity is the positive-vs-negative decision alone."""

    name = "sentiment.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        m = ctx.models
        assert batch.z is not None
        p = sigmoid(batch.z[:, m.head("polar")])
        s = sigmoid(batch.z[:, m.head("subjective")])
        probs = np.stack([s * p, 1.0 - s, s * (1.0 - p)], axis=1)  # pos, neu, neg
        label = probs.argmax(axis=1)
        polarity = s * (2.0 * p - 1.0)
        labels = (Sentiment.POS, Sentiment.NEU, Sentiment.NEG)
        names = tuple(lab.label_zh for lab in labels)
        terms = self._terms(batch, m, label)
        conf = probs[np.arange(len(label)), label].tolist()
        pol = polarity.tolist()
        for i, (d, k) in enumerate(zip(batch.docs, label.tolist())):
            if d.blank:
                d.reasons.append(Reason("sentiment", "blank", "空白内容，按中性计", 0.0))
                continue
            lab = labels[k]
            d.sentiment = lab
            d.polarity = polarity_i = round(pol[i], 4)
            text = f"情感{names[k]}（把握 {conf[i]:.0%}，倾向 {polarity_i:+.2f}）"
            d.reasons.append(Reason("sentiment", "model", text, polarity_i))
            if terms[i]:
                code, what = ("positive_terms", "正面词") if lab is Sentiment.POS else ("negative_terms", "负面词")
                d.reasons.append(Reason("sentiment", code, f"{what}：{'、'.join(terms[i])}", polarity_i))
        return batch

    @staticmethod
    def _terms(batch: Batch, m, label: np.ndarray) -> list[list[str]]:
        """The content words that pushed each non-neutral post most toward its label."""
        assert batch.word_index is not None and batch.tokens is not None
        ok, _ = batch.content_words()
        ww = word_weights(batch, m.coef[:, m.head("polar")], m.cfg.bits)[batch.word_index]
        sign = np.array([1.0, 0.0, -1.0], dtype=np.float32)[label]  # pos, neu, neg
        doc = batch.tokens.doc[batch.word_index]
        signed = ww * sign[doc]
        return top_per_doc(batch, np.where(ok & (signed > 0.05), signed, 0.0), k=3, only=label != 1)


class Spam:
    """Model probability, raised by floods: the same text from many authors or many times."""

    name = "spam.v1"

    def pipe(self, batch: Batch, ctx: Context) -> Batch:
        m = ctx.models
        assert batch.z is not None
        p = sigmoid(batch.z[:, m.head("spam")])
        assert batch.dense is not None
        rep = batch.dense[:, FEATURES.index("repeat_ratio")].tolist()
        for d, base, r in zip(batch.docs, p.tolist(), rep):
            if d.blank:
                d.reasons.append(Reason("spam", "blank", "空白内容", 0.0))
                continue
            score = base
            if r >= FLOOD_REPEAT and len(d.text) >= FLOOD_MIN_CHARS:  # one text filling the screen
                d.flood = r
                score = max(score, 0.6 + 0.4 * d.flood)
            verdict = _verdict(d) if d.cues is not None and d.cues.hits else None
            if verdict == "phishing":
                score = max(score, PHISHING_FLOOR)
            elif verdict == "fraud_warning":
                score = min(score, FRAUD_WARNING_CAP)
            cl = d.cluster
            flood = 0.0 if cl is None or cl.size < 3 else _flood_strength(d)  # most posts: no cluster
            if flood > 0:
                contact = d.cues is not None and any(d.cues.has(c) for c in SPAM_CUES)
                boost = flood * (0.7 if (base >= 0.3 or contact or d.evasions) else 0.3)
                score = 1.0 - (1.0 - score) * (1.0 - boost)
            d.spam = round(score, 4)
            self._reasons(d, base, flood, verdict)
        return batch

    @staticmethod
    def _reasons(d: Doc, base: float, flood: float, verdict: str | None) -> None:
        if verdict == "fraud_warning":
            assert d.cues is not None
            words = "、".join(d.cues.words("fraud_warning"))
            d.reasons.append(Reason("spam", "fraud_warning", f"在提醒防骗（{words}）且不含联系方式，不按广告计", -1.0))
        if d.spam < 0.3:
            d.reasons.append(Reason("spam", "model", f"未见明显广告特征（{d.spam:.2f}）", d.spam))
            return
        d.reasons.append(Reason("spam", "model", f"文本模型判断广告概率 {base:.2f}", base))
        if verdict == "phishing":
            assert d.cues is not None
            words = "、".join(d.cues.words("phishing"))
            d.reasons.append(Reason("spam", "phishing", f"疑似钓鱼：要求通过非官方链接或扫码提交{words}", 1.0))
        _cue_reasons(d, "spam", SPAM_CUES, 0.0)
        if d.evasions:
            names = "、".join(EVASION_LABELS.get(e, e) for e in d.evasions)
            d.reasons.append(Reason("spam", "evasion", f"规避写法：{names}", float(len(d.evasions))))
        if d.flood:
            d.reasons.append(Reason("spam", "flood_text", f"刷屏：内容大量重复（重复度 {d.flood:.0%}）", d.flood))
        if flood > 0 and d.cluster is not None:
            c = d.cluster
            d.reasons.append(Reason("spam", "near_duplicate",
                                    f"近期相似内容 {c.size} 条，来自 {c.authors} 个账号、{c.channels} 个渠道", flood))


def _verdict(d: Doc) -> str | None:
    """fraud_warning: warns against fraud and carries no contact of its own; phishing: asks for cards,
    codes or an app through a link or QR code that is not an official site."""
    cues = d.cues
    assert cues is not None
    if cues.has("fraud_warning") and not any(cues.has(c) for c in CONTACT_CUES):
        return "fraud_warning"  # before phishing: a warning quotes what the phishing message says
    if cues.has("phishing") and not cues.has("official_url"):
        words = cues.words("phishing", 8)
        strong = any(w in PHISHING_STRONG for w in words)
        if (cues.has("url") and strong) or (len(words) >= 2 and any(w in d.text for w in LURES)):
            return "phishing"
    return None


def _flood_strength(d: Doc) -> float:
    c = d.cluster
    if c is None or c.key is None or c.size < 3:
        return 0.0
    by_authors = (c.authors - 2) / 4.0  # 3 authors: 0.25 ... 6+: 1.0
    by_one = (c.author_posts - 2) / 4.0  # one author posting the same thing again and again
    return float(min(1.0, max(by_authors, by_one, 0.0)))

