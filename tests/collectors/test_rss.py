"""The `rss` channel against a local feed server (tests/fakes/rss.py): RSS 2.0 and Atom entries become
posts, every entry is collected exactly once across restarts while the feed drops, re-orders and
re-publishes entries, conditional GET, RFC 5005 paging, backfill, and the failures an admin meets."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from collectors import CollectorRunner
from collectors.http import RateLimited, SourceError, TransientError
from collectors.rss import RssCollector, html_to_text
from core.config import load_settings
from core.domain import utcnow
from core.errors import ConfigError
from tests.fakes.rss import LOGIN_PAGE, Answer, Entry, FeedServer
from tests.fakes.clock import Ticker

WHERE = "channels[0]（门户）"
TOKEN = "feed-token-9f8e7d6c"


def build(settings, url: str, **options: Any) -> RssCollector:
    collector = RssCollector.from_config({"name": "门户", "type": "rss", "url": url, "every": "5m", **options},
                                         settings, WHERE)
    collector.client.sleep = lambda s: None  # retries without waiting
    return collector


def entry(i: int, ago_minutes: int | None = None, **over: Any) -> Entry:
    when = None if ago_minutes is None else (utcnow() - timedelta(minutes=ago_minutes)).replace(microsecond=0)
    values = dict(id=f"urn:board:{i}", title=f"建议{i}：食堂价格", html=f"<p>第{i}条意见 &amp; 建议</p>", published=when,
                  link=f"https://union.example.edu.cn/board/{i}", author=f"教师{i} <t{i}@example.edu.cn>")
    values.update(over)
    return Entry(**values)


def stored(store) -> list[tuple[str, str, int]]:
    """(channel, source_id, version) of every stored post."""
    return sorted(tuple(r) for r in store._rows("SELECT channel, source_id, version FROM posts"))


# ---------------------------------------------------------------------------- entries → posts
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_entries_become_posts_with_plain_text(settings, kind):
    with FeedServer(kind) as feed:
        feed.add(entry(1, 90, html='<div><p>食堂&amp;价格<br/>涨了 <b>30%</b></p><script>alert("x")</script></div>',
                       full="<p>全文：<a href='/x'>食堂</a>价格<br>涨了&nbsp;30%</p>", category="后勤"))
        feed.add(entry(2, 60, id=None, link="/board/2"))  # no guid: the link is the identity
        feed.add(entry(3, None, id=None, link=None, author=None))  # neither: a hash; no date: first seen
        before = utcnow()
        posts = {p.source_id: p for p in build(settings, feed.url).fetch(None).posts}
    assert len(posts) == 3
    first = posts["urn:board:1"]
    assert first.text == "建议1：食堂价格\n全文：食堂价格\n涨了 30%"  # content over summary, HTML to text
    assert first.channel == "board" and first.url == "https://union.example.edu.cn/board/1"
    assert first.created_at.tzinfo is not None and abs(first.created_at - (utcnow() - timedelta(minutes=90))) < timedelta(minutes=1)
    assert first.author_name == "教师1" and first.author and "@" not in first.author  # pseudonymous
    assert first.thread in ("校工会意见箱", "工会门户 · 通知公告") and first.raw["tags"] == ["后勤"]
    second = posts[next(k for k in posts if k.endswith("/board/2"))]
    assert second.url.startswith("http://127.0.0.1:") and second.url.endswith("/board/2")  # made absolute
    third = next(p for k, p in posts.items() if k.startswith("sha1:"))
    assert third.author == "anonymous"
    if kind == "rss":  # Atom requires <updated>, so only RSS has undated entries
        assert third.raw["time_guessed"] is True and third.created_at >= before - timedelta(seconds=1)


def test_the_author_id_is_stable_and_not_the_email(settings):
    with FeedServer("rss") as feed:
        feed.add(entry(1, 30))
        feed.add(entry(2, 20, author="教师1 <t1@example.edu.cn>"))
        a, b = build(settings, feed.url).fetch(None).posts
    assert a.author == b.author and a.author.startswith("email:") and "t1" not in a.author


def test_html_to_text_keeps_the_words_and_drops_markup():
    assert html_to_text("<p>一&lt;二&gt;</p><p>三<br>四</p>") == "一<二>\n三\n四"
    assert html_to_text("<style>p{}</style><img alt='图' src=x>  多   空格 ") == "[图] 多 空格"
    assert html_to_text("") == "" and html_to_text("纯文本") == "纯文本"


# ---------------------------------------------------------------------------- exactly once
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_every_entry_is_collected_exactly_once_across_restarts(store, settings, kind):
    """Runs interleaved with new entries; the feed keeps only its newest 5, re-orders, re-publishes an
    old entry and repeats an id; each run is a new collector (a restart) against the same store."""
    with FeedServer(kind) as feed:
        added = 0
        total_new = 0

        def run() -> None:
            nonlocal total_new
            result = CollectorRunner(store, [build(settings, feed.url)]).run_once()
            total_new += result.new
            assert result.updated == 0 and result.dead == 0

        def add(n: int) -> None:
            nonlocal added
            for _ in range(n):
                added += 1
                feed.add(entry(added, 500 - added))

        add(3)
        run()
        run()  # nothing new: 304
        add(4)
        feed.keep(5)  # entries 1 and 2 drop off
        run()
        feed.reorder()
        run()
        add(2)
        feed.bump("urn:board:3")  # an old entry back at the top
        feed.entries.append(feed.entries[0])  # the same id twice in one document
        feed.keep(6)
        run()
        add(1)
        run()
        assert total_new == added == 10
        assert store.counts()["posts"] == 10
        rows = stored(store)
        assert [r[1] for r in rows] == sorted(f"urn:board:{i}" for i in range(1, 11))
        assert all(version == 1 for _, _, version in rows)
        assert len(feed.requests) == 6  # one request per run


def test_conditional_get_sends_back_etag_and_last_modified_and_a_304_is_nothing_new(store, settings):
    with FeedServer("rss") as feed:
        feed.add(entry(1, 10))
        collector = build(settings, feed.url)
        runner = CollectorRunner(store, [collector])
        runner.run_once()
        cp = json.loads(store.checkpoint("门户"))
        _, first = feed.requests[-1]
        assert "if-none-match" not in first and "if-modified-since" not in first
        collector.every = None  # poll again right away
        assert runner.run_once().new == 0
        _, second = feed.requests[-1]
        assert second["if-none-match"] == cp["etag"] and second["if-modified-since"] == cp["modified"]
        assert json.loads(store.checkpoint("门户")) == cp  # a 304 leaves the checkpoint alone


def test_last_modified_alone_is_enough_for_a_304(settings):
    with FeedServer("atom", etags=False) as feed:
        feed.add(entry(1, 10))
        collector = build(settings, feed.url)
        batch = collector.fetch(None)
        assert "etag" not in json.loads(batch.checkpoint)
        again = collector.fetch(batch.checkpoint)
        assert again.posts == [] and again.checkpoint is None and "304" in again.note
        assert "if-modified-since" in feed.requests[-1][1]


def test_a_server_without_validators_is_read_in_full_and_still_adds_nothing_twice(settings):
    with FeedServer("rss", etags=False, last_modified=False) as feed:
        feed.add(entry(1, 10))
        collector = build(settings, feed.url)
        cp = collector.fetch(None).checkpoint
        feed.add(entry(2, 5))
        batch = collector.fetch(cp)
        assert [p.source_id for p in batch.posts] == ["urn:board:2"]
        assert collector.fetch(batch.checkpoint).posts == []


def test_the_remembered_ids_are_bounded(settings, monkeypatch):
    monkeypatch.setattr("collectors.rss.SEEN_LIMIT", 4)
    with FeedServer("rss", etags=False, last_modified=False) as feed:
        collector = build(settings, feed.url)
        cp = None
        for i in range(1, 13):
            feed.add(entry(i, 100 - i))
            feed.keep(3)
            cp = collector.fetch(cp).checkpoint
        assert len(json.loads(cp)["seen"]) == 3 + 4


# ---------------------------------------------------------------------------- paging, backfill
def test_a_paged_feed_is_followed_while_whole_pages_are_new(store, settings):
    """RFC 5005: the feed shows 3 entries per page; 7 arrive between two polls."""
    with FeedServer("atom", page_size=3) as feed:
        for i in range(1, 3):
            feed.add(entry(i, 100 - i))
        tick = Ticker()
        runner = CollectorRunner(store, [build(settings, feed.url)], monotonic=tick)
        assert runner.run_once().new == 2
        for i in range(3, 10):
            feed.add(entry(i, 100 - i))
        tick.t += 301
        assert runner.run_once().new == 7
        assert any("page=3" in path for path, _ in feed.requests)
        assert store.counts()["posts"] == 9


def test_backfill_reads_every_page_within_the_dates(store, settings):
    with FeedServer("rss", page_size=4) as feed:
        for i in range(1, 11):
            feed.add(entry(i, 60 * 24 * (11 - i)))  # one a day
        collector = build(settings, feed.url)
        since = utcnow() - timedelta(days=7, hours=1)
        pages = list(collector.backfill(since, None))
    assert len(pages) == 3
    got = sorted(int(p.source_id.rsplit(":", 1)[1]) for b in pages for p in b.posts)
    assert got == [4, 5, 6, 7, 8, 9, 10]
    assert all(b.checkpoint is None for b in pages)


# ---------------------------------------------------------------------------- failures
def test_a_transient_500_is_retried_and_then_left_to_the_runner(store, settings, caplog):
    with FeedServer("rss") as feed:
        feed.add(entry(1, 10))
        feed.fail = [Answer(500, {}, b"busy")]
        collector = build(settings, feed.url)
        assert len(collector.fetch(None).posts) == 1  # retried inside the call
        feed.fail = [Answer(503, {}, b"")] * 3
        tick = Ticker()
        runner = CollectorRunner(store, [collector], monotonic=tick)
        runner.run_once()
        assert store.counts()["posts"] == 0 and store.checkpoint("门户") is None
        jobs, _ = runner.health.report(degraded_after=3)
        assert "平台暂时不可用" in jobs["门户"]["last_error"]
        tick.t += runner.next_poll_in("门户") + 1
        runner.run_once()
        assert store.counts()["posts"] == 1


def test_a_rate_limit_waits_at_least_what_the_feed_asked(store, settings):
    with FeedServer("rss") as feed:
        feed.fail = [Answer(429, {"Retry-After": "900"}, b"")]
        collector = build(settings, feed.url)
        with pytest.raises(RateLimited):
            collector.fetch(None)
        feed.fail = [Answer(429, {"Retry-After": "900"}, b"")]
        runner = CollectorRunner(store, [collector], monotonic=Ticker())
        runner.run_once()
        assert runner.next_poll_in("门户") >= 900


def test_wrong_credentials_are_one_clear_message_without_the_token(store, settings, monkeypatch, caplog):
    with FeedServer("rss", token=TOKEN) as feed:
        feed.add(entry(1, 10))
        monkeypatch.setenv("PORTAL_FEED_TOKEN", "wrong-token-123456")
        collector = build(settings, feed.url, token_env="PORTAL_FEED_TOKEN")
        tick = Ticker()
        runner = CollectorRunner(store, [collector], monotonic=tick)
        runner.run_once()
        assert runner.next_poll_in("门户") >= 300  # credentials: at least 5 minutes between tries
        tick.t += runner.next_poll_in("门户") + 1
        runner.run_once()
        assert len([p for p, _ in feed.requests]) == 2
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "凭据或权限有误" in errors[0] and "HTTP 401" in errors[0]
        assert "wrong-token" not in errors[0]
        assert feed.requests[-1][1]["authorization"] == "Bearer wrong-token-123456"
        monkeypatch.setenv("PORTAL_FEED_TOKEN", TOKEN)  # the admin fixes it and restarts
        assert CollectorRunner(store, [build(settings, feed.url, token_env="PORTAL_FEED_TOKEN")]).run_once().new == 1


def test_a_sign_in_page_instead_of_a_feed_says_so(settings):
    with FeedServer("rss") as feed:
        feed.fail = [LOGIN_PAGE]
        with pytest.raises(SourceError) as err:
            build(settings, feed.url).fetch(None)
    assert not isinstance(err.value, TransientError)
    assert "不是 RSS/Atom" in str(err.value) and "登录页" in str(err.value)


def test_a_broken_checkpoint_starts_over_without_duplicates(store, settings):
    with FeedServer("rss") as feed:
        feed.add(entry(1, 10))
        runner = CollectorRunner(store, [build(settings, feed.url)])
        runner.run_once()
        store.ingest("门户", [], "{not json")
        again = CollectorRunner(store, [build(settings, feed.url)]).run_once()
        assert again.new == 0 and again.unchanged == 1 and store.counts()["posts"] == 1


# ---------------------------------------------------------------------------- config
@pytest.mark.parametrize("options,field,words", [
    ({"url": None}, WHERE, "url"),
    ({"url": "ftp://example.edu.cn/feed"}, "url", "格式"),
    ({"channel": "Board!"}, "channel", "格式"),
    ({"every": "often"}, "every", "格式"),
    ({"surprise": 1}, WHERE, "不认识"),
    ({"headers": {"Authorization": "Bearer abc"}}, "headers.Authorization", "token_env"),
    ({"headers": {"Cookie": "JSESSIONID=1"}}, "headers.Cookie", "环境变量"),
    ({"token_env": "NO_SUCH_VARIABLE_SET"}, "token_env", "NO_SUCH_VARIABLE_SET"),
    ({"headers_env": {"X-Api-Key": "NO_SUCH_VARIABLE_SET"}}, "headers_env.X-Api-Key", "未设置"),
    ({"token_env": "lower-case-dash"}, "token_env", "格式"),
])
def test_config_errors_name_the_field(settings, monkeypatch, options, field, words):
    monkeypatch.delenv("NO_SUCH_VARIABLE_SET", raising=False)
    cfg = {"name": "门户", "type": "rss", "url": "https://union.example.edu.cn/feed.xml", **options}
    cfg = {k: v for k, v in cfg.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        RssCollector.from_config(cfg, settings, WHERE)
    text = str(err.value)
    assert (field if field == WHERE else f"{WHERE}.{field}") in text and words in text, text


def test_plain_headers_and_secret_headers_from_the_environment_are_sent(settings, monkeypatch):
    monkeypatch.setenv("PORTAL_KEY", "k-123456789")
    with FeedServer("rss") as feed:
        feed.add(entry(1, 10))
        collector = build(settings, feed.url, channel="portal", headers={"X-Campus": "main", "X-Api-Key_env": "PORTAL_KEY"})
        posts = collector.fetch(None).posts
        _, headers = feed.requests[-1]
    assert headers["x-campus"] == "main" and headers["x-api-key"] == "k-123456789"
    assert posts[0].channel == "portal" and collector.every == 300
    assert "k-123456789" not in json.dumps(posts[0].raw)


def test_defaults(settings):
    collector = RssCollector.from_config({"name": "门户", "type": "rss", "url": "https://u.example.edu.cn/f"},
                                         settings, WHERE)
    assert collector.every == 600 and collector.channel == "board" and not collector.write_actions
    assert collector.enabled_actions == frozenset()


def test_time_without_date_in_the_future_is_left_to_the_boundary(store, settings):
    with FeedServer("rss") as feed:
        feed.add(entry(1, -60 * 24 * 400))  # dated next year
        result = CollectorRunner(store, [build(settings, feed.url)]).run_once()
    assert result.dead == 1 and store.counts()["posts"] == 0
    assert "晚于当前时间" in store.dead_letters()[0].error


def test_entries_keep_timezone_aware_times_from_rfc822_offsets(settings):
    with FeedServer("rss") as feed:
        when = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
        feed.add(entry(1, published=when))
        [post] = build(settings, feed.url).fetch(None).posts
    assert post.created_at == when and post.created_at.tzinfo is not None


def test_the_documented_config_builds_as_the_service_builds_it(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    from collectors import COLLECTORS, build_collectors

    monkeypatch.setitem(COLLECTORS._entries, "rss", RssCollector)  # the registry line
    monkeypatch.setenv("PORTAL_FEED_TOKEN", TOKEN)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "channels" / "rss.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "type: rss" in b)
    cfg_file = tmp_path / "sentinel.yaml"
    cfg_file.write_text(f"data_dir: {tmp_path / 'data'}\n{block}", encoding="utf-8")
    _, board, portal = build_collectors(load_settings(cfg_file, env={}))
    assert (board.name, board.channel, board.every) == ("意见箱", "board", 600)
    assert portal.channel == "portal" and portal.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_entry_that_cannot_become_a_post_is_a_dead_letter_and_the_rest_flows(store, settings):
    with FeedServer("rss") as feed:
        feed.add(entry(1, 30))
        feed.add(entry(2, 20, link="http://[::1"))  # not a URL: urljoin refuses it
        feed.add(entry(3, 10, title="", html=""))  # nothing to read: the boundary refuses it
        result = CollectorRunner(store, [build(settings, feed.url)]).run_once()
    assert result.new == 1 and result.dead == 2
    errors = sorted(d.error for d in store.dead_letters())
    assert any("条目无法读取" in e for e in errors) and any("text 为空" in e for e in errors)
