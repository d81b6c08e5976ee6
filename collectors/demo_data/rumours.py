"""Rumours that spread qq -> weibo -> wechat within hours, get refuted by staff, and are
answered by the union's official clarification; one about pay, a smaller one about housing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import clock
from .context import Context
from .model import Draft
from .people import QQ_GROUPS
from .threads import HOUSING_NOTE, PAY_NOTE, WEIBO_HANDLE, WEIBO_MENTION, WEIBO_TAGS

GROUPS = {"g1": QQ_GROUPS[0], "g2": QQ_GROUPS[1], "g3": QQ_GROUPS[2], "g4": QQ_GROUPS[3]}
REPLY_GAP = {"qq": (25, 1500), "weibo": (150, 3 * 3600), "wechat": (200, 3 * 3600)}


@dataclass(frozen=True)
class Episode:
    key: str
    claim_zh: str
    sections: str  # "rumour.pay" or "rumour.house"
    waves: tuple[tuple[int, str, str, str, str, int, int], ...]  # day, HH:MM, channel, place, starter, worries, retells
    refutes: tuple[tuple[int, str, str, str], ...]  # day, HH:MM, channel, place
    officials: tuple[tuple[int, str, str, str], ...]  # day, HH:MM, channel, place
    reactions: int
    note: str  # clarification article title


PAY = Episode(
    "pay_cut", "下个月起绩效工资砍三成、年终奖取消（内部消息，速转）", "rumour.pay",
    waves=((18, "09:42", "qq", "g1", "seed0", 6, 1), (18, "10:05", "qq", "g2", "copy0", 4, 1),
           (18, "10:21", "qq", "g3", "seed1", 5, 2), (18, "11:34", "weibo", "mention", "seed2", 3, 1),
           (18, "12:10", "weibo", "pay", "copy0", 2, 1), (18, "13:15", "wechat", "recent", "seed3", 3, 1),
           (18, "14:40", "wechat", "recent", "retell", 2, 1), (18, "16:20", "weibo", "pay", "retell", 2, 0),
           (18, "19:05", "qq", "g4", "copy1", 3, 0), (18, "20:30", "qq", "g1", "seed4", 3, 1),
           (18, "21:15", "wechat", "recent", "copy3", 2, 0), (19, "07:40", "qq", "g2", "seed5", 2, 0),
           (19, "08:55", "weibo", "mention", "seed6", 1, 0)),
    refutes=((18, "15:40", "qq", "g1"), (18, "16:05", "qq", "g3"), (18, "17:30", "weibo", "pay"),
             (18, "18:10", "qq", "g2"), (18, "20:45", "qq", "g1"), (18, "21:20", "wechat", "recent"),
             (18, "21:50", "weibo", "mention"), (18, "22:30", "qq", "g4"), (19, "08:10", "qq", "g2"),
             (19, "08:40", "wechat", "recent"), (19, "09:20", "weibo", "pay"), (19, "09:45", "qq", "g3"),
             (19, "10:10", "qq", "g1")),
    officials=((19, "10:30", "wechat", "note"), (19, "10:34", "qq", "g1"), (19, "10:36", "qq", "g2"),
               (19, "10:41", "qq", "g3"), (19, "10:45", "weibo", "pay"), (19, "10:47", "qq", "g4")),
    reactions=10, note=PAY_NOTE)

HOUSE = Episode(
    "housing_recall", "周转房要统一收回、住户一个月内搬走", "rumour.house",
    waves=((8, "18:40", "qq", "g3", "seed0", 5, 0), (8, "19:32", "qq", "g2", "copy0", 2, 0),
           (8, "20:10", "weibo", "housing", "seed1", 2, 0), (8, "20:35", "wechat", "housing", "seed2", 3, 0),
           (8, "21:02", "weibo", "mention", "copy1", 1, 0), (9, "08:05", "qq", "g1", "seed3", 2, 0)),
    refutes=((9, "08:20", "qq", "g3"), (9, "09:10", "wechat", "housing"), (9, "09:40", "qq", "g1"),
             (9, "10:30", "weibo", "housing")),
    officials=((9, "11:00", "wechat", "note"), (9, "11:06", "qq", "g3")),
    reactions=3, note="关于周转房有关情况的说明")


def _moment(day: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return clock.at(day, hour, minute)


class Spreader:
    def __init__(self, ctx: Context, episode: Episode) -> None:
        self.ctx, self.ep = ctx, episode
        self.seeds = list(ctx.bank.get(f"{episode.sections}.seed"))
        self.posted: dict[int, str] = {}
        self.starters: dict[str, list[Draft]] = {}

    def where(self, channel: str, place: str, when: datetime) -> tuple[str, str | None, str]:
        """Thread, url and text prefix for a post at `place`."""
        ctx = self.ctx
        if channel == "qq":
            return GROUPS[place], None, ""
        if channel == "weibo":
            if place == "mention":
                return WEIBO_MENTION, None, WEIBO_HANDLE + " "
            return WEIBO_TAGS["pay" if place == "pay" else "housing"], None, ""
        title = {"note": self.ep.note, "housing": HOUSING_NOTE}.get(place)
        article = ctx.threads.article(title) if title else ctx.threads.pick_article(when)
        return article.title, article.url, ""

    def starter_text(self, starter: str, channel: str) -> str:
        if starter.startswith("copy"):
            return self.posted[int(starter[4:])]  # exact copy-paste of an earlier forward
        if starter.startswith("seed"):
            text = self.seeds[int(starter[4:])]
            self.posted[int(starter[4:])] = text
            return text
        return self.ctx.say(f"{self.ep.sections}.retell", "neg", channel)

    def wave(self, day: int, hhmm: str, channel: str, place: str, starter: str,
             worries: int, retells: int) -> list[Draft]:
        ctx, rng = self.ctx, self.ctx.rng
        when = _moment(day, hhmm) + timedelta(seconds=rng.randrange(60))
        thread, url, prefix = self.where(channel, place, when)
        author = ctx.pools[channel].pick(rng, group=thread if channel == "qq" else None)
        head = ctx.add(channel, author, prefix + self.starter_text(starter, channel), when, thread,
                       "rumour", url)
        self.starters.setdefault(f"{channel}:{thread}", []).append(head)
        out = [head]
        kinds = ["worry"] * worries + ["retell"] * retells
        rng.shuffle(kinds)
        retell = f"{self.ep.sections}.retell"
        for kind in kinds:
            when = when + self.gap(channel)
            section = retell if kind == "retell" and self.ctx.bank.has(retell) else f"{self.ep.sections}.worry"
            out.append(self.reply(channel, thread, url, when, section, "neg", "rumour", out))
        return out

    def gap(self, channel: str) -> timedelta:
        low, high = REPLY_GAP[channel]
        return timedelta(seconds=int(low * (high / low) ** self.ctx.rng.random()))

    def reply(self, channel: str, thread: str, url: str | None, when: datetime, section: str,
              kind: str, scenario: str, earlier: list[Draft]) -> Draft:
        ctx, rng = self.ctx, self.ctx.rng
        parent = earlier[0] if rng.random() < 0.7 else rng.choice(earlier)
        if channel == "qq" and rng.random() < 0.3:
            parent = None
        prefix = f"回复@{parent.author.name}:" if channel == "weibo" and parent and parent is not earlier[0] else ""
        author = ctx.pools[channel].pick(rng, group=thread if channel == "qq" else None,
                                         avoid=tuple(d.author for d in earlier))
        text = ctx.say(section, kind, channel, reply=True, prefix=prefix)
        return ctx.add(channel, author, text, when, thread, scenario, url, parent)

    def refute(self, day: int, hhmm: str, channel: str, place: str) -> Draft:
        ctx, rng = self.ctx, self.ctx.rng
        when = _moment(day, hhmm) + timedelta(seconds=rng.randrange(300))
        thread, url, prefix = self.where(channel, place, when)
        earlier = [d for d in self.starters.get(f"{channel}:{thread}", []) if d.at < when]
        if earlier:
            return self.reply(channel, thread, url, when, f"{self.ep.sections}.refute", "neu",
                              "rumour_refute", earlier)
        author = ctx.pools[channel].pick(rng, group=thread if channel == "qq" else None)
        text = ctx.say(f"{self.ep.sections}.refute", "neu", channel, prefix=prefix)
        return ctx.add(channel, author, text, when, thread, "rumour_refute", url)

    def officials(self) -> list[Draft]:
        ctx, out = self.ctx, []
        qq_texts = list(ctx.bank.get(f"official.{self.ep.sections.split('.')[1]}.qq"))
        for day, hhmm, channel, place in self.ep.officials:
            when = _moment(day, hhmm)
            thread, url, _ = self.where(channel, place, when)
            key = f"official.{self.ep.sections.split('.')[1]}.{channel}"
            text = qq_texts.pop(0) if channel == "qq" else ctx.bank.get(key)[0]
            ctx.fresh(text)
            author = ctx.pools[channel].official(thread if channel == "qq" else None)
            out.append(ctx.add(channel, author, text, when, thread, "official_clarification", url))
        return out

    def reactions(self, officials: list[Draft]) -> list[Draft]:
        rng, out = self.ctx.rng, []
        for _ in range(self.ep.reactions):
            official = rng.choice(officials)
            when = official.at + timedelta(seconds=rng.randint(120, 5 * 3600))
            out.append(self.reply(official.channel, official.thread, official.url, when,
                                  "rumour.reaction", "pos", "rumour_refute", [official]))
        return out


def _span(drafts: list[Draft]) -> dict[str, Any]:
    return {"start": clock.iso(min(d.at for d in drafts)), "end": clock.iso(max(d.at for d in drafts)),
            "count": len(drafts), "channels": sorted({d.channel for d in drafts})}


def write_episode(ctx: Context, episode: Episode) -> dict[str, Any]:
    spreader = Spreader(ctx, episode)
    spread = [d for wave in episode.waves for d in spreader.wave(*wave)]
    refutes = [spreader.refute(*r) for r in episode.refutes]
    officials = spreader.officials()
    refutes += spreader.reactions(officials)
    return {"key": episode.key, "claim_zh": episode.claim_zh, "day": episode.waves[0][0],
            "rumour": _span(spread), "rumour_refute": _span(refutes),
            "official_clarification": _span(officials) | {"thread": episode.note}}


def write_rumours(ctx: Context) -> list[dict[str, Any]]:
    return [write_episode(ctx, HOUSE), write_episode(ctx, PAY)]
