"""`demo`: replays the bundled synthetic sample (collectors/demo_data/sample.jsonl).

The sample's 30 days are shifted by whole days so that they end at the local midnight before the
demo first started (the anchor, kept in the checkpoint so a restart shifts identically); times of
day stay as written. The backlog is ingested at once, in batches; the live part then trickles in
from the anchor on, at its own pace, and loops with fresh ids so the dashboard stays alive.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from collectors.base import Batch, Collector
from collectors.records import parse_time, post_from_record
from core.config import Settings
from core.domain import Post, utcnow

SAMPLE = Path(__file__).parent / "demo_data" / "sample.jsonl"


@dataclass
class Sample:
    records: list[dict[str, Any]]
    base: datetime  # day 0 of the sample
    days: int
    live_from: int  # index of the first live record

    @property
    def live_ids(self) -> set[str]:
        return {r["source_id"] for r in self.records[self.live_from:]}

    @classmethod
    def load(cls, path: Path = SAMPLE) -> "Sample":
        lines = path.read_text(encoding="utf-8").splitlines()
        meta = json.loads(lines[0])["_meta"]
        records = [json.loads(line) for line in lines[1:] if line.strip()]
        return cls(records, parse_time(meta["base_time"]), int(meta["days"]), int(meta["live_from"]))


class DemoCollector(Collector):
    type_name = "demo"
    title_zh = "演示数据回放"
    options_schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "type": {"const": "demo"},
            "batch_size": {"type": "integer", "minimum": 1},
            "speed": {"type": "number", "exclusiveMinimum": 0},
        },
        "additionalProperties": False,
    }

    def __init__(
        self,
        name: str,
        sample: Sample,
        batch_size: int = 500,
        speed: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(name)
        self.sample = sample
        self.batch_size = batch_size
        self.speed = speed  # live trickle speed-up factor
        self.clock = clock
        self.zone = ZoneInfo(timezone)
        self._live_ids = sample.live_ids

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "DemoCollector":
        return cls(cfg["name"], Sample.load(), int(cfg.get("batch_size", settings.batch_size)),
                   float(cfg.get("speed", 1.0)), timezone=settings.timezone)

    def fetch(self, checkpoint: str | None) -> Batch:
        now = self.clock()
        cp = json.loads(checkpoint) if checkpoint else {"anchor": now.isoformat(), "index": 0, "round": 0}
        anchor = datetime.fromisoformat(cp["anchor"])
        index, rnd = int(cp["index"]), int(cp["round"])
        records, live_from = self.sample.records, self.sample.live_from
        end_of_backlog = self.sample.base + timedelta(days=self.sample.days)
        live_span = self._time(records[-1]) - end_of_backlog + timedelta(minutes=1)
        midnight = anchor.astimezone(self.zone).replace(hour=0, minute=0, second=0, microsecond=0)
        posts: list[Post] = []
        while len(posts) < self.batch_size:
            if index >= len(records):  # loop the live part with fresh ids
                index, rnd = live_from, rnd + 1
            rec = records[index]
            offset = self._time(rec) - end_of_backlog
            if index >= live_from:
                at = anchor + offset / self.speed + live_span / self.speed * rnd
            else:
                at = midnight + offset
            if at > now:
                break
            posts.append(self._post(rec, at, rnd))
            index += 1
        if not posts:
            return Batch()
        note = "历史数据" if index <= live_from and rnd == 0 else "实时数据"
        return Batch(
            posts=posts,
            checkpoint=json.dumps({"anchor": anchor.isoformat(), "index": index, "round": rnd}),
            more=len(posts) >= self.batch_size,
            note=note,
        )

    @staticmethod
    def _time(rec: dict[str, Any]) -> datetime:
        return parse_time(rec["created_at"])

    def _post(self, rec: dict[str, Any], at: datetime, rnd: int) -> Post:
        fields = dict(rec)
        if rnd:
            fields["source_id"] = f"{rec['source_id']}-r{rnd}"
            if rec.get("reply_to") in self._live_ids:  # replies to backlog posts keep their target
                fields["reply_to"] = f"{rec['reply_to']}-r{rnd}"
        fields["created_at"] = at.isoformat()
        post = post_from_record(fields)
        post.raw["demo"] = True
        return post
