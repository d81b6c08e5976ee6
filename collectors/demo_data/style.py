"""Dress a core phrase the way people type on each platform: openers, closers, emoji,
casual punctuation and the odd input-method typo. Deterministic for a given generator."""
from __future__ import annotations

import random
from dataclasses import dataclass

from .bank import Bank

FAMILY = {"pos": "pos", "neg": "neg", "neu": "neu", "q": "q", "sug": "sug", "rpos": "pos",
          "rneg": "neg", "rneu": "neu", "rq": "q", "thanks": "pos", "notice": "neu"}
NO_OPENER = ("请问", "问一下", "有没有", "有人", "建议", "说实话", "求助", "吐槽", "唉", "哈哈", "@",
             "回复", "【", "各位", "提醒", "温馨", "转发", "真的", "确实", "同感", "同问", "谢谢", "刚",
             "收到", "好的", "我也", "一样", "+1", "说", "不", "为什么", "凭什么", "这", "就", "先")
END_PUNCT = "。！？!?~～…）)」》"
# (correct, typo) pairs typical of pinyin input; one may be applied to a post.
TYPOS = (("的", "得"), ("在", "再"), ("已经", "以经"), ("觉得", "觉的"), ("哪", "那"),
         ("一下", "一哈"), ("现在", "现再"), ("报销", "报消"), ("辛苦", "心苦"), ("反映", "反应"),
         ("截止", "截至"), ("好像", "好象"), ("其他", "其它"), ("账", "帐"), ("登记", "登机"),
         ("做", "作"), ("有没有", "有木有"), ("怎么", "咋"), ("什么", "啥"), ("这样", "酱紫"))


@dataclass(frozen=True)
class ChannelStyle:
    p_open: float
    p_close: float
    p_emoji: float
    emoji: tuple[str, ...]
    p_casual: float
    p_typo: float


STYLES = {
    "qq": ChannelStyle(0.16, 0.28, 0.22, ("emoji.qq", "emoji.unicode"), 0.45, 0.05),
    "wechat": ChannelStyle(0.22, 0.32, 0.2, ("emoji.wechat", "emoji.unicode"), 0.2, 0.04),
    "weibo": ChannelStyle(0.2, 0.3, 0.3, ("emoji.weibo", "emoji.unicode"), 0.3, 0.04),
    "board": ChannelStyle(0.1, 0.1, 0.0, (), 0.0, 0.02),
}


def ends_open(text: str) -> bool:
    """True when the text ends without punctuation or emoji, so a clause can follow a comma."""
    if not text:
        return False
    last = text[-1]
    return last not in END_PUNCT and last != "]" and (last.isalnum() or "\u4e00" <= last <= "\u9fff")


def join(text: str, tail: str) -> str:
    """Append a closer or emoji with natural punctuation."""
    if tail.startswith("。。") and text and text[-1] in END_PUNCT:
        return text[:-1] + tail
    if ends_open(text) and ends_open(tail[:1] or "x") and not tail.startswith("["):
        return f"{text}，{tail}"
    return text + tail


class Styler:
    def __init__(self, bank: Bank, rng: random.Random) -> None:
        self.bank, self.rng = bank, rng

    def decorate(self, text: str, kind: str, channel: str, reply: bool = False) -> str:
        style, rng = STYLES[channel], self.rng
        family = FAMILY.get(kind)
        if family and not reply and rng.random() < style.p_open and not text.startswith(NO_OPENER):
            text = self.bank.pick(f"open.{family}", rng) + text
        if family and not (reply and family == "neu") and rng.random() < style.p_close * (0.5 if reply else 1.0):
            text = join(text, self.bank.pick(f"close.{family}", rng))
        if style.emoji and rng.random() < style.p_emoji and not text.endswith("]"):
            mood = {"pos": "pos", "neg": "neg"}.get(family or "", "neu")
            emoji_set = style.emoji[0] if rng.random() < 0.7 else style.emoji[1]
            emoji = self.bank.pick(f"{emoji_set}.{mood}", rng)
            text = join(text, emoji * (2 if rng.random() < 0.06 else 1))
        if rng.random() < style.p_casual:
            text = self.casual(text)
        if rng.random() < style.p_typo:
            text = self.typo(text)
        return text

    def casual(self, text: str) -> str:
        """Chat-style punctuation: drop a final 。, use spaces or doubled marks."""
        rng = self.rng
        if text.endswith("。") and rng.random() < 0.7:
            text = text[:-1]
        if "，" in text and rng.random() < 0.3:
            text = text.replace("，", " ", 1)
        if text.endswith("？") and rng.random() < 0.25:
            text += "？"
        elif text.endswith("！") and rng.random() < 0.25:
            text += "！！"
        return text

    def typo(self, text: str) -> str:
        present = [pair for pair in TYPOS if pair[0] in text]
        if not present:
            return text
        right, wrong = self.rng.choice(present)
        return text.replace(right, wrong, 1)
