"""A request the cluster answers 429 (queues full, nothing done) is sent again after a pause;
one refused for good fails with a clear error. Both official clients, against a local HTTP
server that answers as a busy Elasticsearch / OpenSearch node does."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from store.search.client import ClusterBusyError, Connection, ElasticsearchClient, OpenSearchClient, status_of

REJECTED = {"error": {"root_cause": [{"type": "es_rejected_execution_exception", "reason": "rejected execution"}],
                      "type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"},
            "status": 429}


class BusyNode:
    """Answers the first `busy` requests with 429, the rest as a node holding document sentinel-x/1."""

    def __init__(self, busy: int, status: int = 429) -> None:
        self.busy, self.status, self.requests = busy, status, []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                node.requests.append((self.command, self.path, body))
                if len(node.requests) <= node.busy:
                    status, doc = node.status, {**REJECTED, "status": node.status}
                elif self.command == "GET":
                    status, doc = 200, {"_index": "sentinel-x", "_id": "1", "_version": 1, "_seq_no": 0,
                                        "_primary_term": 1, "found": True, "_source": {"text": "食堂"}}
                else:
                    status, doc = 201, {"_index": "sentinel-x", "_id": "1", "_version": 1, "result": "created",
                                        "_seq_no": 0, "_primary_term": 1,
                                        "_shards": {"total": 1, "successful": 1, "failed": 0}}
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


CLIENTS = {"elasticsearch": ElasticsearchClient, "opensearch": OpenSearchClient}


@pytest.fixture(params=sorted(CLIENTS))
def make(request):
    nodes = []

    def make(busy: int, status: int = 429):
        node = BusyNode(busy, status)
        nodes.append(node)
        client = CLIENTS[request.param](Connection(hosts=(node.url,), request_timeout=5))
        client.busy_delays = (0.01, 0.02, 0.04)
        return node, client

    yield make
    for n in nodes:
        n.close()


@pytest.mark.parametrize("busy", [1, 3])
def test_reads_and_writes_answered_429_are_sent_again(make, busy):
    node, client = make(busy)
    assert client.get("sentinel-x", "1")["_source"] == {"text": "食堂"}
    assert len(node.requests) == busy + 1
    node.requests.clear()
    node.busy = busy
    assert client.put("sentinel-x", "1", {"text": "食堂"}, create=True)["result"] == "created"
    assert len(node.requests) == busy + 1
    assert all(b"op_type=create" in path.encode() for _, path, _ in node.requests)


def test_a_request_refused_for_good_fails_with_a_clear_error(make):
    node, client = make(10_000)
    with pytest.raises(ClusterBusyError, match="429"):
        client.put("sentinel-x", "1", {"text": "食堂"})
    assert 4 <= len(node.requests) <= 16  # the client's attempts, each maybe retried by its transport


def test_other_refusals_are_not_sent_again(make):
    node, client = make(1, status=400)
    with pytest.raises(Exception) as e:
        client.put("sentinel-x", "1", {"text": "食堂"})
    assert status_of(e.value) == 400 and len(node.requests) == 1


def test_status_of_reads_both_clients_errors():
    import elasticsearch
    import opensearchpy

    meta = type("Meta", (), {"status": 429})()
    assert status_of(elasticsearch.ApiError("busy", meta=meta, body={})) == 429
    assert status_of(opensearchpy.exceptions.TransportError(429, "busy", {})) == 429
    assert status_of(ValueError("x")) is None
