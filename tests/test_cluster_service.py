"""The real `python scheduler.py` on a three-node search cluster (issue #12's acceptance): the service
ingests a big inbox while one node is down, every post exactly once and found by the moderators'
search; two instances on one cluster store hand the work over after a kill -9."""
from __future__ import annotations

import random
import re
import time
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any, Iterator

import pytest

from store.search import ElasticsearchStore, OpenSearchStore, SearchStore
from tests.service_process import ServiceProcess
from tests.test_service_process import active_then_standby, write_posts

pytestmark = pytest.mark.slow
STORES = {"opensearch": OpenSearchStore, "elasticsearch": ElasticsearchStore}


def cluster_config(path: Path, backend: str, hosts: list[str], prefix: str, extra: str = "") -> Path:
    path.write_text(
        f"batch_size: 250\nstore:\n  backend: {backend}\n  hosts: [{', '.join(hosts)}]\n  index_prefix: {prefix}\n{extra}",
        encoding="utf-8")
    return path


def open_cluster_store(backend: str, hosts: list[str], prefix: str) -> SearchStore:
    return STORES[backend].from_settings({"hosts": hosts, "index_prefix": prefix})


def every_post(store: SearchStore) -> Iterator[dict[str, Any]]:
    """Every post document (channel, source_id, id), a page at a time."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"size": 5000, "sort": [{"id": "asc"}], "_source": ["channel", "source_id", "id"],
                                "query": {"match_all": {}}}
        if after is not None:
            body["search_after"] = after
        hits = store.client.search(store.names.posts, body)["hits"]["hits"]
        if not hits:
            return
        yield from (h["_source"] for h in hits)
        after = hits[-1]["sort"]


def duplicate_flags(store: SearchStore) -> int:
    """Flags of one post by one rule more than once (a rules pass committed twice)."""
    body = {"size": 0, "aggs": {"pairs": {"composite": {"size": 10000, "sources": [
        {"post": {"terms": {"field": "post_id"}}}, {"rule": {"terms": {"field": "rule"}}}]}}}}
    dup, after = 0, None
    while True:
        if after:
            body["aggs"]["pairs"]["composite"]["after"] = after
        agg = store.client.search(store.names.of("flags"), body)["aggregations"]["pairs"]
        dup += sum(1 for b in agg["buckets"] if b["doc_count"] > 1)
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return dup


def assert_exactly_once(store: SearchStore, expected: set[tuple[str, str]]) -> None:
    got = [(d["channel"], d["source_id"]) for d in every_post(store)]
    assert len(got) == len(expected) and set(got) == expected
    assert store.counts()["dead_letters"] == 0
    assert duplicate_flags(store) == 0


class Moderator:
    """A moderator's browser session on the service's dashboard (plain HTTP, cookies kept)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.read().decode("utf-8")

    def login(self, username: str, password: str) -> None:
        page = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        form = {"username": username, "password": password, **({"csrf_token": token.group(1)} if token else {})}
        with self.opener.open(self.base + "/login", urllib.parse.urlencode(form).encode(), timeout=30) as r:
            assert "/login" not in r.geturl(), "登录失败"

    def search(self, query: str) -> str:
        return self.get("/search?" + urllib.parse.urlencode({"q": query}))


def add_moderator(config: Path, data: Path) -> None:
    import subprocess
    import sys

    from tests.service_process import ROOT

    done = subprocess.run([sys.executable, "-m", "dashboard.users", "--config", str(config), "--data-dir", str(data),
                           "add", "mod1", "--role", "moderator", "--password-stdin"],
                          input="Mod-pass-2026!\n", cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.opensearch
def test_the_service_on_opensearch_ingests_20000_inbox_posts_while_a_node_is_down(tmp_path, opensearch_cluster):
    cluster, backend, n = opensearch_cluster, "opensearch", 20000
    prefix = f"acc{uuid.uuid4().hex[:8]}"
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    config = cluster_config(tmp_path / "sentinel.yaml", backend, cluster.hosts[:2], prefix)  # node 2 goes away
    add_moderator(config, data)
    service = ServiceProcess(data, "--config", str(config))
    down = None
    try:
        service.start().wait_for(lambda h: h.get("status") == "ok", timeout=120)
        expected = write_posts(tmp_path / "bulk.jsonl", n, seed=23)
        (tmp_path / "bulk.jsonl").rename(data / "inbox" / "bulk.jsonl")
        service.wait_for(lambda h: h["posts"] >= 1000, timeout=180, poll=0.05)
        cluster.wait_for(nodes=3, status="green", timeout=120)  # the month's index has its replicas
        cluster.nodes[2].request_stop()  # a clean stop: the node leaves the cluster
        cluster.nodes[2].wait_stopped(60)
        down = 2
        seen = service.health()
        service.wait_for(lambda h: h["posts"] >= n and h["analyzed"] >= n, timeout=600, poll=0.5)
        assert seen["posts"] < n, "节点在全部导入之后才停下，测试没有覆盖“导入过程中”"

        moderator = Moderator(service.url)
        moderator.login("mod1", "Mod-pass-2026!")
        rng = random.Random(5)
        for i in rng.sample(range(n), 12):  # each text ends with its number: one post per query
            page = moderator.search(f"{i}")
            assert f"（{i}）" in page, f"搜索 {i} 没有找到帖子"
        assert service.terminate() == 0, service.log()
    finally:
        service.stop_quietly()
        if down is not None:
            cluster.restart(down)
            cluster.wait_for(nodes=3, status="green", timeout=180)
    store = open_cluster_store(backend, cluster.hosts, prefix)
    try:
        assert_exactly_once(store, expected)
        assert (data / "inbox" / "done" / "bulk.jsonl").exists()
    finally:
        store.drop_indices()
        store.close()


@pytest.mark.parametrize("backend", [pytest.param("opensearch", marks=pytest.mark.opensearch),
                                     pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def test_two_instances_on_one_cluster_store_the_standby_takes_over_after_kill_9(tmp_path, request, backend):
    cluster = request.getfixturevalue(f"{backend}_cluster")
    n, prefix = 5000, f"two{uuid.uuid4().hex[:8]}"
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    config = cluster_config(tmp_path / "sentinel.yaml", backend, cluster.hosts, prefix,
                            "lease: {ttl_seconds: 10, renew_seconds: 2}\n")
    first, second = ServiceProcess(data, "--config", str(config)), ServiceProcess(data, "--config", str(config))
    try:
        active_then_standby(first, second)
        expected = write_posts(tmp_path / "bulk.jsonl", n, seed=13)
        (tmp_path / "bulk.jsonl").rename(data / "inbox" / "bulk.jsonl")
        seen = first.wait_for(lambda h: h["posts"] >= 500, timeout=180, poll=0.02)
        assert second.health()["instance"]["role"] == "standby"
        first.kill()
        killed = time.monotonic()
        second.wait_for(lambda h: h["instance"]["role"] == "active", timeout=30, poll=0.2)
        took_over = time.monotonic() - killed
        second.wait_for(lambda h: h["posts"] >= n and h["analyzed"] >= n, timeout=400, poll=0.5)
        assert second.terminate() == 0, second.log()
    finally:
        first.stop_quietly()
        second.stop_quietly()
    assert seen["posts"] < n, "第一个实例在全部导入之后才被杀掉，测试没有覆盖“导入过程中”"
    assert took_over < 30, f"接手用了 {took_over:.1f} 秒"
    store = open_cluster_store(backend, cluster.hosts, prefix)
    try:
        assert_exactly_once(store, expected)
        assert store.lease("worker") is None  # the clean stop gave it back
    finally:
        store.drop_indices()
        store.close()


def test_posts_file_numbers_are_searchable_tokens() -> None:
    """The acceptance test searches a post by the number its text ends with: jieba keeps it one token."""
    import jieba

    for i in (0, 7, 12345, 19999):
        assert str(i) in list(jieba.cut_for_search(f"食堂的饭菜越来越好了（{i}）"))
