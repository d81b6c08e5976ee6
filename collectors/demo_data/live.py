"""The live part: ~300 posts after day 30 that the demo trickles in, a few seconds to a
minute apart: ordinary conversations plus a few adverts and follow-up complaints."""
from __future__ import annotations

from datetime import datetime, timedelta

from .context import Context
from .common import weighted
from .daily import CHANNEL_WEIGHTS, DailyWriter
from .model import Draft
from .spam import live_adverts
from .surge import live_surge

LIVE_POSTS, LIVE_SPAM, LIVE_SURGE = 300, 8, 10


def interleave(ctx: Context, episodes: list[list[Draft]]) -> list[Draft]:
    """Mix episodes into one stream; each keeps its own order (parents before replies)."""
    keyed: list[tuple[float, int, Draft]] = []
    span = float(len(episodes))
    for number, episode in enumerate(episodes):
        key = ctx.rng.uniform(0, span)
        for draft in episode:
            keyed.append((key, number, draft))
            key += ctx.rng.uniform(0.2, 4.0)
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [draft for _, _, draft in keyed]


def retime(ctx: Context, stream: list[Draft], start: datetime) -> None:
    when = start
    for draft in stream:
        when += timedelta(seconds=min(60, 3 + int(ctx.rng.expovariate(1 / 16))))
        draft.at = when


def write_live(ctx: Context, writer: DailyWriter, start: datetime) -> list[Draft]:
    writer.scenario, writer.end = "live", start + timedelta(days=3650)
    episodes: list[list[Draft]] = []
    total, ordinary = 0, LIVE_POSTS - LIVE_SPAM - LIVE_SURGE
    while total < ordinary:
        episode = writer.episode(start, weighted(ctx.rng, CHANNEL_WEIGHTS))
        if total + len(episode) > ordinary:  # keep the count exact: drop the surplus replies
            for extra in episode[ordinary - total:]:
                ctx.posts.remove(extra)
            episode = episode[:ordinary - total]
        episodes.append(episode)
        total += len(episode)
    episodes += [[d] for d in live_adverts(ctx, LIVE_SPAM, start)]
    episodes += [[d] for d in live_surge(ctx, LIVE_SURGE, start)]
    stream = interleave(ctx, episodes)
    retime(ctx, stream, start)
    return stream
