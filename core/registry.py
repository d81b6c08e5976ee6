"""Name → class registries for collectors, rule types and notifiers.

Each package keeps one explicit dict (no import-time decorators), so adding a channel, a rule
type or a notifier is one new file plus one line in that package's registry.
"""
from __future__ import annotations

from typing import Generic, TypeVar

from core.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what_zh: str, entries: dict[str, type[T]]) -> None:
        self.what_zh = what_zh  # e.g. "渠道类型"
        self._entries = dict(entries)

    def get(self, name: str) -> type[T]:
        try:
            return self._entries[name]
        except KeyError:
            valid = "、".join(sorted(self._entries))
            raise UnknownNameError(f"未知的{self.what_zh} “{name}”，可选：{valid}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, type[T]]]:
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
