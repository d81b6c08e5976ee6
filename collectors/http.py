"""HTTP for the platform collectors, and the errors the collector runner understands.

A collector knows its platform's endpoints and error codes; what every platform needs is here:
timeouts, retries with exponential backoff and jitter for transient failures (connection errors,
timeouts, HTTP 5xx, the platform's own "busy" codes), `Retry-After` honoured, a request-rate limit,
and access tokens cached until they expire or the platform says they did.

Errors (messages in Chinese, saying what to do):
- `TransientError`: retried here a few times, then raised; the runner backs off and tries again later.
- `RateLimited`: the platform asked us to slow down (`retry_after` seconds when it said).
- `AuthError`: credentials are wrong or lack a permission — retrying will not help until an admin acts;
  the runner logs it once, shows it on /healthz and waits long between tries.
- `TokenExpired`: the platform says the cached access token is no longer valid (refresh and retry once).
- `SourceError`: anything else the platform refused (a bad request): not retried.
- `WriteBackRefused`: the platform refused a write-back for good (e.g. the comment is already gone).
"""
from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from core.tokens import TokenCache, TokenExpired as BaseTokenExpired  # shared with alerts/

USER_AGENT = "UnionSentinel/1.0 (+https://github.com/union-sentinel)"


class SourceError(Exception):
    """A platform refused or failed a request. `retry_after`: seconds, when the platform said."""

    def __init__(self, message: str, *, code: Any = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class TransientError(SourceError):
    pass


class RateLimited(TransientError):
    pass


class AuthError(SourceError):
    pass


class TokenExpired(SourceError, BaseTokenExpired):
    pass


class WriteBackRefused(SourceError):
    pass


__all__ = ["AuthError", "HttpClient", "RateLimited", "SourceError", "TokenCache", "TokenExpired", "TransientError",
           "WriteBackRefused", "retry_after"]


Check = Callable[[Any], None]  # inspects a decoded answer; raises a SourceError for the platform's errors


@dataclass
class HttpClient:
    """`client.get_json(path, params=…)`, `client.post_json(path, json=…)` against `base_url`."""

    base_url: str
    timeout: tuple[float, float] = (5.0, 30.0)  # connect, read
    retries: int = 3  # attempts per call for transient failures
    backoff: float = 1.0  # first delay in seconds; doubles per attempt, with jitter
    max_delay: float = 30.0  # no single wait in a call is longer (a longer Retry-After is raised instead)
    max_rate: float | None = None  # requests per second, None: no limit
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    _last: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url

    def get_json(self, path: str, *, params: dict[str, Any] | None = None, check: Check | None = None,
                 headers: dict[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params, check=check, headers=headers)

    def post_json(self, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                  data: Any = None, check: Check | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, params=params, json=json, data=data, check=check, headers=headers)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                data: Any = None, headers: dict[str, str] | None = None, check: Check | None = None,
                raw: bool = False) -> Any:
        """The decoded JSON answer (or the response with `raw`), after `check` accepted it. Transient
        failures are retried `retries` times with backoff; the last one is raised."""
        url = path if path.startswith(("http://", "https://")) else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        for attempt in range(1, self.retries + 1):
            self._throttle()
            try:
                resp = self.session.request(method, url, params=params, json=json, data=data, headers=all_headers,
                                            timeout=self.timeout)
                answer = self._answer(resp, raw, check)
                if check is not None and not raw:
                    check(answer)
                return answer
            except requests.Timeout:
                error: SourceError = TransientError(f"{self.host} 响应超时（超过 {self.timeout[1]:g} 秒）")
            except requests.ConnectionError as exc:
                error = TransientError(f"无法连接 {self.host}：{_short(exc)}")
            except TransientError as exc:
                error = exc
            if attempt == self.retries:
                raise error
            delay = error.retry_after if error.retry_after is not None else \
                self.backoff * 2 ** (attempt - 1) * (0.5 + self.rng.random() / 2)
            if delay > self.max_delay:
                raise error  # the platform asks for a long pause: the runner waits, not this thread
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _answer(self, resp: requests.Response, raw: bool, check: Check | None = None) -> Any:
        code = resp.status_code
        if code >= 400 and check is not None and not raw:
            # Many platforms put their own error code in the body of a 4xx answer (Weibo's 403 for a
            # rate limit): the platform's meaning wins over the HTTP status when `check` knows it.
            try:
                body = resp.json()
            except ValueError:
                body = None
            if body is not None:
                check(body)
        if code == 429:
            raise RateLimited(f"{self.host} 限流（HTTP 429）", code=429, retry_after=retry_after(resp))
        if code >= 500:
            raise TransientError(f"{self.host} 暂时不可用（HTTP {code}）", code=code, retry_after=retry_after(resp))
        if code in (401, 403):
            raise AuthError(f"{self.host} 拒绝访问（HTTP {code}）：请检查凭据和接口权限", code=code)
        if code >= 400:
            raise SourceError(f"{self.host} 拒绝了请求（HTTP {code}）：{_short(resp.text)}", code=code)
        if raw:
            return resp
        try:
            return resp.json()
        except ValueError:
            raise TransientError(f"{self.host} 返回的不是 JSON（HTTP {code}）：{_short(resp.text)}") from None

    def _throttle(self) -> None:
        if not self.max_rate:
            return
        with self._lock:
            wait = self._last + 1.0 / self.max_rate - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last = time.monotonic()


def retry_after(resp: requests.Response) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), if any."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return max(0.0, (at - datetime.now(timezone.utc)).total_seconds())


_SECRET_PARAM = re.compile(r"(?i)\b((?:access_|refresh_)?token|secret|appsecret|client_secret|key|sign|signature|"
                           r"password)=[^&\s'\"]+")


def _short(value: Any, limit: int = 200) -> str:
    """One line of at most `limit` characters, with secret query values (access_token=…, sign=…) hidden:
    requests' own messages quote the whole URL, and error texts reach logs and /healthz."""
    text = _SECRET_PARAM.sub(r"\1=***", " ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
