"""The secured front of tests/clusters/secure_proxy.py on its own, before a node: a local HTTP
server stands in for the node and records what reaches it (no cluster needed)."""
from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.clusters.secure_proxy import Credentials, SecureProxy, make_ca, make_server_cert

CREDENTIALS = Credentials(users={"writer": "pw-1"}, api_keys={"kid": "ksecret"}, forbidden=frozenset({"reader"}))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeNode:
    """Answers every request with what it received, as JSON, and headers a node sends."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                got = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                       "body": self.rfile.read(length).decode() if length else ""}
                node.seen.append(got)
                data = json.dumps(got).encode()
                self.send_response(201 if self.command == "PUT" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Keep-Alive", "timeout=60")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> tuple[Path, Any]:
    d = tmp_path_factory.mktemp("proxy-tls")
    ca = make_ca(d / "ca")
    return ca.cert_pem, make_server_cert(ca, d / "server")


@pytest.fixture
def node() -> Iterator[FakeNode]:
    n = FakeNode()
    yield n
    n.close()


def connect(proxy: SecureProxy, ca_pem: Path) -> http.client.HTTPSConnection:
    port = int(proxy.url.rsplit(":", 1)[1])
    return http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=str(ca_pem)),
                                       timeout=10)


def test_good_credentials_pass_and_the_answer_comes_back_whole(certs, node) -> None:
    ca_pem, server = certs
    with SecureProxy("elasticsearch", node.url, server, CREDENTIALS) as proxy:
        conn = connect(proxy, ca_pem)
        body = json.dumps({"query": {"match_all": {}}})
        for i in range(2):  # two requests on one kept-alive connection
            conn.request("POST", f"/idx/_search?size={i}", body=body,
                         headers={"Authorization": basic("writer", "pw-1"), "Content-Type": "application/json",
                                  "Connection": "keep-alive"})
            resp = conn.getresponse()
            got = json.loads(resp.read())
            assert resp.status == 200 and got["path"] == f"/idx/_search?size={i}" and got["body"] == body
            assert "Authorization" not in got["headers"] and got["headers"]["Content-Type"] == "application/json"
            assert resp.getheader("X-Elastic-Product") == "Elasticsearch"
            assert resp.getheader("Keep-Alive") is None and resp.getheader("Content-Length") is not None
        conn.request("HEAD", "/idx", headers={"Authorization": "ApiKey " + base64.b64encode(b"kid:ksecret").decode()})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
        conn.request("PUT", "/idx/_doc/1", body="{}", headers={"Authorization": basic("writer", "pw-1")})
        assert conn.getresponse().status == 201
        conn.close()
    assert [s["method"] for s in node.seen] == ["POST", "POST", "HEAD", "PUT"]


@pytest.mark.parametrize("authorization, reason", [
    (None, "missing authentication credentials for REST request [/idx/_search]"),
    (basic("writer", "wrong"), "unable to authenticate user [writer] for REST request [/idx/_search]"),
    ("ApiKey " + base64.b64encode(b"kid:wrong").decode(),
     "unable to authenticate with provided credentials and anonymous access is not allowed for this request"),
], ids=["missing", "wrong-password", "wrong-api-key"])
def test_elasticsearch_refusals_look_like_elasticsearch(certs, node, authorization, reason) -> None:
    ca_pem, server = certs
    with SecureProxy("elasticsearch", node.url, server, CREDENTIALS) as proxy:
        conn = connect(proxy, ca_pem)
        conn.request("GET", "/idx/_search", headers={"Authorization": authorization} if authorization else {})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 401
        assert resp.headers.get_all("WWW-Authenticate") == ['Basic realm="security", charset="UTF-8"',
                                                            'Bearer realm="security"', "ApiKey"]
        assert body["status"] == 401 and body["error"]["type"] == "security_exception"
        assert body["error"]["reason"] == reason and body["error"]["root_cause"][0]["reason"] == reason
    assert node.seen == []


def test_opensearch_refusals_look_like_its_security_plugin(certs, node) -> None:
    ca_pem, server = certs
    with SecureProxy("opensearch", node.url, server, CREDENTIALS) as proxy:
        conn = connect(proxy, ca_pem)
        conn.request("GET", "/", headers={"Authorization": basic("writer", "wrong")})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (401, b"Unauthorized")
        assert resp.getheader("WWW-Authenticate") == 'Basic realm="OpenSearch Security"'
        conn.request("GET", "/", headers={"Authorization": "ApiKey " + base64.b64encode(b"kid:ksecret").decode()})
        resp = conn.getresponse()
        assert resp.status == 401 and resp.read() == b"Unauthorized"  # no API keys on OpenSearch
    assert node.seen == []


@pytest.mark.parametrize("engine, reason", [
    ("elasticsearch", "action [indices:data/write/bulk] is unauthorized for user [reader] with effective roles [viewer]"),
    ("opensearch", "no permissions for [indices:data/write/bulk] and User [name=reader, backend_roles=[], "
                   "requestedTenant=null]"),
], ids=["elasticsearch", "opensearch"])
def test_a_user_without_privileges_is_answered_403(certs, node, engine, reason) -> None:
    ca_pem, server = certs
    credentials = Credentials(users={"reader": "pw-2"}, forbidden=frozenset({"reader"}))
    with SecureProxy(engine, node.url, server, credentials) as proxy:
        conn = connect(proxy, ca_pem)
        conn.request("POST", "/_bulk", body="\n", headers={"Authorization": basic("reader", "pw-2")})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 403 and body["error"]["reason"] == reason and body["status"] == 403
    assert node.seen == []


def test_a_client_that_does_not_trust_the_ca_gets_no_answer(certs, node, tmp_path) -> None:
    _, server = certs
    stranger = make_ca(tmp_path / "stranger")
    with SecureProxy("elasticsearch", node.url, server, CREDENTIALS) as proxy:
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(proxy, stranger.cert_pem).request("GET", "/")
        assert proxy.answered == []
    assert node.seen == []
