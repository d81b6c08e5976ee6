"""The pay-reform surge: after the 征求意见稿 article (day 21, 15:30) a sharp negative wave of
comments across all channels for about a day and a half, mostly angry or anxious, some
constructive."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import clock
from .context import Context
from .common import gap, weighted
from .model import Draft
from .people import QQ_GROUPS
from .threads import REFORM, WEIBO_HANDLE, WEIBO_MENTION, WEIBO_REFORM, WEIBO_TAGS

DAY = 21
TARGET = 205
# Relative intensity per hour from day 21 15:00 onwards (34 hours).
HOURLY = (0.2, 3.0, 4.5, 3.5, 2.0, 3.0, 4.0, 4.5, 4.0, 2.5, 0.8, 0.3, 0.1, 0.05, 0.05, 0.05, 0.2,
          0.8, 2.0, 2.8, 2.5, 2.2, 1.5, 1.4, 1.8, 1.7, 1.5, 1.2, 1.2, 1.4, 1.5, 1.1, 0.6, 0.2)
CHANNELS = {"wechat": 0.36, "qq": 0.36, "weibo": 0.2, "board": 0.08}
KINDS = {"neg": 0.66, "q": 0.17, "sug": 0.17}
# Head kind -> what replies do: vent ("react"), complain, suggest, or ask along.
REPLY_MOVES = {"neg": {"react": 0.45, "neg": 0.3, "sug": 0.12, "q": 0.13},
               "q": {"q": 0.45, "react": 0.4, "neg": 0.15},
               "sug": {"react": 0.3, "sug": 0.3, "neg": 0.25, "q": 0.15}}
WORKING = ("teacher", "young", "admin", "worker")  # retirees are not affected by the reform
REPLIES = {"qq": (0.3, 0.25, 0.2, 0.15, 0.1), "wechat": (0.6, 0.25, 0.15), "weibo": (0.55, 0.3, 0.15),
           "board": (0.2, 0.3, 0.3, 0.2)}


class SurgeWriter:
    def __init__(self, ctx: Context, scenario: str = "pay_reform_surge") -> None:
        self.ctx, self.scenario = ctx, scenario
        self.article = ctx.threads.article(REFORM)
        self.start = self.article.published

    def moment(self) -> datetime:
        rng = self.ctx.rng
        hour = rng.choices(range(len(HOURLY)), weights=HOURLY)[0]
        when = clock.at(DAY, 15) + timedelta(hours=hour, seconds=rng.randrange(3600))
        return max(when, self.start + timedelta(minutes=rng.randint(4, 30)))

    def section(self, kind: str) -> str:
        return f"surge.{kind}"

    def place(self, channel: str) -> tuple[str, str | None, str]:
        rng = self.ctx.rng
        if channel == "wechat":
            return self.article.title, self.article.url, ""
        if channel == "qq":
            return rng.choices(QQ_GROUPS[:3], weights=(0.36, 0.32, 0.32))[0], None, ""
        if rng.random() < 0.3:
            return WEIBO_MENTION, None, WEIBO_HANDLE + " "
        return (WEIBO_REFORM if rng.random() < 0.7 else WEIBO_TAGS["pay"]), None, ""

    def thread_posts(self, channel: str, when: datetime) -> list[Draft]:
        ctx, rng = self.ctx, self.ctx.rng
        thread, url, prefix = self.place(channel)
        kind = weighted(rng, KINDS)
        author = ctx.pools[channel].pick(rng, group=thread if channel == "qq" else None, roles=WORKING)
        text = ctx.say(self.section(kind), kind, channel, prefix=prefix)
        head = ctx.add(channel, author, text, when, thread, self.scenario, url)
        out = [head]
        for _ in range(rng.choices(range(len(REPLIES[channel])), weights=REPLIES[channel])[0]):
            when = when + gap(rng, channel) / (3 if channel != "qq" else 1)
            out.append(self.reply(head, kind, out, when))
        return out

    def reply(self, head: Draft, head_kind: str, earlier: list[Draft], when: datetime) -> Draft:
        ctx, rng = self.ctx, self.ctx.rng
        kind = weighted(rng, REPLY_MOVES[head_kind])
        section = {"react": "surge.react", "neg": self.section("neg"), "sug": "surge.sug",
                   "q": "generic.rq" if rng.random() < 0.4 else "surge.q"}[kind]
        parent = rng.choice(earlier) if rng.random() < 0.3 else head
        prefix = ""
        if head.channel == "weibo" and parent is not head:
            prefix = f"回复@{parent.author.name}:"
        elif head.channel == "qq" and rng.random() < 0.2:
            prefix = f"@{parent.author.name} "
        if head.channel == "qq" and rng.random() < 0.3:
            parent = None
        author = ctx.pools[head.channel].pick(rng, group=head.thread if head.channel == "qq" else None,
                                              avoid=tuple(d.author for d in earlier), roles=WORKING)
        mood = "neg" if kind == "react" else kind
        text = ctx.say(section, mood, head.channel, reply=True, prefix=prefix)
        return ctx.add(head.channel, author, text, when, head.thread, self.scenario, head.url, parent)

    def proposals(self) -> list[Draft]:
        ctx, rng, out = self.ctx, self.ctx.rng, []
        for entry in ctx.bank.get("surge.board"):
            title, body = entry.split("｜", 1)
            when = self.moment()
            ctx.fresh(body)
            author = ctx.pools["board"].pick(rng, roles=WORKING)
            url = ctx.threads.board_url(title)
            head = ctx.add("board", author, body, when, title, self.scenario, url, proposal=True)
            out.append(head)
            for _ in range(rng.choices(range(4), weights=REPLIES["board"])[0]):
                when = when + gap(rng, "board") / 4
                prefix = ctx.bank.pick("board.agree", rng)
                text = ctx.say("surge.sug", "sug", "board", reply=True, prefix=prefix)
                out.append(ctx.add("board", ctx.pools["board"].pick(rng, avoid=(author,)), text, when,
                                   title, self.scenario, url, head))
        return out

    def notices(self) -> list[Draft]:
        ctx, out = self.ctx, []
        for i, text in enumerate(ctx.bank.get("surge.notice")):
            group = QQ_GROUPS[i]
            ctx.fresh(text)
            when = self.start + timedelta(minutes=6 + 5 * i)
            out.append(ctx.add("qq", ctx.pools["qq"].official(group), text, when, group, self.scenario))
        return out


def write_surge(ctx: Context) -> dict[str, Any]:
    writer = SurgeWriter(ctx)
    drafts = writer.notices() + writer.proposals()
    while len(drafts) < TARGET:
        channel = weighted(ctx.rng, {k: v for k, v in CHANNELS.items() if k != "board"})
        drafts += writer.thread_posts(channel, writer.moment())
    channels: dict[str, int] = {}
    for d in drafts:
        channels[d.channel] = channels.get(d.channel, 0) + 1
    return {"day": DAY, "thread": REFORM, "article_published": clock.iso(writer.start),
            "start": clock.iso(min(d.at for d in drafts)), "end": clock.iso(max(d.at for d in drafts)),
            "count": len(drafts), "channels": dict(sorted(channels.items()))}


def live_surge(ctx: Context, count: int, when: datetime) -> list[Draft]:
    """A few follow-up complaints trickling in during the live part."""
    writer = SurgeWriter(ctx, scenario="live")
    out: list[Draft] = []
    for _ in range(count):
        channel = weighted(ctx.rng, {"wechat": 0.5, "qq": 0.35, "weibo": 0.15})
        thread, url, prefix = writer.place(channel)
        author = ctx.pools[channel].pick(ctx.rng, group=thread if channel == "qq" else None, roles=WORKING)
        text = ctx.say(writer.section("neg"), "neg", channel, prefix=prefix)
        out.append(ctx.add(channel, author, text, when, thread, "live", url))
    return out
