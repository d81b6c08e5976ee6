"""The pii_leak scenario: staff post phone numbers, ID numbers, bank cards, emails, QQ numbers."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import clock, pii
from .context import Context
from .threads import WEIBO_HANDLE, WEIBO_MENTION, WEIBO_TAGS


def write_leaks(ctx: Context, skip_days: tuple[int, ...]) -> dict[str, Any]:
    rng = ctx.rng
    days = [d for d in range(3, clock.DAYS) if d not in skip_days]
    kinds: dict[str, int] = {}
    count = 0
    for line in ctx.bank.get("pii.posts"):
        channel, body = line.split("|", 1)
        when = clock.sample_time(rng, rng.choice(days))
        question, _, body = body.rpartition(">>")
        text, found = pii.fill(body, rng)
        for kind, n in found.items():
            kinds[kind] = kinds.get(kind, 0) + n
        thread, url, parent = _thread(ctx, channel, text, when)
        if channel == "board":
            thread, text = text.split("｜", 1)
            url = ctx.threads.board_url(thread)
        author = ctx.pools[channel].pick(rng)
        if question:
            asker = ctx.pools[channel].pick(rng, group=thread if channel == "qq" else None, avoid=(author,))
            parent = ctx.add(channel, asker, question, when, thread, "question", url)
            ctx.fresh(question)
            when = when + timedelta(seconds=rng.randint(40, 600))
        ctx.add(channel, author, text, when, thread, "pii_leak", url, parent, proposal=channel == "board")
        count += 1
    return {"count": count, "kinds": dict(sorted(kinds.items()))}


def _thread(ctx: Context, channel: str, text: str, when: datetime) -> tuple[str, str | None, None]:
    """Thread and url for a leak on `channel` (board threads come from the text itself)."""
    if channel == "qq":
        return ctx.rng.choice(("教职工之家1群", "教职工之家2群", "青年教师联谊群")), None, None
    if channel == "wechat":
        article = ctx.threads.pick_article(when)
        return article.title, article.url, None
    if channel == "weibo":
        return (WEIBO_MENTION if text.startswith(WEIBO_HANDLE) else WEIBO_TAGS["misc"]), None, None
    return "", None, None
