"""Smoke tests of the real clusters with both official Python clients: info/ping, an index with a
whitespace-analysed field, bulk indexing, search, an aggregation, and kill -9 of one node while a
bulk runs (with one replica the cluster keeps answering and no acknowledged document is lost)."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from tests.clusters.cluster import SearchCluster


@dataclass
class Engine:
    """The one difference the tests need between the clients: how a bulk body is passed."""

    name: str
    cluster: SearchCluster
    client: Any
    bulk: Callable[[list[dict]], dict]
    version_prefix: str


def _elasticsearch(cluster: SearchCluster) -> Engine:
    es = Elasticsearch(cluster.hosts, request_timeout=30, max_retries=5, retry_on_timeout=True)
    return Engine("elasticsearch", cluster, es, lambda ops: es.bulk(operations=ops).body, "9.")


def _opensearch(cluster: SearchCluster) -> Engine:
    os_ = OpenSearch(cluster.hosts, timeout=30, max_retries=5, retry_on_timeout=True)
    return Engine("opensearch", cluster, os_, lambda ops: os_.bulk(body=ops), "2.")


@pytest.fixture(params=[
    pytest.param("opensearch", marks=pytest.mark.opensearch),
    pytest.param("elasticsearch", marks=pytest.mark.elasticsearch),
])
def engine(request) -> Engine:
    cluster: SearchCluster = request.getfixturevalue(f"{request.param}_cluster")
    made = _opensearch(cluster) if request.param == "opensearch" else _elasticsearch(cluster)
    yield made
    made.client.close()


def _body(result: Any) -> dict:
    return result.body if hasattr(result, "body") else result


def _new_index(engine: Engine, **settings: Any) -> str:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    engine.client.indices.create(index=name, body={
        "settings": {"number_of_shards": 3, "number_of_replicas": 1, **settings},
        "mappings": {"properties": {
            "tokens": {"type": "text", "analyzer": "whitespace"},
            "channel": {"type": "keyword"},
            "n": {"type": "integer"},
        }},
    })
    engine.client.cluster.health(index=name, wait_for_status="green")
    return name


def test_info_and_ping_answer_from_a_three_node_cluster(engine: Engine) -> None:
    info = _body(engine.client.info())
    assert info["version"]["number"].startswith(engine.version_prefix)
    assert info["cluster_name"] == engine.cluster.name
    assert info["name"] in {n.name for n in engine.cluster.nodes}
    assert engine.client.ping() is True
    health = _body(engine.client.cluster.health())
    assert health["number_of_nodes"] == 3
    assert len({n.pid for n in engine.cluster.nodes}) == 3  # one JVM per node


def test_whitespace_field_bulk_search_and_aggregation(engine: Engine) -> None:
    index = _new_index(engine)
    docs = [
        ("a", "wechat", "工会 福利 发放 太 慢"),
        ("b", "weibo", "食堂 价格 上涨"),
        ("c", "wechat", "工会 活动 很 好"),
        ("d", "rss", "工会会员 福利"),
    ]
    ops: list[dict] = []
    for i, (doc_id, channel, tokens) in enumerate(docs):
        ops += [{"index": {"_index": index, "_id": doc_id}}, {"tokens": tokens, "channel": channel, "n": i}]
    result = engine.bulk(ops)
    assert result["errors"] is False, result
    engine.client.indices.refresh(index=index)

    found = _body(engine.client.search(index=index, body={"query": {"match": {"tokens": "工会"}}}))
    # whitespace analysis: "工会会员" is its own token, so the search for "工会" does not match "d"
    assert sorted(h["_id"] for h in found["hits"]["hits"]) == ["a", "c"]
    found = _body(engine.client.search(index=index, body={"query": {"match": {"tokens": "福利"}}}))
    assert sorted(h["_id"] for h in found["hits"]["hits"]) == ["a", "d"]

    aggs = _body(engine.client.search(index=index, body={
        "size": 0, "aggs": {"by_channel": {"terms": {"field": "channel"}}, "top": {"max": {"field": "n"}}}}))
    buckets = {b["key"]: b["doc_count"] for b in aggs["aggregations"]["by_channel"]["buckets"]}
    assert buckets == {"wechat": 2, "weibo": 1, "rss": 1}
    assert aggs["aggregations"]["top"]["value"] == 3
    engine.client.indices.delete(index=index)


@dataclass
class BulkLoad:
    """Bulk indexing in a thread: each document is retried until acknowledged (201) or the deadline."""

    engine: Engine
    index: str
    batches: int
    batch_size: int = 100
    acknowledged: set[str] = field(default_factory=set)
    retried_items: int = 0
    failed_requests: int = 0
    batches_done: int = 0
    error: BaseException | None = None

    def run(self) -> None:
        try:
            for b in range(self.batches):
                pending = {f"{b}-{i}": {"tokens": f"批次 {b} 文档 {i}", "channel": "load", "n": i}
                           for i in range(self.batch_size)}
                deadline = time.monotonic() + 120
                while pending and time.monotonic() < deadline:
                    ops: list[dict] = []
                    for doc_id, doc in pending.items():
                        ops += [{"create": {"_index": self.index, "_id": doc_id}}, doc]
                    try:
                        result = self.engine.bulk(ops)
                    except Exception:  # the whole request failed (node gone mid-request): send it again
                        self.failed_requests += 1
                        time.sleep(0.5)
                        continue
                    for item in result["items"]:
                        op = item["create"]
                        # 409: an earlier, unanswered attempt already created it; the document is there,
                        # but it was not acknowledged to us, so it does not count as acknowledged here
                        if op["status"] in (200, 201):
                            self.acknowledged.add(op["_id"])
                        if op["status"] in (200, 201, 409):
                            pending.pop(op["_id"], None)
                        else:
                            self.retried_items += 1
                    if pending:
                        time.sleep(0.5)
                if pending:
                    raise AssertionError(f"{len(pending)} documents of batch {b} never indexed")
                self.batches_done += 1
        except BaseException as e:  # reported by the test thread
            self.error = e


def test_kill_one_node_during_bulk_loses_no_acknowledged_document(engine: Engine) -> None:
    cluster = engine.cluster
    index = _new_index(engine)
    load = BulkLoad(engine, index, batches=30)
    worker = threading.Thread(target=load.run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while load.batches_done < 5 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert load.batches_done >= 5 and load.batches_done < load.batches, "kill must land during the bulk"
    victim = cluster.kill(1)
    assert not victim.alive
    worker.join(timeout=300)
    assert not worker.is_alive() and load.error is None, load.error
    assert load.batches_done == load.batches
    print(f"\n[{engine.name}] killed {victim.name} (pid {victim.pid}) after {load.batches_done} batches: "
          f"{len(load.acknowledged)} acknowledged, {load.retried_items} items and {load.failed_requests} "
          "requests retried")

    # the cluster still answers with two nodes, and every acknowledged document is there
    health = cluster.wait_for(nodes=2, status="yellow", timeout=120)
    assert health["number_of_nodes"] == 2
    engine.client.indices.refresh(index=index)
    total = _body(engine.client.count(index=index))["count"]
    assert total == load.batches * load.batch_size
    ids = sorted(load.acknowledged)
    for start in range(0, len(ids), 500):
        got = _body(engine.client.mget(index=index, body={"ids": ids[start:start + 500]}))
        missing = [d["_id"] for d in got["docs"] if not d.get("found")]
        assert missing == []
    assert len(ids) > 0.9 * total

    # put the node back so the rest of the session has the whole cluster
    cluster.restart(1)
    cluster.wait_for(nodes=3, status="green", timeout=180)
    engine.client.indices.delete(index=index)
