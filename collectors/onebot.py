"""`onebot`: staff QQ groups through a OneBot v11 implementation (NapCat, Lagrange.OneBot, go-cqhttp, LLOneBot).

The OneBot implementation is logged in as a QQ account that is a member (for write-back: an admin) of
the union's groups. It pushes every event to us by HTTP POST ("HTTP POST 上报", OneBot v11
communication/http-post.md); we call its HTTP API (communication/http.md) for history and actions.

Listener (`start(store)` … `stop()`): a ThreadingHTTPServer on `listen` (daemon threads) takes
`POST /` only. A body is read up to 1 MiB (Content-Length or chunked); with a secret configured the
`X-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>` header is checked in constant time before the body
is even parsed (missing: 401, wrong: 403). Only a UTF-8 JSON object is taken (else 400). Each accepted
event is stored with `store.push_inbound` and only then answered `204 No Content` (no quick operation):
an acknowledged event is never lost. If storing fails the answer is 503 and the implementation may
send it again; a resent event has the same message_id, so it makes no second post. Refusals are
logged at most once a minute, with a count. All store writes go through one writer thread (with
group commit), because the SQLite store opens one connection per thread and never closes it before
`Store.close()`: a thread per request would leak a connection per event.

`fetch(checkpoint)` reads the stored events after the checkpoint (the last inbound id taken) and turns
group messages (`post_type: message`, `message_type: group`) into posts. Everything else (heartbeats
and lifecycle meta events, notices, requests, the bot's own messages, private messages unless
`private: true`, groups outside `groups`) only moves the checkpoint. Posts, dead letters and the
checkpoint are saved in one transaction by the runner: exactly once across crashes and restarts.

Posts: `channel` "qq"; `source_id` "<group_id>:<message_id>" (private: "private:<message_id>");
`author` the sender's QQ number (personal data: it stays in `author`, which the dashboard masks, never
in thread or text); `author_name` the group card, else the nickname; `thread` the group id, written
"群名（群号）" when the event carries the group name; `created_at` from `time` (unix seconds; milliseconds
are recognised); `text` from the message segments (array or CQ-code string), media as 【图片】,
【文件：name】 …, an @mention as @name (never the QQ number); a `reply` segment becomes `reply_to`.

Backfill: `get_group_msg_history` (a go-cqhttp extension NapCat and Lagrange also serve) page by page,
newest first, for `groups` or every group from `get_group_list`. Write-back: `delete_msg`,
`set_group_ban`, `send_group_msg` (a reply segment quoting the message, then the text), with
`Authorization: Bearer <access token>` when `access_token_env` is set.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

from collectors.base import Batch, Collector, options_schema
from collectors.http import (AuthError, HttpClient, RateLimited, SourceError, TransientError,
                             WriteBackRefused)
from core.config import Settings, validate
from core.domain import Post, utcnow
from core.errors import ConfigError, RecordError
from core.text import printable
from store.base import DeadLetter, Store

INBOUND_KEEP = timedelta(days=1)  # taken events kept this long in the queue
log = logging.getLogger("sentinel.collectors")

CHANNEL = "qq"
MAX_BODY = 1 << 20  # bytes of one pushed event
STORE_TIMEOUT = 20.0  # seconds a request waits for its event to be stored before answering 503
REFUSAL_LOG_EVERY = 60.0  # seconds: refused pushes (and store failures) are logged at most this often
LISTEN_RETRY = 60.0  # seconds between tries to start a listener whose port was taken
HANDLER_TIMEOUT = 15.0  # seconds of socket inactivity before a pushing connection is dropped
PAGE_SIZE = 20  # messages per get_group_msg_history page (go-cqhttp always answers 20)
MAX_PAGES = 100_000  # per group, a guard against an implementation that never stops paging
RAW_CHARS = 4000  # of an event kept in a dead letter
MAX_TEXT = 20_000  # characters of a post's text (the ingestion boundary's limit)
NAME_CHARS = 100  # of a display name or group name
DEFAULT_BAN_MINUTES = 30  # OneBot's own default for set_group_ban (duration 1800 s)
MAX_BAN_SECONDS = 30 * 24 * 3600  # QQ's longest mute

LISTEN_RE = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.\-]+)):(?P<port>[0-9]{1,5})$")
_ENV_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 128}
INLINE_SECRETS = ("secret", "access_token", "token")


class _Unsupported(SourceError):
    """The OneBot implementation does not offer this API."""


class _Gone(SourceError):
    """The implementation says the message (or group) asked for does not exist."""


# --------------------------------------------------------------------------- the collector
class OneBotCollector(Collector):
    type_name = "onebot"
    title_zh = "QQ 群（OneBot v11）"
    options_schema = options_schema("onebot", {
        "listen": {"type": "string", "pattern": LISTEN_RE.pattern},
        "secret_env": _ENV_NAME,
        "api_url": {"type": "string", "pattern": r"^https?://[^\s/?#]+(/[^\s?#]*)?$", "maxLength": 2048},
        "access_token_env": _ENV_NAME,
        "groups": {"type": "array", "uniqueItems": True, "maxItems": 10_000,
                   "items": {"type": ["integer", "string"], "minimum": 1, "pattern": r"^[1-9][0-9]{0,19}$"}},
        "private": {"type": "boolean"},
        "ban_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_BAN_SECONDS // 60},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 5000},
    }, required=("listen",))
    default_every = None  # the events are already here: read them on every collect cycle
    write_actions = frozenset({"delete", "ban", "reply"})

    def __init__(self, name: str, *, host: str = "127.0.0.1", port: int = 5700, secret: str | None = None,
                 api_url: str | None = None, access_token: str | None = None, token_env: str | None = None,
                 groups: list[int | str] | None = None, private: bool = False,
                 ban_seconds: int = DEFAULT_BAN_MINUTES * 60, batch_size: int = 500,
                 http: HttpClient | None = None) -> None:
        super().__init__(name)
        self.host, self.port = host, port
        self.secret = secret.encode("utf-8") if secret else None
        self.api_url = api_url
        self._token = access_token
        self._token_env = token_env
        self.groups = {str(g) for g in groups} if groups else None
        self.private = private
        self.ban_seconds = max(1, min(int(ban_seconds), MAX_BAN_SECONDS))
        self.batch_size = batch_size
        self.http = http if http is not None else (HttpClient(api_url, max_rate=5.0) if api_url else None)
        self._store: Store | None = None
        self._listener: _Listener | None = None
        self._start_error: str | None = None
        self._start_tried = 0.0

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str) -> "OneBotCollector":
        for opt in INLINE_SECRETS:
            if opt in cfg:
                raise ConfigError(settings.config_file, f"{where}.{opt}",
                                  f"密钥不能写在配置文件里；请改用 {opt}_env 写环境变量名，把值放进该环境变量"
                                  if opt != "token" else "请改用 access_token_env 写环境变量名，把访问令牌放进该环境变量")
        validate(cfg, cls.options_schema, settings.config_file, prefix=where)
        collector = cls.create(cfg, settings, where=where)
        collector.configure(cfg)
        return collector

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings, where: str | None = None,
               env: Mapping[str, str] | None = None) -> "OneBotCollector":
        where = where or f"channels（{cfg.get('name', '?')}）"
        env = os.environ if env is None else env
        file = settings.config_file
        host, port = parse_listen(str(cfg.get("listen", "")), file, f"{where}.listen")
        secret = _secret(env, cfg, "secret_env", file, where)
        token = _secret(env, cfg, "access_token_env", file, where)
        if secret is None and not is_loopback(host):
            raise ConfigError(file, f"{where}.secret_env",
                              f"监听地址 {cfg['listen']} 不只限本机访问，必须配置 secret_env（上报签名密钥），"
                              "否则任何能连上这个端口的人都能伪造群消息；或改为监听 127.0.0.1")
        if cfg.get("write_back") and not cfg.get("api_url"):
            raise ConfigError(file, f"{where}.api_url",
                              "开启回写（write_back: true）需要填写 api_url：OneBot 实现的 HTTP API 地址，例如 http://127.0.0.1:3000")
        return cls(cfg["name"], host=host, port=port, secret=secret, api_url=cfg.get("api_url"),
                   access_token=token, token_env=cfg.get("access_token_env"), groups=cfg.get("groups"),
                   private=bool(cfg.get("private", False)),
                   ban_seconds=int(cfg.get("ban_minutes", DEFAULT_BAN_MINUTES)) * 60,
                   batch_size=int(cfg.get("batch_size", 500)))

    # ------------------------------------------------------------------ listener
    def start(self, store: Store) -> None:
        """Listen for pushed events. The store is kept first, so events stored before a failed start
        (port taken) are still read."""
        self._store = store
        if self._listener is not None:
            return
        self._start_tried = time.monotonic()
        listener = _Listener(self.name, store, self.host, self.port, self.secret)
        try:
            listener.start()
        except OSError as exc:
            self._start_error = str(exc)
            raise
        self._listener, self._start_error = listener, None
        host, port = listener.address
        log.info("渠道 %s 正在 http://%s/ 接收 OneBot 事件上报（%s）", self.name, _hostport(host, port),
                 "已启用签名校验" if self.secret else "未配置 secret_env，不校验签名：只应在本机使用")

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        self._start_error = None
        if listener is not None:
            listener.stop()

    def _check_listener(self) -> None:
        """After a failed start (port taken), try again once a minute; until it works every poll
        fails, so /healthz shows that no events can arrive."""
        if self._start_error is None or self._listener is not None or self._store is None:
            return
        if time.monotonic() - self._start_tried >= LISTEN_RETRY:
            try:
                self.start(self._store)
                return
            except OSError:
                pass
        raise TransientError(f"事件监听没有运行，收不到新的群消息：{self._start_error}（每分钟重试一次）")

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the listener is bound to (the real port when `listen` asked for port 0)."""
        return self._listener.address if self._listener is not None else (self.host, self.port)

    @property
    def url(self) -> str:
        """The event push URL to give the OneBot implementation."""
        return f"http://{_hostport(*self.address)}/"

    # ------------------------------------------------------------------ fetch
    def fetch(self, checkpoint: str | None) -> Batch:
        store = self._store
        if store is None:  # not started: nothing can have arrived
            return Batch()
        after = _checkpoint_id(checkpoint)
        rows = store.inbound(self.name, after, self.batch_size)
        if not rows:
            self._check_listener()
            return Batch()
        batch = Batch(note=f"事件 #{rows[0][0]}–#{rows[-1][0]}")
        seen: set[str] = set()
        for inbound_id, payload in rows:
            self._take(batch, inbound_id, payload, seen)
        batch.checkpoint = str(rows[-1][0])
        batch.more = len(rows) >= self.batch_size
        return batch

    def after_commit(self, batch: Batch) -> None:
        """The events up to the batch's checkpoint are taken for good: the queue keeps the last day of
        them (to look into a problem), not more — a year of heartbeats alone would be 200 MB."""
        if self._store is not None and batch.checkpoint:
            self._store.prune_inbound(self.name, _checkpoint_id(batch.checkpoint), utcnow() - INBOUND_KEEP)

    def skip(self, checkpoint: str | None, error: str) -> Batch | None:
        """Reading keeps failing at `checkpoint`: set the next stored event aside as a dead letter."""
        if self._store is None:
            return None
        rows = self._store.inbound(self.name, _checkpoint_id(checkpoint), 1)
        if not rows:
            return None
        inbound_id, payload = rows[0]
        return Batch(dead=[self._dead_letter(inbound_id, payload, f"读取这条事件连续失败（{error}），已跳过")],
                     checkpoint=str(inbound_id), more=True)

    def _take(self, batch: Batch, inbound_id: int, payload: str, seen: set[str]) -> None:
        try:
            event = json.loads(payload)
        except (ValueError, RecursionError):
            batch.dead.append(self._dead_letter(inbound_id, payload, "事件不是合法的 JSON"))
            return
        try:
            post = self.post_from_event(event)
        except RecordError as exc:
            batch.dead.append(self._dead_letter(inbound_id, payload, str(exc)))
            return
        if post is None or post.source_id in seen:  # not a message we keep, or sent twice in this batch
            return
        seen.add(post.source_id)
        batch.posts.append(post)
        batch.originals[id(post)] = payload[:RAW_CHARS]

    def _dead_letter(self, inbound_id: int, payload: str, error: str) -> DeadLetter:
        return DeadLetter(source=f"onebot/{self.name}#{inbound_id}", raw=payload[:RAW_CHARS], error=error,
                          channel=CHANNEL)

    # ------------------------------------------------------------------ events -> posts
    def post_from_event(self, event: Any, group_names: Mapping[str, str] | None = None) -> Post | None:
        """The post for a OneBot message event, None for events that make no post. Raises RecordError
        when a message event lacks what a post needs."""
        if not isinstance(event, dict) or event.get("post_type") != "message":
            return None  # meta_event (heartbeat, lifecycle), notice, request, message_sent (our own)
        if event.get("sub_type") == "notice":
            return None  # a system line in the group (「管理员已禁止群内匿名聊天」), nobody wrote it
        mtype = event.get("message_type")
        if mtype == "group":
            group = _id(event.get("group_id"), "group_id")
            if self.groups is not None and group not in self.groups:
                return None
        elif mtype == "private" and self.private:
            group = None
        else:
            return None
        user, self_id = event.get("user_id"), event.get("self_id")
        if user is not None and self_id is not None and str(user) == str(self_id):
            return None  # the bot's own message (an official reply we sent)
        message_id = _id(event.get("message_id"), "message_id")
        created = _event_time(event.get("time"))
        message = event.get("message")
        text, reply = render_message(message if message is not None else event.get("raw_message", ""))
        if reply is not None and not re.fullmatch(r"[-\w]{1,100}", reply):
            reply = None  # not an id this channel could have stored
        sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
        anonymous = event.get("anonymous") if isinstance(event.get("anonymous"), dict) else None
        if anonymous:
            author = f"anonymous:{_text(anonymous.get('id')) or _text(anonymous.get('name')) or 'unknown'}"
            author_name = _text(anonymous.get("name"))[:NAME_CHARS] or "匿名"
        else:
            author = _id(user if user is not None else sender.get("user_id"), "user_id")
            author_name = (_text(sender.get("card")) or _text(sender.get("nickname")))[:NAME_CHARS] or None
        prefix = f"{group}:" if group is not None else "private:"
        raw: dict[str, Any] = {"message_type": mtype, "message_id": _plain(event.get("message_id"))}
        if group is not None:
            raw["group_id"] = _plain(event.get("group_id"))
            name = (_text(event.get("group_name")) or (group_names or {}).get(group) or "")[:NAME_CHARS]
            thread = f"{name}（{group}）" if name else group
        else:
            thread = "私聊"
        for key in ("message_seq", "sub_type"):
            if isinstance(event.get(key), (int, str)) and not isinstance(event.get(key), bool):
                raw[key] = event[key]
        if anonymous:
            raw["anonymous"] = True
        if len(text) > MAX_TEXT:  # a huge card or markdown: keep what the analysis can use
            text = text[:MAX_TEXT - 1] + "…"
        return Post(channel=CHANNEL, source_id=prefix + message_id, author=author, text=text or "【空消息】",
                    created_at=created, thread=thread, reply_to=prefix + reply if reply else None,
                    author_name=author_name, raw=raw)

    # ------------------------------------------------------------------ the HTTP API
    def _api(self, action: str, params: dict[str, Any], *, write: bool) -> dict[str, Any]:
        if self.http is None:
            error = WriteBackRefused if write else SourceError
            raise error(f"渠道 {self.name} 没有配置 api_url（OneBot 的 HTTP API 地址），无法调用 {action}")
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        try:
            return self.http.post_json(f"/{action}", json=params, headers=headers,
                                       check=lambda answer: check_answer(answer, action, write))
        except AuthError as exc:
            if exc.code not in (401, 403, 1401, 1403):
                raise
            where = f"环境变量 {self._token_env} 中的" if self._token_env else "（未配置 access_token_env）"
            code = f"HTTP {exc.code}" if exc.code < 1000 else f"retcode {exc.code}"
            raise AuthError(f"OneBot HTTP API 拒绝了访问（{code}）：{where}访问令牌与 OneBot 实现配置的 token "
                            "不一致或缺失；请核对后重启", code=exc.code) from None
        except (TransientError, _Unsupported, _Gone, WriteBackRefused):
            raise
        except SourceError as exc:
            if exc.code == 404:  # HTTP 404: no such action at this address
                error = WriteBackRefused if write else _Unsupported
                raise error(f"OneBot 实现不支持接口 {action}（HTTP 404），或 api_url 填错了", code=404) from None
            raise

    # ------------------------------------------------------------------ backfill
    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Older group messages through `get_group_msg_history`, newest page first. The groups and the
        first page are asked for right away, so a OneBot implementation without the API is reported
        before anything starts."""
        if self.http is None:
            raise NotImplementedError(f"渠道 {self.name} 没有配置 api_url（OneBot 的 HTTP API 地址），无法回填历史消息")
        try:
            groups = self._backfill_groups()
            first = self._history(groups[0][0], None) if groups else []
        except _Unsupported as exc:
            raise NotImplementedError(
                f"渠道 {self.name} 的 OneBot 实现不支持回填所需的接口，无法回填：{exc}。回填要用 get_group_msg_history"
                "（获取群历史消息，NapCat、Lagrange.OneBot 和 go-cqhttp 都提供）；其他实现只能从现在起实时收集") from None
        except SourceError as exc:  # raised on the first page asked for, where the backfill command reports it
            return _raising(exc)
        return self._backfill_pages(groups, first, since, until)

    def _backfill_groups(self) -> list[tuple[str, str | None]]:
        names: dict[str, str] = {}
        try:
            answer = self._api("get_group_list", {}, write=False)
            for g in answer.get("data") or []:
                if isinstance(g, dict) and g.get("group_id") is not None:
                    names[str(g["group_id"])] = _text(g.get("group_name"))
        except (AuthError, TransientError):
            raise
        except SourceError:
            if self.groups is None:
                raise
        if self.groups is not None:
            return [(g, names.get(g) or None) for g in sorted(self.groups)]
        return [(g, n or None) for g, n in names.items()]

    def _history(self, group: str, cursor: dict[str, Any] | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"group_id": _plain(group), "count": PAGE_SIZE}
        if cursor:
            # go-cqhttp and NapCat page by `message_seq` (NapCat: the message_id), Lagrange by `message_id`
            params.update({k: v for k, v in cursor.items() if v is not None})
        try:
            answer = self._api("get_group_msg_history", params, write=False)
        except _Gone as exc:  # NapCat: "消息…不存在" for an empty group; go-cqhttp: 群聊不存在
            if not cursor:
                log.warning("渠道 %s：群 %s 没有可回填的消息：%s", self.name, group, printable(exc))
            return []
        data = answer.get("data")
        messages = data.get("messages") if isinstance(data, dict) else data
        return [m for m in messages or [] if isinstance(m, dict)]

    def _backfill_pages(self, groups: list[tuple[str, str | None]], first: list[dict[str, Any]],
                        since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        for index, (group, name) in enumerate(groups):
            try:
                yield from self._group_pages(group, name, first if index == 0 else None, since, until)
            except SourceError as exc:  # the same error type, saying which group
                raise type(exc)(f"回填群 {group} 时失败：{exc}", code=exc.code, retry_after=exc.retry_after) from exc

    def _group_pages(self, group: str, name: str | None, page: list[dict[str, Any]] | None,
                     since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        if page is None:
            page = self._history(group, None)
        seen: set[str] = set()
        names = {group: name} if name else {}
        for number in range(1, MAX_PAGES + 1):
            fresh = [m for m in page if _message_key(m) not in seen]
            if not fresh:
                return  # the implementation has nothing older
            seen.update(_message_key(m) for m in fresh)
            batch = Batch(note=f"群 {group} 第 {number} 页")
            oldest: datetime | None = None
            for m in fresh:
                event = {"post_type": "message", "message_type": "group", "group_id": _plain(group), **m}
                try:
                    post = self.post_from_event(event, names)
                except RecordError as exc:
                    batch.dead.append(DeadLetter(source=f"onebot/{self.name}/群{group}/历史", error=str(exc),
                                                 raw=json.dumps(m, ensure_ascii=False)[:RAW_CHARS], channel=CHANNEL))
                    continue
                if post is None:
                    continue
                oldest = post.created_at if oldest is None else min(oldest, post.created_at)
                if (since is None or post.created_at >= since) and (until is None or post.created_at < until):
                    batch.posts.append(post)
                    batch.originals[id(post)] = json.dumps(m, ensure_ascii=False)[:RAW_CHARS]
            yield batch
            if since is not None and oldest is not None and oldest < since:
                return
            start = min(fresh, key=_message_order)
            cursor = {"message_seq": _plain(start.get("message_seq", start.get("message_id"))),
                      "message_id": _plain(start.get("message_id"))}
            page = self._history(group, cursor)

    # ------------------------------------------------------------------ write-back
    def write_back(self, action: str, post: Post, payload: dict[str, Any]) -> dict[str, Any]:
        raw = post.raw if isinstance(post.raw, dict) else {}
        message_id = raw.get("message_id")
        if message_id is None:
            raise WriteBackRefused("这条帖子没有 OneBot 消息 ID（message_id），无法在 QQ 上操作")
        private = raw.get("message_type") == "private"
        if action == "delete":
            return self._api("delete_msg", {"message_id": _plain(message_id)}, write=True)
        if action == "ban":
            if private:
                raise WriteBackRefused("私聊消息的发送者无法禁言")
            if raw.get("anonymous") or not str(post.author).isdigit():
                raise WriteBackRefused("匿名消息的发送者无法按 QQ 号禁言")
            duration = payload.get("duration")
            if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
                duration = self.ban_seconds
            return self._api("set_group_ban", {"group_id": _plain(raw.get("group_id")), "user_id": int(post.author),
                                               "duration": min(duration, MAX_BAN_SECONDS)}, write=True)
        if action == "reply":
            text = str(payload.get("text") or "").strip()
            if not text:
                raise WriteBackRefused("回复内容为空")
            message = [{"type": "reply", "data": {"id": str(message_id)}}, {"type": "text", "data": {"text": text}}]
            if private:
                if not str(post.author).isdigit():
                    raise WriteBackRefused("无法确定私聊对象")
                return self._api("send_private_msg", {"user_id": int(post.author), "message": message}, write=True)
            return self._api("send_group_msg", {"group_id": _plain(raw.get("group_id")), "message": message},
                             write=True)
        raise WriteBackRefused(f"QQ 群渠道不支持操作 {action}")


# --------------------------------------------------------------------------- OneBot answers
_GONE = ("不存在", "not found", "not exist", "找不到", "no such")
_UNSUPPORTED = ("不支持", "api_not_found", "api not found", "not supported", "unsupported", "unknown action")
_BUSY = ("频繁", "频率", "too fast", "too frequent", "rate limit")


def check_answer(answer: Any, action: str, write: bool) -> None:
    """Raise the error a OneBot answer `{"status", "retcode", "data", ...}` means (nothing when it is a
    success). Retcodes as documented by OneBot v11 / CQHTTP: 0 ok, 1 async (accepted, result unknown),
    100 missing or invalid parameters, 102 invalid data (usually no permission, e.g. not in that
    group), 103 operation failed (the bot is no group admin, the message can no longer be recalled),
    104 QQ credentials expired, 201 worker pool not ready; go-cqhttp answers 404 for an unknown API,
    NapCat 200 with "不支持的Api …" and 200 / 400 / 1400 for other failures. The shared HTTP client also
    shows us the JSON body of a 4xx answer: one that is not a OneBot answer is left to the HTTP status."""
    if not isinstance(answer, dict):
        raise SourceError(f"OneBot 接口 {action} 的回答不是 JSON 对象")
    if "status" not in answer and "retcode" not in answer:
        return  # not a OneBot answer (e.g. NapCat's 403 {"message": "token verify failed!"}): the HTTP status decides
    status = str(answer.get("status") or "").lower()
    retcode = _int(answer.get("retcode"))
    if status in ("ok", "async") or (status == "" and retcode in (0, 1)):
        return
    message = next((printable(answer[k], 200) for k in ("wording", "message", "msg")
                    if isinstance(answer.get(k), str) and answer[k].strip()), "")
    detail = f"（retcode {retcode if retcode is not None else '无'}{'：' + message if message else ''}）"
    lowered = message.lower()
    refused = WriteBackRefused if write else SourceError
    if retcode in (401, 403, 1401, 1403):
        raise AuthError(f"OneBot HTTP API 拒绝了访问令牌{detail}", code=retcode)
    if retcode == 104:
        raise AuthError(f"OneBot 实现的 QQ 登录凭证已失效{detail}：请在 OneBot 实现中重新登录 QQ 或清除缓存", code=104)
    if retcode == 201:
        raise TransientError(f"OneBot 实现暂时无法执行 {action}{detail}", code=201)
    if retcode in (404, 1404) or any(w in lowered for w in _UNSUPPORTED):
        raise (WriteBackRefused if write else _Unsupported)(f"OneBot 实现不支持接口 {action}{detail}", code=retcode)
    if any(w in lowered for w in _BUSY):
        raise RateLimited(f"OneBot 实现提示操作过于频繁{detail}", code=retcode, retry_after=60.0)
    if any(w in lowered for w in _GONE):
        raise (WriteBackRefused if write else _Gone)(f"目标消息或群不存在{detail}", code=retcode)
    if retcode in (100, 400, 1400):
        raise refused(f"OneBot 接口 {action} 的参数无效{detail}", code=retcode)
    if retcode == 102:
        raise refused(f"OneBot 接口 {action} 无权操作或目标无效（例如机器人不在这个群）{detail}", code=102)
    if retcode == 103:
        raise refused(f"OneBot 接口 {action} 执行失败：机器人权限不足（撤回他人消息、禁言需要群管理员身份）"
                      f"或消息已超过可撤回的时间{detail}", code=103)
    raise SourceError(f"OneBot 接口 {action} 失败{detail}", code=retcode)


# --------------------------------------------------------------------------- message segments
_CQ_CODE = re.compile(r"\[CQ:([^,\]]*)(?:,([^\]]*))?\]")
_MEDIA = {
    "image": "【图片】", "face": "【表情】", "mface": "【表情】", "marketface": "【表情】", "bface": "【表情】",
    "sface": "【表情】", "record": "【语音】", "video": "【视频】", "forward": "【聊天记录】", "location": "【位置】",
    "contact": "【名片】", "poke": "【戳一戳】", "shake": "【戳一戳】", "dice": "【骰子】", "rps": "【猜拳】",
    "music": "【音乐】", "redbag": "【红包】", "gift": "【礼物】",
}
_SILENT = {"reply", "node", "anonymous"}


def unescape_cq(text: str, *, comma: bool = False) -> str:
    """Undo CQ-code escaping: &#91; [ &#93; ] (and &#44; , inside parameters), &amp; & last."""
    text = text.replace("&#91;", "[").replace("&#93;", "]")
    if comma:
        text = text.replace("&#44;", ",")
    return text.replace("&amp;", "&")


def parse_cq(message: str) -> list[dict[str, Any]]:
    """A CQ-code string as message segments (OneBot v11 message/string.md): the function name runs from
    `[CQ:` to the first `,` or `]`; parameters are split at `,`, each at its first `=`."""
    segments: list[dict[str, Any]] = []
    at = 0
    for m in _CQ_CODE.finditer(message):
        if m.start() > at:
            segments.append({"type": "text", "data": {"text": unescape_cq(message[at:m.start()])}})
        data: dict[str, str] = {}
        for part in (m.group(2) or "").split(","):
            if part:
                key, _, value = part.partition("=")
                data[key] = unescape_cq(value, comma=True)
        segments.append({"type": m.group(1), "data": data})
        at = m.end()
    if at < len(message):
        segments.append({"type": "text", "data": {"text": unescape_cq(message[at:])}})
    return segments


def render_message(message: Any) -> tuple[str, str | None]:
    """(text, the message id a `reply` segment quotes) of a message in array or string format. Media
    are noted in brackets; an @mention shows the name it carries, never the QQ number."""
    if isinstance(message, str):
        segments: list[Any] = parse_cq(message)
    elif isinstance(message, list):
        segments = message
    elif isinstance(message, dict):
        segments = [message]
    else:
        segments = []
    parts: list[str] = []
    reply: str | None = None
    for seg in segments:
        if isinstance(seg, str):  # a bare string inside an array: text
            parts.append(seg)
            continue
        if not isinstance(seg, dict):
            continue
        kind = str(seg.get("type") or "")
        data = seg.get("data") if isinstance(seg.get("data"), dict) else {}
        if kind == "text":
            parts.append(_text(data.get("text"), strip=False))
        elif kind == "reply":
            reply = reply or (_text(data.get("id")) or None)
        elif kind == "at":
            target = _text(data.get("qq"))
            name = _text(data.get("name")).lstrip("@")
            parts.append("@全体成员 " if target == "all" else f"@{name} " if name else "@某人 ")
        elif kind == "file":
            name = _text(data.get("name")) or os.path.basename(_text(data.get("file")).rstrip("/"))
            parts.append(f"【文件：{name[:100]}】" if name else "【文件】")
        elif kind == "share":
            title = _text(data.get("title"))
            parts.append(f"【链接：{title[:100]}】" if title else "【链接】")
        elif kind in ("json", "xml", "ark"):
            parts.append(_card(data))
        elif kind == "markdown":
            parts.append(_text(data.get("content"), strip=False))
        elif kind in _MEDIA:
            parts.append(_MEDIA[kind])
        elif kind and kind not in _SILENT:
            parts.append(f"【{kind[:20]}】")
    return "".join(parts).strip(), reply


def _card(data: dict[str, Any]) -> str:
    """A JSON / XML card (mini program, link card): its `prompt` when it has one, e.g. [QQ小程序]问卷星."""
    body = data.get("data")
    try:
        prompt = json.loads(body).get("prompt") if isinstance(body, str) else None
    except (ValueError, AttributeError, RecursionError):
        prompt = None
    return f"【卡片：{printable(prompt, 100)}】" if isinstance(prompt, str) and prompt.strip() else "【卡片消息】"


# --------------------------------------------------------------------------- the listener
@dataclass
class _Pending:
    payload: str
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: "_Listener"


class _Listener:
    """The HTTP POST event receiver of one channel, and the single thread that stores what it takes."""

    def __init__(self, name: str, store: Store, host: str, port: int, secret: bytes | None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name, self.store, self.host, self.port, self.secret = name, store, host, port, secret
        self.monotonic = monotonic
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._stopping = False
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._refused = 0
        self._refusal_logged = -1e18
        self._failure_logged = -1e18

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        server_cls = _Server
        if ":" in self.host:
            server_cls = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        try:
            server = server_cls((self.host, self.port), _Handler)
        except OSError as exc:
            raise OSError(f"渠道 {self.name} 无法监听 {_hostport(self.host, self.port)}：{exc.strerror or exc}"
                          "（端口被占用，或地址不属于本机？）") from None
        server.listener = self
        self._server = server
        writer = threading.Thread(target=self._write, name=f"onebot-store-{self.name}", daemon=True)
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name=f"onebot-listen-{self.name}", daemon=True)
        self._threads = [writer, serve]
        writer.start()
        serve.start()

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.shutdown()
        self._queue.put(None)
        for t in self._threads:
            t.join(timeout=STORE_TIMEOUT)
        while True:  # anything that slipped in after the writer stopped is answered 503
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.done.set()
        if self._server is not None:
            self._server.server_close()

    # ---- storing
    def store_event(self, payload: str) -> bool:
        """Store one accepted event; True once it is durable (then, and only then, the push is answered 204)."""
        if self._stopping:
            return False
        item = _Pending(payload)
        self._queue.put(item)
        return item.done.wait(STORE_TIMEOUT) and item.ok

    def _write(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items, last = [item], False
            while len(items) < 100:  # group commit: what queued up meanwhile goes in the same transaction
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                items.append(more)
            try:
                self.store.push_inbound(self.name, [i.payload for i in items], utcnow())
                ok = True
            except Exception as exc:
                ok = False
                now = self.monotonic()
                if now - self._failure_logged >= REFUSAL_LOG_EVERY:
                    self._failure_logged = now
                    log.error("渠道 %s 的 OneBot 事件入库失败（已回答 503，OneBot 实现会重发）：%s", self.name,
                              printable(exc))
            for i in items:
                i.ok = ok
                i.done.set()
            if last:
                return

    # ---- refusals
    def refused(self, status: int, reason: str, client: str) -> None:
        with self._lock:
            self._refused += 1
            now = self.monotonic()
            if now - self._refusal_logged < REFUSAL_LOG_EVERY:
                return
            count, self._refused, self._refusal_logged = self._refused, 0, now
        log.warning("渠道 %s 拒绝了来自 %s 的事件上报（HTTP %d：%s）；近一分钟共拒绝 %d 次。"
                    "请核对 OneBot 实现的上报地址（POST http://%s/）和 secret", self.name, client, status, reason, count,
                    _hostport(self.host, self.port))

    def verify(self, body: bytes, signature: str) -> bool:
        assert self.secret is not None
        expected = "sha1=" + hmac.new(self.secret, body, hashlib.sha1).hexdigest()
        given = signature.strip()
        if given[:5].lower() == "sha1=":
            given = "sha1=" + given[5:].lower()
        return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "UnionSentinel-OneBot/1.0"
    sys_version = ""
    timeout = HANDLER_TIMEOUT
    wbufsize = 1 << 16  # headers and body leave in one segment (flushed after each request)
    server: _Server

    def do_POST(self) -> None:
        listener = self.server.listener
        if urlsplit(self.path).path != "/":
            self._refuse(404, "路径不对：事件只接收 POST /", close=True)
            return
        body = self._body()
        if body is None:
            return
        if listener.secret is not None:
            signature = self.headers.get("X-Signature")
            if not signature:
                self._refuse(401, "缺少 X-Signature 签名")
                return
            if not listener.verify(body, signature):
                self._refuse(403, "X-Signature 签名不正确")
                return
        try:
            text = body.decode("utf-8-sig")
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._refuse(400, "正文不是 UTF-8 编码的 JSON")
            return
        if not isinstance(event, dict):
            self._refuse(400, "正文不是 JSON 对象")
            return
        if not listener.store_event(text):
            self._answer(503, {"error": "事件暂时无法入库，请稍后重发"})
            return
        self.send_response(204)
        self.end_headers()

    def _body(self) -> bytes | None:
        """The request body, or None after answering why it was refused."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = _read_chunked(self.rfile, MAX_BODY)
            if body is None:
                self._refuse(413, f"正文超过 {MAX_BODY // 1024} KB 或分块格式错误", close=True)
            return body
        length = self.headers.get("Content-Length")
        if length is None:
            self._refuse(411, "缺少 Content-Length", close=True)
            return None
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self._refuse(400, "Content-Length 无效", close=True)
            return None
        if n > MAX_BODY:
            self._refuse(413, f"正文 {n} 字节，超过上限 {MAX_BODY // 1024} KB", close=True)
            return None
        body = self.rfile.read(n)
        if len(body) < n:
            self.close_connection = True
            return None
        return body

    def _not_allowed(self) -> None:
        self._refuse(405, f"不接受 {self.command} 请求：事件只接收 POST /", close=True,
                     headers={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _not_allowed

    def _refuse(self, status: int, reason: str, *, close: bool = False, headers: dict[str, str] | None = None) -> None:
        self.server.listener.refused(status, reason, self.client_address[0])
        self._answer(status, {"error": reason}, close=close, headers=headers)

    def _answer(self, status: int, body: dict[str, Any], *, close: bool = False,
                headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # refusals are logged by the listener, at most once a minute


def _read_chunked(rfile: Any, limit: int) -> bytes | None:
    """A chunked request body (RFC 9112 §7.1), None when it is malformed or longer than `limit`."""
    body = bytearray()
    while True:
        line = rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return None
        if size < 0 or len(body) + size > limit:
            return None
        if size == 0:
            while True:  # trailers, up to the empty line
                trailer = rfile.readline(8192)
                if trailer in (b"\r\n", b"\n", b""):
                    return bytes(body)
        chunk = rfile.read(size)
        if len(chunk) < size:
            return None
        body += chunk
        if rfile.readline(1024) not in (b"\r\n", b"\n"):
            return None


# --------------------------------------------------------------------------- helpers
def _raising(error: Exception) -> Iterator[Batch]:
    raise error
    yield  # a generator: the error surfaces when the first page is asked for


def parse_listen(value: str, file: str, where: str) -> tuple[str, int]:
    m = LISTEN_RE.match(value.strip())
    if not m:
        raise ConfigError(file, where, f"取值 {value!r} 格式不对，应写成 主机:端口，例如 127.0.0.1:5700")
    port = int(m.group("port"))
    if port > 65535:
        raise ConfigError(file, where, f"端口 {port} 超出范围（0–65535）")
    return m.group("v6") or m.group("host"), port


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret(env: Mapping[str, str], cfg: Mapping[str, Any], option: str, file: str, where: str) -> str | None:
    var = cfg.get(option)
    if not var:
        return None
    value = env.get(var)
    if not value:
        raise ConfigError(file, f"{where}.{option}", f"环境变量 {var} 未设置或为空；请先设置它（例如 export {var}=…）再启动")
    return value


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _checkpoint_id(checkpoint: str | None) -> int:
    try:
        return max(int(checkpoint or 0), 0)
    except ValueError:
        return 0  # unreadable: read everything again (posts are keyed, nothing is stored twice)


def _id(value: Any, name: str) -> str:
    """A platform id (a number, or a string some implementations send) as text; RecordError if absent."""
    if isinstance(value, bool) or value is None:
        raise RecordError(f"消息事件缺少 {name}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip() and not any(c.isspace() for c in value.strip()):
        return value.strip()
    raise RecordError(f"消息事件的 {name} 无效：{printable(value, 50)}")


def _plain(value: Any) -> Any:
    """An id as the API wants it: a number when it is one (JSON number), else unchanged."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value)
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(value: Any, strip: bool = True) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    text = str(value)
    return text.strip() if strip else text


def _event_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RecordError(f"消息事件的 time 无效：{printable(value, 50)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value <= 0:
        raise RecordError("消息事件缺少有效的 time（Unix 时间戳）")
    if value > 1e11:  # milliseconds (NapCat falls back to Date.now())
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise RecordError(f"消息事件的 time 超出范围：{printable(value, 50)}") from None


def _message_key(m: dict[str, Any]) -> str:
    return str(m.get("message_id", m.get("message_seq")))


def _message_order(m: dict[str, Any]) -> tuple[float, int]:
    t = m.get("time")
    seq = _int(m.get("message_seq", m.get("message_id")))
    return (float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else 0.0, seq if seq is not None else 0)
