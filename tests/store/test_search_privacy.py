"""Retention and erasure through the store contract, on every backend (the SQLite-only details,
such as the file holding no trace, are in test_privacy.py)."""
from __future__ import annotations

import json
from datetime import timedelta

from core.domain import AuditEvent, Post, utcnow
from core.privacy import RetentionPolicy, apply_retention
from store.base import DeadLetter
from tests.store.conftest import CONTRACT, SEARCH
from tests.store.test_privacy import PHONE, analysis, post

NOW = utcnow()


def _ingest(store, *posts: Post) -> list[Post]:
    store.ingest("test", list(posts), None)
    return list(posts)


@CONTRACT
def test_purged_posts_are_gone_with_what_refers_to_them_and_are_not_stored_again(store):
    old, edited, young = _ingest(store, post("o", "很久以前的帖子", 24 * 30), post("e", "旧的第一版", 24 * 30),
                                 post("y", "昨天的帖子", 24))
    store.ingest("test", [post("e", "旧的第二版", 24 * 30)], None)
    store.quarantine_failure("analyze", old.id, 1, "坏了", NOW)
    store.save_analyses([(young, analysis("昨天的帖子"))])
    before = NOW - timedelta(days=7)
    assert store.purge_posts(before, limit=1) == 1  # a batch at a time, oldest first
    assert store.purge_posts(before) == 1 and store.purge_posts(before) == 0
    assert store.get_post(old.id) is None and store.get_post(edited.id) is None
    assert store.post_versions(edited.id) == [] and store.quarantined() == []
    assert store.get_post(young.id).text == "昨天的帖子"
    # fetched again: ignored, whether the key was deleted or just older than the horizon
    again = store.ingest("test", [post("o", "很久以前的帖子", 24 * 30), post("never", "从没存过的旧帖", 24 * 20)], None)
    assert (again.ignored, again.new) == (2, 0) and store.find_post("weibo", "never") is None
    assert store.ingest("test", [post("fresh", "新帖子", 1)], None).new == 1
    assert store.counts()["posts"] == 4  # deleted posts still count (as on every dashboard)


@CONTRACT
def test_erasure_takes_every_post_of_the_author_and_their_raw_records(store):
    mine = f"我是王五，电话 {PHONE}，我实名反映后勤的问题"
    p1, p2, other = _ingest(store, post("m1", mine, 2, author="wang5", author_name="王五"),
                            post("m2", "王五的第二条评论内容", 1, author="wang5", author_name="王五", channel="qq"),
                            post("x", "别人说的话", 1, author="li4"))
    store.ingest("inbox", [], None, dead=[DeadLetter("inbox/a.jsonl:3", json.dumps({"author": "wang5", "text": "坏"}),
                                                     "缺少字段")])
    store.push_inbound("wechat", [json.dumps({"Content": mine}), json.dumps({"Content": "无关"})], NOW)
    erased = store.erase_author("wang5", None, AuditEvent("admin", "privacy.erase", "author:wang5"))
    assert erased.posts == 2 and mine in erased.sources and "王五" in erased.sources
    assert store.get_post(p1.id) is None and store.get_post(p2.id) is None and store.get_post(other.id) is not None
    assert store.dead_letters() == [] and [json.loads(p)["Content"] for _, p in store.inbound("wechat", 0, 10)] == ["无关"]
    event = store.audit_log(limit=1)[0]
    assert event.action == "privacy.erase" and event.detail["posts"] == 2 and mine not in json.dumps(event.detail)
    assert store.ingest("test", [post("m1", mine, 2, author="wang5")], None).ignored == 1


@CONTRACT
def test_a_post_stuck_before_analysis_for_a_day_is_redacted(store):
    p, = _ingest(store, post("q", f"分析总是失败 {PHONE}", 24 * 3))
    store.quarantine_failure("analyze", p.id, 1, f"坏记录 {PHONE}", NOW)
    _age_ingestion(store, p.id, NOW - timedelta(days=2))
    assert apply_retention(store, RetentionPolicy(pii_days=1), NOW).redacted == 1
    assert PHONE not in store.get_post(p.id).text and PHONE not in store.quarantined()[0].error
    assert store.search(PHONE) == []
    assert apply_retention(store, RetentionPolicy(pii_days=1), NOW).redacted == 0  # once


@SEARCH
def test_leftovers_are_expunged_at_most_every_period(store):
    assert store.purge_leftovers(NOW, every=timedelta(days=1)) is True
    assert store.purge_leftovers(NOW + timedelta(hours=1), every=timedelta(days=1)) is False
    assert store.purge_leftovers(NOW + timedelta(days=2), every=timedelta(days=1)) is True


def _age_ingestion(store, post_id: int, at) -> None:
    """Pretend the post arrived at `at` (what a day in the quarantine looks like)."""
    from store.codec import ts

    if hasattr(store, "path"):
        import sqlite3

        db = sqlite3.connect(store.path)
        db.execute("UPDATE posts SET ingested_at = ? WHERE id = ?", (ts(at), post_id))
        db.commit()
        db.close()
        return
    hit = store._docs_by_ids([post_id])[post_id]
    store.client.put(hit["_index"], hit["_id"], {**hit["_source"], "ingested_at": ts(at)}, refresh=True)


@SEARCH
def test_a_backup_of_a_cluster_store_is_refused_with_the_snapshot_advice(store, tmp_path):
    import pytest

    from core.errors import SentinelError

    with pytest.raises(SentinelError, match="snapshot") as err:
        store.backup(tmp_path / "x.db")
    assert "docs/scale-out.md" in str(err.value) and not (tmp_path / "x.db").exists()


def _old_posts(store, n: int) -> list[Post]:
    posts = _ingest(store, *[post(f"c{i}", f"很久以前的第{i}条帖子，食堂涨价", 24 * 30 + i) for i in range(n)])
    store.save_analyses([(p, analysis(p.text, keywords=["食堂", "涨价"])) for p in posts])
    return posts


def _counted(store) -> tuple[int, int, int]:
    c = store.counts()
    words = dict(store.top_words((NOW - timedelta(days=60)).date(), NOW.date(), limit=10))
    return c["posts"], c["analyzed"], words.get("食堂", 0)


@SEARCH
def test_a_purge_cut_in_its_final_delete_counts_each_post_once(store, monkeypatch):
    """Killed while deleting the posts (some gone, some not): the next purge takes the rest, a
    different set, and counts none of them a second time."""
    import pytest

    _old_posts(store, 4)
    assert _counted(store) == (4, 4, 4)
    real = store._bulk

    def killed(actions, refresh=False):
        if actions and all("delete" in a and "-posts" in a["delete"]["_index"] for a, _ in actions):
            real(actions[:2], refresh=refresh)
            raise RuntimeError("kill -9")
        return real(actions, refresh=refresh)

    monkeypatch.setattr(store, "_bulk", killed)
    with pytest.raises(RuntimeError):
        store.purge_posts(NOW - timedelta(days=7))
    monkeypatch.setattr(store, "_bulk", real)
    assert store.purge_posts(NOW - timedelta(days=7)) == 2 and store.purge_posts(NOW - timedelta(days=7)) == 0
    assert _counted(store) == (4, 4, 4)


@SEARCH
def test_a_purge_cut_while_writing_its_counts_counts_each_post_once(store, monkeypatch):
    """Killed half-way through writing a batch's counts: the batch is withdrawn and its posts
    counted afresh, within a different, larger batch."""
    import pytest

    _old_posts(store, 4)
    real = store._bulk

    def killed(actions, refresh=False):
        if actions and all("create" in a and a["create"]["_index"] == store._gone() for a, _ in actions) \
                and not any(a["create"]["_id"].startswith("batch:") for a, _ in actions):
            real(actions[: max(1, len(actions) // 2)], refresh=refresh)
            raise RuntimeError("kill -9")
        return real(actions, refresh=refresh)

    monkeypatch.setattr(store, "_bulk", killed)
    with pytest.raises(RuntimeError):
        store.purge_posts(NOW - timedelta(days=7), limit=3)
    monkeypatch.setattr(store, "_bulk", real)
    assert store.purge_posts(NOW - timedelta(days=7)) == 4
    assert _counted(store) == (4, 4, 4)
