"""`wechat_mp`: comments (留言) under a WeChat official account's articles, through the official
comment-management API (图文消息留言管理), and write-back: delete, official reply, elect (精选).

Endpoints (all on `base_url`, https://api.weixin.qq.com by default; docs/channels/wechat_mp.md):
- access token: `POST cgi-bin/stable_token` (JSON; the same token for every process of the account,
  the secret never in a URL) or, with `token_api: token` or when the platform has no stable_token,
  `GET cgi-bin/token`. Cached until `expires_in` runs out or the platform answers 40001/40014/42001,
  then fetched again (with `force_refresh` when the platform hands back the token it just refused)
  and the call retried once; a brand-new token refused too is an AuthError.
- `POST cgi-bin/comment/list?access_token=…` `{msg_data_id, index, begin, count, type: 0}`: offset
  paging, `count` 49 (the platform refuses 50 and more with 88010).
- write-back: `comment/delete`, `comment/reply/delete` (for an official reply), `comment/markelect` /
  `comment/unmarkelect`, `comment/reply/add` with `content`.
- optional discovery of recently published articles: `POST datacube/getarticletotaldetail`, whose
  `msgid` is "<msg_data_id>_<n>", n counting from 1 (comment/list's `index` counts from 0).

Exactly once, whatever the platform's order and however comments are deleted: the API documents
neither the order of the list nor whether `user_comment_id` grows, and a deleted comment shifts every
offset after it, so an offset or a high-water mark would lose comments. Each poll therefore reads every
page of every article (one page per batch) and emits only what the checkpoint has not seen: per
article the set of `user_comment_id`s already stored (runs of integers, "1~57,59"), and per comment a
fingerprint of its official reply (a reply added or changed later becomes a post, or a new version of
it). The checkpoint also keeps the scan position, so a scan cut short (time budget, crash, restart)
goes on where it stopped; a comment skipped because a deletion shifted a page is found by the next
scan. The checkpoint is saved with the posts in one transaction.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from itertools import groupby
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping
from zoneinfo import ZoneInfo

import requests

from collectors.base import Batch, Collector, options_schema
from collectors.http import (AuthError, HttpClient, RateLimited, SourceError, TokenCache, TokenExpired,
                             TransientError, WriteBackRefused)
from core.config import Settings, validate
from core.domain import Post, utcnow
from core.errors import ConfigError, RecordError, SentinelError
from core.text import printable
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")

CHANNEL = "wechat"
DEFAULT_BASE_URL = "https://api.weixin.qq.com"
PAGE_SIZE = 49  # comment/list: "count >= 50 会被拒绝" (errcode 88010)
MAX_PAGES = 5_000  # per article and scan: a guard against a server that ignores `begin`
BEIJING = ZoneInfo("Asia/Shanghai")  # WeChat's daily quotas restart at midnight Beijing time
MISSING_RECHECK_S = 6 * 3600  # an article the platform says does not exist is tried again after this
QUIET_AFTER_S = 24 * 3600  # an article in which nothing changed for a day …
QUIET_EVERY_S = 3600  # … is read at most hourly, until something changes again
DISCOVERY_RETRY_S = 3600  # a day of discovery that failed or was not ready is asked again after this
FORCE_REFRESH_GAP_S = 30.0  # stable_token: force_refresh at most every 30 s (and 20 times a day)
RAW_CHARS = 4000

# errcodes (docs/channels/wechat_mp.md lists where each is documented)
TOKEN_INVALID = {40001, 40014, 42001}  # invalid credential / invalid access_token / access_token expired
RATE_DAILY, RATE_MINUTE = 45009, 45011
SYSTEM_BUSY = -1
ARTICLE_MISSING = 88001
# credentials and permissions (AuthError: an admin must act): message, seconds to wait at least
_SECRET_WRONG = ("公众号 AppSecret 不正确：请核对{env}中的 AppSecret 是否属于 app_id {app_id}"
                 "（公众平台 → 设置与开发 → 基本配置）", None)
_APPID_WRONG = ("公众号 AppID {app_id} 无效：请检查配置项 app_id", None)
_FROZEN = ("公众号账号已冻结或被禁止获取 access_token：请公众号管理员在公众平台查看账号状态", None)
AUTH_PROBLEMS: dict[int, tuple[str, float | None]] = {
    40125: _SECRET_WRONG, 41004: _SECRET_WRONG, 40013: _APPID_WRONG, 41002: _APPID_WRONG,
    40164: ("本服务器的 IP 不在公众号的 IP 白名单中：请在公众平台 → 设置与开发 → 基本配置 → IP 白名单中加入本机的出口 IP", None),
    40243: ("公众号的 AppSecret 已被冻结：请在公众平台 → 设置与开发 → 基本配置中解冻", None),
    48001: ("公众号没有调用该接口的权限：留言管理需要已认证并开通留言功能的公众号，可在公众平台 → 设置与开发 → 接口权限中查看", None),
    88000: ("公众号没有留言管理权限：请确认公众号已开通留言功能，且接口权限中包含“图文消息留言管理”", None),
    50004: _FROZEN, 50007: _FROZEN,
    89503: ("本次调用需要公众号管理员在微信中确认：请管理员确认后等待重试", 600.0),
    89506: ("公众号管理员拒绝了本服务器 IP 的调用请求：24 小时后再试，请先与管理员确认", 86400.0),
    89507: ("公众号管理员拒绝了本服务器 IP 的调用请求：1 小时后再试，请先与管理员确认", 3600.0),
}
WRITE_REFUSED = {
    88000: "公众号没有留言权限，或该文章的留言已关闭",
    88001: "文章不存在（msg_data_id / index 不对，或文章已删除）",
    88003: "精选评论数已达上限",
    88004: "评论已被用户删除",
    88005: "该评论已有官方回复（每条评论只能回复一次；如需修改，请先在公众平台删除原回复）",
    88007: "回复内容为空或超过长度上限",
    88008: "评论不存在（可能已被删除）",
}


# --------------------------------------------------------------------------- configuration
_ID = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"^[0-9]{1,20}$"}]}
OPTIONS = {
    "app_id": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9_-]+$"},
    "secret_env": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
    "articles": {
        "type": "array",
        "maxItems": 500,
        "items": {
            "type": "object",
            "required": ["msg_data_id"],
            "properties": {
                "msg_data_id": _ID,
                "index": {"type": "integer", "minimum": 0, "maximum": 99},
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "url": {"type": "string", "pattern": r"^https?://\S+$"},
            },
            "additionalProperties": False,
        },
    },
    "base_url": {"type": "string", "pattern": r"^https?://[^\s/]+(:[0-9]+)?(/\S*)?$"},
    "token_api": {"enum": ["stable_token", "token"]},
    "discover_days": {"type": "integer", "minimum": 0, "maximum": 30},
}
INLINE_SECRETS = ("secret", "app_secret", "appsecret", "access_token", "token")


@dataclass(frozen=True)
class Article:
    """One article of a mass send (群发): `index` counts from 0 within the message."""

    msg_data_id: int | str
    index: int = 0
    title: str | None = None
    url: str | None = None
    discovered: bool = False

    @property
    def key(self) -> str:
        return f"{self.msg_data_id}:{self.index}"

    @property
    def thread(self) -> str:
        return self.title or f"公众号文章 {self.msg_data_id}（第 {self.index + 1} 篇）"

    @property
    def ids(self) -> dict[str, Any]:
        return {"msg_data_id": self.msg_data_id, "index": self.index}


def _number(value: Any) -> int | str:
    """An id as the platform documents it (a number), or as given when it is not one."""
    text = str(value).strip()
    if isinstance(value, bool) or not text:
        raise ValueError(value)
    return int(text) if re.fullmatch(r"-?[0-9]{1,19}", text) else text


# --------------------------------------------------------------------------- checkpoint
class IdSet:
    """The `user_comment_id`s seen for one article: integers as runs ("1~57,59~61"), others listed."""

    def __init__(self, runs: str = "", others: list[str] | None = None) -> None:
        self.ints: set[int] = set()
        self.others: set[str] = set(others or [])
        for part in filter(None, (runs or "").split(",")):
            lo, _, hi = part.partition("~")
            try:
                a, b = int(lo), int(hi or lo)
            except ValueError:
                continue
            if 0 <= b - a <= 1_000_000:
                self.ints.update(range(a, b + 1))

    def __contains__(self, value: int | str) -> bool:
        return value in self.ints if isinstance(value, int) else value in self.others

    def add(self, value: int | str) -> None:
        (self.ints if isinstance(value, int) else self.others).add(value)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.ints) + len(self.others)

    def runs(self) -> str:
        out = []
        for _, run in groupby(enumerate(sorted(self.ints)), lambda pair: pair[1] - pair[0]):
            first, *rest = [n for _, n in run]
            out.append(f"{first}~{rest[-1]}" if rest else str(first))
        return ",".join(out)


class State:
    """The checkpoint: per article what was stored, the scan position, discovered articles."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data if isinstance(data, dict) else {}
        arts = data.get("a")
        self.articles: dict[str, dict[str, Any]] = arts if isinstance(arts, dict) else {}
        scan = data.get("scan")
        self.scan: dict[str, Any] | None = scan if isinstance(scan, dict) and isinstance(scan.get("k"), str) else None
        found = data.get("found")
        self.found: list[dict[str, Any]] = [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []
        disc = data.get("disc")
        self.discovery: dict[str, Any] = disc if isinstance(disc, dict) else {}
        self._sets: dict[str, IdSet] = {}

    @classmethod
    def load(cls, checkpoint: str | None) -> "State":
        if not checkpoint:
            return cls()
        try:
            return cls(json.loads(checkpoint))
        except ValueError:
            log.warning("公众号收集器的检查点无法读取，将从头核对全部评论（已入库的不会重复）")
            return cls()

    def article(self, key: str) -> dict[str, Any]:
        entry = self.articles.get(key)
        if not isinstance(entry, dict):
            entry = self.articles[key] = {}
        return entry

    def seen(self, key: str) -> IdSet:
        if key not in self._sets:
            entry = self.article(key)
            others = entry.get("o")
            self._sets[key] = IdSet(str(entry.get("s") or ""), others if isinstance(others, list) else None)
        return self._sets[key]

    def replies(self, key: str) -> dict[str, str]:
        """Per comment id, the fingerprint of the official reply stored for it."""
        entry = self.article(key)
        entry["r"] = entry["r"] if isinstance(entry.get("r"), dict) else {}
        return entry["r"]

    def bad(self, key: str) -> list[str]:
        """Fingerprints of unusable comments already reported as dead letters."""
        entry = self.article(key)
        entry["x"] = entry["x"] if isinstance(entry.get("x"), list) else []
        return entry["x"]

    def dump(self) -> str:
        for key, ids in self._sets.items():
            entry = self.article(key)
            entry["s"] = ids.runs()
            if ids.others:
                entry["o"] = sorted(ids.others)
        data: dict[str, Any] = {"v": 1, "a": self.articles, "scan": self.scan}
        if self.found:
            data["found"] = self.found
        if self.discovery:
            data["disc"] = self.discovery
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------------- HTTP
class WeChatHttp(HttpClient):
    """The shared client, reading answers as WeChat writes them: JSON that may hold raw control
    characters inside strings (comment texts with line breaks), decoded leniently; HTTP 405/501 (an
    endpoint this server does not have) is a refusal, not a failure to retry."""

    def _answer(self, resp: requests.Response, raw: bool, check: Callable[[Any], None] | None = None) -> Any:
        code = resp.status_code
        if code in (405, 501):
            raise SourceError(f"{self.host} 不支持该接口（HTTP {code}）", code=code)
        if raw:
            return super()._answer(resp, raw, check)
        try:
            body = json.loads(resp.content.decode("utf-8", "replace"), strict=False)
        except ValueError:
            body = None
        if code >= 400 and check is not None and body is not None:
            check(body)  # the platform's own errcode wins over the HTTP status
        super()._answer(resp, True)  # HTTP statuses: 429, 5xx, 401/403, other 4xx
        if body is None:
            raise TransientError(f"{self.host} 返回的不是 JSON（HTTP {code}）")
        return body


_SECRET_PARAM = re.compile(r"((?:secret|access_token)=)[^&\s'\")]*")


def _scrubbed(exc: Exception, secrets: list[str | None]) -> SourceError:
    """The same error with every secret (AppSecret, access token) cut out of its message, also where
    the message quotes a URL and was cut short in the middle of one."""
    text = _SECRET_PARAM.sub(r"\1***", str(exc))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    if isinstance(exc, SourceError):
        out = type(exc)(text, code=exc.code, retry_after=exc.retry_after)
        for attr in ("token_endpoint",):
            if hasattr(exc, attr):
                setattr(out, attr, getattr(exc, attr))
        return out
    return TransientError(f"请求微信接口失败：{printable(text, 200)}")


def _errcode(answer: Any) -> int:
    if not isinstance(answer, dict):
        raise SourceError(f"微信接口返回的不是 JSON 对象：{printable(answer, 120)}")
    value = answer.get("errcode", 0)
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SourceError(f"微信接口返回了无法识别的 errcode：{printable(value, 40)}") from None


def _seconds_to_beijing_midnight(now: datetime) -> float:
    local = now.astimezone(BEIJING)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=BEIJING)
    return max(60.0, (tomorrow - local).total_seconds())


# --------------------------------------------------------------------------- the collector
class WeChatMpCollector(Collector):
    type_name = "wechat_mp"
    title_zh = "微信公众号文章留言"
    options_schema = options_schema("wechat_mp", OPTIONS, required=("app_id", "secret_env"))
    default_every = 300.0
    write_actions = frozenset({"delete", "reply", "elect"})

    def __init__(self, name: str, app_id: str, secret: str, articles: list[Article], *, secret_env: str = "",
                 base_url: str = DEFAULT_BASE_URL, token_api: str = "stable_token", discover_days: int = 0,
                 http: HttpClient | None = None, clock: Callable[[], datetime] = utcnow,
                 wall: Callable[[], float] = time.time) -> None:
        super().__init__(name)
        self.app_id = app_id
        self._secret = secret
        self.secret_env = secret_env
        self.articles = _unique(articles)
        self.token_api = token_api
        self.discover_days = discover_days
        self.http = http or WeChatHttp(base_url.rstrip("/"))
        self.clock = clock
        self.wall = wall
        self.tokens = TokenCache(self._fetch_token, refused=self._token_refused)
        self._rejected: str | None = None  # the token the platform last refused
        self._forced_at = -1e18
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def __repr__(self) -> str:  # never the secret
        return f"WeChatMpCollector(name={self.name!r}, app_id={self.app_id!r}, articles={len(self.articles)})"

    # ------------------------------------------------------------------ configuration
    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str,
                    env: Mapping[str, str] | None = None) -> "WeChatMpCollector":
        """Validate (errors name the config file and field), read the AppSecret from the environment
        variable `secret_env` names (a missing one is a ConfigError at start), build."""
        for option in INLINE_SECRETS:
            if option in cfg:
                raise ConfigError(settings.config_file, f"{where}.{option}",
                                  "密钥不能写在配置文件里；请把公众号的 AppSecret 放进环境变量，并用 secret_env 写出变量名")
        validate(cfg, cls.options_schema, settings.config_file, prefix=where)
        collector = cls.create(cfg, settings, where=where, env=env)
        collector.configure(cfg)
        return collector

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings, *, where: str | None = None,
               env: Mapping[str, str] | None = None) -> "WeChatMpCollector":
        where = where or f"channels（{cfg.get('name', '?')}）"
        env = os.environ if env is None else env
        var = cfg["secret_env"]
        secret = env.get(var)
        if not secret:
            raise ConfigError(settings.config_file, f"{where}.secret_env",
                              f"环境变量 {var} 未设置或为空；请先设置它（export {var}=公众号的 AppSecret）再启动")
        articles = [Article(_number(a["msg_data_id"]), int(a.get("index", 0)), a.get("title"), a.get("url"))
                    for a in cfg.get("articles") or []]
        if not articles and not cfg.get("discover_days"):
            raise ConfigError(settings.config_file, f"{where}.articles",
                              "至少配置一篇文章（msg_data_id 与 index），或用 discover_days 开启自动发现最近发表的文章")
        return cls(cfg["name"], cfg["app_id"], secret, articles, secret_env=var,
                   base_url=cfg.get("base_url") or DEFAULT_BASE_URL, token_api=cfg.get("token_api", "stable_token"),
                   discover_days=int(cfg.get("discover_days", 0)))

    # ------------------------------------------------------------------ collection
    def fetch(self, checkpoint: str | None) -> Batch:
        """One page of one article: the comments and official replies not stored yet."""
        state = State.load(checkpoint)
        if state.scan is None:  # a new scan of every article
            self._discover(state)
            known = {a.key for a in self._all_articles(state)}
            for key in [k for k in state.articles if k not in known]:  # no longer configured or discovered
                del state.articles[key]
            articles = self._due_articles(state)
            if not articles:
                return Batch(checkpoint=state.dump(), note="没有可读取的文章")
            state.scan = {"k": articles[0].key, "b": 0}
        articles = self._due_articles(state)
        article = next((a for a in articles if a.key == state.scan["k"]), None)
        if article is None:  # the article left the list (configuration changed): start over
            if not articles:
                state.scan = None
                return Batch(checkpoint=state.dump(), note="没有可读取的文章")
            article = articles[0]
            state.scan = {"k": article.key, "b": 0}
        begin = max(0, int(state.scan.get("b") or 0))
        note = f"{article.thread}，第 {begin // PAGE_SIZE + 1} 页"
        try:
            answer = self._list(article, begin)
        except SourceError as exc:
            if exc.code != ARTICLE_MISSING:
                raise
            dead = self._article_missing(state, article, exc)
            self._next_article(state, articles, article)
            return Batch(dead=dead, checkpoint=state.dump(), more=state.scan is not None, note=note)
        state.article(article.key).pop("miss", None)
        comments = _comments(answer)
        posts, dead = self._convert(article, comments, state.seen(article.key), state.replies(article.key),
                                    state.bad(article.key))
        fingerprint = _page_fingerprint(comments)
        found = bool(posts or dead or state.scan.get("f"))
        if _article_done(comments, begin, answer.get("total")) or fingerprint == state.scan.get("h") \
                or begin >= MAX_PAGES * PAGE_SIZE:
            self._article_read(state, article, found)
            self._next_article(state, articles, article)
        else:
            state.scan = {"k": article.key, "b": begin + len(comments), "h": fingerprint, "f": int(found)}
        return Batch(posts=posts, dead=dead, checkpoint=state.dump(), more=state.scan is not None, note=note)

    def skip(self, checkpoint: str | None, error: str) -> Batch | None:
        """Reading one article keeps failing: leave it for this scan (a dead letter says so); the
        next scan tries it again."""
        state = State.load(checkpoint)
        articles = self._due_articles(state)
        if not articles:
            return None
        if state.scan is None:  # it failed on the first article of a new scan
            article: Article | None = articles[0]
        else:
            article = next((a for a in articles if a.key == state.scan["k"]), None)
        if article is None:
            state.scan = None
            return Batch(checkpoint=state.dump())
        self._next_article(state, articles, article)
        dead = DeadLetter(source=f"{self.name}/{article.key}", raw="", channel=CHANNEL,
                          error=f"读取公众号文章 {article.thread} 的留言连续失败，本轮已跳过，下一轮会再试：{printable(error, 300)}")
        return Batch(dead=[dead], checkpoint=state.dump(), more=state.scan is not None, note=article.thread)

    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Every comment (and official reply) of the configured articles, and of the discovered ones
        when `discover_days` is set, page by page; `since`/`until` filter on the comment's time."""
        state = State()
        try:
            self._discover(state)
            articles = self._all_articles(state)
        except SourceError as exc:
            raise SentinelError(f"回填无法开始：{exc}") from None
        for article in articles:
            seen, replies, bad = IdSet(), {}, []  # only against repeats within this run
            begin, previous, pages = 0, None, 0
            while True:
                pages += 1
                note = f"{article.thread}，第 {pages} 页"
                try:
                    answer = self._list(article, begin)
                except SourceError as exc:
                    if exc.code == ARTICLE_MISSING:
                        yield Batch(dead=self._article_missing(State(), article, exc), note=note)
                        break
                    raise SentinelError(f"回填在{note}中断：{exc}。已读取的页已入库，再次运行会从头核对并补齐。") from None
                comments = _comments(answer)
                posts, dead = self._convert(article, comments, seen, replies, bad)
                posts = [p for p in posts if (since is None or p.created_at >= since)
                         and (until is None or p.created_at < until)]
                yield Batch(posts=posts, dead=dead, note=note)
                fingerprint = _page_fingerprint(comments)
                if _article_done(comments, begin, answer.get("total")) or fingerprint == previous \
                        or pages >= MAX_PAGES:
                    break
                begin, previous = begin + len(comments), fingerprint

    # ------------------------------------------------------------------ articles
    def _all_articles(self, state: State) -> list[Article]:
        found = []
        for f in state.found:
            try:
                found.append(Article(_number(f["m"]), int(f["i"]), discovered=True))
            except (KeyError, TypeError, ValueError):
                continue
        return _unique([*self.articles, *found])

    def _due_articles(self, state: State) -> list[Article]:
        """The articles to read in this scan: all but those the platform recently said do not exist."""
        now = self.wall()
        due = []
        for article in self._all_articles(state):
            entry = state.articles.get(article.key, {})
            missing, next_read = entry.get("miss"), entry.get("n")
            if isinstance(missing, (int, float)) and now - missing < MISSING_RECHECK_S:
                continue
            if isinstance(next_read, (int, float)) and now < next_read:
                continue  # quiet for a day: read at most hourly
            due.append(article)
        return due

    def _article_read(self, state: State, article: Article, found: bool) -> None:
        """An article was read to its end: one in which nothing has changed for QUIET_AFTER_S is read
        at most every QUIET_EVERY_S from now on (daily API quotas), until something changes."""
        entry = state.article(article.key)
        now = self.wall()
        entry.pop("n", None)
        if found or not isinstance(entry.get("c"), (int, float)):
            entry["c"] = now
        elif now - entry["c"] >= QUIET_AFTER_S and self.every is not None and self.every < QUIET_EVERY_S:
            entry["n"] = now + QUIET_EVERY_S

    def _next_article(self, state: State, articles: list[Article], current: Article) -> None:
        keys = [a.key for a in articles]
        at = keys.index(current.key) if current.key in keys else len(keys)
        state.scan = {"k": keys[at + 1], "b": 0} if at + 1 < len(keys) else None

    def _article_missing(self, state: State, article: Article, exc: SourceError) -> list[DeadLetter]:
        entry = state.article(article.key)
        first = "miss" not in entry
        entry["miss"] = self.wall()
        if article.discovered or not first:
            log.info("公众号文章 %s 暂时读不到留言（%s），%d 小时后再试", article.key, printable(exc, 200),
                     MISSING_RECHECK_S // 3600)
            return []
        text = (f"公众号文章 msg_data_id={article.msg_data_id}, index={article.index} 不存在（errcode {exc.code}）："
                f"请检查渠道 {self.name} 的 articles 配置（index 从 0 开始）；{MISSING_RECHECK_S // 3600} 小时后会再试")
        log.warning("%s", text)
        return [DeadLetter(source=f"{self.name}/{article.key}", raw=json.dumps(article.ids), error=text,
                           channel=CHANNEL)]

    def _discover(self, state: State) -> None:
        """Recently published articles from `datacube/getarticletotaldetail` (data up to yesterday,
        one day per request); each day is asked until it answered without delay."""
        if self.discover_days <= 0:
            return
        today = self.clock().astimezone(BEIJING).date()
        oldest = today - timedelta(days=self.discover_days)
        done = {d for d in state.discovery.get("days", []) if isinstance(d, str) and d >= oldest.isoformat()}
        wanted = [today - timedelta(days=n) for n in range(self.discover_days, 0, -1)]
        pending = [d for d in wanted if d.isoformat() not in done]
        tried = state.discovery.get("t")
        if pending and not (isinstance(tried, (int, float)) and self.wall() - tried < DISCOVERY_RETRY_S):
            found = {f"{f.get('m')}:{f.get('i')}": f for f in state.found}
            for day in pending:
                try:
                    answer = self._api("datacube/getarticletotaldetail",
                                       {"begin_date": day.isoformat(), "end_date": day.isoformat()}, "discover")
                except SourceError as exc:
                    if getattr(exc, "token_endpoint", False):
                        raise
                    self._warn_once(f"discover:{exc.code}",
                                    f"自动发现最近发表的文章失败（{exc}）；只读取配置中的文章，稍后再试")
                    break
                for item in answer.get("list") or []:
                    parsed = _parse_msgid(item.get("msgid") if isinstance(item, dict) else None)
                    if parsed is not None:
                        ref = str(item.get("ref_date") or day.isoformat())[:10]
                        found.setdefault(f"{parsed[0]}:{parsed[1]}", {"m": parsed[0], "i": parsed[1], "d": ref})
                if not answer.get("is_delay"):
                    done.add(day.isoformat())
            state.found = sorted(found.values(), key=lambda f: (str(f.get("d")), str(f.get("m")), str(f.get("i"))))
            state.discovery = {"days": sorted(done), "t": self.wall()}
        state.found = [f for f in state.found if str(f.get("d", "")) >= oldest.isoformat()]
        if state.discovery.get("days"):
            state.discovery["days"] = sorted(d for d in state.discovery["days"] if isinstance(d, str)
                                             and d >= oldest.isoformat())

    # ------------------------------------------------------------------ comments → posts
    def _list(self, article: Article, begin: int) -> dict[str, Any]:
        return self._api("cgi-bin/comment/list",
                         {**article.ids, "begin": begin, "count": PAGE_SIZE, "type": 0}, "list")

    def _convert(self, article: Article, comments: list[Any], seen: IdSet, replies: dict[str, str],
                 bad: list[str]) -> tuple[list[Post], list[DeadLetter]]:
        posts: list[Post] = []
        dead: list[DeadLetter] = []
        for item in comments:
            try:
                cid = _number(item["user_comment_id"]) if isinstance(item, dict) else None
            except (KeyError, TypeError, ValueError):
                cid = None
            if cid is None:
                marker = hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:12]
                if marker not in bad:
                    bad.append(marker)
                    del bad[:-200]
                    dead.append(self._dead(article, item, "留言缺少 user_comment_id，无法识别"))
                continue
            base = f"{article.msg_data_id}:{article.index}:{cid}"
            if cid not in seen:
                seen.add(cid)
                try:
                    posts.append(self._comment_post(article, item, cid, base))
                except Exception as exc:  # whatever a comment holds, it is a dead letter, never a crash
                    dead.append(self._dead(article, item, _reason(exc)))
            reply = item.get("reply")
            if isinstance(reply, list):  # documented as one object; take the latest if a list comes
                reply = next((r for r in reversed(reply) if isinstance(r, dict) and r.get("content")), None)
            content = reply.get("content") if isinstance(reply, dict) else None
            key = str(cid)
            if isinstance(content, str) and content.strip():
                marker = hashlib.sha1(f"{reply.get('create_time')}\x00{content}".encode()).hexdigest()[:10]
                if replies.get(key) != marker:
                    replies[key] = marker
                    try:
                        posts.append(self._reply_post(article, item, reply, cid, base))
                    except Exception as exc:  # whatever a comment holds, it is a dead letter, never a crash
                        dead.append(self._dead(article, item, "官方回复：" + _reason(exc)))
            elif key in replies:
                replies.pop(key)  # the reply was deleted; a new one is collected again
        return posts, dead

    def _comment_post(self, article: Article, item: dict[str, Any], cid: int | str, base: str) -> Post:
        text = item.get("content")
        if not isinstance(text, str):
            raise RecordError("留言内容 content 缺失或不是字符串")
        openid = item.get("openid")
        # no openid: the reader commented without a WeChat identity; keep such comments apart
        author = openid if isinstance(openid, str) and openid.strip() else f"anonymous:{base}"
        try:
            comment_type = int(item.get("comment_type") or 0)
        except (TypeError, ValueError):
            comment_type = 0
        return Post(channel=CHANNEL, source_id=base, author=author, text=text,
                    created_at=_unix_time(item.get("create_time"), "create_time"), thread=article.thread,
                    url=article.url, raw={**article.ids, "user_comment_id": cid, "comment_type": comment_type,
                                          "kind": "comment"})

    def _reply_post(self, article: Article, item: dict[str, Any], reply: dict[str, Any], cid: int | str,
                    base: str) -> Post:
        try:
            created = _unix_time(reply.get("create_time"), "reply.create_time")
        except RecordError:
            created = _unix_time(item.get("create_time"), "create_time")
        return Post(channel=CHANNEL, source_id=f"{base}:reply", author=self.app_id, author_name="公众号官方回复",
                    text=reply["content"], created_at=created, thread=article.thread, url=article.url,
                    reply_to=base, raw={**article.ids, "user_comment_id": cid, "kind": "reply"})

    def _dead(self, article: Article, item: Any, reason: str) -> DeadLetter:
        try:
            raw = json.dumps(item, ensure_ascii=False, default=str)[:RAW_CHARS]
        except (TypeError, ValueError):
            raw = printable(item, RAW_CHARS)
        return DeadLetter(source=f"{self.name}/{article.key}", raw=raw, error=reason, channel=CHANNEL)

    # ------------------------------------------------------------------ write-back
    def write_back(self, action: str, post: Post, payload: dict[str, Any]) -> dict[str, Any]:
        """delete → comment/delete (an official reply: comment/reply/delete); elect → comment/markelect
        (payload {"undo": true}: comment/unmarkelect); reply → comment/reply/add with `content`."""
        ids, kind = self._post_ids(post)
        if action == "delete":
            path = "cgi-bin/comment/reply/delete" if kind == "reply" else "cgi-bin/comment/delete"
            body = ids
        elif action == "elect":
            if kind == "reply":
                raise WriteBackRefused("官方回复不能设为精选，只有读者的留言可以")
            undo = bool(payload.get("undo")) or payload.get("elect") is False
            path = "cgi-bin/comment/unmarkelect" if undo else "cgi-bin/comment/markelect"
            body = ids
        elif action == "reply":
            if kind == "reply":
                raise WriteBackRefused("不能回复官方回复本身；请回复读者的原留言")
            text = payload.get("text", payload.get("content"))
            if not isinstance(text, str) or not text.strip():
                raise WriteBackRefused("回复内容为空")
            path, body = "cgi-bin/comment/reply/add", {**ids, "content": text.strip()}
        else:
            raise WriteBackRefused(f"公众号留言不支持“{action}”操作")
        answer = self._api(path, body, "write")
        return {"api": path, **answer}

    def _post_ids(self, post: Post) -> tuple[dict[str, Any], str]:
        raw = post.raw if isinstance(post.raw, dict) else {}
        kind = "reply" if raw.get("kind") == "reply" or str(post.source_id).endswith(":reply") else "comment"
        try:
            if all(k in raw for k in ("msg_data_id", "user_comment_id")):
                ids = {"msg_data_id": _number(raw["msg_data_id"]), "index": int(raw.get("index") or 0),
                       "user_comment_id": _number(raw["user_comment_id"])}
            else:  # a post from elsewhere (an inbox file): the ids from its source_id "m:i:c"
                m, i, c = str(post.source_id).split(":")[:3]
                ids = {"msg_data_id": _number(m), "index": int(i), "user_comment_id": _number(c)}
        except (TypeError, ValueError):
            raise WriteBackRefused(f"帖子 {printable(post.source_id, 80)} 缺少公众号留言的 msg_data_id / user_comment_id，"
                                   "无法在平台上操作") from None
        return ids, kind

    # ------------------------------------------------------------------ the API
    def _api(self, path: str, body: dict[str, Any], context: str) -> dict[str, Any]:
        """POST `body` to `path` with the cached access token; an expired token is fetched again and
        the call retried once."""

        def call(token: str) -> dict[str, Any]:
            try:
                return self._post(path, body, token, lambda answer: self._check(answer, context))
            except TokenExpired:
                self._rejected = token
                raise

        return self.tokens.call(call)

    def _token_refused(self, exc: Exception) -> Exception:
        """A brand-new access token refused too."""
        return AuthError(f"刷新 access_token 后微信仍判定其无效（{exc}）：可能有其他程序用同一公众号的 AppSecret 强制刷新了"
                         "access_token，或 AppSecret 已重置；请检查后等待重试", code=getattr(exc, "code", None))

    def _post(self, path: str, body: dict[str, Any], token: str | None, check: Callable[[Any], None]) -> Any:
        # UTF-8 as is: WeChat refuses \uXXXX escapes in request bodies (errcode 40033)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            return self.http.post_json(path, params={"access_token": token} if token else None, data=data,
                                       headers={"Content-Type": "application/json; charset=utf-8"}, check=check)
        except (SourceError, requests.RequestException) as exc:
            raise _scrubbed(exc, [self._secret, token]) from None

    def _fetch_token(self) -> tuple[str, float]:
        with self._lock:
            rejected, self._rejected = self._rejected, None
            try:
                token, lifetime = self._token_once(force=False)
                if token == rejected and self.token_api == "stable_token" \
                        and time.monotonic() - self._forced_at >= FORCE_REFRESH_GAP_S:
                    # the platform refused this very token: ask for a new one (limited: 20 a day)
                    self._forced_at = time.monotonic()
                    token, lifetime = self._token_once(force=True)
            except SourceError as exc:
                exc.token_endpoint = True  # type: ignore[attr-defined]
                raise
            return token, lifetime

    def _token_once(self, force: bool) -> tuple[str, float]:
        check = lambda answer: self._check(answer, "token")  # noqa: E731
        if self.token_api == "stable_token":
            body: dict[str, Any] = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
            if force:
                body["force_refresh"] = True
            try:
                answer = self._post("cgi-bin/stable_token", body, None, check)
            except SourceError as exc:
                # a server without stable_token (HTTP 404/405/501, or a refusal that is neither about
                # the credentials nor temporary): the classic endpoint does the same job
                if not (exc.code in (404, 405, 501, 48001) or type(exc) is SourceError):
                    raise
                log.warning("收集器 %s：%s 的 stable_token 接口不可用（%s），改用 cgi-bin/token 获取 access_token",
                            self.name, self.http.host, printable(exc, 200))
                self.token_api = "token"
                return self._token_once(force=False)
        else:
            params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
            try:
                answer = self.http.get_json("cgi-bin/token", params=params, check=check)
            except (SourceError, requests.RequestException) as exc:
                raise _scrubbed(exc, [self._secret]) from None
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise SourceError("微信返回的 access_token 为空")
        try:
            lifetime = float(answer.get("expires_in") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        return token, max(lifetime, 1.0)

    def _check(self, answer: Any, context: str) -> None:
        """Raise the error the runner and the outbox understand for a non-zero errcode."""
        code = _errcode(answer)
        if code == 0:
            return
        # without the request id ("rid: …") WeChat appends: the same error reads the same every time
        errmsg = printable(re.sub(r"\s*\b(rid|hint):.*$", "", str(answer.get("errmsg") or "")), 160)
        what = f"errcode {code}" + (f" {errmsg}" if errmsg else "")
        if code == SYSTEM_BUSY:
            raise TransientError(f"微信系统繁忙（{what}），稍后重试", code=code)
        if code in TOKEN_INVALID and context != "token":
            raise TokenExpired(f"access_token 已失效（{what}）", code=code)
        if code == RATE_DAILY:
            raise RateLimited(f"微信接口今日调用次数已达上限（{what}）：北京时间零点恢复，管理员也可在公众平台清零接口调用次数",
                              code=code, retry_after=_seconds_to_beijing_midnight(self.clock()))
        if code == RATE_MINUTE:
            raise RateLimited(f"微信接口调用过于频繁（{what}），一分钟后再试", code=code, retry_after=60.0)
        if context == "write" and code in WRITE_REFUSED:
            raise WriteBackRefused(f"{WRITE_REFUSED[code]}（{what}）", code=code)
        auth = self._auth_problem(code, context)
        if auth is not None:
            message, retry = auth
            raise AuthError(f"{message}（{what}）", code=code, retry_after=retry)
        if code == ARTICLE_MISSING:
            raise SourceError(f"文章不存在（{what}）", code=code)
        raise SourceError(f"微信接口拒绝了请求（{what}）", code=code)

    def _auth_problem(self, code: int, context: str) -> tuple[str, float | None] | None:
        if code == 40001 and context == "token":  # the classic token API: a wrong AppSecret
            code = 40125
        if code not in AUTH_PROBLEMS:
            return None
        text, retry = AUTH_PROBLEMS[code]
        env = f"环境变量 {self.secret_env}" if self.secret_env else "secret_env 指定的环境变量"
        return text.format(env=env, app_id=self.app_id), retry

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("收集器 %s：%s", self.name, printable(message, 400))


# --------------------------------------------------------------------------- helpers
def _unique(articles: list[Article]) -> list[Article]:
    seen: set[str] = set()
    out = []
    for article in articles:
        if article.key not in seen:
            seen.add(article.key)
            out.append(article)
    return out


def _comments(answer: dict[str, Any]) -> list[Any]:
    """The page's comments: `comment` as documented (`comments` accepted too)."""
    for key in ("comment", "comments"):
        if isinstance(answer.get(key), list):
            return answer[key]
    return []


def _article_done(comments: list[Any], begin: int, total: Any) -> bool:
    """Whether the page at `begin` was the last. A full page always asks for the next one (some
    accounts see `total` as the page's size, not the article's); a short page ends the article
    unless `total` says more follow."""
    if not comments:
        return True
    if len(comments) >= PAGE_SIZE:
        return False
    try:
        return begin + len(comments) >= int(total)
    except (TypeError, ValueError):
        return True


def _page_fingerprint(comments: list[Any]) -> str:
    ids = [str(c.get("user_comment_id")) if isinstance(c, dict) else "?" for c in comments]
    return hashlib.sha1(",".join(ids).encode()).hexdigest()[:12]


def _parse_msgid(value: Any) -> tuple[int | str, int] | None:
    """datacube's "<msg_data_id>_<n>" (n from 1) as (msg_data_id, comment index from 0)."""
    m = re.fullmatch(r"\s*([0-9]{1,20})_([0-9]{1,3})\s*", str(value or ""))
    if not m or int(m.group(2)) < 1:
        return None
    return _number(m.group(1)), int(m.group(2)) - 1


def _unix_time(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or value in (None, ""):
        raise RecordError(f"{name} 缺失")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise RecordError(f"{name} 不是 Unix 时间戳：{printable(value, 40)}") from None
    if seconds != seconds or seconds <= 0:
        raise RecordError(f"{name} 不是有效的 Unix 时间戳：{printable(value, 40)}")
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise RecordError(f"{name} 超出可表示的时间范围：{printable(value, 40)}") from None


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, RecordError) else f"留言无法处理（{type(exc).__name__}：{printable(exc, 120)}）"


__all__ = ["Article", "IdSet", "State", "WeChatMpCollector"]
