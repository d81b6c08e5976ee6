"""`match`: fires once per post that passes the filter (flag it, and/or raise an alert)."""
from __future__ import annotations

from rules.model import Item, Match
from rules.types.base import RuleType


class MatchRule(RuleType):
    type_name = "match"
    title_zh = "逐条匹配"
    actions = ("flag", "remove", "alert")

    def add(self, item: Item) -> None:
        self._pending.append(Match(
            rule=self.rule, trigger=item, at=item.at, events=[item.event],
            key=self.key_of(item), flag_post_ids=[item.post.id] if item.post.id is not None else [],
        ))
