"""The HTTP side shared by the platform fakes: a real `ThreadingHTTPServer` on 127.0.0.1.

A fake subclasses `LocalPlatform` and answers in `_serve(handler, method)`; this class starts and stops
the server. `stop()` takes the platform down (connections refused) and `start()` brings it back on the
same port, so tests can script an outage without changing the configured URL.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Incoming:
    """A request as read by `LocalPlatform.read`: `path` without the outer slashes, the last value of
    each query parameter, the raw body and the body as JSON (None when it is not JSON)."""

    path: str
    query: dict[str, str]
    raw_query: str
    raw: bytes
    body: Any
    headers: dict[str, str]
    client: str


def read(handler: BaseHTTPRequestHandler) -> Incoming:
    parts = urlsplit(handler.path)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        body = None
    return Incoming(parts.path.strip("/"), query, parts.query, raw, body, dict(handler.headers.items()),
                    handler.client_address[0])


def reply(handler: BaseHTTPRequestHandler, status: int, answer: Any, headers: dict[str, str] | None = None, *,
          json_type: str = "application/json; charset=utf-8", encode: Any = None) -> None:
    """Answer JSON (`answer` encoded by `encode`, default compact UTF-8), or bytes as an HTML page (a
    gateway's error page)."""
    if isinstance(answer, bytes):
        data, ctype = answer, "text/html"
    else:
        data = (encode or (lambda a: json.dumps(a, ensure_ascii=False).encode("utf-8")))(answer)
        ctype = json_type
    handler.send_response(status)
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Served:
    """`stop()` and the with-statement of a test server that `start()` runs on a thread (`_server`)."""

    _server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class LocalPlatform(Served):
    _port: int = 0

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def start(self, port: int = 0) -> Self:
        """Serve on 127.0.0.1:`port` (0: the last port used, else a free one)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                fake._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", port or self._port), Handler)
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._port, "start() first"
        return f"http://127.0.0.1:{self._port}"
