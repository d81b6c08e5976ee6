"""The real `python scheduler.py` process: demo start-up, SIGKILL recovery, graceful SIGTERM."""
from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time

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


def test_hostile_inbox_on_the_running_service(tmp_path):
    """Bad files dropped into the inbox of the running process, then a good one: the good one is
    ingested, every bad record is a dead letter, nothing outside the inbox is read, /healthz stays
    truthful, and a rumour wave after a post from the future still raises its alert."""
    from datetime import datetime, timedelta, timezone

    data = tmp_path / "data"
    inbox = data / "inbox"
    inbox.mkdir(parents=True)
    service = ServiceProcess(data).start()
    try:
        service.wait_for(lambda h: h["status"] == "ok" and "collectors" in h, timeout=60, poll=0.2)
        secret = tmp_path / "secret.jsonl"
        secret.write_text(json.dumps({"channel": "board", "source_id": "secret", "author": "x",
                                      "text": "收件箱外的文件", "created_at": "2026-03-01T08:00:00+08:00"}) + "\n")
        import os
        os.symlink(secret, inbox / "link.jsonl")
        now = datetime.now(timezone.utc)
        bad_lines = [
            '{"a":' * 50_000 + "1" + "}" * 50_000,
            '{"channel": "board", "source_id": "n1", "author": "a", "text": "t", "created_at": "2026-03-01T08:00:00+08:00", "x": ' + "9" * 6000 + "}",
            json.dumps({"channel": "board", "source_id": "f1", "author": "a", "text": "来自未来",
                        "created_at": "9999-12-31T23:59:59+00:00"}),
            json.dumps({"channel": "board", "source_id": "o1", "author": "a", "text": "太久以前",
                        "created_at": "0001-01-01T00:00:00+00:00"}),
            json.dumps({"channel": "board\n", "source_id": "c1", "author": "a", "text": "频道带换行",
                        "created_at": "2026-03-01T08:00:00+08:00"}),
        ]
        (inbox / "bad.jsonl").write_text("\n".join(bad_lines) + "\n", encoding="utf-8")
        (inbox / "bad.csv").write_text('channel,source_id,author,text,created_at\nboard,q1,a,"没闭合,2026-03-01T08:00:00+08:00\n'
                                       + 'board,q2,a,' + "长" * 140_000 + ",2026-03-01T08:00:00+08:00\n", encoding="utf-8")
        with open(os.path.join(os.fsencode(inbox), b"bad-\xff.jsonl"), "wb") as fh:
            fh.write(b'{"oops": 1}\n')
        (inbox / "good.jsonl").write_text("\n".join(json.dumps({
            "channel": ["weibo", "qq", "wechat"][i % 3], "source_id": f"g{i}", "author": f"a{i % 5}", "text": t,
            "created_at": (now - timedelta(minutes=50 - i * 5)).isoformat()}, ensure_ascii=False)
            for i, t in enumerate(["听说下个月起绩效工资要砍掉三成，大家知道吗", "听说绩效工资下个月砍三成，是真的吗？",
                                   "据说下月开始绩效砍掉30%，太离谱了", "有人说下个月绩效工资要砍三成，谁有消息",
                                   "听说下个月绩效要砍三成了！！", "下个月绩效工资砍三成？听财务的人说的",
                                   "群里都在传下月绩效砍三成", "听说绩效工资下月起打七折，砍三成"])) + "\n", encoding="utf-8")
        health = service.wait_for(lambda h: h["posts"] >= 8 and h["alerts"] >= 1, timeout=60, poll=0.5)
        assert health["status"] == "ok", health
        assert service.terminate() == 0
    finally:
        service.stop_quietly()
    db = sqlite3.connect(data / "sentinel.db")
    posts = {r[0] for r in db.execute("SELECT source_id FROM posts")}
    assert posts == {f"g{i}" for i in range(8)}
    dead = db.execute("SELECT source, error FROM dead_letters").fetchall()
    assert len(dead) == len(bad_lines) + 2 + 2  # the bad lines, the two CSV rows, the link and the bad name
    assert all(error for _, error in dead)
    assert "rumour_spread" in {r[0] for r in db.execute("SELECT rule FROM alerts")}
    assert not any("收件箱外" in raw for (raw,) in db.execute("SELECT raw FROM dead_letters"))
    assert "收件箱外的文件" not in service.log_path.read_text(encoding="utf-8", errors="replace")
    assert {p.name for p in (inbox / "done").iterdir()} == {"bad.jsonl", "bad.csv", "good.jsonl"}


def test_a_housing_rumour_reaches_the_subscribed_leader_on_wecom(tmp_path):
    """The running service with a `wecom_app` notifier pointed at a fake of WeCom: leaders are set up
    with the users command; a housing rumour dropped into the inbox reaches the leader subscribed to
    住房保障 as a WeCom application message, masked, with a link; the other leader gets nothing."""
    from datetime import datetime, timedelta, timezone

    from tests.fakes.wecom_notify import FakeWeCom

    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    with FakeWeCom(users=("housing01", "pay01")) as wecom:
        config = tmp_path / "sentinel.yaml"
        config.write_text(
            "web: {external_url: 'http://127.0.0.1:8000/'}\n"
            "notifiers:\n"
            f"  - {{name: 企业微信应用, type: wecom_app, corp_id: {wecom.corp_id}, agent_id: {wecom.agent_id},"
            f" secret_env: WECOM_SECRET, base_url: '{wecom.url}'}}\n", encoding="utf-8")
        env = {**os.environ, "WECOM_SECRET": wecom.secret}
        for name, userid, topic in (("housing", "housing01", "住房保障"), ("pay", "pay01", "薪酬待遇")):
            done = subprocess.run(
                [sys.executable, "-m", "dashboard.users", "add", name, "--role", "leader", "--password-stdin",
                 "--wecom-userid", userid, "--topics", topic, "--config", str(config), "--data-dir", str(data)],
                input="a-long-password-1\n", cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
            assert done.returncode == 0, done.stderr
        service = ServiceProcess(data, "--config", str(config), env={"WECOM_SECRET": wecom.secret}).start()
        try:
            service.wait_for(lambda h: h["status"] == "ok", timeout=60)
            now = datetime.now(timezone.utc)
            texts = ["听说学校的周转房要全部收回，年底前必须搬走，有事找王老师 13812345678",
                     "据说周转房年底要收回，青年教师都得搬", "有人说周转房今年年底前全部收回，是真的吗",
                     "周转房要收回了？听后勤的人说的", "听说周转房年底前收回，大家做好准备"]
            (data / "inbox" / "rumour.jsonl").write_text("\n".join(json.dumps({
                "channel": ["weibo", "qq", "wechat"][i % 3], "source_id": f"h{i}", "author": f"a{i}", "text": t,
                "created_at": (now - timedelta(minutes=30 - i * 5)).isoformat()}, ensure_ascii=False)
                for i, t in enumerate(texts)) + "\n", encoding="utf-8")
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not wecom.received("housing01"):
                time.sleep(0.5)
            got = wecom.received("housing01")
            assert got, f"no WeCom message for the housing leader\n{service.log()}"
            assert wecom.received("pay01") == []
            sent = json.dumps([g.content for g in got], ensure_ascii=False)
            assert "13812345678" not in sent and "138****5678" in sent
            assert "http://127.0.0.1:8000/a/" in sent  # the signed acknowledgement link
        finally:
            service.stop_quietly()


def test_a_backup_taken_while_the_service_ingests_restores_every_acknowledged_post(tmp_path):
    """`python -m store.backup` against the running service in the middle of a big import; the posts
    the service had committed (acknowledged) before the backup started are all in the snapshot, which
    `python -m store.restore` puts into a new data directory where the service starts and shows them."""
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    n = 20000
    write_posts(data / "inbox" / "bulk.jsonl", n)
    config = tmp_path / "sentinel.yaml"
    config.write_text("batch_size: 100\n", encoding="utf-8")
    service = ServiceProcess(data, "--config", str(config)).start()
    restored_service = None
    try:
        service.wait_for(lambda h: h["posts"] >= 1000, timeout=120, poll=0.05)
        ingested_before = _posts_ingested(service.url)
        live = sqlite3.connect(data / "sentinel.db")
        acked = set(live.execute("SELECT channel, source_id FROM posts"))
        live.close()
        snap = tmp_path / "backups" / "snap.db"
        done = subprocess.run([sys.executable, "-m", "store.backup", "--config", str(config), "--data-dir", str(data),
                               "--out", str(snap)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "校验通过" in done.stdout and "正在备份" in done.stderr
        assert service.health()["posts"] < n, "the import had finished: the backup did not run during ingestion"
        assert _posts_ingested(service.url) > ingested_before >= 1000  # /metrics of the running service moves
        restored = tmp_path / "restored"
        done = subprocess.run([sys.executable, "-m", "store.restore", "--from", str(snap), "--data-dir", str(restored)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        restored_service = ServiceProcess(restored).start()
        health = restored_service.wait_for(lambda h: h["status"] == "ok" and "collectors" in h, timeout=90, poll=0.5)
        assert health["posts"] >= len(acked)
        assert restored_service.terminate() == 0
    finally:
        service.stop_quietly()
        if restored_service is not None:
            restored_service.stop_quietly()
    got = set(sqlite3.connect(restored / "sentinel.db").execute("SELECT channel, source_id FROM posts"))
    assert acked <= got and len(got) < n


def _posts_ingested(base: str) -> float:
    """sentinel_posts_ingested_total over all channels, from the service's /metrics."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
        text = resp.read().decode("utf-8")
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "sentinel_posts_ingested_total")


def active_then_standby(first: ServiceProcess, second: ServiceProcess) -> None:
    """Start two instances on one data dir: the first takes the worker lease, the second waits."""
    first.start().wait_for(lambda h: h.get("instance", {}).get("role") == "active", timeout=60)
    standby = second.start().wait_for(lambda h: "instance" in h, timeout=60)
    assert standby["instance"]["role"] == "standby"
    assert standby["instance"]["lease_holder"] == first.health()["instance"]["instance"]


def test_two_instances_on_one_store_one_works_the_other_takes_over_after_kill_9(tmp_path):
    """The active instance is killed mid-ingestion: the standby takes the worker lease within 30 s and
    finishes; every post is stored exactly once and flagged at most once per rule."""
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    n = 20000
    config = tmp_path / "sentinel.yaml"
    config.write_text("batch_size: 100\nlease: {ttl_seconds: 10, renew_seconds: 2}\n", encoding="utf-8")

    first, second = ServiceProcess(data, "--config", str(config)), ServiceProcess(data, "--config", str(config))
    try:
        active_then_standby(first, second)
        expected = write_posts(tmp_path / "bulk.jsonl", n, seed=11)  # both are up: now the posts arrive
        (tmp_path / "bulk.jsonl").rename(data / "inbox" / "bulk.jsonl")
        seen = first.wait_for(lambda h: h["posts"] >= 1000, timeout=120, poll=0.02)
        assert second.health()["instance"]["role"] == "standby"  # it served, did not work
        first.kill()
        killed = time.monotonic()
        second.wait_for(lambda h: h["instance"]["role"] == "active", timeout=30, poll=0.2)
        took_over = time.monotonic() - killed
        second.wait_for(lambda h: h["posts"] >= n and h["analyzed"] >= n, timeout=180, poll=0.5)
        code = second.terminate()
    finally:
        first.stop_quietly()
        second.stop_quietly()
    assert seen["posts"] < n, "第一个实例在全部导入之后才被杀掉，测试没有覆盖“导入过程中”"
    assert took_over < 30, f"接手用了 {took_over:.1f} 秒"
    assert code == 0, second.log()
    db = sqlite3.connect(data / "sentinel.db")
    got = db.execute("SELECT channel, source_id FROM posts").fetchall()
    assert len(got) == n and set(got) == expected
    dup_flags = db.execute(
        "SELECT count(*) FROM (SELECT post_id, rule FROM flags GROUP BY post_id, rule HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dup_flags == 0
    assert db.execute("SELECT count(*) FROM leases").fetchone()[0] == 0  # the clean stop gave it back


def test_a_clean_stop_of_the_active_instance_hands_over_at_once(tmp_path):
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    config = tmp_path / "sentinel.yaml"
    config.write_text("lease: {ttl_seconds: 60, renew_seconds: 1}\n", encoding="utf-8")
    first, second = ServiceProcess(data, "--config", str(config)), ServiceProcess(data, "--config", str(config))
    try:
        active_then_standby(first, second)
        assert first.terminate() == 0
        stopped = time.monotonic()
        second.wait_for(lambda h: h["instance"]["role"] == "active", timeout=20, poll=0.2)
        assert time.monotonic() - stopped < 10  # far less than the 60 s ttl: the lease was given back
        write_posts(data / "inbox" / "after.jsonl", 50, seed=3)
        second.wait_for(lambda h: h["posts"] >= 50, timeout=60, poll=0.2)
    finally:
        first.stop_quietly()
        second.stop_quietly()
