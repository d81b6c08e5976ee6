"""A secured front for a test cluster: TLS with a private CA, and credentials checked as a real
cluster's security layer checks them.

The test clusters (tests/clusters) run the engines without their security plugins, over plain
HTTP. A university's cluster is reached over https, with a certificate from its own CA, and wants
a user and password (or, on Elasticsearch, an API key). `SecureProxy` stands in front of one node
of a running test cluster and behaves like that:

- TLS with a server certificate for 127.0.0.1 and localhost, signed by a throw-away CA
  (`make_ca`, `make_server_cert`, written as PEM files with `cryptography`);
- every request needs `Authorization: Basic base64(user:password)` of a known user, or on
  Elasticsearch `Authorization: ApiKey base64(id:key)` of a known key; without one, or with a wrong
  one, it answers 401 as the engine's security layer does (Elasticsearch: the `security_exception`
  JSON with its `WWW-Authenticate` challenges; OpenSearch's security plugin: a plain-text
  `Unauthorized` with its Basic challenge);
- a known user listed in `forbidden` is authenticated but has no privileges: 403 with the
  engine's `security_exception` JSON;
- anything else is forwarded to the node (method, path and query, body, headers but the
  credentials) and the node's answer is sent back (status, headers but the hop-by-hop ones, body),
  over HTTP/1.1 keep-alive with a Content-Length on every answer.

It is threaded (a thread per client connection, one upstream connection per client connection),
starts in milliseconds, and records what it answered (`SecureProxy.answered`) so a test can count
the requests a client made.
"""
from __future__ import annotations

import base64
import datetime as dt
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.server import Served

log = logging.getLogger("tests.secure_proxy")

# RFC 9110 7.6.1: meaningful for one connection only, never forwarded
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection"})
NOT_FORWARDED = HOP_BY_HOP | {"authorization", "host", "content-length"}


# ---------------------------------------------------------------------------------------- certificates
@dataclass(frozen=True)
class CertificateAuthority:
    """A throw-away CA: its certificate's PEM file, and its key for signing server certificates."""

    cert_pem: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class ServerCert:
    cert_pem: Path  # the server certificate, then the CA's (the chain a server sends)
    key_pem: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Union Sentinel tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return builder.not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))


def make_ca(directory: Path, name: str = "Union Sentinel test CA") -> CertificateAuthority:
    """A new CA (P-256 key, self-signed) with its certificate written to `directory/ca.pem`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    cert = (_validity(x509.CertificateBuilder())
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = directory / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(path, cert, key)


def make_server_cert(ca: CertificateAuthority, directory: Path,
                     hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> ServerCert:
    """A server certificate for `hosts` (IP addresses and DNS names) signed by `ca`, written to
    `directory/server.pem` (with the CA's certificate after it) and `directory/server-key.pem`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (_validity(x509.CertificateBuilder())
            .subject_name(_name(hosts[0])).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    cert_pem, key_pem = directory / "server.pem", directory / "server-key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key_pem.chmod(0o600)
    return ServerCert(cert_pem, key_pem)


# ---------------------------------------------------------------------------------------- security answers
@dataclass(frozen=True)
class Refusal:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _security_exception(status: int, reason: str, challenges: tuple[str, ...] = ()) -> bytes:
    cause: dict[str, Any] = {"type": "security_exception", "reason": reason}
    if challenges:
        cause["header"] = {"WWW-Authenticate": list(challenges)}
    return json.dumps({"error": {"root_cause": [cause], **cause}, "status": status}).encode()


ES_CHALLENGES = ('Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey")


def unauthenticated(engine: str, path: str, user: str | None, api_key_id: str | None) -> Refusal:
    """What the engine's security layer answers a request without valid credentials."""
    if engine == "opensearch":  # the security plugin: no JSON, a Basic challenge
        return Refusal(401, (("WWW-Authenticate", 'Basic realm="OpenSearch Security"'),
                             ("Content-Type", "text/plain; charset=UTF-8")), b"Unauthorized")
    if user is not None:
        reason = f"unable to authenticate user [{user}] for REST request [{path}]"
    elif api_key_id is not None:
        reason = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    else:
        reason = f"missing authentication credentials for REST request [{path}]"
    return Refusal(401, tuple(("WWW-Authenticate", c) for c in ES_CHALLENGES)
                   + (("Content-Type", "application/json"),), _security_exception(401, reason, ES_CHALLENGES))


def _action(method: str, path: str) -> str:
    """The privilege a request needs, as the engines name it in their 403 answers (roughly)."""
    if path == "/":
        return "cluster:monitor/main"
    if path.startswith("/_index_template"):
        return "indices:admin/index_template/put"
    if "_bulk" in path:
        return "indices:data/write/bulk"
    if "_search" in path or "_count" in path:
        return "indices:data/read/search"
    if method == "PUT" and path.count("/") == 1:
        return "indices:admin/create"
    return "indices:data/read/get"


def unauthorized(engine: str, method: str, path: str, user: str) -> Refusal:
    """What the engine answers an authenticated user without the privilege for the request."""
    action = _action(method, path)
    if engine == "opensearch":
        reason = f"no permissions for [{action}] and User [name={user}, backend_roles=[], requestedTenant=null]"
    else:
        reason = f"action [{action}] is unauthorized for user [{user}] with effective roles [viewer]"
    return Refusal(403, (("Content-Type", "application/json"),), _security_exception(403, reason))


# ---------------------------------------------------------------------------------------- the proxy
@dataclass
class Credentials:
    """Who may pass: users and passwords, Elasticsearch API keys (id → key), and the users who are
    authenticated but may do nothing (answered 403)."""

    users: Mapping[str, str] = field(default_factory=dict)
    api_keys: Mapping[str, str] = field(default_factory=dict)
    forbidden: frozenset[str] = frozenset()


def _decoded(token: str) -> tuple[str, str] | None:
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    name, sep, secret = text.partition(":")
    return (name, secret) if sep else None


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: "SecureProxy"

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake in the connection's own thread, so a client that gives up on the
        certificate neither stalls the accept loop nor prints a traceback."""
        try:
            conn = self.proxy.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.proxy.handshake_failures.append(str(e))
            return
        try:
            super().finish_request(conn, client_address)
        except (ssl.SSLError, ConnectionError, socket.timeout):
            pass
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        if body is None:
            return
        path = urlsplit(self.path).path or "/"
        refusal = proxy.check(self.command, path, self.headers.get("Authorization"))
        if refusal is not None:
            self._answer(refusal.status, list(refusal.headers), refusal.body)
            return
        status, headers, answer = self._forward(body)
        self._answer(status, headers, answer, head_length=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        try:
            return self.rfile.read(int(length)) if length else b""
        except ValueError:
            self._answer(400, [("Content-Type", "text/plain")], b"bad Content-Length")
            self.close_connection = True
            return None

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a kept-alive upstream connection the node closed: once more on a new one
            if self.upstream is None:
                self.upstream = self.server.proxy.connect_upstream()
            try:
                self.upstream.request(self.command, self.path, body=body or None, headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    return 502, [("Content-Type", "text/plain")], b"upstream node unreachable"
                continue
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
            if self.command == "HEAD" and resp.getheader("Content-Length") is not None:
                kept.append(("Content-Length", resp.getheader("Content-Length") or "0"))
            if resp.will_close:
                self.upstream.close()
                self.upstream = None
            return resp.status, kept, data
        raise AssertionError("unreachable")

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes, head_length: bool = False) -> None:
        self.server.proxy.record(self.command, self.path, status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not (head_length and any(k.lower() == "content-length" for k, _ in headers)):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()


class SecureProxy(Served):
    """The TLS-terminating, credential-checking front of one node (see the module docstring).
    Use as a context manager, or `start()` then `stop()`."""

    def __init__(self, engine: str, upstream: str, server_cert: ServerCert, credentials: Credentials,
                 listen: str = "127.0.0.1") -> None:
        if engine not in ("elasticsearch", "opensearch"):
            raise ValueError(f"unknown engine {engine!r}")
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be a plain http:// node URL, not {upstream!r}")
        self.engine = engine
        self.listen = listen  # a loopback address (any of 127.0.0.0/8 on Linux)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 9200
        self.credentials = credentials
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(server_cert.cert_pem, server_cert.key_pem)
        self.answered: list[tuple[str, str, int]] = []  # (method, path, status) of every answer
        self.handshake_failures: list[str] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"https://{self.listen}:{self._server.server_address[1]}"

    def start(self) -> "SecureProxy":
        server = _Server((self.listen, 0), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="secure-proxy", daemon=True)
        self._thread.start()
        return self

    def connect_upstream(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.answered.append((method, path, status))

    def statuses(self) -> list[int]:
        with self._lock:
            return [status for _, _, status in self.answered]

    def check(self, method: str, path: str, authorization: str | None) -> Refusal | None:
        """None when the credentials are good; otherwise the engine's 401 or 403 answer."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        pair = _decoded(token) if token else None
        user = api_key_id = None
        if scheme.lower() == "basic" and pair is not None:
            user = pair[0]
            if _same(pair[1], self.credentials.users.get(user)):
                if user in self.credentials.forbidden:
                    return unauthorized(self.engine, method, path, user)
                return None
        elif scheme.lower() == "apikey" and pair is not None and self.engine == "elasticsearch":
            api_key_id = pair[0]
            if _same(pair[1], self.credentials.api_keys.get(api_key_id)):
                return None
        return unauthenticated(self.engine, path, user, api_key_id)
