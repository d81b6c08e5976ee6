"""Access tokens shared by the platform clients (collectors and notifiers alike): fetched once, reused
until shortly before they expire or until the platform says they did."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable


class TokenExpired(Exception):
    """The platform says the access token is no longer valid (refresh it and try again)."""

    def __init__(self, message: str, *, code: Any = None) -> None:
        super().__init__(message)
        self.code = code


class TokenCache:
    """An access token fetched once and reused until shortly before it expires, or until the platform
    says it expired (`invalidate`). `fetch()` returns (token, lifetime in seconds)."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], margin: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 refused: Callable[[Exception], Exception] | None = None) -> None:
        self.refused = refused or _auth_error
        self._fetch = fetch
        self.margin = margin
        self.clock = clock
        self._token: str | None = None
        self._until = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._until:
                token, lifetime = self._fetch()
                self._token = token
                self._until = self.clock() + max(float(lifetime) - self.margin, float(lifetime) / 2, 1.0)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def call(self, fn: Callable[[str], Any]) -> Any:
        """`fn(token)`; when it raises TokenExpired, fetch a new token and try once more."""
        try:
            return fn(self.get())
        except TokenExpired:
            self.invalidate()
        try:
            return fn(self.get())
        except TokenExpired as exc:  # a brand-new token refused too: the credentials are at fault
            self.invalidate()
            raise self.refused(exc) from None


def _auth_error(exc: Exception) -> Exception:
    from collectors.http import AuthError

    return AuthError(f"新取得的访问令牌也被平台拒绝：{exc}（请检查应用凭据和接口权限）", code=getattr(exc, "code", None))
