"""`weibo`: the comments the union's Weibo account receives (新浪微博开放平台 API v2).

Reads `GET 2/comments/to_me.json` (comments on the account's statuses and replies to its comments),
newest first, and moderates through `POST 2/comments/destroy.json` (delete) and
`POST 2/comments/reply.json` (the official reply). The access token is a Weibo *user* access token
(OAuth2, authorised by the account itself) read from the environment variable named by
`access_token_env`; Weibo has no way for a program to renew it, so when it expires or is revoked the
channel stops with one clear message asking an admin to authorise again.

Exactly once, across crashes and restarts. The checkpoint (JSON) holds `since`, the newest comment id
of the last finished sweep. A poll is a sweep downwards from the newest comment to `since`, one page
per batch: the first page is asked with `since_id`, each following one with `max_id` = the smallest id
seen so far (and anything not below it is ignored, so `max_id` may be inclusive, as documented, or
exclusive). While a sweep is under way the checkpoint also holds its position (`top`: the newest id
it saw, `below`: where the next page starts), saved with each page's comments in one transaction, so
a restart resumes the sweep where it stopped. Comments that arrive during a sweep have ids above its
`top` and are read by the next sweep; comments deleted during a sweep shift nothing, since pages are
bounded by ids, not by page numbers. The sweep ends on a page with nothing new (or one that reaches
`since`); only then does `since` move to `top`. Should a server ignore `max_id`, the sweep restarts
with page numbers (`page`), which is still complete (re-reading is harmless).

Identity: a comment's `idstr` (never the numeric `id`: Weibo ids outgrow 2^53 and JSON parsers that
use doubles round them). `created_at` (`Tue May 31 17:46:55 +0800 2011`) is parsed strictly; a comment
that cannot be read becomes a dead letter with the reason, and paging goes on.

Errors come as JSON `{"error": …, "error_code": 21327, "request": …}`, with HTTP 200 or 4xx alike; the
body decides (see `weibo_error`): token problems and missing permissions → AuthError, the documented
rate limits (10022/10023/10024, 20016) → RateLimited, system errors and "busy" (10001/10009 …) →
TransientError (retried), refusals of a write-back (comment gone, duplicate or illegal content …) →
WriteBackRefused, anything else → SourceError. No error text ever contains the access token.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping
from urllib.parse import quote, quote_plus

import requests

from collectors.base import Batch, Collector, options_schema
from collectors.http import (AuthError, HttpClient, RateLimited, SourceError, TransientError, WriteBackRefused,
                             retry_after)
from core.config import Settings, validate
from core.domain import Post
from core.errors import ConfigError, SentinelError
from core.text import printable
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")

DEFAULT_BASE_URL = "https://api.weibo.com"
TO_ME = "2/comments/to_me.json"
DESTROY = "2/comments/destroy.json"
REPLY = "2/comments/reply.json"
PAGE_SIZE = 50  # the documented default of `count`
RATE_LIMIT_PAUSE = 300.0  # seconds: Weibo's limits are per hour and it does not say when they reset
THREAD_CHARS = 60  # of the commented status's text, as the thread
RAW_CHARS = 4000  # of a comment kept in its dead letter
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
STATUS_URL = "https://m.weibo.cn/status/{id}"
_EMPTY: Any = object()

# ------------------------------------------------------------------------------- error codes
# Codes and meanings from the error code table (open.weibo.com/wiki/Error_code) and the OAuth2
# error table (21322–21337); the Chinese texts say what the admin should know.
TOKEN_CODES = {
    21301: "认证失败", 21314: "已被使用过", 21315: "已过期", 21316: "已被撤销", 21317: "被拒绝（不合法）",
    21319: "对应的授权关系已被解除", 21325: "无效、已过期或已被撤销", 21327: "已过期", 21332: "无效",
}
PERMISSION_CODES = {
    10004: "服务器的 IP 被限制访问该资源",
    10005: "该接口需要应用拥有更高级别的授权",
    10006: "请求缺少 access_token（或 appkey）",
    10013: "授权的微博用户不合法（可能已被封禁）",
    10014: "应用没有该接口的访问权限，请在微博开放平台“接口管理”中申请",
    20003: "授权的微博用户不存在",
    21321: "未审核的应用使用人数超过限制，请提交应用审核",
    21326: "应用（客户端）没有权限",
    21330: "用户或授权服务器拒绝授予数据访问权限",
    21337: "应用权限不足",
}
RATE_CODES = {
    10022: "服务器 IP 的请求频次超过上限", 10023: "该用户的请求频次超过上限",
    10024: "该用户请求此接口的频次超过上限", 20016: "发布内容过于频繁",
}
BUSY_CODES = {
    10001: "系统错误", 10002: "服务暂停", 10003: "远程服务错误", 10009: "任务过多，系统繁忙", 10010: "任务超时",
    10011: "RPC 错误", 20014: "安全检查参数有误，需要再调用一次", 21331: "服务暂时无法访问",
}
REFUSED_CODES = {
    20008: "内容为空", 20012: "内容超过 140 字", 20013: "内容超过 300 字", 20017: "与已提交的内容相似",
    20018: "含有非法网址", 20019: "与已提交的内容相同（如果上一次请求其实已经成功，就不必再发）", 20020: "含有广告信息",
    20021: "含有非法内容", 20031: "需要输入验证码，只能在微博客户端里手动操作",
    20101: "该微博不存在（可能已被删除）", 20104: "不合法的微博", 20109: "缺少微博 ID",
    20201: "该评论不存在（可能已被删除）", 20202: "不合法的评论", 20203: "该评论不属于授权账号，没有权限操作",
    20204: "缺少评论 ID", 20508: "根据对方的隐私设置，不能进行此操作",
}


def weibo_error(answer: Mapping[str, Any], status: int = 200, token_env: str = "",
                retry: float | None = None) -> SourceError:
    """The error for a Weibo error answer `{"error": …, "error_code": …, "request": …}`."""
    code = _int(answer.get("error_code"))
    detail = printable(answer.get("error") or answer.get("error_description") or "", 120)
    shown = code if code is not None else printable(answer.get("error_code"), 20)
    tag = " ".join(t for t in (f"error_code {shown}" if answer.get("error_code") not in (None, "") else "", detail) if t)
    tag = tag or "没有说明原因"
    where = f"环境变量 {token_env}" if token_env else "access_token_env 指定的环境变量"
    if code in TOKEN_CODES:
        return AuthError(
            f"微博 access_token {TOKEN_CODES[code]}（{tag}）。微博的用户授权不能由程序自动续期：请用该微博账号重新完成"
            f" OAuth2 授权，把新的 access_token 写入{where}，然后重启服务", code=code)
    if code in PERMISSION_CODES:
        return AuthError(f"微博拒绝访问：{PERMISSION_CODES[code]}（{tag}）", code=code)
    if code in RATE_CODES:
        wait = retry if retry is not None else RATE_LIMIT_PAUSE
        return RateLimited(f"微博接口限流：{RATE_CODES[code]}（{tag}），约 {wait / 60:.0f} 分钟后再试；"
                           "微博按小时计数，若经常出现请把 every 调大", code=code, retry_after=wait)
    if code in BUSY_CODES:
        return TransientError(f"微博暂时不可用：{BUSY_CODES[code]}（{tag}）", code=code, retry_after=retry)
    if code in REFUSED_CODES:
        return WriteBackRefused(f"微博拒绝了该操作：{REFUSED_CODES[code]}（{tag}）", code=code)
    if status >= 500:
        return TransientError(f"微博暂时不可用（HTTP {status}，{tag}）", code=code, retry_after=retry)
    return SourceError(f"微博拒绝了请求（HTTP {status}，{tag}）", code=code)


def _has_error(answer: Any, status: int) -> bool:
    if not isinstance(answer, dict):
        return False
    code = answer.get("error_code")
    if code not in (None, "", 0, "0"):
        return True
    return status >= 400 and bool(answer.get("error"))


@dataclass
class WeiboHttp(HttpClient):
    """The shared HTTP client, except that Weibo's JSON error body decides what an answer means,
    whatever its HTTP status: Weibo answers errors with 200, 400, 401 or 403 alike, and the shared
    client turns 401/403 into AuthError and other 4xx into SourceError before a `check` sees the body
    (a rate limit with 403 would otherwise pass for wrong credentials)."""

    token_env: str = ""

    def _answer(self, resp: requests.Response, raw: bool, check: Any = None) -> Any:
        if not raw:
            try:
                answer = resp.json()
            except ValueError:
                answer = None
            if _has_error(answer, resp.status_code):
                raise weibo_error(answer, resp.status_code, self.token_env, retry_after(resp))
        return super()._answer(resp, raw, check)


# ------------------------------------------------------------------------------- records
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
_CREATED_AT = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})")


class BadComment(ValueError):
    """A comment that cannot become a post (the message, in Chinese, says why)."""


def parse_created_at(value: Any) -> datetime:
    """Weibo's `created_at`, e.g. `Tue May 31 17:46:55 +0800 2011`, as an aware datetime. Anything
    else (another layout, no offset, an impossible date) raises BadComment."""
    m = _CREATED_AT.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise BadComment(f"created_at 格式不对：{printable(value, 60)!s}（应为微博格式，如 Tue May 31 17:46:55 +0800 2011）")
    month, day, hh, mi, ss, sign, oh, om, year = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hh), int(mi), int(ss),
                        tzinfo=timezone(-offset if sign == "-" else offset))
    except ValueError as exc:
        raise BadComment(f"created_at 不是有效的时间：{value}（{exc}）") from None


def id_of(obj: Any) -> str | None:
    """The id of a Weibo object as a string: `idstr`, else an integer `id` (never a float)."""
    if not isinstance(obj, dict):
        return None
    for key in ("idstr", "id"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return str(value)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _head(text: Any, limit: int = THREAD_CHARS) -> str:
    words = " ".join(text.split()) if isinstance(text, str) else ""
    return words if len(words) <= limit else words[: limit - 1] + "…"


def comment_to_post(comment: dict[str, Any]) -> Post:
    """One comment of `comments/to_me` as a Post (BadComment when it can't be one)."""
    cid = id_of(comment)
    if cid is None:
        raise BadComment("评论缺少 idstr")
    created = parse_created_at(comment.get("created_at"))
    user = comment.get("user")
    author = id_of(user)
    if author is None:
        raise BadComment("评论缺少作者（user.idstr）")
    text = comment.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadComment("评论内容（text）为空")
    status = comment.get("status") if isinstance(comment.get("status"), dict) else {}
    status_id = id_of(status)
    reply = comment.get("reply_comment") if isinstance(comment.get("reply_comment"), dict) else None
    raw: dict[str, Any] = {"cid": cid}
    if status_id:
        raw["status_id"] = status_id
        owner = id_of(status.get("user"))
        if owner:
            raw["status_user_id"] = owner
    reply_to = id_of(reply) if reply else None
    if reply_to:
        raw["reply_cid"] = reply_to
    if isinstance(comment.get("mid"), str) and comment["mid"].isdigit():
        raw["mid"] = comment["mid"]
    name = user.get("screen_name") or user.get("name")
    return Post(
        channel="weibo", source_id=cid, author=author, text=text, created_at=created,
        thread=_head(status.get("text")) or (f"微博 {status_id}" if status_id else None),
        url=STATUS_URL.format(id=status_id) if status_id else None, reply_to=reply_to,
        author_name=name if isinstance(name, str) and name.strip() else None, raw=raw)


# ------------------------------------------------------------------------------- checkpoint
@dataclass
class Cursor:
    """Where collection stands: `since` (all comments up to this id are stored) and, while a sweep is
    under way, its newest id `top`, the bound `below` of its next page, its page count and mode."""

    since: int = 0
    top: int = 0
    below: int = 0
    pages: int = 0
    by_page: bool = False

    @property
    def sweeping(self) -> bool:
        return self.top > 0

    def dump(self) -> str:
        data: dict[str, Any] = {"since": str(self.since)}
        if self.sweeping:
            data.update(top=str(self.top), below=str(self.below), pages=self.pages)
            if self.by_page:
                data["by_page"] = True
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, checkpoint: str | None) -> "Cursor":
        if not checkpoint:
            return cls()
        try:
            data = json.loads(checkpoint)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            log.warning("微博渠道的检查点无法读取（%s），将从头核对（已入库的评论不会重复）", printable(checkpoint, 80))
            return cls()
        since, top, below = (_int(data.get(k)) or 0 for k in ("since", "top", "below"))
        pages = data.get("pages") if isinstance(data.get("pages"), int) else 0
        return cls(since=since, top=top, below=below, pages=pages, by_page=data.get("by_page") is True)


@dataclass
class Page:
    """One page of `comments/to_me`: each comment with an id as a post or a dead letter."""

    posts: list[tuple[int, Post]] = field(default_factory=list)
    dead: list[tuple[int, DeadLetter]] = field(default_factory=list)
    originals: dict[int, str] = field(default_factory=dict)  # id(post) -> the comment as received
    ids: list[int] = field(default_factory=list)  # of every comment on the page that has an id
    unidentified: int = 0  # comments without any id

    def batch(self, keep: set[int], note: str, **kw: Any) -> Batch:
        """The posts and dead letters among the comments `keep`."""
        posts = [p for i, p in self.posts if i in keep]
        return Batch(posts=posts, dead=[d for i, d in self.dead if i in keep], note=note,
                     originals={id(p): self.originals[id(p)] for p in posts}, **kw)


# ------------------------------------------------------------------------------- the collector
class WeiboCollector(Collector):
    type_name = "weibo"
    title_zh = "微博评论"
    options_schema = options_schema("weibo", {
        "access_token_env": {"type": "string", "pattern": ENV_NAME, "maxLength": 128},
        "base_url": {"type": "string", "pattern": r"^https?://[^\s/?#]+(/[^\s?#]*)?$", "maxLength": 300},
    }, required=("access_token_env",))
    default_every = 120.0  # Weibo recommends polling every 2–3 minutes
    write_actions = frozenset({"delete", "reply"})

    def __init__(self, name: str, access_token: str, base_url: str = DEFAULT_BASE_URL, *, token_env: str = "",
                 page_size: int = PAGE_SIZE, http: HttpClient | None = None) -> None:
        super().__init__(name)
        self.token = access_token.strip()
        self.token_env = token_env
        self.page_size = page_size
        self.http = http or WeiboHttp(_api_root(base_url), token_env=token_env)
        self._reported: set[str] = set()

    # ---- configuration
    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str,
                    env: Mapping[str, str] | None = None) -> "WeiboCollector":
        """Validate `cfg` and read the access token from the environment (errors name the file and field)."""
        if isinstance(cfg, dict) and "access_token" in cfg:
            raise ConfigError(settings.config_file, f"{where}.access_token",
                              "密钥不能写在配置文件里；请改用 access_token_env 写环境变量名，把 access_token 放进该环境变量")
        validate(cfg, cls.options_schema, settings.config_file, prefix=where)
        return cls._build(cfg, settings, where, os.environ if env is None else env).configure(cfg)

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings) -> "WeiboCollector":
        return cls._build(cfg, settings, f"channels（{cfg.get('name', '?')}）", os.environ)

    @classmethod
    def _build(cls, cfg: dict[str, Any], settings: Settings, where: str, env: Mapping[str, str]) -> "WeiboCollector":
        var = cfg["access_token_env"]
        token = (env.get(var) or "").strip()
        if not token:
            raise ConfigError(settings.config_file, f"{where}.access_token_env",
                              f"环境变量 {var} 未设置或为空；请先设置它（例如 export {var}=…，值为微博账号授权得到的"
                              " access_token）再启动")
        return cls(cfg["name"], token, cfg.get("base_url") or DEFAULT_BASE_URL, token_env=var)

    # ---- HTTP
    def _call(self, method: str, path: str, params: dict[str, Any]) -> Any:
        """One API call with the access token (a query parameter for GET, a form field for POST, as
        documented); errors come out with the token scrubbed."""
        params = {**params, "access_token": self.token}
        try:
            if method == "GET":
                return self.http.get_json(path, params=params)
            return self.http.post_json(path, data=params)
        except SourceError as exc:
            text = self._scrub(str(exc))
            if text == str(exc):
                raise
            raise type(exc)(text, code=exc.code, retry_after=exc.retry_after) from None
        except requests.RequestException as exc:
            raise TransientError(f"请求微博接口失败：{self._scrub(printable(exc, 300))}") from None

    def _scrub(self, text: str) -> str:
        text = re.sub(r"(access_token=)[^&\s'\"<>)]*", r"\1***", text)
        for form in {self.token, quote(self.token, safe=""), quote_plus(self.token)}:
            if form:
                text = text.replace(form, "***")
        return text

    def _page(self, params: dict[str, Any]) -> Page:
        answer = self._call("GET", TO_ME, {"count": self.page_size, **params})
        comments = answer.get("comments", _EMPTY) if isinstance(answer, dict) else answer
        if comments is None or (comments is _EMPTY and str(answer.get("total_number")) == "0"):
            comments = []  # nothing to show, said without a list
        if not isinstance(comments, list):
            raise TransientError(f"微博返回的数据里没有评论列表（comments）：{printable(answer, 200)}")
        page = Page()
        for comment in comments:
            cid = id_of(comment)
            if cid is None:
                page.unidentified += 1
                continue
            page.ids.append(int(cid))
            record = _record(comment)
            try:
                post = comment_to_post(comment)
            except BadComment as exc:
                page.dead.append((int(cid), DeadLetter(source=f"{self.name}:weibo/{cid}", raw=record, error=str(exc),
                                                       channel="weibo")))
                continue
            page.posts.append((int(cid), post))
            page.originals[id(post)] = record
        return page

    # ---- polling
    def fetch(self, checkpoint: str | None) -> Batch:
        cur = Cursor.load(checkpoint)
        params: dict[str, Any] = {}
        if cur.since:
            params["since_id"] = str(cur.since)
        if cur.by_page:
            params["page"] = cur.pages + 1
        elif cur.below:
            params["max_id"] = str(cur.below)
        page = self._page(params)
        if cur.below and not cur.by_page and any(i > cur.below for i in page.ids):
            log.warning("微博渠道 %s：平台没有按 max_id 翻页，本轮改用页码（page）重新翻页核对", self.name)
            return Batch(checkpoint=Cursor(cur.since, cur.top, cur.below, 0, True).dump(), more=True,
                         note="改用页码翻页")
        fresh = [i for i in page.ids if i > cur.since and (cur.by_page or not cur.below or i < cur.below)]
        if page.unidentified:
            self._warn_once(f"微博渠道 {self.name}：有评论缺少 idstr，无法入库，已跳过")
        if not fresh:
            if not cur.sweeping:
                return Batch(note="没有新评论")
            return Batch(checkpoint=Cursor(since=max(cur.since, cur.top)).dump(), note="本轮翻页完成")
        top = max(cur.top, *fresh)
        reached = cur.since > 0 and any(i <= cur.since for i in page.ids)
        if reached:
            nxt, more = Cursor(since=max(cur.since, top)), False
        else:
            nxt, more = Cursor(cur.since, top, min(fresh), cur.pages + 1, cur.by_page), True
        note = f"第 {cur.pages + 1} 页" + ("（页码翻页）" if cur.by_page else "")
        return page.batch(set(fresh), note, checkpoint=nxt.dump(), more=more)

    def _warn_once(self, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            log.warning("%s", message)

    # ---- backfill
    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Older comments, newest first, one page (max_id) per batch, those in [since, until) only.
        Stops at the first page older than `since`, or where the platform has nothing older (Weibo
        only serves a limited history through this API)."""
        below, pages = 0, 0
        while True:
            params = {"max_id": str(below)} if below else {}
            page = self._page_patiently(params)
            fresh = [i for i in page.ids if not below or i < below]
            if not fresh:
                return
            pages += 1
            times = {i: p.created_at for i, p in page.posts if i in fresh}
            keep = {i for i in fresh if i not in times or ((since is None or times[i] >= since)
                                                            and (until is None or times[i] < until))}
            yield page.batch(keep, f"微博第 {pages} 页")
            below = min(fresh)
            if since is not None and times and min(times.values()) < since:
                return

    def _page_patiently(self, params: dict[str, Any], tries: int = 3) -> Page:
        """A page for the backfill command: waits out a rate limit a few times, and turns any other
        failure into an error the command prints (what was stored so far stays stored)."""
        for attempt in range(1, tries + 1):
            try:
                return self._page(params)
            except RateLimited as exc:
                if attempt == tries:
                    raise SentinelError(f"回填暂停：{exc}。已入库的页不受影响，稍后重新运行即可补齐") from None
                wait = float(exc.retry_after or RATE_LIMIT_PAUSE)
                log.warning("微博回填遇到限流，等待 %.0f 秒后继续：%s", wait, exc)
                self.http.sleep(wait)
            except SourceError as exc:
                raise SentinelError(f"回填中断：{exc}。已入库的页不受影响，处理后重新运行即可补齐") from None
        raise AssertionError("unreachable")

    # ---- write-back
    def write_back(self, action: str, post: Post, payload: dict[str, Any]) -> dict[str, Any]:
        raw = post.raw if isinstance(post.raw, dict) else {}
        cid = str(raw.get("cid") or post.source_id)
        if action == "delete":
            answer = self._call("POST", DESTROY, {"cid": cid})
        elif action == "reply":
            text = (payload or {}).get("text")
            if not isinstance(text, str) or not text.strip():
                raise WriteBackRefused("回复内容为空")
            status_id = raw.get("status_id")
            if not status_id:
                raise WriteBackRefused("不知道这条评论所属的微博（缺少 status_id），无法回复")
            answer = self._call("POST", REPLY, {"cid": cid, "id": str(status_id), "comment": text.strip()})
        else:
            raise WriteBackRefused(f"微博渠道不支持“{action}”")
        result: dict[str, Any] = {"action": action, "cid": cid}
        if isinstance(answer, dict):
            new_id = id_of(answer)
            if new_id:
                result["idstr"] = new_id
            for key in ("created_at", "text"):
                if isinstance(answer.get(key), str):
                    result[key] = answer[key]
        return result


def _api_root(base_url: str) -> str:
    """The API host: `https://api.weibo.com` (a trailing `/` or `/2` is tolerated)."""
    root = base_url.strip().rstrip("/")
    return root[:-2] if root.endswith("/2") else root


def _record(comment: Any) -> str:
    try:
        return json.dumps(comment, ensure_ascii=False, default=str)[:RAW_CHARS]
    except (TypeError, ValueError):
        return printable(comment, RAW_CHARS)
