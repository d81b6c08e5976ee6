"""The `author` condition: what moderation has seen of a poster in the channel (AutoModerator's author
checks), read from a real SQLite store, asked lazily and once per author in a batch."""
from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain import Action, AuditEvent, Decision, FlagStatus, Post, ReasonCode
from core.errors import ConfigError
from rules import Item, RuleEngine, load_rules
from rules.engine import author_lookup
from store.base import AuthorHistory
from tests.rules.conftest import analysis

DEFAULT = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
AD = "闲置钢琴转让，九成新，价格好商量，有意加我微信 piano2024 详聊"
DAY = 24 * 60  # minutes


def run_default(store) -> None:
    engine = RuleEngine.from_file(DEFAULT, ["审核组邮件"])
    while engine.process(store, 50):
        pass


def history(feed, author: str, n: int, over_days: float, channel: str = "qq") -> list[Post]:
    """`n` ordinary posts by `author`, spread evenly over `over_days` days from T0."""
    step = over_days * DAY / max(n - 1, 1)
    return [feed.add(f"今天食堂的菜还可以（{i}）", minutes=i * step, author=author, channel=channel)
            for i in range(n)]


def status(store, post: Post) -> tuple[FlagStatus | None, list[str]]:
    item = store.queue_item(post.id)
    return (item.status, sorted(f.rule for f in item.flags)) if item else (None, [])


def test_a_known_members_sure_advert_goes_to_a_person_a_newcomers_is_removed(store, feed):
    history(feed, "老王", 6, 40)
    history(feed, "新来的", 6, 10)  # posts enough, but only ten days in the channel
    history(feed, "小李", 3, 60)  # long there, but three other posts
    known = feed.add(AD, minutes=41 * DAY, author="老王", channel="qq", spam=0.99)
    brief = feed.add(AD + "！", minutes=11 * DAY, author="新来的", channel="qq", spam=0.99)
    few = feed.add(AD + "。", minutes=61 * DAY, author="小李", channel="qq", spam=0.99)
    stranger = feed.add(AD + "~", minutes=41 * DAY, author="陌生人", channel="qq", spam=0.99)
    elsewhere = feed.add(AD + "…", minutes=41 * DAY, author="老王", channel="weibo", spam=0.99)
    run_default(store)
    assert status(store, known) == (FlagStatus.PENDING, ["spam_known_author"])
    assert "老成员" in store.queue_item(known.id).flags[0].reason
    for post in (brief, few, stranger, elsewhere):  # a channel's history is its own
        assert status(store, post) == (FlagStatus.REMOVED, ["spam_autoremove"])


def test_once_a_moderator_removes_one_of_their_posts_the_next_advert_is_removed(store, feed):
    history(feed, "老王", 6, 40)
    first = feed.add(AD, minutes=41 * DAY, author="老王", channel="qq", spam=0.99)
    run_default(store)
    assert status(store, first)[0] is FlagStatus.PENDING
    store.decide(Decision(first.id, "mod1", Action.REMOVE, ReasonCode.SPAM),
                 AuditEvent("mod1", "decision.remove", f"post:{first.id}"))
    second = feed.add(AD + "，包送货", minutes=42 * DAY, author="老王", channel="qq", spam=0.99)
    run_default(store)
    assert status(store, second) == (FlagStatus.REMOVED, ["spam_autoremove"])


class CountingStore:
    """The store, counting the author lookups the rules make."""

    def __init__(self, store) -> None:
        self.store, self.asked = store, []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def author_history(self, channel: str, author: str) -> AuthorHistory:
        self.asked.append((channel, author))
        return self.store.author_history(channel, author)


def test_the_store_is_asked_only_for_posts_that_pass_the_rest_once_per_author(store, feed):
    for i in range(30):
        feed.add(f"今天的讲座不错（{i}）", minutes=i, author=f"u{i}", spam=0.1)
    for i in range(8):
        feed.add(f"刷单日结（{i}）", minutes=40 + i, author="刷屏号", spam=0.99)
    feed.add("加微信领红包", minutes=50, author="另一个号", spam=0.99)
    counting = CountingStore(store)
    engine = RuleEngine.from_file(DEFAULT, ["审核组邮件"])
    assert engine.process(counting, 500) == 39
    assert sorted(counting.asked) == [("weibo", "刷屏号"), ("weibo", "另一个号")]


@pytest.mark.parametrize("author_yaml, where", [
    ("{karma: {gte: 10}}", "filter.author"),
    ("{}", "filter.author"),
    ("{posts: {gte: -1}}", "filter.author.posts.gte"),
    ("{days: {}}", "filter.author.days"),
])
def test_a_bad_author_condition_names_the_field(rules_file, author_yaml, where):
    path = rules_file(f"rules:\n  - {{name: r, title: 规则, type: match, filter: {{author: {author_yaml}}},"
                      " actions: {flag: {reason: 命中}}}\n")
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert where in str(err.value) and str(path.name) in str(err.value)


FIELDS = ("posts", "days", "flagged", "removed", "approved")
OPS = {"gte": lambda v, x: v >= x, "gt": lambda v, x: v > x, "lte": lambda v, x: v <= x, "lt": lambda v, x: v < x}
T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


@settings(max_examples=200, deadline=None)
@given(posts=st.integers(1, 500), removed=st.integers(0, 20), flagged=st.integers(0, 20),
       approved=st.integers(0, 20), first_seconds_ago=st.integers(0, 400 * 86400),
       bounds=st.dictionaries(st.sampled_from(FIELDS),
                              st.dictionaries(st.sampled_from(sorted(OPS)), st.integers(0, 60), min_size=1),
                              min_size=1))
def test_the_condition_compares_the_authors_standing(posts, removed, flagged, approved,
                                                      first_seconds_ago, bounds):
    """Over any history and thresholds: `posts` leaves this post out, `days` runs from the first post to
    this one (the post's time, not the clock), and every comparison must hold."""
    at = T0 + timedelta(days=500)
    hist = AuthorHistory(posts=posts, flagged=flagged, pending=0, removed=removed, approved=approved,
                         removal_requests=0, first_at=at - timedelta(seconds=first_seconds_ago), last_at=at)
    spec = "{" + ", ".join(f"{k}: {{{', '.join(f'{op}: {x}' for op, x in v.items())}}}" for k, v in bounds.items()) + "}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(f"rules:\n  - {{name: r, title: 规则, type: match, filter: {{author: {spec}}},"
                        " actions: {flag: {reason: 命中}}}\n", encoding="utf-8")
        (rule,) = load_rules(path)
    post = Post(channel="qq", source_id="1", author="a", text=AD, created_at=at, id=1)
    item = Item.of(post, analysis(AD), lambda channel, author: hist)
    values = {"posts": posts - 1, "days": first_seconds_ago / 86400, "flagged": flagged, "removed": removed,
              "approved": approved}
    expected = all(OPS[op](values[k], x) for k, v in bounds.items() for op, x in v.items())
    assert rule.filter.test(item) is expected


def test_one_lookup_per_author_and_channel_in_a_batch(store, feed):
    history(feed, "老王", 3, 5)
    counting = CountingStore(store)
    lookup = author_lookup(counting)
    a, b, c = lookup("qq", "老王"), lookup("qq", "老王"), lookup("weibo", "老王")
    assert a is b and a.posts == 3 and c.posts == 0
    assert counting.asked == [("qq", "老王"), ("weibo", "老王")]
    assert author_lookup(counting)("qq", "老王") is not a  # a new batch asks again
