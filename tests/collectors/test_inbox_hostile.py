"""Hostile and careless inbox input: whatever a file holds, the batch progresses, every bad record is a
dead letter with a reason, later files are read, and nothing outside the inbox is opened."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collectors import CollectorRunner
from collectors.base import Batch, Collector
from collectors.boundary import Boundary
from collectors.file import MAX_LINE_BYTES, FileCollector
from core.domain import utcnow
from core.logs import FORMAT, OneLineFormatter

CST = timezone(timedelta(hours=8))


def record(i: int, **over) -> dict:
    r = {"channel": "wechat", "source_id": f"ok{i}", "author": f"u{i}", "text": f"第{i}条正常评论",
         "created_at": (utcnow() - timedelta(hours=1)).astimezone(CST).isoformat()}
    r.update(over)
    return r


def good_line(i: int, **over) -> bytes:
    return (json.dumps(record(i, **over), ensure_ascii=False) + "\n").encode()


def runner(store, inbox: Path, **kw) -> CollectorRunner:
    return CollectorRunner(store, [FileCollector("inbox", inbox, settle_s=0, **kw)])


BAD_JSONL_LINES = {
    "deep_nesting": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep_array": b"[" * 50_000 + b"]" * 50_000,
    "huge_integer_field": json.dumps(record(0)).encode()[:-1] + b', "likes": ' + b"9" * 5000 + b"}",
    "huge_integer_id": json.dumps({**record(0), "source_id": 10**30}).encode(),
    "nan_extra": json.dumps(record(0)).encode()[:-1] + b', "score": NaN}',
    "infinite_extra": json.dumps(record(0)).encode()[:-1] + b', "score": 1e999}',
    "lone_surrogate_id": json.dumps(record(0)).replace('"ok0"', '"ok\\ud800"').encode(),
    "year_one": json.dumps(record(0, created_at="0001-01-01T00:00:00+14:00")).encode(),
    "year_999": json.dumps(record(0, created_at="0999-06-01T00:00:00+08:00")).encode(),
    "year_9999": json.dumps(record(0, created_at="9999-12-31T23:59:59-12:00")).encode(),
    "next_year": json.dumps(record(0, created_at=(utcnow() + timedelta(days=365)).isoformat())).encode(),
    "naive_time": json.dumps(record(0, created_at="2026-03-01T08:00:00")).encode(),
    "time_not_a_string": json.dumps(record(0, created_at=1767225600)).encode(),
    "channel_newline": json.dumps(record(0, channel="wechat\n")).encode(),
    "author_control": json.dumps(record(0, author="u1\x1b[31m")).encode(),
    "thread_too_long": json.dumps(record(0, thread="长" * 5000)).encode(),
    "author_name_too_long": json.dumps(record(0, author_name="名" * 1000)).encode(),
    "url_too_long": json.dumps(record(0, url="https://x.cn/" + "a" * 5000)).encode(),
    "url_with_space": json.dumps(record(0, url="https://x.cn/a b")).encode(),
    "extras_too_big": json.dumps({**record(0), "blob": "x" * 100_000}).encode(),
    "extras_too_deep": json.dumps({**record(0), "x": [[[[[[[[[[1]]]]]]]]]]}).encode(),
    "text_too_long": json.dumps(record(0, text="字" * 30_000)).encode(),
    "not_utf8": "{\"text\": \"中文\"}".encode("gbk"),
    "not_an_object": b'"just a string"',
    "truncated": b'{"channel": "wechat", "source_id": ',
}


@pytest.mark.parametrize("name", sorted(BAD_JSONL_LINES))
def test_any_bad_jsonl_line_is_a_dead_letter_and_the_batch_progresses(tmp_path, store, name):
    inbox = tmp_path / "inbox"
    r = runner(store, inbox)
    (inbox / "a.jsonl").write_bytes(good_line(1) + BAD_JSONL_LINES[name] + b"\n" + good_line(2))
    (inbox / "b.jsonl").write_bytes(good_line(3))
    os.utime(inbox / "a.jsonl", (1e9, 1e9))
    os.utime(inbox / "b.jsonl", (1e9, 1e9 + 10))  # written after a.jsonl
    r.run_once()
    assert {p for p in ("ok1", "ok2", "ok3") if store.find_post("wechat", p)} == {"ok1", "ok2", "ok3"}
    [dead] = store.dead_letters()
    assert dead.source == "inbox/a.jsonl:2" and dead.error
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.jsonl", "b.jsonl"]
    assert r.health.get("inbox").failures == 0


def test_a_line_over_the_size_limit_is_skipped_without_reading_it_into_memory(tmp_path, store):
    inbox = tmp_path / "inbox"
    (inbox).mkdir()
    big = b'{"text": "' + b"a" * (MAX_LINE_BYTES * 3) + b'"}\n'
    (inbox / "big.jsonl").write_bytes(good_line(1) + big + good_line(2))
    runner(store, inbox).run_once()
    assert store.counts()["posts"] == 2
    [dead] = store.dead_letters()
    assert "KB" in dead.error and len(dead.raw) <= 4000


@pytest.mark.parametrize("content,expected_dead", [
    # a stray quote opening a field that never closes
    ('b,p9,u9,"他说好,{t}\n', ["inbox/x.csv:3"]),
    # two stray quotes with good rows between them: only the first stray line is lost
    ('b,p9,u9,"开始,{t}\nb,p10,u10,中间,{t}\nb,p11,u11,结束",{t}\n', ["inbox/x.csv:3"]),
    # a field over the csv module's limit (131072 characters)
    ('b,p9,u9,"' + "长" * 140_000 + '",{t}\n', ["inbox/x.csv:3"]),
    # a quoted field followed by junk
    ('b,p9,u9,"好"坏,{t}\n', ["inbox/x.csv:3"]),
])
def test_csv_stray_quotes_and_huge_fields_cost_only_their_own_line(tmp_path, store, content, expected_dead):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    t = record(0)["created_at"]
    header = "channel,source_id,author,text,created_at\n"
    first = f"b,p1,u1,第一条,{t}\n"
    last = f"b,p2,u2,最后一条,{t}\nb,p3,u3,\"合法的\n多行文本\",{t}\n"
    (inbox / "x.csv").write_text(header + first + content.format(t=t) + last, encoding="utf-8")
    (inbox / "later.CSV").write_text(header + f"b,p4,u4,大写扩展名也按 CSV 读,{t}\n", encoding="utf-8")
    os.utime(inbox / "x.csv", (1e9, 1e9))
    os.utime(inbox / "later.CSV", (1e9, 1e9 + 10))
    runner(store, inbox).run_once()
    got = {p for p in ("p1", "p2", "p3", "p4", "p10") if store.find_post("b", p)}
    assert {"p1", "p2", "p3", "p4"} <= got
    if "中间" in content:
        assert "p10" in got  # the good row between two stray quotes survives
    assert store.find_post("b", "p3").text == "合法的\n多行文本"
    assert sorted(d.source for d in store.dead_letters()) == expected_dead
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["later.CSV", "x.csv"]


def test_a_stray_quote_at_the_end_of_a_growing_file_waits_for_the_rest(tmp_path, store):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    t = record(0)["created_at"]
    path = inbox / "g.csv"
    path.write_text("channel,source_id,author,text,created_at\nb,p1,u1,\"未写完的\n", encoding="utf-8")
    c = FileCollector("inbox", inbox, settle_s=3600)
    CollectorRunner(store, [c]).run_once()
    assert store.counts()["posts"] == 0 and store.counts()["dead_letters"] == 0
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"多行文本\",{t}\n")
    CollectorRunner(store, [c]).run_once()
    assert store.find_post("b", "p1").text == "未写完的\n多行文本"


# ---------------------------------------------------------------------------- what is not a file of the inbox
def test_links_and_special_files_are_never_read(tmp_path, store):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    secret = tmp_path / "outside" / "secret.jsonl"
    secret.parent.mkdir()
    content = good_line(99, text="收件箱外的机密内容")
    secret.write_bytes(content)
    os.symlink(secret, inbox / "link.jsonl")
    os.link(secret, inbox / "hard.jsonl")
    os.mkfifo(inbox / "pipe.jsonl")
    (inbox / "dir.jsonl").mkdir()
    (inbox / "good.jsonl").write_bytes(good_line(1))
    runner(store, inbox).run_once()
    assert store.find_post("wechat", "ok1") and not store.find_post("wechat", "ok99")
    dead = {d.source: d for d in store.dead_letters()}
    assert set(dead) == {"inbox/link.jsonl", "inbox/hard.jsonl", "inbox/pipe.jsonl"}
    assert all(d.raw == "" and "机密" not in d.error for d in dead.values())
    assert "符号链接" in dead["inbox/link.jsonl"].error and "硬链接" in dead["inbox/hard.jsonl"].error
    failed = sorted(p.name for p in (inbox / "failed").iterdir())
    assert failed == ["hard.jsonl", "link.jsonl", "pipe.jsonl"]
    assert secret.read_bytes() == content  # the target is untouched
    assert (inbox / "dir.jsonl").is_dir()


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(tmp_path, store, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes(good_line(99))
    c = FileCollector("inbox", inbox, settle_s=0)
    (inbox / "a.jsonl").write_bytes(good_line(1))
    real_scan = c._scan

    def scan_then_swap():
        found = real_scan()
        (inbox / "a.jsonl").unlink()
        os.symlink(secret, inbox / "a.jsonl")
        return found

    monkeypatch.setattr(c, "_scan", scan_then_swap)
    CollectorRunner(store, [c]).run_once()
    assert not store.find_post("wechat", "ok99")


@pytest.mark.parametrize("name", [b"bad-\xff\xfe.jsonl", b"line\nbreak.jsonl", b"esc\x1b[2J.jsonl"])
def test_file_names_that_could_forge_log_lines_are_refused_with_a_printable_reason(tmp_path, store, caplog, name):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with open(os.path.join(os.fsencode(inbox), name), "wb") as fh:
        fh.write(good_line(1))
    (inbox / "good.jsonl").write_bytes(good_line(2))
    runner(store, inbox).run_once()
    assert store.find_post("wechat", "ok2") and not store.find_post("wechat", "ok1")
    [dead] = store.dead_letters()
    assert "\n" not in dead.source and "\x1b" not in dead.source and "文件名" in dead.error
    assert os.listdir(os.fsencode(inbox / "failed")) == [name]
    formatter = OneLineFormatter(FORMAT)
    lines = [formatter.format(rec) for rec in caplog.records]
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines)


# ---------------------------------------------------------------------------- a broken source
class Broken(Collector):
    type_name = "broken"
    title_zh = "坏的"

    def __init__(self, name: str, skippable: bool = True) -> None:
        super().__init__(name)
        self.calls = 0
        self.skippable = skippable

    @classmethod
    def create(cls, cfg, settings):  # pragma: no cover - not configured in tests
        raise NotImplementedError

    def fetch(self, checkpoint):
        self.calls += 1
        if checkpoint == "past":
            return Batch()
        raise OSError("设备 I/O 错误")

    def skip(self, checkpoint, error):
        if not self.skippable:
            return None
        from store.base import DeadLetter

        return Batch(dead=[DeadLetter(source="broken:1", raw="", error=f"跳过：{error}")], checkpoint="past")


def test_a_failing_source_neither_stops_the_others_nor_hides_from_health(tmp_path, store):
    inbox = tmp_path / "inbox"
    broken = Broken("broken", skippable=False)
    r = CollectorRunner(store, [broken, FileCollector("inbox", inbox, settle_s=0)], quarantine_after=3)
    (inbox / "a.jsonl").write_bytes(good_line(1))
    r.run_once()
    assert store.find_post("wechat", "ok1")
    for _ in range(3):
        r.run_once()
    jobs, problems = r.health.report(degraded_after=3)
    assert jobs["broken"]["consecutive_failures"] == 4 and "设备 I/O 错误" in jobs["broken"]["last_error"]
    assert problems and "broken" in problems[0]
    assert jobs["inbox"]["consecutive_failures"] == 0


def test_a_source_stuck_at_one_position_is_skipped_after_the_quarantine_limit(tmp_path, store):
    broken = Broken("broken")
    r = CollectorRunner(store, [broken], quarantine_after=3)
    r.run_once()
    r.run_once()
    assert store.counts()["dead_letters"] == 0
    r.run_once()  # third failure at the same checkpoint: skipped, with a dead letter
    [dead] = store.dead_letters()
    assert "设备 I/O 错误" in dead.error and store.checkpoint("broken") == "past"
    assert r.health.get("broken").failures == 0


def test_a_file_that_cannot_be_read_moves_to_failed(tmp_path, store, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "locked.jsonl").write_bytes(good_line(1))
    (inbox / "good.jsonl").write_bytes(good_line(2))
    real_open = os.open

    def deny(path, flags, *a, **kw):
        if str(path).endswith("locked.jsonl"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", deny)
    runner(store, inbox).run_once()
    assert store.find_post("wechat", "ok2")
    [dead] = store.dead_letters()
    assert "无法安全读取" in dead.error and (inbox / "failed" / "locked.jsonl").exists()


# ---------------------------------------------------------------------------- event time
def test_event_time_bounds_come_from_the_settings(tmp_path, store):
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    boundary = Boundary(earliest=datetime(2020, 1, 1, tzinfo=timezone.utc), future_skew=timedelta(minutes=5),
                        clock=lambda: now)
    inbox = tmp_path / "inbox"
    r = CollectorRunner(store, [FileCollector("inbox", inbox, settle_s=0)], boundary=boundary)
    (inbox / "t.jsonl").write_bytes(
        good_line(1, created_at="2019-12-31T23:59:59+00:00")
        + good_line(2, created_at="2020-01-01T00:00:00+00:00")
        + good_line(3, created_at="2026-06-01T12:04:59+00:00")
        + good_line(4, created_at="2026-06-01T12:05:01+00:00")
    )
    r.run_once()
    assert [s for s in ("ok1", "ok2", "ok3", "ok4") if store.find_post("wechat", s)] == ["ok2", "ok3"]
    errors = {d.source: d.error for d in store.dead_letters()}
    assert "ingest.earliest" in errors["inbox/t.jsonl:1"]
    assert "ingest.future_skew_minutes" in errors["inbox/t.jsonl:4"]


def test_files_of_formats_the_inbox_does_not_read_are_refused_with_what_to_use(tmp_path, store):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "comments.json").write_text(json.dumps([record(1)]), encoding="utf-8")
    (inbox / "export.xlsx").write_bytes(b"PK\x03\x04")
    (inbox / "upload.jsonl.part").write_bytes(good_line(3))  # still being written: left alone
    (inbox / "ok.ndjson").write_bytes(good_line(2))
    for name in ("comments.json", "export.xlsx", "ok.ndjson", "upload.jsonl.part"):
        os.utime(inbox / name, (1e9, 1e9))
    runner(store, inbox).run_once()
    assert store.find_post("wechat", "ok2") and not store.find_post("wechat", "ok1")
    errors = {d.source: d.error for d in store.dead_letters()}
    assert set(errors) == {"inbox/comments.json", "inbox/export.xlsx"}
    assert all(".jsonl" in e and ".csv" in e for e in errors.values())
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["comments.json", "export.xlsx"]
    assert (inbox / "upload.jsonl.part").exists()


def test_a_refused_file_that_cannot_be_moved_is_reported_once(tmp_path, store, monkeypatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    os.symlink(tmp_path, inbox / "link.jsonl")
    real_replace = os.replace

    def no_move(src, dst):
        if str(src).endswith("link.jsonl"):
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", no_move)
    r = runner(store, inbox)
    for _ in range(3):
        r.run_once()
        (inbox / "good.jsonl").write_bytes(good_line(len(store.dead_letters()) + 10))
    assert len(store.dead_letters()) == 1
    assert store.find_post("wechat", "ok11")


def test_a_backlog_of_bad_lines_does_not_hold_up_the_file_behind_it(tmp_path, store):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "junk.jsonl").write_bytes(b"{not json}\n" * 60_000)
    (inbox / "good.jsonl").write_bytes(good_line(1))
    os.utime(inbox / "junk.jsonl", (1e9, 1e9))
    os.utime(inbox / "good.jsonl", (1e9, 1e9 + 1))
    runner(store, inbox, batch_size=500).run_once()  # 120 batches of dead letters, then the good file
    assert store.find_post("wechat", "ok1") and store.counts()["dead_letters"] == 60_000


def test_a_csv_refused_for_its_header_does_not_hold_up_the_next_file(tmp_path, store):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("name;comment\n张三;你好\n", encoding="utf-8")
    (inbox / "b.jsonl").write_bytes(good_line(1))
    os.utime(inbox / "a.csv", (1e9, 1e9))
    os.utime(inbox / "b.jsonl", (1e9, 1e9 + 1))
    runner(store, inbox).run_once()
    assert store.find_post("wechat", "ok1") and (inbox / "failed" / "a.csv").exists()


def test_names_with_bidi_overrides_are_shown_escaped(tmp_path, store, caplog):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "evil\u202elsonj.jsonl").write_bytes(b"{bad\n")
    runner(store, inbox).run_once()
    [dead] = store.dead_letters()
    assert "\u202e" not in dead.source and "\\u202e" in dead.source
    assert all("\u202e" not in OneLineFormatter(FORMAT).format(r) for r in caplog.records)
