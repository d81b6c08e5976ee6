"""Ordinary traffic: short conversations (a starter and its replies) on every channel."""
from __future__ import annotations

import random
from datetime import datetime

from . import clock
from .common import gap, weighted
from .board import BoardDesk
from .context import Context
from .model import KIND_SCENARIO, Draft
from .people import Author, QQ_GROUPS
from .replies import choose_move, reply_text
from .threads import WEIBO_HANDLE, WEIBO_MENTION, WEIBO_TAGS

CHANNEL_WEIGHTS = {"qq": 0.34, "wechat": 0.31, "weibo": 0.23, "board": 0.12}
STARTER_KINDS = {
    "qq": {"pos": 0.29, "neg": 0.29, "neu": 0.11, "q": 0.22, "sug": 0.09},
    "wechat": {"pos": 0.33, "neg": 0.25, "neu": 0.11, "q": 0.15, "sug": 0.16},
    "weibo": {"pos": 0.29, "neg": 0.32, "neu": 0.11, "q": 0.13, "sug": 0.15},
}
REPLY_COUNTS = {"qq": (0.3, 0.22, 0.18, 0.12, 0.08, 0.06, 0.04), "wechat": (0.6, 0.25, 0.1, 0.05),
                "weibo": (0.55, 0.25, 0.12, 0.08)}


class DailyWriter:
    """Writes ordinary conversations; `end` is the moment no post may reach."""

    def __init__(self, ctx: Context, end: datetime, scenario: str | None = None) -> None:
        self.ctx, self.end, self.scenario = ctx, end, scenario
        self.board = BoardDesk(self)

    def label(self, kind: str) -> str:
        return self.scenario or KIND_SCENARIO[kind]

    def episode(self, when: datetime, channel: str) -> list[Draft]:
        if channel == "board":
            return self.board.episode(when)
        if channel == "qq":
            return self.qq_episode(when)
        ctx = self.ctx
        if channel == "wechat":
            article = ctx.threads.pick_article(when)
            when = max(when, article.published + gap(ctx.rng, "wechat"))
            topic = article.topic if ctx.rng.random() < 0.9 and article.topic != "misc" else ctx.threads.topic()
            thread, url, prefix = article.title, article.url, ""
        else:
            topic = ctx.threads.topic()
            mention = ctx.rng.random() < 0.3
            thread = WEIBO_MENTION if mention else WEIBO_TAGS[topic]
            url, prefix = None, (WEIBO_HANDLE + " " if mention else "")
        kind = weighted(ctx.rng, STARTER_KINDS[channel])
        author = ctx.pools[channel].pick(ctx.rng)
        text, answers = ctx.say_with_answers(f"topic.{topic}.{kind}", kind, channel, prefix=prefix)
        starter = ctx.add(channel, author, text, when, thread, self.label(kind), url)
        return [starter] + self.replies(starter, topic, kind, answers)

    def qq_episode(self, when: datetime) -> list[Draft]:
        ctx = self.ctx
        group = ctx.threads.group()
        pool = ctx.pools["qq"]
        answers: list[str] = []
        if ctx.rng.random() < 0.05:
            author, kind, topic = pool.official(group), "notice", "misc"
            text = ctx.say("notice.union", "notice", "qq")
        else:
            topic = ctx.threads.group_topic(group)
            kind = weighted(ctx.rng, STARTER_KINDS["qq"])
            author = pool.pick(ctx.rng, group=group)
            text, answers = ctx.say_with_answers(f"topic.{topic}.{kind}", kind, "qq")
        starter = ctx.add("qq", author, text, when, group, self.label(kind))
        return [starter] + self.replies(starter, topic, kind, answers)

    def replies(self, starter: Draft, topic: str, kind: str, answers: list[str]) -> list[Draft]:
        ctx, channel = self.ctx, starter.channel
        count = ctx.rng.choices(range(len(REPLY_COUNTS[channel])), weights=REPLY_COUNTS[channel])[0]
        out: list[Draft] = []
        when, answerer = starter.at, None
        for _ in range(count):
            when = when + gap(ctx.rng, channel)
            if when >= self.end:
                break
            move = choose_move(ctx, kind)
            if answerer is not None and ctx.rng.random() < 0.35:
                move, author, parent = "thanks", starter.author, answerer
                answerer = None
            else:
                author = self.reply_author(starter, out)
                parent = self.reply_parent(starter, out)
            prefix = self.reply_prefix(channel, starter, parent)
            text, rkind = reply_text(ctx, move, topic, channel, prefix, answers, kind)
            draft = ctx.add(channel, author, text, when, starter.thread, self.label(rkind), starter.url, parent)
            out.append(draft)
            if kind == "q" and move == "answer" and rkind == "rneu":
                answerer = draft
        return out + self.official_reply(starter, kind, when)

    def reply_author(self, starter: Draft, earlier: list[Draft]) -> Author:
        pool = self.ctx.pools[starter.channel]
        group = starter.thread if starter.channel == "qq" and starter.thread in QQ_GROUPS else None
        return pool.pick(self.ctx.rng, group=group, avoid=(starter.author,) + tuple(d.author for d in earlier))

    def reply_parent(self, starter: Draft, earlier: list[Draft]) -> Draft | None:
        rng = self.ctx.rng
        if starter.channel == "qq" and rng.random() < 0.35:
            return None
        if earlier and rng.random() < 0.25:
            return rng.choice(earlier)
        return starter

    def reply_prefix(self, channel: str, starter: Draft, parent: Draft | None) -> str:
        rng = self.ctx.rng
        if parent is None:
            return ""
        if channel == "weibo" and (parent is not starter or rng.random() < 0.3):
            return f"回复@{parent.author.name}:"
        if channel == "qq" and rng.random() < 0.22:
            return f"@{parent.author.name} "
        return ""

    def official_reply(self, starter: Draft, kind: str, after: datetime) -> list[Draft]:
        ctx = self.ctx
        if starter.channel not in ("wechat", "board") or kind not in ("q", "neg", "sug", "board"):
            return []
        if ctx.rng.random() > (0.2 if starter.channel == "board" else 0.07):
            return []
        when = after + gap(ctx.rng, starter.channel)
        if when >= self.end:
            return []
        section = "board.official" if starter.channel == "board" else "official.reply"
        text = ctx.say(section, "official", starter.channel, reply=True)
        official = ctx.pools[starter.channel].official()
        return [ctx.add(starter.channel, official, text, when, starter.thread,
                        self.label("official"), starter.url, starter)]


def day_target(rng: random.Random, day: int) -> int:
    """How many ordinary posts day `day` carries."""
    if day in clock.HOLIDAYS:
        base = 24.0
    elif clock.is_quiet_day(day):
        base = 30.0
    else:
        base = 80.0
    if day >= 24:
        base *= 0.85  # winter break has begun
    return max(8, int(rng.gauss(base, base * 0.08)))


def write_day(writer: DailyWriter, day: int, extra: int = 0) -> int:
    """Fill `day` with ordinary conversations; returns the number of posts written."""
    ctx = writer.ctx
    target, written = day_target(ctx.rng, day) + extra, 0
    while written < target:
        channel = weighted(ctx.rng, CHANNEL_WEIGHTS)
        written += len(writer.episode(clock.sample_time(ctx.rng, day), channel))
    return written
