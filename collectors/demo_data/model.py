"""The draft post the generator builds before ids are assigned and lines are written."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .people import Author

SCENARIOS = ("normal_pos", "normal_neg", "normal_neu", "question", "suggestion", "spam_flood",
             "rumour", "rumour_refute", "official_clarification", "pay_reform_surge",
             "pii_leak", "live")
CHANNELS = ("wechat", "weibo", "qq", "board")
# What each phrase kind is, as ground truth, on an ordinary day.
KIND_SCENARIO = {"pos": "normal_pos", "rpos": "normal_pos", "thanks": "normal_pos",
                 "neg": "normal_neg", "rneg": "normal_neg",
                 "neu": "normal_neu", "rneu": "normal_neu", "notice": "normal_neu",
                 "official": "normal_neu", "q": "question", "rq": "question",
                 "sug": "suggestion", "board": "suggestion"}


@dataclass(eq=False)
class Draft:
    channel: str
    author: Author
    text: str
    at: datetime
    thread: str
    scenario: str
    url: str | None = None
    parent: Draft | None = None
    proposal: bool = False  # board: a proposal (thread starter) rather than a comment
    source_id: str = ""
