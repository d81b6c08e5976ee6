"""The inbox file collector on real files and a real SQLite store."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors import CollectorRunner
from collectors.file import FileCollector


def record(i: int, **over) -> dict:
    r = {"channel": "wechat", "source_id": f"c{i}", "author": f"u{i % 7}", "text": f"第{i}条评论：食堂的包子不错",
         "created_at": f"2026-03-01T08:{i % 60:02d}:00+08:00", "thread": "工会春季运动会报名通知"}
    r.update(over)
    return r


def write_jsonl(path: Path, lines: list) -> None:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines),
                    encoding="utf-8")


def collector(tmp_path, batch_size=500) -> FileCollector:
    return FileCollector("inbox", tmp_path / "inbox", batch_size=batch_size, settle_s=0)


def test_malformed_lines_go_to_dead_letters_and_the_rest_is_ingested(tmp_path, store):
    c = collector(tmp_path)
    lines = [
        record(1),
        "{not json",
        record(2, created_at="2026-03-01 08:00:00"),  # no offset
        record(3, text=""),
        ["a", "list"],
        {k: v for k, v in record(4).items() if k != "author"},
        record(5, channel="微信"),
        record(6),
    ]
    write_jsonl(c.inbox / "batch.jsonl", lines)
    result = CollectorRunner(store, [c]).run_once()
    assert (result.new, result.dead) == (2, 6)
    assert {store.find_post("wechat", s).text[:3] for s in ("c1", "c6")} == {"第1条", "第6条"}
    errors = {d.source: d.error for d in store.dead_letters()}
    assert "不是合法的 JSON" in errors["inbox/batch.jsonl:2"]
    assert "时区" in errors["inbox/batch.jsonl:3"]
    assert "text" in errors["inbox/batch.jsonl:4"]
    assert "JSON 对象" in errors["inbox/batch.jsonl:5"]
    assert "author" in errors["inbox/batch.jsonl:6"]
    assert "channel" in errors["inbox/batch.jsonl:7"]
    assert not (c.inbox / "batch.jsonl").exists() and (c.inbox / "done" / "batch.jsonl").exists()


def test_csv_with_bom_quoted_newlines_and_extra_columns(tmp_path, store):
    c = collector(tmp_path)
    (c.inbox / "board.csv").write_text(
        "\ufeffchannel,source_id,author,text,created_at,thread,likes\n"
        'board,p1,t01,"建议食堂延长营业时间,\n晚上九点再关门",2026-03-01T10:00:00+08:00,食堂,12\n'
        "board,p2,t02,停车场能不能扩建,2026-03-01T11:00:00+08:00,,\n"
        "board,p3,t03,少一列\n",
        encoding="utf-8",
    )
    result = CollectorRunner(store, [c]).run_once()
    assert (result.new, result.dead) == (2, 1)
    p1 = store.find_post("board", "p1")
    assert p1.text == "建议食堂延长营业时间,\n晚上九点再关门" and p1.raw["likes"] == "12" and p1.thread == "食堂"
    assert store.find_post("board", "p2").thread is None
    [dead] = store.dead_letters()
    assert dead.source == "inbox/board.csv:5"  # p1 spans lines 2-3 and "列数" in dead.error


def test_csv_without_required_columns_is_refused_whole(tmp_path, store):
    c = collector(tmp_path)
    (c.inbox / "wrong.csv").write_text("name,comment\n张三,你好\n", encoding="utf-8")
    CollectorRunner(store, [c]).run_once()
    [dead] = store.dead_letters()
    assert "表头缺少必填列" in dead.error
    assert (c.inbox / "failed" / "wrong.csv").exists() and store.counts()["posts"] == 0


def test_gbk_file_gets_a_clear_reason(tmp_path, store):
    c = collector(tmp_path)
    (c.inbox / "gbk.jsonl").write_bytes(json.dumps(record(1), ensure_ascii=False).encode("gbk") + b"\n")
    CollectorRunner(store, [c]).run_once()
    [dead] = store.dead_letters()
    assert "UTF-8" in dead.error


def test_resumes_from_checkpoint_mid_file_without_duplicates(tmp_path, store):
    c = collector(tmp_path, batch_size=10)
    write_jsonl(c.inbox / "big.jsonl", [record(i) for i in range(35)])
    batch = c.fetch(None)
    store.ingest(c.name, batch.posts, batch.checkpoint)  # one batch, then "crash": no after_commit
    assert store.counts()["posts"] == 10
    fresh = collector(tmp_path, batch_size=10)  # a new process
    CollectorRunner(store, [fresh]).run_once()
    assert store.counts()["posts"] == 35
    assert (c.inbox / "done" / "big.jsonl").exists()


def test_crash_between_commit_and_move_finishes_the_move(tmp_path, store):
    c = collector(tmp_path)
    write_jsonl(c.inbox / "a.jsonl", [record(1), record(2)])
    batch = c.fetch(None)
    store.ingest(c.name, batch.posts, batch.checkpoint)  # committed, but the file was not moved
    assert (c.inbox / "a.jsonl").exists()
    write_jsonl(c.inbox / "b.jsonl", [record(3)])
    result = CollectorRunner(store, [collector(tmp_path)]).run_once()
    assert result.new == 1 and store.counts()["posts"] == 3
    assert sorted(p.name for p in (c.inbox / "done").iterdir()) == ["a.jsonl", "b.jsonl"]


def test_partial_last_line_waits_until_the_file_settles(tmp_path, store):
    c = FileCollector("inbox", tmp_path / "inbox", settle_s=3600)
    (c.inbox / "growing.jsonl").write_text(json.dumps(record(1)) + "\n" + '{"channel": "wec', encoding="utf-8")
    CollectorRunner(store, [c]).run_once()
    assert store.counts()["posts"] == 1 and store.counts()["dead_letters"] == 0
    assert (c.inbox / "growing.jsonl").exists()


def test_temporary_and_hidden_files_are_ignored(tmp_path, store):
    c = collector(tmp_path)
    write_jsonl(c.inbox / "upload.jsonl.part", [record(1)])
    write_jsonl(c.inbox / ".hidden.jsonl", [record(2)])
    CollectorRunner(store, [c]).run_once()
    assert store.counts()["posts"] == 0
