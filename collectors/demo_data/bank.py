"""Phrase banks (phrases/*.txt) and their tiny template syntax.

A bank file is a list of sections: a line "=== name" opens a section, every other non-blank
line is one entry, lines starting with ";;" are comments. Inside an entry, "{a|b|c}" picks one
alternative ("{a|}" makes "a" optional) and "<name>" is filled from section "slot.name" (or
from a caller-supplied filler). Upper-case placeholders such as <PHONE> are left alone.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PHRASE_DIR = Path(__file__).with_name("phrases")
_ALT = re.compile(r"\{([^{}]*)\}")
_SLOT = re.compile(r"<([a-z_]+)>")

Filler = Callable[[], str]


class BankError(ValueError):
    """A phrase file is malformed or a section is missing."""


def parse_bank_text(text: str, origin: str) -> dict[str, list[str]]:
    """Parse one bank file into {section: entries}."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(";;"):
            continue
        if line.startswith("=== "):
            name = line[4:].strip()
            if name in sections:
                raise BankError(f"{origin} 第 {number} 行：分区 {name} 重复定义，请合并后重试")
            current = sections[name] = []
            continue
        if current is None:
            raise BankError(f"{origin} 第 {number} 行：条目出现在任何分区之前，请先写 '=== 分区名'")
        current.append(line)
    return sections


@dataclass
class Bank:
    """All phrase sections, plus per-section shuffled decks so entries are used evenly."""

    sections: dict[str, list[str]]
    _decks: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path = PHRASE_DIR) -> Bank:
        sections: dict[str, list[str]] = {}
        for path in sorted(directory.glob("*.txt")):
            for name, entries in parse_bank_text(path.read_text(encoding="utf-8"), path.name).items():
                if name in sections:
                    raise BankError(f"{path.name}：分区 {name} 与其他文件重复，请改名")
                sections[name] = entries
        if not sections:
            raise BankError(f"{directory} 下没有短语文件（*.txt），请检查安装是否完整")
        return cls(sections)

    def has(self, name: str) -> bool:
        return bool(self.sections.get(name))

    def get(self, name: str) -> list[str]:
        try:
            entries = self.sections[name]
        except KeyError:
            raise BankError(f"短语库缺少分区 {name}，请在 phrases/*.txt 中补上") from None
        if not entries:
            raise BankError(f"短语库分区 {name} 是空的，请至少写一条")
        return entries

    def draw(self, name: str, rng: random.Random) -> str:
        """Next entry of a shuffled deck: every entry is used once before any repeats."""
        deck = self._decks.get(name)
        if not deck:
            deck = list(self.get(name))
            rng.shuffle(deck)
            self._decks[name] = deck
        return deck.pop()

    def remaining(self, name: str) -> int:
        """Entries left in the current round of a deck (the full size if never drawn)."""
        deck = self._decks.get(name)
        return len(self.get(name)) if deck is None else len(deck)

    def pick(self, name: str, rng: random.Random) -> str:
        """A uniformly random entry (for slots and decorations, where repeats are natural)."""
        return rng.choice(self.get(name))

    def expand(self, template: str, rng: random.Random, fill: dict[str, Filler] | None = None) -> str:
        """Resolve {a|b} alternatives, then <slot> references."""
        text = _ALT.sub(lambda m: rng.choice(m.group(1).split("|")), template)

        def slot(match: re.Match[str]) -> str:
            name = match.group(1)
            if fill and name in fill:
                return fill[name]()
            return self.pick(f"slot.{name}", rng)

        return _SLOT.sub(slot, text)
