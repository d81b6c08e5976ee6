"""Property-based tests (Hypothesis) of the inbox parser, the record boundary and time handling.

Invariants:
- inbox files: whatever the other lines hold, every good record is ingested exactly once, every
  non-blank bad line is exactly one dead letter with a reason, and the file is finished (moved to done/);
- CSV: a stray quote never costs more than its own line;
- the boundary: any post either comes out normalised (within every limit, storable, round-tripping
  through the store) or is refused with a RecordError — never any other exception;
- time: every accepted created_at is stored and read back as the same instant; `parse_time` accepts or
  refuses any string with a RecordError; the local-time display never raises.
"""
from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from collectors import CollectorRunner
from collectors.boundary import CHANNEL_RE, Boundary, Limits
from collectors.file import FileCollector
from collectors.records import parse_time
from core.domain import Post
from core.errors import RecordError
from core.timefmt import format_local
from store.codec import parse_ts, ts
from store.base import DeadLetter
from store.sqlite import SqliteStore

pytestmark = pytest.mark.properties
NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))


def fresh_store(root: Path) -> SqliteStore:
    s = SqliteStore(root / "sentinel.db")
    s.migrate()
    return s


def good(i: int, prefix: str = "g") -> dict:
    return {"channel": "board", "source_id": f"{prefix}{i}", "author": f"u{i}", "text": f"第{i}条建议：食堂晚上多开一小时",
            "created_at": (NOW - timedelta(minutes=i + 1)).astimezone(CST).isoformat()}


class Inbox:
    """One store and inbox shared by the examples of a test; each example gets its own file name and
    key prefix, so examples stay independent without a new database each time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = fresh_store(root)
        self.dir = root / "inbox"
        self.runner = CollectorRunner(self.store, [FileCollector("inbox", self.dir, settle_s=0, batch_size=7)],
                                      boundary=Boundary(clock=lambda: NOW))
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"e{self.n}-"

    def run(self, name: str, data: bytes) -> list[DeadLetter]:
        """Drop a file, collect until it is finished; the dead letters of that file."""
        (self.dir / name).write_bytes(data)
        for _ in range(50):
            if not (self.dir / name).exists():
                break
            self.runner.run_once()
        assert (self.dir / "done" / name).exists(), f"{name} did not finish"
        assert self.runner.health.get("inbox").failures == 0
        return [d for d in self.store.dead_letters(limit=100_000) if d.source.startswith(f"inbox/{name}:")]


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Iterator[Inbox]:
    box = Inbox(tmp_path_factory.mktemp("inbox-props"))
    yield box
    box.store.close()


SHARED = settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


junk_text = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=80)
junk_bytes = st.binary(max_size=80).filter(lambda b: b"\n" not in b)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
junk_json = json_values.map(lambda v: json.dumps(v, ensure_ascii=False))
# what the json module itself chokes on: nesting past the recursion limit, integers past 4300 digits
exotic_json = st.one_of(
    st.integers(1_000, 20_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1_000, 20_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(4_301, 9_000).map(lambda n: '{"channel": "board", "likes": ' + "7" * n + "}"),
)
# a record with one field replaced by anything
broken_record = st.tuples(st.sampled_from(list(good(0))), json_values).map(
    lambda kv: json.dumps({**good(10_000), kv[0]: kv[1]}, ensure_ascii=False))


@SHARED
@given(lines=st.lists(st.one_of(st.just(None), junk_text, junk_bytes, junk_json, exotic_json), min_size=1, max_size=12))
def test_jsonl_every_line_is_a_post_or_a_dead_letter_and_the_file_finishes(inbox, lines):
    """None marks a good record; everything else is junk (text, bytes, any JSON value, what the json
    module chokes on)."""
    prefix = inbox.next()
    out, goods, junk = [], [], 0
    for i, line in enumerate(lines):
        if line is None:
            goods.append(f"{prefix}{i}")
            out.append(json.dumps(good(i, prefix), ensure_ascii=False).encode())
        else:
            data = line if isinstance(line, bytes) else line.encode("utf-8")
            junk += bool(data.strip())
            out.append(data)
    dead = inbox.run(f"{prefix}x.jsonl", b"\n".join(out) + b"\n")
    assert all(inbox.store.find_post("board", g) for g in goods)
    assert len(dead) == junk and all(d.error for d in dead)


@SHARED
@given(lines=st.lists(st.one_of(st.just(None), broken_record), min_size=1, max_size=10))
def test_jsonl_records_with_any_field_value_never_stop_the_file(inbox, lines):
    prefix = inbox.next()
    data = "\n".join(json.dumps(good(i, prefix), ensure_ascii=False) if x is None else x
                     for i, x in enumerate(lines))
    before = inbox.store.counts()["posts"]
    dead = inbox.run(f"{prefix}x.jsonl", data.encode() + b"\n")
    assert all(inbox.store.find_post("board", f"{prefix}{i}") for i, x in enumerate(lines) if x is None)
    # a broken record is a post (its value was acceptable) or a dead letter
    assert inbox.store.counts()["posts"] - before + len(dead) <= len(lines)
    assert len(dead) <= sum(x is not None for x in lines)


csv_field = st.text(st.sampled_from(list('"ab 好"\'\\')), max_size=6)
csv_junk = st.one_of(
    st.text(st.sampled_from(list('"ab 好,,"\'\\')), min_size=1, max_size=30),
    st.lists(csv_field, min_size=1, max_size=6).map(",".join),  # rows of about the header's width
    st.integers(0, 5).map(lambda k: ",".join(["x"] * k + ['"开头'])),  # opens a quoted field
    st.integers(0, 5).map(lambda k: ",".join(['结尾"'] + ["y"] * k)),  # closes one
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(st.just(None), csv_junk), min_size=1, max_size=15))
def test_csv_a_stray_quote_costs_only_its_own_line(inbox, lines):
    """Junk lines hold quotes and commas: whatever quotes they open or close, every good row is
    ingested and each junk line is at most one dead letter."""
    prefix = inbox.next()
    rows = ["channel,source_id,author,text,created_at"]
    goods, junk = [], 0
    for i, line in enumerate(lines):
        if line is None:
            g = good(i, prefix)
            goods.append(g["source_id"])
            rows.append(",".join(g[k] for k in ("channel", "source_id", "author", "text", "created_at")))
        else:
            junk += bool(line.strip())
            rows.append(line)
    dead = inbox.run(f"{prefix}x.csv", ("\n".join(rows) + "\n").encode())
    missing = [g for g in goods if not inbox.store.find_post("board", g)]
    assert not missing, rows
    assert len(dead) <= junk


# ---------------------------------------------------------------------------- the boundary
any_text = st.text(max_size=60) | st.text(st.characters(), min_size=200, max_size=600)
any_value = st.one_of(st.none(), any_text, st.integers(), st.integers(min_value=2**62, max_value=2**80),
                      st.booleans(), st.floats(), json_values)
any_time = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.sampled_from([timezone.utc, CST, timezone(timedelta(hours=-12)),
                                            timezone(timedelta(hours=14))])),
    st.datetimes(),  # naive
)


@st.composite
def posts(draw) -> Post:
    return Post(
        channel=draw(st.one_of(st.sampled_from(["wechat", "weibo", "qq", "board"]), any_value)),
        source_id=draw(st.one_of(st.text(min_size=1, max_size=20), any_value)),
        author=draw(st.one_of(st.text(min_size=1, max_size=20), any_value)),
        text=draw(st.one_of(st.text(min_size=1, max_size=100), any_value)),
        created_at=draw(st.one_of(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 5, 1),
                                               timezones=st.just(CST)), any_time, any_value)),
        thread=draw(any_value),
        url=draw(st.one_of(st.none(), st.just("https://mp.weixin.qq.com/s/abc"), any_value)),
        reply_to=draw(any_value),
        author_name=draw(any_value),
        raw=draw(st.one_of(st.dictionaries(st.text(max_size=10), json_values, max_size=5), any_value)),
    )


@settings(max_examples=400, deadline=None)
@given(posts())
def test_boundary_admits_a_normalised_post_or_refuses_with_a_reason(post):
    boundary = Boundary(clock=lambda: NOW)
    try:
        clean = boundary.check(post)
    except RecordError as exc:
        assert str(exc)
        return
    lim = Limits()
    assert CHANNEL_RE.fullmatch(clean.channel)
    for name in ("source_id", "author"):
        value = getattr(clean, name)
        assert 0 < len(value) <= lim.identifier and value.isprintable()
    assert clean.text.strip() and len(clean.text) <= lim.text
    assert clean.thread is None or (len(clean.thread) <= lim.thread and "\n" not in clean.thread)
    assert boundary.earliest <= clean.created_at <= NOW + boundary.future_skew
    json.dumps(clean.raw, allow_nan=False)
    for s in (clean.text, clean.thread or "", clean.author_name or ""):
        s.encode("utf-8")  # no lone surrogates left: SQLite stores UTF-8


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(posts(), min_size=1, max_size=6))
def test_whatever_the_boundary_admits_the_store_saves_and_reads_back(batch):
    boundary = Boundary(clock=lambda: NOW)
    admitted, dead = boundary.admit(batch, "prop")
    assert len(admitted) + len(dead) == len(batch)
    with tempfile.TemporaryDirectory() as tmp:
        store = fresh_store(Path(tmp))
        try:
            result = store.ingest("prop", admitted, "cp", dead)
            assert result.new + result.updated + result.unchanged == len(admitted)
            assert result.dead == len(dead)
            for p in admitted:
                got = store.find_post(p.channel, p.source_id)
                assert got is not None and got.created_at == admitted[
                    max(i for i, q in enumerate(admitted) if q.key == p.key)].created_at
        finally:
            store.close()


# ---------------------------------------------------------------------------- time
@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([timezone.utc, CST, timezone(timedelta(hours=-12)),
                                               timezone(timedelta(hours=14), )])))
def test_stored_times_round_trip_and_always_display(at):
    assert parse_ts(ts(at)) == at
    assert len(ts(at)) == len("2026-03-01T00:00:00.000000+00:00")
    for zone in ("Asia/Shanghai", "Pacific/Kiritimati", "Etc/GMT+12"):
        assert format_local(at, zone)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40) | st.datetimes(timezones=st.just(CST)).map(lambda d: d.isoformat()))
def test_parse_time_accepts_or_refuses_with_a_reason(text):
    try:
        at = parse_time(text)
    except RecordError as exc:
        assert "created_at" in str(exc)
    else:
        assert at.tzinfo is not None


def test_a_checked_post_keeps_every_field_of_the_post():
    """Boundary.check builds the clean Post field by field: a new Post field must be added there."""
    assert [f.name for f in dataclasses.fields(Post)] == [
        "channel", "source_id", "author", "text", "created_at", "thread", "url", "reply_to", "author_name",
        "raw", "id", "version"], "Post changed: update Boundary.check, which builds the checked Post directly"
    post = Post("qq", "m-1", "u-1", "食堂的菜\n又涨价了", datetime(2026, 3, 1, 8, tzinfo=CST), thread="教工群",
                url="https://example.edu.cn/x", reply_to="m-0", author_name="张老师", raw={"likes": 3}, id=7, version=2)
    clean = Boundary(clock=lambda: NOW).check(post)
    assert clean is not post
    assert [getattr(clean, f.name) for f in dataclasses.fields(Post)] == [
        getattr(post, f.name) for f in dataclasses.fields(Post)]


# controls, line breaks and lone surrogates are common here (st.characters leaves surrogates out by default)
control_heavy = st.text(st.characters(max_codepoint=0xE000, exclude_categories=()) | st.sampled_from("\x00\x1f\x7f\x85\x9f\t\n\r\u2028\u2029\ud800\udfff"), max_size=80)


@settings(max_examples=500)
@given(st.one_of(any_text, control_heavy))
def test_free_text_drops_controls_and_mends_surrogates_as_documented(text):
    from collectors.boundary import _text

    mended = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "", re.sub("[\ud800-\udfff]", "\ufffd", text))
    assert _text(text, "text", 10**6, keep_lines=True) == mended
    assert _text(text, "thread", 10**6) == re.sub("[\t\n\r\u2028\u2029]+", " ", mended).strip()


@settings(max_examples=500)
@given(st.one_of(st.text(min_size=1, max_size=30), control_heavy.filter(lambda t: t.strip())))
def test_an_identifier_with_a_control_break_or_surrogate_is_refused(text):
    from collectors.boundary import _identifier

    bad = re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", text)
    try:
        assert _identifier(text, "source_id", 10**6) == text and not bad
    except RecordError:
        assert bad or not text.strip()
