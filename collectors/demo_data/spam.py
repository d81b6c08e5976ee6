"""Spam: the day-12 advert flood across wechat/weibo/qq, plus a low background on other days."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import clock, obfuscate
from .context import Context
from .model import Draft
from .people import QQ_GROUPS
from .threads import WEIBO_HANDLE, WEIBO_MENTION, WEIBO_TAGS

CATEGORIES = {"job": 0.26, "invoice": 0.16, "loan": 0.16, "gamble": 0.12, "diet": 0.1,
              "thesis": 0.14, "other": 0.06}
FLOOD_DAY, FLOOD_START, FLOOD_MINUTES = 12, (14, 5), 150
FLOOD_POSTS, BACKGROUND_POSTS = 124, 24
FLOOD_CHANNELS = {"qq": 0.5, "wechat": 0.25, "weibo": 0.25}


def advert(ctx: Context, disguise: float = 0.85, category: str | None = None) -> str:
    """One advert text with obfuscated contact details and (usually) evasion tricks."""
    rng = ctx.rng
    category = category or rng.choices(list(CATEGORIES), weights=list(CATEGORIES.values()))[0]
    fill = {"contact": lambda: obfuscate.contact(rng), "url": lambda: obfuscate.url(rng),
            "phone": lambda: obfuscate.phone(rng)}
    text = ctx.bank.expand(ctx.bank.pick(f"spam.{category}", rng), rng, fill)
    return obfuscate.disguise(text, rng) if rng.random() < disguise else text


def place(ctx: Context, channel: str, when: datetime) -> tuple[str, str | None, str]:
    """Thread, url and text prefix for a spam post on `channel`."""
    rng = ctx.rng
    if channel == "qq":
        return rng.choice(QQ_GROUPS[:3]), None, ""
    if channel == "wechat":
        article = ctx.threads.pick_article(when)
        return article.title, article.url, ""
    if rng.random() < 0.5:
        return WEIBO_MENTION, None, WEIBO_HANDLE + " "
    return WEIBO_TAGS[ctx.threads.topic()], None, ""


def write_flood(ctx: Context) -> dict[str, Any]:
    rng = ctx.rng
    start = clock.at(FLOOD_DAY, *FLOOD_START)
    texts: list[str] = []
    drafts: list[Draft] = []
    for _ in range(FLOOD_POSTS):
        when = start + timedelta(seconds=int(rng.triangular(0, FLOOD_MINUTES * 60, 55 * 60)))
        channel = rng.choices(list(FLOOD_CHANNELS), weights=list(FLOOD_CHANNELS.values()))[0]
        thread, url, prefix = place(ctx, channel, when)
        if texts and rng.random() < 0.38:
            text = rng.choice(texts)  # bots paste the same advert again
        else:
            text = advert(ctx)
            texts.append(text)
        author = ctx.spam.get(channel, reuse=0.35)
        drafts.append(ctx.add(channel, author, prefix + text, when, thread, "spam_flood", url))
    _flood_reactions(ctx, start)
    end = max(d.at for d in drafts)
    return {"day": FLOOD_DAY, "start": clock.iso(min(d.at for d in drafts)), "end": clock.iso(end),
            "count": len(drafts), "distinct_texts": len({d.text for d in drafts}),
            "authors": len({d.author.id for d in drafts})}


def _flood_reactions(ctx: Context, start: datetime) -> None:
    """Staff complain and the group admin cleans up: ordinary posts inside the flood window."""
    rng = ctx.rng
    for i in range(5):
        group = QQ_GROUPS[i % 2] if i < 4 else QQ_GROUPS[2]
        when = start + timedelta(minutes=rng.randint(25, 140))
        text = ctx.say("flood.react", "neg", "qq")
        ctx.add("qq", ctx.pools["qq"].pick(rng, group=group), text, when, group, "normal_neg")
    for i in range(3):
        group = QQ_GROUPS[i]
        when = start + timedelta(minutes=rng.randint(60, 150))
        text = ctx.say("flood.admin", "notice", "qq")
        ctx.add("qq", ctx.pools["qq"].official(group), text, when, group, "normal_neu")


def write_background(ctx: Context, skip_days: tuple[int, ...]) -> dict[str, Any]:
    rng = ctx.rng
    days = [d for d in range(clock.DAYS) if d not in skip_days]
    drafts = []
    for _ in range(BACKGROUND_POSTS):
        day = rng.choice(days)
        when = clock.sample_time(rng, day)
        channel = rng.choices(["qq", "wechat", "weibo"], weights=[0.45, 0.3, 0.25])[0]
        thread, url, prefix = place(ctx, channel, when)
        if rng.random() < 0.2:
            text = obfuscate.disguise(ctx.bank.pick("spam.bg", rng), rng)
        else:
            text = advert(ctx, disguise=0.6)
        drafts.append(ctx.add(channel, ctx.spam.get(channel, reuse=0.1), prefix + text, when,
                              thread, "spam_flood", url))
    return {"count": len(drafts), "days": sorted({clock.day_of(d.at) for d in drafts})}


def live_adverts(ctx: Context, count: int, when: datetime) -> list[Draft]:
    out = []
    for _ in range(count):
        channel = ctx.rng.choice(["qq", "wechat", "weibo"])
        thread, url, prefix = place(ctx, channel, when)
        out.append(ctx.add(channel, ctx.spam.get(channel, reuse=0.2), prefix + advert(ctx), when,
                           thread, "live", url))
    return out
