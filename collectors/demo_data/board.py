"""The 建言献策 suggestion board: long proposals and the comments under them."""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from .common import gap, weighted
from .model import Draft
from .people import Author
from .threads import TOPICS

if TYPE_CHECKING:
    from .daily import DailyWriter

COMMENT_COUNTS = (0.25, 0.3, 0.25, 0.12, 0.08)
COMMENT_KINDS = {"sug": 0.28, "support": 0.3, "neg": 0.22, "rpos": 0.1, "q": 0.1}


def dept_of(name: str) -> str:
    """The department shown in a board display name ("王**（文学院）", "文学院教工"), or ""."""
    match = re.search(r"（(.+?)）", name)
    if match:
        return match.group(1)
    return name[:-2] if name.endswith("教工") else ""


class BoardDesk:
    """Writes board posts for a DailyWriter (shares its end time, labels and official replies)."""

    def __init__(self, writer: DailyWriter) -> None:
        self.writer, self.ctx = writer, writer.ctx
        self.proposals: list[Draft] = []
        self.topics: dict[str, str] = {}  # proposal title -> topic

    def episode(self, when: datetime) -> list[Draft]:
        """A new proposal (while unused ones remain) or comments on a recent one."""
        ctx = self.ctx
        unused = [t for t in TOPICS if self.unused(t)]
        if unused and ctx.rng.random() < 0.45:
            topic = ctx.threads.topic()
            return self.proposal(when, topic if topic in unused else ctx.rng.choice(unused))
        recent = [p for p in self.proposals if p.at < when and (when - p.at).days < 12]
        if not recent:
            return self.proposal(when, ctx.rng.choice(unused)) if unused else []
        return self.comments(ctx.rng.choice(recent), when, ctx.rng.randint(1, 2))

    def unused(self, topic: str) -> list[str]:
        return [e for e in self.ctx.bank.get(f"topic.{topic}.board") if e.split("｜")[0] not in self.topics]

    def opener(self, author: Author) -> str:
        """An introduction that agrees with the department in the author's display name."""
        dept = dept_of(author.name)
        openers = [o for o in self.ctx.bank.get("board.open") if dept or "<dept>" not in o]
        return self.ctx.rng.choice(openers).replace("<dept>", dept)

    def proposal(self, when: datetime, topic: str) -> list[Draft]:
        ctx, rng = self.ctx, self.ctx.rng
        title, body = rng.choice(self.unused(topic)).split("｜", 1)
        body = ctx.bank.expand(body, rng)
        author = ctx.pools["board"].pick(rng)
        if rng.random() < 0.35:
            body = self.opener(author) + body
        if rng.random() < 0.5:
            body += ctx.bank.pick("board.close", rng)
        ctx.fresh(body)
        draft = ctx.add("board", author, body, when, title,
                        self.writer.label("board"), ctx.threads.board_url(title), proposal=True)
        self.proposals.append(draft)
        self.topics[title] = topic
        comments = self.comments(draft, when, None)
        last = comments[-1].at if comments else when
        return [draft] + comments + self.writer.official_reply(draft, "board", last)

    def comments(self, target: Draft, when: datetime, count: int | None) -> list[Draft]:
        ctx = self.ctx
        topic = self.topics.get(target.thread, "misc")
        if count is None:
            count = ctx.rng.choices(range(len(COMMENT_COUNTS)), weights=COMMENT_COUNTS)[0]
        out: list[Draft] = []
        for _ in range(count):
            when = max(when, target.at) + gap(ctx.rng, "board")
            if when >= self.writer.end:
                break
            text, kind = self.comment(topic)
            author = ctx.pools["board"].pick(ctx.rng, avoid=(target.author,))
            out.append(ctx.add("board", author, text, when, target.thread, self.writer.label(kind),
                               target.url, target))
        return out

    def comment(self, topic: str) -> tuple[str, str]:
        """Endorsement, own experience (+ a suggestion), extra suggestion, or a question."""
        ctx = self.ctx
        kind = weighted(ctx.rng, COMMENT_KINDS)
        agree = ctx.bank.pick("board.agree", ctx.rng)
        if kind == "support":
            return ctx.say("board.support", "sug", "board", reply=True, prefix=agree), "sug"
        if kind == "neg" and ctx.rng.random() < 0.45:
            for _ in range(10):
                first = ctx.bank.expand(ctx.bank.draw(f"topic.{topic}.neg", ctx.rng), ctx.rng)
                second = ctx.bank.expand(ctx.bank.draw(f"topic.{topic}.sug", ctx.rng), ctx.rng)
                text = f"{agree}{first}。{second}。"
                if ctx.fresh(text):
                    return text, "sug"
        prefix = agree if kind in ("sug", "rpos", "neg") else ""
        return ctx.say(f"topic.{topic}.{kind}", kind, "board", reply=True, prefix=prefix), kind
