"""`douyin`: comments and replies under the union account's Douyin videos (抖音开放平台, 移动/网站应用).

Endpoints (the current generation of the open platform's documentation; docs/channels/douyin.md says
which older paths exist and why they are not used):

- `GET  /api/douyin/v1/video/video_list/`  the account's videos (scope `video.list.bind`): `open_id`,
  `cursor`, `count`; answers `data.list[]` (`item_id`, `title`, `share_url`, `statistics.comment_count`
  …), `data.cursor`, `data.has_more`.
- `GET  /item/comment/list/`        a video's top-level comments (scope `item.comment`): `open_id`,
  `item_id`, `cursor`, `count`, `sort_type`; answers `data.list[]` (`comment_id`, `comment_user_id`,
  `content`, `create_time`, `reply_comment_total`, `top`, `digg_count`), `data.cursor`, `data.has_more`.
- `GET  /item/comment/reply/list/`  the replies under one comment, same paging, plus `comment_id`.
- `POST /item/comment/reply/?open_id=…` with `{"item_id", "comment_id", "content"}`: the official reply.
  The open platform offers no API to delete or hide a comment, so `reply` is the only write-back.
- `POST /oauth/refresh_token/` (`client_key`, `grant_type=refresh_token`, `refresh_token`) and
  `POST /oauth/renew_refresh_token/` (`client_key`, `refresh_token`), form-encoded.

The access token goes in the `access-token` header (never in a URL, so it cannot end up in an error
text or a log line). Douyin answers errors with HTTP 200 and `data.error_code` / `extra.error_code`
(`_check` maps each documented code: expired token → refresh and retry once, rate limit and quota →
RateLimited, system busy → TransientError, credentials and permissions → AuthError).

Collection is a *sweep*: list the videos, then read every comment page of each video that may have
changed, and the reply pages of every comment whose `reply_comment_total` changed. Each fetch reads one
page; the checkpoint (JSON) holds where the sweep is (the video queue, the cursor, the reply threads
still to read) and what each video looked like after its last complete read. Every comment read is
handed to the store, which keys posts by (channel, source_id): a page read twice (after a crash, or
because new comments shifted the cursor) stores nothing twice, and because a changed video is read
completely, the order the platform sorts comments in (time or hotness) does not matter. A video is
skipped only when the account's `statistics.comment_count` has been seen to count replies and to
follow new comments, and the count has not changed since the video was last read completely (and
that read is less than `RESCAN_S` old).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from collectors.base import Batch, Collector, options_schema
from collectors.http import (AuthError, HttpClient, RateLimited, SourceError, TokenCache, TokenExpired,
                             TransientError, WriteBackRefused)
from core.config import Settings, validate
from core.domain import Post
from core.errors import ConfigError
from core.text import printable
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")

CHANNEL = "douyin"
DEFAULT_BASE_URL = "https://open.douyin.com"
VIDEO_LIST = "/api/douyin/v1/video/video_list/"
COMMENT_LIST = "/item/comment/list/"
REPLY_LIST = "/item/comment/reply/list/"
COMMENT_REPLY = "/item/comment/reply/"
REFRESH_TOKEN = "/oauth/refresh_token/"
RENEW_REFRESH_TOKEN = "/oauth/renew_refresh_token/"

PAGE_SIZE = 20  # per page; the reply list allows at most 20, the comment and video lists more
MAX_PAGES = 2000  # per list and sweep: a cursor that never ends is cut off
RESCAN_S = 6 * 3600  # a video that looks unchanged is still read completely this often
RENEW_BEFORE_S = 5 * 86400  # renew the refresh token when it expires sooner than this
RENEW_RETRY_S = 86400  # after a failed renewal, try again after this long
INITIAL_LIFETIME_S = 15 * 86400  # an access token from the environment: documented lifetime, 15 days
SKIP_VIDEO_S = 3600  # a video whose comments the platform refuses is tried again after this long
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# the reply list documents these as required (it is meant for calls made on behalf of a device); a
# server-side collector has no device, so it says so plainly
DEVICE_PARAMS = {"device_brand": "server", "device_platform": "server", "device_type": "server",
                 "os_version": "0", "ip": "127.0.0.1", "shark_channel": "open_api"}

# ---- error codes (status-code page 状态码排查工具, old and new generation; OAuth pages)
TOKEN_EXPIRED = {2190008, 28001008, 10008, 2190002}
RATE_LIMITS = {  # code -> seconds to wait
    28003018: 60.0,  # 请求频率过高
    28001052: 600.0,  # 获取平台能力存在异常风险，控制访问频率
    2190001: 3600.0,  # quota 已用完
    28003017: 3600.0,  # quota 已用完
}
TRANSIENT = {2100004, 28001005, 28001006, 2191000, 2111002}  # 系统繁忙, 网络调用错误, 内部错误, 获取评论失败
AUTH_HINTS = {
    10003: "client_key 错误：请核对配置项 client_key",
    10004: "应用权限不足：请在抖音开放平台控制台为应用申请对应权限（scope）",
    10010: "refresh_token 已过期：请让工会抖音账号重新授权，并把新的令牌写入环境变量",
    10013: "client_key 或 client_secret 错误",
    10014: "授权时的 client_key 与配置的 client_key 不一致",
    10015: "应用类型不对（应为移动/网站应用的 client_key）",
    10020: "refresh_token 续期次数已用完（最多 5 次）：请让账号重新授权",
    2100007: "无权限操作",
    2100009: "该抖音账号被禁止使用此操作",
    2190003: "账号未授权该接口：请让账号重新授权并勾选 video.list.bind、item.comment 权限",
    2190004: "应用未获得该能力：请在抖音开放平台控制台申请「视频列表」和「管理视频评论」能力",
    2190015: "access_token 与 open_id 不属于同一账号：请核对配置项 open_id",
    2190016: "应用已被封禁或下线",
    2112001: "该账号不是企业号",
    28001012: "账号未授权该接口：请让账号重新授权并勾选 video.list.bind、item.comment 权限",
    28001014: "应用未授权任何能力",
    28001015: "access_token 与 open_id 不属于同一账号：请核对配置项 open_id",
    28001016: "应用已被封禁或下线",
    28001018: "应用未获得该能力：请在抖音开放平台控制台申请「视频列表」和「管理视频评论」能力",
    28001019: "该能力已被封禁或下线",
    28001020: "账号未绑定该测试应用",
    28001021: "测试应用已过期",
    28001042: "令牌没有这个接口的权限",
    28001045: "账号已注销",
    28001046: "账号已被封禁",
    28001047: "账号为私密账号",
    28001056: "该接口已被平台下线",
}
# a write-back the platform refuses for good: the comment is gone, not this video's, sensitive words …
REFUSED = {2111001, 2111003, 2111004, 2111006, 2111007, 2100005, 28001007}


# --------------------------------------------------------------------------- answers and errors
def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
        return int(value)
    return None


def _error_of(answer: Any) -> tuple[int, str, int | None]:
    """(error_code, description, sub_error_code) of a decoded answer; code 0 when it succeeded."""
    if not isinstance(answer, dict):
        return 0, "", None
    extra = answer.get("extra") if isinstance(answer.get("extra"), dict) else {}
    sub = _int(extra.get("sub_error_code"))
    for holder in (answer.get("data"), extra, answer):
        if not isinstance(holder, dict):
            continue
        code = _int(holder.get("error_code", holder.get("err_no")))
        if code:
            desc = holder.get("description") or holder.get("err_msg") or holder.get("err_tips") or ""
            if not desc and holder is not extra:
                desc = extra.get("description") or extra.get("sub_description") or ""
            return code, printable(desc, 200), sub
    return 0, "", sub


def check_answer(answer: Any, *, write: bool = False) -> None:
    """Raise the error the runner understands for a Douyin answer (HTTP 200 with an error code)."""
    if not isinstance(answer, dict):
        raise TransientError(f"抖音开放平台返回了无法识别的内容（{type(answer).__name__}）")
    code, desc, sub = _error_of(answer)
    if not code:
        return
    what = f"{desc}（error_code {code}）" if desc else f"error_code {code}"
    if code in TOKEN_EXPIRED:
        raise TokenExpired(f"access_token 已过期或无效：{what}", code=code)
    if code in RATE_LIMITS or sub == 12001:
        wait = RATE_LIMITS.get(code, 60.0)
        raise RateLimited(f"抖音开放平台限流：{what}，{int(wait)} 秒后再试", code=code, retry_after=wait)
    if code in TRANSIENT or sub == 13000:
        raise TransientError(f"抖音开放平台暂时不可用：{what}", code=code)
    if code in AUTH_HINTS:
        raise AuthError(f"抖音开放平台拒绝访问：{what}；{AUTH_HINTS[code]}", code=code)
    if write and code in REFUSED:
        raise WriteBackRefused(f"抖音开放平台拒绝了回复：{what}", code=code)
    raise SourceError(f"抖音开放平台拒绝了请求：{what}", code=code)


def _data(answer: Any) -> dict[str, Any]:
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else {}


def _truthy(value: Any) -> bool:
    """has_more as the platform writes it: true/false, 1/0, or a string of either."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _when(value: Any) -> datetime | None:
    """A comment's create_time (unix seconds; milliseconds and ISO 8601 accepted) as aware UTC."""
    number = _int(value)
    if number is None and isinstance(value, float):
        number = int(value)
    if number is not None:
        seconds = number / 1000 if number > 10**11 else number
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _first(item: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = item.get(key)
        if value not in (None, ""):
            return value
    return None


def _hash(comment_id: str) -> str:
    return hashlib.sha1(comment_id.encode("utf-8")).hexdigest()[:12]


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_token_value(value: str) -> tuple[str | None, str | None]:
    """(access_token, refresh_token) from the environment variable: a token alone, both separated by
    a space/comma/semicolon (Douyin prefixes them act. and rft.), or the JSON answer of
    /oauth/access_token/ (its `data` object or the whole answer)."""
    text = value.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            raise ValueError("内容以 { 开头但不是合法的 JSON") from None
        data = obj.get("data") if isinstance(obj, dict) and isinstance(obj.get("data"), dict) else obj
        if not isinstance(data, dict):
            raise ValueError("JSON 里没有 access_token")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        return (access if isinstance(access, str) and access else None,
                refresh if isinstance(refresh, str) and refresh else None)
    parts = [p for p in re.split(r"[\s,;|]+", text) if p]
    access = next((p for p in parts if p.startswith("act.")), None)
    refresh = next((p for p in parts if p.startswith("rft.")), None)
    for p in parts:
        if p.startswith(("act.", "rft.")):
            continue
        if access is None:
            access = p
        elif refresh is None:
            refresh = p
    return access, refresh


# --------------------------------------------------------------------------- tokens
class DouyinTokens:
    """The account's access token (from the environment, then refreshed) and its refresh token,
    kept in memory. `cache.call(fn)` runs fn(access_token) and refreshes once when Douyin says the
    token expired."""

    def __init__(self, http: HttpClient, client_key: str, access: str | None, refresh: str | None,
                 env_name: str, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self.client_key = client_key
        self.env_name = env_name
        self.clock = clock
        self._initial = access
        self.refresh_token = refresh
        self.refresh_until: float | None = None  # wall clock; known after the first refresh
        self._renew_after = 0.0
        self._renew_warned = False
        self._issued: list[str] = []
        self._lock = threading.Lock()
        self.cache = TokenCache(self._issue, margin=600.0, clock=monotonic)

    def secrets(self) -> list[str]:
        """Every token this process has held (to keep them out of error texts)."""
        return [s for s in (self._initial, self.refresh_token, *self._issued) if s]

    def _issue(self) -> tuple[str, float]:
        if self._initial:
            token, self._initial = self._initial, None
            lifetime = INITIAL_LIFETIME_S
        else:
            token, lifetime = self._refresh()
        self._issued = [*self._issued[-4:], token]
        return token, lifetime

    def _refresh(self) -> tuple[str, float]:
        with self._lock:
            if not self.refresh_token:
                raise AuthError(f"access_token 已过期，且环境变量 {self.env_name} 里没有 refresh_token 可用于刷新："
                                "请让工会抖音账号重新授权，把新的 access_token 和 refresh_token 写入该环境变量后重启")
            answer = self.http.post_json(REFRESH_TOKEN, data={
                "client_key": self.client_key, "grant_type": "refresh_token", "refresh_token": self.refresh_token},
                check=self._check_oauth)
            data = _data(answer)
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise TransientError("刷新 access_token 的应答里没有 access_token")
            new_refresh = data.get("refresh_token")
            if isinstance(new_refresh, str) and new_refresh and new_refresh != self.refresh_token:
                self._issued = [*self._issued[-4:], self.refresh_token]
                self.refresh_token = new_refresh
            refresh_in = _int(data.get("refresh_expires_in"))
            if refresh_in:
                self.refresh_until = self.clock() + refresh_in
            log.info("抖音 access_token 已刷新（有效期 %s 秒）", _int(data.get("expires_in")) or "未知")
            return token, float(_int(data.get("expires_in")) or 86400)

    def _check_oauth(self, answer: Any) -> None:
        code, desc, _ = _error_of(answer)
        if code in (10010, 10008, 2190008, 28001008):
            raise AuthError(f"refresh_token 已过期或无效（error_code {code}）：请让工会抖音账号重新授权，"
                            f"把新的 access_token 和 refresh_token 写入环境变量 {self.env_name} 后重启", code=code)
        if code == 10020:
            raise AuthError(f"refresh_token 续期次数已用完（error_code {code}）：请让工会抖音账号重新授权，"
                            f"把新的令牌写入环境变量 {self.env_name} 后重启", code=code)
        if code in (10005, 10002):
            raise AuthError(f"刷新令牌的请求被拒绝：{desc}（error_code {code}）；请核对配置项 client_key", code=code)
        check_answer(answer)

    def maybe_renew(self) -> None:
        """Renew the refresh token (oauth/renew_refresh_token) when it expires within RENEW_BEFORE_S.
        A failure is logged once and does not stop collection; the refresh token then runs out and
        the channel reports AuthError saying the account must be authorised again."""
        now = self.clock()
        if (self.refresh_until is None or not self.refresh_token or now < self._renew_after
                or now < self.refresh_until - RENEW_BEFORE_S):
            return
        with self._lock:
            try:
                answer = self.http.post_json(RENEW_REFRESH_TOKEN, data={
                    "client_key": self.client_key, "refresh_token": self.refresh_token}, check=self._check_renew)
            except TransientError:
                return  # next sweep
            except SourceError as exc:
                self._renew_after = now + RENEW_RETRY_S
                if not self._renew_warned:
                    self._renew_warned = True
                    log.warning("抖音 refresh_token 续期失败：%s；它将于 %s 过期，之后需要账号重新授权",
                                scrub(str(exc), self.secrets()),
                                datetime.fromtimestamp(self.refresh_until, timezone.utc).isoformat(timespec="minutes"))
                return
            data = _data(answer)
            token = data.get("refresh_token")
            if isinstance(token, str) and token:
                self._issued = [*self._issued[-4:], self.refresh_token]
                self.refresh_token = token
                self.refresh_until = now + float(_int(data.get("expires_in")) or 30 * 86400)
                self._renew_warned = False
                log.info("抖音 refresh_token 已续期")

    def _check_renew(self, answer: Any) -> None:
        code, desc, _ = _error_of(answer)
        if code == 10004:
            raise AuthError("应用没有 renew_refresh_token 权限（error_code 10004），请在控制台申请", code=code)
        self._check_oauth(answer)


# --------------------------------------------------------------------------- the collector
class DouyinCollector(Collector):
    type_name = "douyin"
    title_zh = "抖音（视频评论）"
    options_schema = options_schema("douyin", {
        "client_key": {"type": "string", "minLength": 1, "maxLength": 128},
        "client_secret_env": {"type": "string", "pattern": ENV_NAME},
        "open_id": {"type": "string", "minLength": 1, "maxLength": 256},
        "access_token_env": {"type": "string", "pattern": ENV_NAME},
        "base_url": {"type": "string", "pattern": r"^https?://[^\s/]+"},
    }, required=("client_key", "open_id", "access_token_env"))
    default_every = 600.0
    write_actions = frozenset({"reply"})

    def __init__(self, name: str, *, client_key: str, open_id: str, access_token: str | None,
                 refresh_token: str | None = None, client_secret: str | None = None,
                 base_url: str = DEFAULT_BASE_URL, access_token_env: str = "DOUYIN_ACCESS_TOKEN",
                 http: HttpClient | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.open_id = open_id
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpClient(self.base_url, max_rate=5.0)
        self.clock = clock
        self._client_secret = client_secret  # not sent by any endpoint used here; kept out of logs
        self.tokens = DouyinTokens(self.http, client_key, access_token, refresh_token, access_token_env,
                                   clock=clock, monotonic=monotonic)

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str) -> "DouyinCollector":
        for inline, instead in (("access_token", "access_token_env"), ("refresh_token", "access_token_env"),
                                ("client_secret", "client_secret_env")):
            if inline in cfg:
                raise ConfigError(settings.config_file, f"{where}.{inline}",
                                  f"密钥不能写在配置文件里；请改用 {instead} 写环境变量名，把值放进该环境变量")
        validate(cfg, cls.options_schema, settings.config_file, prefix=where)
        return cls.build(cfg, settings, where, os.environ).configure(cfg)

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "DouyinCollector":
        return cls.build(cfg, settings, f"channels（{cfg.get('name', '?')}）", os.environ)

    @classmethod
    def build(cls, cfg: dict[str, Any], settings: Settings, where: str, env: Any) -> "DouyinCollector":
        def secret(option: str) -> str | None:
            var = cfg.get(option)
            if not var:
                return None
            value = env.get(var)
            if not value or not value.strip():
                raise ConfigError(settings.config_file, f"{where}.{option}",
                                  f"环境变量 {var} 未设置或为空；请先设置它（例如 export {var}=…）再启动")
            return value

        raw = secret("access_token_env")
        try:
            access, refresh = parse_token_value(raw or "")
        except ValueError as exc:
            raise ConfigError(settings.config_file, f"{where}.access_token_env",
                              f"环境变量 {cfg['access_token_env']} 的内容无法识别（{exc}）；应为 access_token，"
                              "或“access_token refresh_token”，或 /oauth/access_token/ 返回的 JSON") from None
        if not access and not refresh:
            raise ConfigError(settings.config_file, f"{where}.access_token_env",
                              f"环境变量 {cfg['access_token_env']} 里没有 access_token")
        return cls(cfg["name"], client_key=cfg["client_key"], open_id=cfg["open_id"], access_token=access,
                   refresh_token=refresh, client_secret=secret("client_secret_env"),
                   base_url=cfg.get("base_url") or DEFAULT_BASE_URL, access_token_env=cfg["access_token_env"])

    # ------------------------------------------------------------------ HTTP
    def _api(self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None,
             write: bool = False) -> dict[str, Any]:
        def call(token: str) -> Any:
            headers = {"access-token": token, "Content-Type": "application/json"}
            return self.http.request(method, path, params=params, json=json_body, headers=headers,
                                     check=lambda a: check_answer(a, write=write))

        try:
            try:
                return self.tokens.cache.call(call)
            except TokenExpired as exc:
                raise AuthError(f"刷新后的 access_token 仍被拒绝（{exc}）：请让工会抖音账号重新授权，"
                                f"把新的令牌写入环境变量 {self.tokens.env_name}", code=exc.code) from None
        except SourceError as exc:
            raise self._scrubbed(exc) from None

    def _scrubbed(self, exc: SourceError) -> SourceError:
        """The error without any token or secret in its text (it goes to the log and to /healthz)."""
        text = str(exc)
        clean = scrub(text, [*self.tokens.secrets(), *([self._client_secret] if self._client_secret else [])])
        return exc if clean == text else type(exc)(clean, code=exc.code, retry_after=exc.retry_after)

    def _page(self, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], Any, bool]:
        """One page of a cursor-paged list: (items, next cursor, has_more)."""
        data = _data(self._api("GET", path, params=params))
        items = data.get("list")
        items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        return items, data.get("cursor"), _truthy(data.get("has_more"))

    def _video_page(self, cursor: Any) -> tuple[list[dict[str, Any]], Any, bool]:
        return self._page(VIDEO_LIST, {"open_id": self.open_id, "cursor": cursor or 0, "count": PAGE_SIZE})

    def _comment_page(self, item_id: str, cursor: Any) -> tuple[list[dict[str, Any]], Any, bool]:
        return self._page(COMMENT_LIST, {"open_id": self.open_id, "item_id": item_id, "cursor": cursor or 0,
                                         "count": PAGE_SIZE, "sort_type": "time"})

    def _reply_page(self, item_id: str, comment_id: str, cursor: Any) -> tuple[list[dict[str, Any]], Any, bool]:
        return self._page(REPLY_LIST, {"open_id": self.open_id, "item_id": item_id, "comment_id": comment_id,
                                       "cursor": cursor or 0, "count": PAGE_SIZE, "sort_type": "time",
                                       **DEVICE_PARAMS})

    # ------------------------------------------------------------------ records
    @staticmethod
    def _video(item: dict[str, Any]) -> dict[str, Any] | None:
        item_id = _id(item.get("item_id"))
        if not item_id:
            return None
        stats = item.get("statistics") if isinstance(item.get("statistics"), dict) else {}
        title = item.get("title") if isinstance(item.get("title"), str) else ""
        url = item.get("share_url") if isinstance(item.get("share_url"), str) else ""
        return {"id": item_id, "title": printable(title.strip(), 120), "url": url[:2048],
                "n": _int(stats.get("comment_count"))}

    def _post(self, item: dict[str, Any], video: dict[str, Any], parent: str | None,
              batch: Batch, bad: set[str]) -> str | None:
        """Add the comment (or reply) to the batch, or a dead letter once; its comment_id."""
        cid = _id(item.get("comment_id"))
        created = _when(item.get("create_time"))
        raw_text = json.dumps(item, ensure_ascii=False, default=str)[:4000]
        author = _id(_first(item, "comment_user_id", "open_id", "user_id"))
        problem = ("缺少 comment_id" if not cid else
                   f"create_time 无效（{printable(item.get('create_time'), 40)}）" if created is None else
                   "缺少评论者 comment_user_id" if not author else "")
        key = cid or _hash(raw_text)
        if problem:
            if _hash(key) not in bad:
                bad.add(_hash(key))
                batch.dead.append(DeadLetter(source=f"{self.name}:{video['id']}/{key}"[:1000], raw=raw_text,
                                             error=f"抖音评论无法读取：{problem}", channel=CHANNEL))
            return cid or None
        content = item.get("content") if isinstance(item.get("content"), str) else ""
        title = video.get("title") or ""
        parent_id = _id(_first(item, "reply_comment_id", "parent_comment_id", "reply_to_comment_id"))
        reply_to = parent_id if parent and parent_id and parent_id != "0" else parent
        post = Post(
            channel=CHANNEL, source_id=cid,
            author=author,
            text=content if content.strip() else "（无文字内容）",
            created_at=created,
            thread=f"{title}（{video['id']}）" if title else video["id"],
            url=video.get("url") or None,
            reply_to=reply_to,
            author_name=_first(item, "nick_name", "nickname", "comment_user_nickname", "user_name"),
            raw={"item_id": video["id"], "comment_id": cid, "open_id": self.open_id,
                 **({"parent_comment_id": reply_to} if reply_to else {}),
                 **({"video_title": title} if title else {}),
                 **({"top": True} if item.get("top") is True else {})},
        )
        if post.author_name is not None and not isinstance(post.author_name, str):
            post.author_name = None
        batch.posts.append(post)
        batch.originals[id(post)] = raw_text
        return cid

    # ------------------------------------------------------------------ checkpoint
    @staticmethod
    def _load(checkpoint: str | None) -> dict[str, Any]:
        try:
            cp = json.loads(checkpoint) if checkpoint else {}
        except ValueError:
            cp = {}
        if not isinstance(cp, dict) or cp.get("v") != 1:
            cp = {"v": 1}
        cp.setdefault("known", {})
        cp.setdefault("evidence", {})
        return cp

    @staticmethod
    def _dump(cp: dict[str, Any]) -> str:
        return json.dumps(cp, ensure_ascii=False, separators=(",", ":"))

    # ------------------------------------------------------------------ fetch: one page per call
    def fetch(self, checkpoint: str | None) -> Batch:
        cp = self._load(checkpoint)
        sweep = cp.get("sweep")
        if not isinstance(sweep, dict):
            self.tokens.maybe_renew()
            sweep = cp["sweep"] = {"stage": "videos", "cursor": 0, "pages": 0, "queue": [], "listed": []}
        if sweep.get("stage") == "videos":
            return self._videos_step(cp, sweep)
        return self._comments_step(cp, sweep)

    def _videos_step(self, cp: dict[str, Any], sweep: dict[str, Any]) -> Batch:
        items, cursor, more = self._video_page(sweep.get("cursor"))
        now = self.clock()
        listed: list[str] = sweep["listed"]
        seen = set(listed)
        for item in items:
            video = self._video(item)
            if video is None or video["id"] in seen:
                continue
            seen.add(video["id"])
            listed.append(video["id"])
            if not self._unchanged(cp, video, now):
                sweep["queue"].append(video)
        sweep["pages"] = sweep.get("pages", 0) + 1
        note = f"视频列表第 {sweep['pages']} 页"
        if more and cursor not in (None, "", sweep.get("cursor")) and sweep["pages"] < MAX_PAGES:
            sweep["cursor"] = cursor
            return Batch(checkpoint=self._dump(cp), more=True, note=note)
        # the list is complete: forget videos that are gone, then read the queued ones
        cp["known"] = {k: v for k, v in cp["known"].items() if k in seen}
        sweep.update(stage="comments", cursor=None, pages=0, listed=[])
        return self._next_video(cp, sweep, Batch(note=note))

    @staticmethod
    def _unchanged(cp: dict[str, Any], video: dict[str, Any], now: float) -> bool:
        """Whether the video can be skipped this sweep (see the module docstring)."""
        known = cp["known"].get(video["id"])
        n = video["n"]
        if not isinstance(known, dict):
            return False
        if known.get("skip_until", 0) > now and (n is None or known.get("n") == n):
            return True  # the platform refused its comments: try again later (or once it changed)
        if not isinstance(n, int) or known.get("n") != n:
            return False
        if now - float(known.get("at", 0)) >= RESCAN_S:
            return False
        ev = cp["evidence"]
        if ev.get("live") is not True:
            return False  # a count never seen to move (stale, or a constant) tells nothing
        return n == 0 or ev.get("replies") is True

    def _next_video(self, cp: dict[str, Any], sweep: dict[str, Any], batch: Batch) -> Batch:
        """Start the head of the queue, or end the sweep."""
        queue = sweep["queue"]
        if not queue:
            cp.pop("sweep", None)
            batch.checkpoint, batch.more = self._dump(cp), False
            return batch
        video = queue[0]
        known = cp["known"].setdefault(video["id"], {})
        if self.clock() - float(known.get("at", 0)) >= RESCAN_S:
            known["rt"] = {}  # a periodic complete read also re-reads every reply thread
        sweep.update(cursor=None, pages=0, threads=[], rcursor=None, rpages=0, top=0, replies=0, comments_done=False)
        batch.checkpoint, batch.more = self._dump(cp), True
        return batch

    def _comments_step(self, cp: dict[str, Any], sweep: dict[str, Any]) -> Batch:
        if not sweep.get("queue"):
            return self._next_video(cp, sweep, Batch())
        video = sweep["queue"][0]
        known = cp["known"].setdefault(video["id"], {})
        rt: dict[str, int] = known.setdefault("rt", {})
        bad = set(known.get("bad", []))
        batch = Batch()
        try:
            if sweep.get("threads"):
                self._replies_page(video, sweep, rt, bad, batch)
            elif not sweep.get("comments_done"):
                self._top_page(video, sweep, rt, bad, batch)
        except (TransientError, AuthError, TokenExpired):
            raise
        except SourceError as exc:  # the platform refuses this video's comments: note it, go on
            batch.dead.append(DeadLetter(source=f"{self.name}:{video['id']}", raw="", channel=CHANNEL,
                                         error=f"视频《{video.get('title') or video['id']}》的评论读取被拒绝，"
                                               f"{SKIP_VIDEO_S // 60} 分钟后再试：{exc}"))
            known["skip_until"] = self.clock() + SKIP_VIDEO_S
            known["n"] = video["n"]
            sweep["queue"].pop(0)
            return self._next_video(cp, sweep, batch)
        if bad:
            known["bad"] = sorted(bad)[-500:]
        if sweep.get("comments_done") and not sweep.get("threads"):
            self._finish_video(cp, sweep, video, known)
            sweep["queue"].pop(0)
            return self._next_video(cp, sweep, batch)
        batch.checkpoint, batch.more = self._dump(cp), True
        return batch

    def _top_page(self, video: dict[str, Any], sweep: dict[str, Any], rt: dict[str, int], bad: set[str],
                  batch: Batch) -> None:
        items, cursor, more = self._comment_page(video["id"], sweep.get("cursor"))
        sweep["pages"] = sweep.get("pages", 0) + 1
        pending = {c for c, _ in sweep["threads"]}
        for item in items:
            cid = self._post(item, video, None, batch, bad)
            total = _int(item.get("reply_comment_total")) or 0
            sweep["top"] += 1
            sweep["replies"] += max(total, 0)
            if cid and total > 0 and rt.get(_hash(cid)) != total and cid not in pending:
                sweep["threads"].append([cid, total])
                pending.add(cid)
        batch.note = f"视频《{video.get('title') or video['id']}》评论第 {sweep['pages']} 页"
        if more and cursor not in (None, "", sweep.get("cursor")) and sweep["pages"] < MAX_PAGES:
            sweep["cursor"] = cursor
        else:
            sweep["comments_done"] = True

    def _replies_page(self, video: dict[str, Any], sweep: dict[str, Any], rt: dict[str, int], bad: set[str],
                      batch: Batch) -> None:
        cid, total = sweep["threads"][0]
        items, cursor, more = self._reply_page(video["id"], cid, sweep.get("rcursor"))
        sweep["rpages"] = sweep.get("rpages", 0) + 1
        for item in items:
            self._post(item, video, cid, batch, bad)
        batch.note = f"视频《{video.get('title') or video['id']}》评论回复"
        if more and cursor not in (None, "", sweep.get("rcursor")) and sweep["rpages"] < MAX_PAGES:
            sweep["rcursor"] = cursor
            return
        rt[_hash(cid)] = total
        sweep["threads"].pop(0)
        sweep.update(rcursor=None, rpages=0)

    def _finish_video(self, cp: dict[str, Any], sweep: dict[str, Any], video: dict[str, Any],
                      known: dict[str, Any]) -> None:
        """Record what the video looked like, and what its comment_count tells about the platform."""
        n, top, replies = video["n"], sweep.get("top", 0), sweep.get("replies", 0)
        ev = cp["evidence"]
        if isinstance(n, int) and replies > 0:
            if n == top + replies and ev.get("replies") is not False:
                ev["replies"] = True
            elif n == top:
                ev["replies"] = False  # the count leaves replies out: it cannot tell when a reply arrives
        if isinstance(n, int) and isinstance(known.get("n"), int) and known["n"] != n and n == top + replies:
            ev["live"] = True  # the count followed new comments
        known.update(n=n, at=self.clock())
        known.pop("skip_until", None)

    def skip(self, checkpoint: str | None, error: str) -> Batch | None:
        """A page keeps failing (not credentials, not a platform outage): drop the reply thread or the
        video it belongs to from this sweep, with a dead letter; it is read again on a later sweep."""
        cp = self._load(checkpoint)
        sweep = cp.get("sweep")
        if not isinstance(sweep, dict):
            return None
        if sweep.get("stage") == "videos":
            cp.pop("sweep", None)
            return Batch(checkpoint=self._dump(cp), dead=[DeadLetter(
                source=f"{self.name}:video_list", raw="", channel=CHANNEL,
                error=f"抖音视频列表连续读取失败，本轮已放弃，下一轮重新读取：{error}")])
        if not sweep.get("queue"):
            return None
        video = sweep["queue"][0]
        if sweep.get("threads"):
            cid, _ = sweep["threads"].pop(0)
            sweep.update(rcursor=None, rpages=0)
            what = f"评论 {cid} 的回复"
        else:
            sweep["queue"].pop(0)
            what = "评论"
            cp["known"].get(video["id"], {}).pop("n", None)
            self._next_video(cp, sweep, Batch())
        return Batch(checkpoint=self._dump(cp), more="sweep" in cp, dead=[DeadLetter(
            source=f"{self.name}:{video['id']}", raw="", channel=CHANNEL,
            error=f"视频《{video.get('title') or video['id']}》的{what}连续读取失败，本轮已跳过，下一轮重新读取：{error}")])

    # ------------------------------------------------------------------ backfill
    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Every comment and reply of every video, page by page, those inside [since, until)."""

        def keep(batch: Batch) -> Batch:
            batch.posts = [p for p in batch.posts if (since is None or p.created_at >= since)
                           and (until is None or p.created_at < until)]
            return batch

        for video in self._all_videos():
            cursor: Any = 0
            for page in range(1, MAX_PAGES + 1):
                try:
                    items, nxt, more = self._comment_page(video["id"], cursor)
                except (TransientError, AuthError):
                    raise
                except SourceError as exc:
                    yield Batch(dead=[DeadLetter(source=f"{self.name}:{video['id']}", raw="", channel=CHANNEL,
                                                 error=f"视频《{video['title'] or video['id']}》的评论读取被拒绝：{exc}")])
                    break
                batch = Batch(note=f"视频《{video['title'] or video['id']}》评论第 {page} 页")
                threads = []
                for item in items:
                    cid = self._post(item, video, None, batch, set())
                    if cid and (_int(item.get("reply_comment_total")) or 0) > 0:
                        threads.append(cid)
                for cid in threads:
                    rcursor: Any = 0
                    for _ in range(MAX_PAGES):
                        replies, rnext, rmore = self._reply_page(video["id"], cid, rcursor)
                        for item in replies:
                            self._post(item, video, cid, batch, set())
                        if not rmore or rnext in (None, "", rcursor):
                            break
                        rcursor = rnext
                yield keep(batch)
                if not more or nxt in (None, "", cursor):
                    break
                cursor = nxt

    def _all_videos(self) -> Iterator[dict[str, Any]]:
        cursor: Any = 0
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            items, nxt, more = self._video_page(cursor)
            for item in items:
                video = self._video(item)
                if video is not None and video["id"] not in seen:
                    seen.add(video["id"])
                    yield video
            if not more or nxt in (None, "", cursor):
                return
            cursor = nxt

    # ------------------------------------------------------------------ write-back
    def write_back(self, action: str, post: Post, payload: dict[str, Any]) -> dict[str, Any]:
        """The official reply under the comment (POST /item/comment/reply/)."""
        if action != "reply":
            raise WriteBackRefused(f"抖音开放平台不提供“{action}”接口，只能回复评论")
        text = payload.get("text") or payload.get("content") or ""
        if not isinstance(text, str) or not text.strip():
            raise WriteBackRefused("回复内容为空")
        raw = post.raw if isinstance(post.raw, dict) else {}
        item_id = raw.get("item_id")
        comment_id = raw.get("comment_id") or post.source_id
        if not isinstance(item_id, str) or not item_id:
            raise WriteBackRefused("这条帖子没有抖音视频 item_id，无法回复")
        answer = self._api("POST", COMMENT_REPLY, params={"open_id": self.open_id},
                           json_body={"item_id": item_id, "comment_id": comment_id, "content": text.strip()},
                           write=True)
        data = _data(answer)
        extra = answer.get("extra") if isinstance(answer.get("extra"), dict) else {}
        return {"error_code": 0, "comment_id": data.get("comment_id"), "item_id": item_id,
                "reply_to": comment_id, "logid": extra.get("logid") or extra.get("log_id")}
