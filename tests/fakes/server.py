"""The HTTP side shared by the platform fakes: a real `ThreadingHTTPServer` on 127.0.0.1.

A fake subclasses `LocalPlatform` and answers in `_serve(handler, method)`; this class starts and stops
the server. `stop()` takes the platform down (connections refused) and `start()` brings it back on the
same port, so tests can script an outage without changing the configured URL.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LocalPlatform:
    _server: ThreadingHTTPServer | None = None
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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._port, "start() first"
        return f"http://127.0.0.1:{self._port}"
