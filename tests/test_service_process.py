"""The real `python scheduler.py` process: demo start-up, SIGKILL recovery, graceful SIGTERM."""
from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys

import pytest

from tests.service_process import ROOT, ServiceProcess

pytestmark = pytest.mark.slow

TOPICS = ["食堂的饭菜", "停车位", "绩效工资", "职称评审", "周转房", "工会运动会", "校车时间", "体检安排"]
MOODS = ["越来越好了", "太让人失望了", "什么时候能解决", "建议再改进一下", "辛苦工会的老师们", "真的很无语"]


def write_posts(path, n: int, seed: int = 7) -> set[tuple[str, str]]:
    rng = random.Random(seed)
    keys = set()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            channel = rng.choice(["wechat", "weibo", "qq", "board"])
            rec = {
                "channel": channel, "source_id": f"k{i:06d}", "author": f"u{rng.randrange(400)}",
                "text": f"{rng.choice(TOPICS)}{rng.choice(MOODS)}（{i}）",
                "created_at": f"2026-03-{1 + i % 28:02d}T{8 + i % 12:02d}:{i % 60:02d}:00+08:00",
            }
            keys.add((channel, rec["source_id"]))
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return keys


def test_sigkill_during_ingestion_loses_and_duplicates_nothing(tmp_path):
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    n = 20000
    expected = write_posts(data / "inbox" / "bulk.jsonl", n)
    config = tmp_path / "sentinel.yaml"
    config.write_text("batch_size: 100\n", encoding="utf-8")

    first = ServiceProcess(data, "--config", str(config)).start()
    try:
        seen = first.wait_for(lambda h: h["posts"] >= 1000, timeout=120, poll=0.02)
        first.kill()
    finally:
        first.stop_quietly()
    assert seen["posts"] < n, "进程在全部导入之后才被杀掉，测试没有覆盖“导入过程中”"

    second = ServiceProcess(data, "--config", str(config)).start()
    try:
        second.wait_for(lambda h: h["posts"] >= n, timeout=180, poll=0.5)
        code = second.terminate()
    finally:
        second.stop_quietly()
    assert code == 0, second.log()

    db = sqlite3.connect(data / "sentinel.db")
    got = db.execute("SELECT channel, source_id FROM posts").fetchall()
    assert len(got) == n and set(got) == expected
    assert db.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0
    dup_flags = db.execute(
        "SELECT count(*) FROM (SELECT post_id, rule FROM flags GROUP BY post_id, rule HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dup_flags == 0
    assert (data / "inbox" / "done" / "bulk.jsonl").exists()


def test_demo_serves_2000_posts_and_flags_within_60_seconds(tmp_path):
    service = ServiceProcess(tmp_path / "data", "--demo").start()
    try:
        health = service.wait_for(lambda h: h["posts"] >= 2000 and h["flagged"] >= 1, timeout=60, poll=0.5)
        assert health["status"] == "ok" and health["alerts"] >= 0
        assert service.terminate() == 0
    finally:
        service.stop_quietly()
    assert "已安全退出" in service.log()


def test_demo_refuses_a_public_host(tmp_path):
    result = subprocess.run(
        [sys.executable, "scheduler.py", "--demo", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "不允许监听非本机地址" in result.stderr


def test_help_is_complete():
    result = subprocess.run([sys.executable, "scheduler.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for option in ("--demo", "--config", "--data-dir", "--host", "--port"):
        assert option in result.stdout
