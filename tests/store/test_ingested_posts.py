"""The analysis pass takes the posts this process just stored from memory: exactly what reading
their rows gives (store/sqlite/posts.py, `_remember_ingested`)."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from core.domain import Post
from store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6,
)
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
posts = st.builds(
    Post,
    channel=st.sampled_from(["qq", "weibo"]),
    source_id=st.sampled_from(["1", "2", "3", "4", "5"]),  # few keys: repeats in and across batches
    author=st.text(min_size=1, max_size=5),
    text=st.text(max_size=30),
    created_at=st.builds(lambda m, us, z: (T0 + timedelta(minutes=m, microseconds=us)).astimezone(z),
                         st.integers(-600, 600), st.integers(0, 999_999), zones),
    thread=st.one_of(st.none(), st.text(max_size=5)),
    author_name=st.one_of(st.none(), st.text(max_size=5)),
    url=st.one_of(st.none(), st.just("https://example.edu.cn/a/1")),
    reply_to=st.one_of(st.none(), st.text(max_size=5)),
    # extras as a collector may hand them over (the boundary cleans them, the store does not rely on it):
    # tuples, keys that are not text, values JSON has no type for
    raw=st.one_of(st.just({}), st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 9)),
                                               st.one_of(json_values, st.tuples(st.integers()), st.just(T0)),
                                               max_size=3)),
)


def _read(posts: list[Post]) -> list[str]:
    return [repr(p) for p in posts]  # repr: the time zone of created_at too, not only the instant


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(posts, max_size=6), min_size=1, max_size=3), st.integers(1, 8))
def test_the_posts_just_stored_are_what_their_rows_read(tmp_path_factory, batches, limit):
    path = tmp_path_factory.mktemp("ingested") / "s.db"
    store = SqliteStore(path)
    store.migrate()
    for batch in batches:
        store.ingest("t", batch, None)
    other = SqliteStore(path)  # another process: nothing in memory, everything from the rows
    try:
        while True:
            from_rows = other.posts_to_analyze(limit)
            from_memory = store.posts_to_analyze(limit)
            assert _read(from_memory) == _read(from_rows)
            if not from_rows:
                break
            _analysed(path, [p.id for p in from_rows])
    finally:
        other.close()
        store.close()


def _analysed(path, ids: list[int]) -> None:
    """Move the analysis cursor of these posts, as a save of their analyses would."""
    with sqlite3.connect(path) as c:
        c.executemany("UPDATE posts SET analyzed_version = version WHERE id = ?", [(i,) for i in ids])


def _store(tmp_path) -> SqliteStore:
    s = SqliteStore(tmp_path / "s.db")
    s.migrate()
    return s


def test_the_posts_are_taken_from_memory_once(tmp_path):
    store = _store(tmp_path)
    store.ingest("t", [Post("qq", str(i), "u", f"第{i}条", T0 + timedelta(minutes=i)) for i in range(3)], None)
    first = store.posts_to_analyze(10)
    assert len(first) == 3 and not store._ingested
    again = store.posts_to_analyze(10)  # not analysed yet: the same posts, now read from the rows
    assert _read(again) == _read(first) and all(a is not b for a, b in zip(again, first))
    store.close()


def test_a_post_changed_by_another_process_is_read_from_its_row(tmp_path):
    store = _store(tmp_path)
    store.ingest("t", [Post("qq", "1", "u", "原文", T0)], None)
    writer = _store(tmp_path)  # another instance stores a new version of it
    writer.ingest("t", [Post("qq", "1", "u", "改过的", T0)], None)
    [p] = store.posts_to_analyze(10)
    assert (p.text, p.version) == ("改过的", 2)
    writer.close()
    store.close()


def test_a_post_redacted_after_ingestion_is_read_from_its_row(tmp_path):
    store = _store(tmp_path)
    store.ingest("t", [Post("qq", "1", "u", "原文", T0)], None)
    with sqlite3.connect(store.path) as c:  # e.g. retention, run by the command line
        c.execute("UPDATE posts SET text = '已隐去', redacted_at = ? WHERE source_id = '1'", (T0.isoformat(),))
    [p] = store.posts_to_analyze(10)
    assert p.text == "已隐去"
    store.close()


def test_an_erased_post_whose_id_is_taken_again_is_read_from_its_row(tmp_path):
    """SQLite gives the highest id again once its row is gone: the entry of the erased post must not
    stand for the new one (same id, same version 1, another write)."""
    store = _store(tmp_path)
    store.ingest("t", [Post("qq", "1", "u", "会被删除的", T0)], None)
    writer = _store(tmp_path)
    with sqlite3.connect(store.path) as c:
        c.execute("DELETE FROM posts WHERE source_id = '1'")
    writer.ingest("t", [Post("weibo", "9", "u", "后来的", T0)], None)
    [p] = store.posts_to_analyze(10)
    assert (p.channel, p.source_id, p.text) == ("weibo", "9", "后来的")
    writer.close()
    store.close()


def test_a_batch_that_failed_leaves_nothing_in_memory(tmp_path):
    """A batch the database refuses is saved again post by post (ingest's isolation): the posts of the
    rolled-back attempt are not kept, and the posts that were stored read back as their rows."""
    store = _store(tmp_path)
    bad = Post("qq", "2", "u", "坏的", T0 + timedelta(minutes=1))
    bad.author = None  # type: ignore[assignment]  # posts.author is NOT NULL
    result = store.ingest("t", [Post("qq", "1", "u", "好的", T0), bad, Post("qq", "3", "u", "也好", T0)], None)
    assert (result.new, result.dead) == (2, 1)
    assert not store._ingested
    other = SqliteStore(store.path)
    assert _read(store.posts_to_analyze(10)) == _read(other.posts_to_analyze(10))
    other.close()
    store.close()
