"""Shared state of one generator run: the seeded random source, phrase bank, authors,
threads, and the list of drafts written so far (with a guard against duplicate texts)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from .bank import Bank
from .model import Draft
from .people import Author, Pool, SpamAccounts, build_pools
from .style import Styler
from .threads import Threads


@dataclass
class Context:
    rng: random.Random
    bank: Bank
    styler: Styler
    pools: dict[str, Pool]
    threads: Threads
    spam: SpamAccounts
    posts: list[Draft] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, seed: int, bank: Bank | None = None) -> Context:
        rng = random.Random(seed)
        bank = bank or Bank.load()
        pools = build_pools(bank, rng)
        return cls(rng, bank, Styler(bank, rng), pools, Threads(rng), SpamAccounts(bank, rng))

    def add(self, channel: str, author: Author, text: str, at: datetime, thread: str,
            scenario: str, url: str | None = None, parent: Draft | None = None,
            proposal: bool = False) -> Draft:
        if parent is not None and at <= parent.at:
            raise ValueError("回复的时间必须晚于被回复的帖子，请检查生成逻辑")
        draft = Draft(channel, author, text, at, thread, scenario, url, parent, proposal)
        self.posts.append(draft)
        return draft

    def fresh(self, text: str) -> bool:
        """Register `text` if nobody wrote it before; False if it would be an exact duplicate."""
        if text in self.used:
            return False
        self.used.add(text)
        return True

    def dress(self, core: str, kind: str, channel: str, reply: bool = False, prefix: str = "",
              tries: int = 8) -> str | None:
        """`core` decorated for `channel`, never used before; None if no fresh variant is found."""
        for attempt in range(tries):
            text = prefix + self.styler.decorate(core, kind, channel, reply=reply)
            if attempt >= tries // 2:
                text = self.styler.decorate(text, kind, channel, reply=reply)
            if self.fresh(text):
                return text
        return None

    def say_with_answers(self, section: str, kind: str, channel: str, reply: bool = False,
                         prefix: str = "") -> tuple[str, list[str]]:
        """A fresh decorated text from `section`, plus the answers an entry may carry after "｜"."""
        for _ in range(12):
            core, *answers = self.bank.draw(section, self.rng).split("｜")
            text = self.dress(self.bank.expand(core, self.rng), kind, channel, reply, prefix, tries=3)
            if text is not None:
                return text, [self.bank.expand(a, self.rng) for a in answers]
        core = self.bank.expand(self.bank.draw(section, self.rng).split("｜")[0], self.rng)
        for extra in ("…", "！", "。", "～", "??", "!!", "。。"):
            if self.fresh(prefix + core + extra):
                return prefix + core + extra, []
        raise RuntimeError(f"分区 {section} 的短语太少，无法生成不重复的帖子，请在 phrases/ 中补充")

    def say(self, section: str, kind: str, channel: str, reply: bool = False, prefix: str = "") -> str:
        """A decorated, never-before-used text drawn from `section`."""
        return self.say_with_answers(section, kind, channel, reply, prefix)[0]
