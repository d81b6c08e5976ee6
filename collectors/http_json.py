"""`http_json`: any JSON API that lists posts (the e-proposal system 电子提案, a suggestion board's API).

The config says where the items are (`items`: a dotted path such as `data.list`) and which item field
becomes which post field (`fields`: dotted paths, e.g. `author: proposer.no`); how the API pages
(`paging`: page number, offset, or cursor / next link), whether it can be asked for newer items only
(`since`), what a successful answer looks like (`ok`), how times are written (`time_format`,
`timezone`) and the credentials (`token_env`, `headers`, `params`: secrets only from environment
variables). See docs/channels/http_json.md.

Collection runs in sweeps: from the first page to the last, one page per batch (each page's posts and
the checkpoint commit together), then again after `every`. The checkpoint holds
- the sweep in progress (the next page / offset / cursor, and the `since` value it asks with), so a
  crash or restart resumes mid-sweep;
- the ids collected, with their time (the `since` field's time when set, else created_at), newest
  `REMEMBER` of them, and a floor: items older than the floor count as collected. An item is new when
  its id was never collected, or when its `since` time moved forward (it was edited: the store keeps
  the edit history). Re-ordering, overlapping pages and late items inside the remembered window are
  thus harmless; only an item that appears later than `REMEMBER` newer ones and is older than all of
  them would be missed;
- the newest `since` value seen (asked for on the next sweep, so the API sends only newer items);
- for cursor APIs, the cursor the last sweep ended on, when the API gave one (the next sweep resumes
  there; otherwise it starts from the beginning).
An item that lacks a mapped field, or whose time cannot be read, becomes a dead letter with the
reason (once: malformed items are remembered too).
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from collectors.base import Batch, Collector, options_schema
from collectors.http import AuthError, HttpClient, RateLimited, SourceError, TransientError
from collectors.rss import (AUTH_OPTIONS, CHANNEL_PATTERN, auth_headers, digest, env_value,
                            html_to_text, load_checkpoint, looks_like_html, scrub, where_of)
from core.config import Settings
from core.domain import Post, utcnow
from core.errors import ConfigError
from core.text import printable
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")

REMEMBER = 3000  # ids kept in the checkpoint (with their time); older ones are covered by the floor
BAD_REMEMBERED = 500  # malformed items already reported as dead letters
MAX_PAGES = 1000  # pages in one sweep at most (an API that never says "last page" cannot loop forever)
RAW_CHARS = 4000
POST_FIELDS = ("source_id", "text", "created_at", "author", "author_name", "thread", "url", "reply_to")
REQUIRED_FIELDS = ("source_id", "text", "created_at")
DEFAULT_AUTHOR = "anonymous"
# sibling keys of the items array that many APIs use (PageHelper, Spring, DRF-like): read when present
TOTAL_KEYS = ("total", "total_count", "totalCount", "totalElements", "total_num")
MORE_KEYS = ("has_more", "hasMore", "has_next", "hasNext", "hasNextPage", "more")
MESSAGE_KEYS = ("msg", "message", "errmsg", "error_msg", "error", "detail")
CODE_KEYS = ("code", "errcode", "error_code", "status")
FALLBACK_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M",
                    "%Y年%m月%d日", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S")
# query / body parameter names whose values are credentials (`sign_type: MD5` is fine, `sign: …` is not)
SECRET_PARAM = re.compile(r"(token|secret|passw|api[-_]?key|^key$|^sign$|signature|^sk$)", re.I)

_PATH = {"type": "string", "minLength": 1}
_PATHS = {"anyOf": [_PATH, {"type": "array", "items": _PATH, "minItems": 1}]}
_SCALAR = {"type": ["string", "number", "boolean"]}
_CODES = {"type": "array", "items": {"type": ["string", "integer"]}}

OPTIONS: dict[str, Any] = {
    "url": {"type": "string", "pattern": r"^https?://\S+$"},
    "items": {"type": "string", "minLength": 1},
    "fields": {
        "type": "object",
        "required": list(REQUIRED_FIELDS),
        "properties": {f: _PATHS for f in POST_FIELDS},
        "additionalProperties": False,
    },
    "channel": {"type": "string", "pattern": CHANNEL_PATTERN},
    "method": {"enum": ["GET", "POST"]},
    "params": {"type": "object", "additionalProperties": _SCALAR},
    "body": {"type": "object"},
    "paging": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["page", "offset", "cursor", "none"]},
            "param": {"type": "string", "minLength": 1},
            "size_param": {"type": "string", "minLength": 1},
            "size": {"type": "integer", "minimum": 1, "maximum": 10000},
            "start": {"type": ["integer", "string"]},
            "next": _PATH,
            "more": _PATH,
            "total": _PATH,
            "max_pages": {"type": "integer", "minimum": 1, "maximum": 100000},
        },
        "additionalProperties": False,
    },
    "since": {
        "type": "object",
        "required": ["param"],
        "properties": {
            "param": {"type": "string", "minLength": 1},
            "field": _PATH,
            "format": {"type": "string", "minLength": 1},
            "overlap": {"type": "number", "minimum": 0, "maximum": 30 * 86400},
        },
        "additionalProperties": False,
    },
    "ok": {
        "type": "object",
        "required": ["field"],
        "properties": {
            "field": _PATH,
            "equals": {"anyOf": [_SCALAR, {"type": "null"}, {"type": "array", "items": _SCALAR, "minItems": 1}]},
            "message": _PATH,
            "auth_codes": _CODES,
            "rate_limit_codes": _CODES,
            "retry_codes": _CODES,
        },
        "additionalProperties": False,
    },
    "time_format": {"type": "string", "minLength": 1},
    "timezone": {"type": "string", "minLength": 1},
    "order": {"enum": ["newest_first", "any"]},
    "extra": {"type": "object", "additionalProperties": _PATH},
    "author_default": {"type": "string", "minLength": 1, "maxLength": 64},
    "strip_html": {"type": "boolean"},
    **AUTH_OPTIONS,
}


class ItemError(Exception):
    """An item the mapping cannot turn into a post (the reason, in Chinese)."""


# --------------------------------------------------------------------------- paths and times
_MISSING = object()


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (`data.list`, `proposer.name`, `tags.0`); `_MISSING` when absent.
    `.`, `$` or an empty path is the whole value; a leading `$.` is ignored (JSONPath habit)."""
    path = path.strip()
    if path in ("", ".", "$"):
        return data
    if path.startswith("$."):
        path = path[2:]
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and re.fullmatch(r"-?\d+", part) and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def parse_time(value: Any, fmt: str, tz: ZoneInfo) -> datetime:
    """A timezone-aware time from an item's value. `fmt`: iso (also takes epoch numbers and a few
    common Chinese layouts), unix, unix_ms, or a strptime format; naive times are in `tz`."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("空值")
    if fmt in ("unix", "unix_ms") or (fmt == "iso" and _numeric(value)):
        number = float(value)
        if fmt == "unix_ms" or (fmt == "iso" and abs(number) >= 1e11):
            number /= 1000.0
        return datetime.fromtimestamp(number, tz=timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"类型是 {type(value).__name__}")
    text = value.strip()
    if fmt == "iso":
        try:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            dt = None
            for layout in FALLBACK_FORMATS:
                try:
                    dt = datetime.strptime(text, layout)
                    break
                except ValueError:
                    continue
            if dt is None:
                raise ValueError("不是 ISO 8601 时间") from None
    else:
        dt = datetime.strptime(text, fmt)
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def format_time(dt: datetime, fmt: str, tz: ZoneInfo) -> str | int:
    if fmt == "unix":
        return int(dt.timestamp())
    if fmt == "unix_ms":
        return int(dt.timestamp() * 1000)
    local = dt.astimezone(tz)
    return local.isoformat(timespec="seconds") if fmt == "iso" else local.strftime(fmt)


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and bool(re.fullmatch(r"\s*\d{9,13}(\.\d+)?\s*", value))


def _same(a: Any, b: Any) -> bool:
    """Liberal equality for codes: 0 == "0", 200 == "200"."""
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or str(a).lower() == str(b).lower()
    return str(a).strip() == str(b).strip()


def _short(value: Any, limit: int = 200) -> str:
    return printable(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str), limit)


# --------------------------------------------------------------------------- the collector
class HttpJsonCollector(Collector):
    type_name = "http_json"
    title_zh = "通用 JSON 接口"
    options_schema = options_schema("http_json", OPTIONS, required=("url", "items", "fields"))
    default_every = 600.0
    write_actions = frozenset()

    def __init__(self, name: str, cfg: dict[str, Any], tz: ZoneInfo, headers: dict[str, str],
                 params: dict[str, Any], secrets: list[str], client: HttpClient | None = None) -> None:
        super().__init__(name)
        self.cfg = cfg
        self.url: str = cfg["url"]
        self.items_path: str = cfg["items"]
        self.fields: dict[str, Any] = cfg["fields"]
        self.channel: str = cfg.get("channel", "board")
        self.method: str = cfg.get("method", "GET")
        self.body: dict[str, Any] = dict(cfg.get("body") or {})
        self.paging: dict[str, Any] = dict(cfg.get("paging") or {"type": "none"})
        self.kind: str = self.paging["type"]
        self.since: dict[str, Any] | None = cfg.get("since")
        self.ok: dict[str, Any] | None = cfg.get("ok")
        self.time_format: str = cfg.get("time_format", "iso")
        self.tz = tz
        self.order: str = cfg.get("order", "any")
        self.extra: dict[str, str] = dict(cfg.get("extra") or {})
        self.author_default: str = cfg.get("author_default", DEFAULT_AUTHOR)
        self.strip_html: bool | None = cfg.get("strip_html")
        self.headers = headers
        self.params = params
        self.secrets = secrets
        # the HTTP status of the answer being checked: HttpClient also hands 4xx bodies to `check`
        self._answering = threading.local()
        self.client = client or HttpClient(self.url, session=self._session())
        self.future_skew = timedelta(minutes=10)  # as the ingestion boundary (ingest.future_skew_minutes)
        self.clock = utcnow
        defaults = {"page": ("page", 1), "offset": ("offset", 0), "cursor": ("cursor", None), "none": (None, None)}
        self.param, start = defaults[self.kind]
        self.param = self.paging.get("param", self.param)
        self.start = self.paging.get("start", start)
        self.size: int | None = self.paging.get("size", 50 if self.kind in ("page", "offset") else None)
        default_size_param = {"page": "page_size", "offset": "limit"}.get(self.kind)
        self.size_param: str | None = self.paging.get("size_param", default_size_param)
        self.max_pages: int = self.paging.get("max_pages", MAX_PAGES)
        since_field = (self.since or {}).get("field", "created_at")
        self.key_path: Any = self.fields.get(since_field, since_field) if self.since else self.fields["created_at"]

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls, cfg: dict[str, Any], settings: Settings, where: str) -> Collector:
        if "paging" in cfg and (cfg["paging"] is None or cfg["paging"] == "none"):  # `paging: none`
            cfg = {**cfg, "paging": {"type": "none"}}
        return super().from_config(cfg, settings, where)

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings, where: str | None = None,
               env: Mapping[str, str] | None = None) -> "HttpJsonCollector":
        where = where or where_of(cfg)
        env = os.environ if env is None else env
        file = settings.config_file

        def bad(field: str, problem: str) -> ConfigError:
            return ConfigError(file, f"{where}.{field}", problem)

        paging = cfg.get("paging") or {}
        if paging.get("type") == "cursor" and not paging.get("next"):
            raise bad("paging.next", "游标分页（type: cursor）必须写 next：回答里下一页游标的路径，如 data.next_cursor")
        if paging.get("type") == "none" and set(paging) - {"type"}:
            raise bad("paging", "type: none 表示不分页，不要再写其他分页参数")
        tz_name = cfg.get("timezone", settings.timezone)
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise bad("timezone", f"时区 {tz_name!r} 无效，示例 Asia/Shanghai") from None
        fmt = cfg.get("time_format", "iso")
        for field, value in (("time_format", fmt), ("since.format", (cfg.get("since") or {}).get("format"))):
            if value and value not in ("iso", "unix", "unix_ms") and "%" not in value:
                raise bad(field, f"时间格式 {value!r} 无效：应为 iso、unix、unix_ms 或 strptime 格式（如 %Y-%m-%d %H:%M:%S）")
        since = cfg.get("since") or {}
        if since.get("field") and since["field"] not in cfg["fields"] and since["field"] in POST_FIELDS:
            raise bad("since.field", f"fields 里没有映射 {since['field']}；请写条目里的字段路径，如 updated_at")
        for name, value in (cfg.get("body") or {}).items():
            if SECRET_PARAM.search(name):
                raise bad(f"body.{name}", "凭据不能明文写在配置文件里；请改用 token_env 或 params 里的 名称_env")
        params: dict[str, Any] = {}
        secrets: list[str] = []
        for name, value in (cfg.get("params") or {}).items():
            if name.endswith("_env"):
                if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                    raise bad(f"params.{name}", f"应写环境变量名（字母、数字、下划线），实际是 {printable(value, 40)!r}")
                params[name[:-4]] = env_value(env, value, settings, f"{where}.params.{name}")
                secrets.append(params[name[:-4]])
            elif SECRET_PARAM.search(name):
                raise bad(f"params.{name}", f"参数 {name} 是凭据，不能明文写在配置文件里；请写成 {name}_env: 环境变量名，"
                                            "把值放进该环境变量")
            else:
                params[name] = value
        headers, header_secrets = auth_headers(cfg, settings, where, env)
        collector = cls(cfg["name"], cfg, tz, headers, params, secrets + header_secrets)
        collector.future_skew = settings.future_skew
        return collector

    # ------------------------------------------------------------------ polling
    def fetch(self, checkpoint: str | None) -> Batch:
        cp = load_checkpoint(checkpoint, self.name)
        seen: dict[str, float] = {k: float(v) for k, v in (cp.get("seen") or {}).items()
                                  if isinstance(k, str) and isinstance(v, (int, float))}
        floor = cp.get("floor") if isinstance(cp.get("floor"), (int, float)) else None
        bad: list[str] = [b for b in cp.get("bad", []) if isinstance(b, str)]
        sweep = cp.get("sweep") if isinstance(cp.get("sweep"), dict) else None
        if sweep is None:
            sweep = {"pos": cp.get("cursor") if self.kind == "cursor" and cp.get("cursor") else self.start,
                     "since": self._since_value(cp), "n": 0}
        try:
            answer, items = self._page(sweep["pos"], sweep.get("since"))
        except (TransientError, AuthError):
            raise
        except SourceError as exc:
            if self.kind != "cursor" or sweep.get("n") or not cp.get("cursor") or sweep["pos"] != cp["cursor"]:
                raise
            # the cursor kept from the last sweep is refused (expired): start again from the beginning;
            # what was collected already is recognised by its id
            log.warning("收集器 %s：上次保存的游标被拒绝（%s），改为从头读取", self.name, printable(exc, 200))
            sweep = {"pos": self.start, "since": self._since_value(cp), "n": 0}
            answer, items = self._page(sweep["pos"], sweep.get("since"))
        batch = Batch()
        fresh = 0
        newest = (cp.get("w"), cp.get("w_raw"))
        bad_set = set(bad)
        ids: list[str] = []
        for index, item in enumerate(items):
            try:
                post, key_time, key_raw = self._convert(item)
            except ItemError as exc:
                mark = digest(json.dumps(item, ensure_ascii=False, sort_keys=True, default=str))
                if mark not in bad_set:
                    bad_set.add(mark)
                    bad.append(mark)
                    batch.dead.append(self._dead(item, index, sweep["pos"], str(exc)))
                continue
            key = digest(post.source_id)
            ids.append(key)
            t = round(key_time.timestamp(), 3)
            if newest[0] is None or t > newest[0]:
                newest = (t, key_raw)
            previous = seen.get(key)
            if (previous is not None and t <= previous) or (previous is None and floor is not None and t < floor):
                continue  # collected already
            seen[key] = t
            fresh += 1
            batch.posts.append(post)
            batch.originals[id(post)] = _short(item, RAW_CHARS)
        done, next_pos, keep_cursor = self._advance(answer, items, sweep, ids, fresh)
        cp = {"v": 1, "seen": seen, "floor": floor, "bad": bad[-BAD_REMEMBERED:]}
        if newest[0] is not None:
            cp["w"], cp["w_raw"] = newest
        shown = f"第 {sweep['n'] + 1} 页" if self.kind != "none" else "本次"
        batch.note = f"{shown}：{len(items)} 条，新 {fresh} 条"
        if done:
            if keep_cursor:
                cp["cursor"] = keep_cursor
            _evict(cp)
        else:
            cp["sweep"] = {**sweep, "pos": next_pos, "n": sweep["n"] + 1, "sig": _signature(ids),
                           "got": int(sweep.get("got", 0)) + len(items)}
            batch.more = True
        batch.checkpoint = json.dumps(cp, ensure_ascii=False, separators=(",", ":"))
        return batch

    def skip(self, checkpoint: str | None, error: str) -> Batch | None:
        """A page that keeps failing in the middle of a sweep: note it as a dead letter and go on with the
        next one (page and offset paging; a cursor cannot be skipped)."""
        cp = load_checkpoint(checkpoint, self.name)
        sweep = cp.get("sweep")
        if self.kind not in ("page", "offset") or not isinstance(sweep, dict) or not sweep.get("n"):
            return None
        pos = int(sweep["pos"])
        step = 1 if self.kind == "page" else int(self.size or 1)
        cp["sweep"] = {**sweep, "pos": pos + step, "n": sweep["n"] + 1, "sig": ""}
        where = f"{self.param}={pos}"
        dead = DeadLetter(source=f"{self.name}:{self.client.host} {where}", raw="", channel=self.channel,
                          error=f"这一页连续读取失败（{printable(error, 300)}），已跳过；该页的条目可用回填命令补齐")
        return Batch(dead=[dead], checkpoint=json.dumps(cp, ensure_ascii=False, separators=(",", ":")), more=True,
                     note=f"跳过 {where}")

    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Every page from the first, without `since` or a kept cursor; posts in [since, until)."""
        sweep: dict[str, Any] = {"pos": self.start, "since": None, "n": 0}
        while True:
            answer, items = self._page(sweep["pos"], None)
            batch = Batch(note=f"第 {sweep['n'] + 1} 页")
            ids: list[str] = []
            older = 0
            for index, item in enumerate(items):
                try:
                    post, _, _ = self._convert(item)
                except ItemError as exc:
                    batch.dead.append(self._dead(item, index, sweep["pos"], str(exc)))
                    continue
                ids.append(digest(post.source_id))
                if since is not None and post.created_at < since:
                    older += 1
                    continue
                if until is not None and post.created_at >= until:
                    continue
                batch.posts.append(post)
                batch.originals[id(post)] = _short(item, RAW_CHARS)
            yield batch
            done, next_pos, _ = self._advance(answer, items, sweep, ids, len(items) - older if since else len(items))
            if done:
                return
            sweep = {**sweep, "pos": next_pos, "n": sweep["n"] + 1, "sig": _signature(ids),
                     "got": int(sweep.get("got", 0)) + len(items)}

    # ------------------------------------------------------------------ one page
    def _since_value(self, cp: dict[str, Any]) -> Any:
        if not self.since or cp.get("w") is None:
            return None
        fmt, overlap = self.since.get("format"), float(self.since.get("overlap", 0))
        if fmt or overlap or cp.get("w_raw") is None:
            at = datetime.fromtimestamp(float(cp["w"]), tz=timezone.utc) - timedelta(seconds=overlap)
            return format_time(at, fmt or self.time_format, self.tz)
        return cp["w_raw"]  # the API's own value, written as it wrote it

    def _page(self, pos: Any, since: Any) -> tuple[Any, list[Any]]:
        url, dynamic = self.url, {}
        if since is not None and self.since:
            dynamic[self.since["param"]] = since
        if self.kind in ("page", "offset"):
            dynamic[self.param] = pos
            if self.size_param and self.size:
                dynamic[self.size_param] = self.size
        elif self.kind == "cursor":
            if isinstance(pos, str) and (pos.startswith(("http://", "https://")) or pos.startswith("/")):
                url, dynamic = urljoin(self.url, pos), {}  # a next link: it carries every parameter itself
            elif pos not in (None, ""):
                dynamic[self.param] = pos
            if self.size_param and self.size and url == self.url:
                dynamic[self.size_param] = self.size
        try:
            if self.method == "POST":
                answer = self.client.request("POST", url, params=self.params or None, json={**self.body, **dynamic},
                                             headers=self.headers, check=self._check)
            else:
                params = {**self.params, **dynamic} if url == self.url else None
                answer = self.client.request("GET", url, params=params, headers=self.headers, check=self._check)
        except SourceError as exc:
            raise scrub(exc, self.secrets) from None
        return answer, self._items(answer)

    def _session(self) -> requests.Session:
        session = requests.Session()

        def remember(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
            self._answering.status = resp.status_code

        session.hooks["response"].append(remember)
        return session

    def _check(self, answer: Any) -> None:
        """The configured `ok` test (`code == 0`): a failure becomes the error type its code says.
        The body of an HTTP error (4xx/5xx) decides only through codes listed in the config; otherwise
        the HTTP status does (401: credentials, 429: rate limit with its Retry-After, 5xx: retry)."""
        if not self.ok:
            return
        value = get_path(answer, self.ok["field"])
        expected = self.ok.get("equals", 0)
        allowed = expected if isinstance(expected, list) else [expected]
        if value is not _MISSING and any(_same(value, e) for e in allowed):
            return
        if getattr(self._answering, "status", 200) >= 400 and not any(
                value is not _MISSING and any(_same(value, c) for c in self.ok.get(k, []))
                for k in ("auth_codes", "rate_limit_codes", "retry_codes")):
            return
        raise self._platform_error(answer, value)

    def _platform_error(self, answer: Any, code: Any) -> SourceError:
        ok = self.ok or {}
        message = get_path(answer, ok["message"]) if ok.get("message") else _MISSING
        if message is _MISSING and isinstance(answer, dict):
            message = next((answer[k] for k in MESSAGE_KEYS if k in answer and answer[k] not in (None, "")), _MISSING)
        shown = "（回答里没有该字段）" if code is _MISSING else _short(code, 40)
        field = ok.get("field", "code")
        text = f"{self.client.host} 返回错误（{field}={shown}）"
        if message is not _MISSING:
            text += f"：{_short(message, 200)}"

        def has(codes: list[Any]) -> bool:
            return code is not _MISSING and any(_same(code, c) for c in codes)

        # the configured codes, besides the HTTP-like ones many APIs echo in their body
        if has([401, 403, *ok.get("auth_codes", [])]):
            return AuthError(text + "；请检查令牌（token_env 等环境变量）是否有效、是否有该接口的权限", code=code)
        if has([429, *ok.get("rate_limit_codes", [])]):
            return RateLimited(text + "；调用太频繁，稍后自动重试", code=code)
        if has([500, 502, 503, 504, *ok.get("retry_codes", [])]):
            return TransientError(text, code=code)
        return SourceError(text, code=code)

    def _items(self, answer: Any) -> list[Any]:
        items = get_path(answer, self.items_path)
        if items is None or items == {}:
            return []
        if isinstance(items, list):
            return items
        if isinstance(items, dict) and all(isinstance(v, dict) for v in items.values()):
            return list(items.values())  # {"15": {...}, "16": {...}}: an id-keyed object (PHP arrays)
        if items is _MISSING and isinstance(answer, dict):
            code = next((answer[k] for k in CODE_KEYS if k in answer), _MISSING)
            if code is not _MISSING and not self.ok:
                if not any(_same(code, v) for v in (0, 200, "ok", "success", True)):
                    raise self._platform_error(answer, code)
        what = "找不到" if items is _MISSING else f"不是数组（是 {type(items).__name__}）"
        raise SourceError(f"{self.client.host} 的回答里 items 路径 {self.items_path} {what}；"
                          f"回答开头：{_short(answer, 200)}（请检查配置项 items）")

    def _advance(self, answer: Any, items: list[Any], sweep: dict[str, Any], ids: list[str],
                 fresh: int) -> tuple[bool, Any, str | None]:
        """(sweep finished?, next position, cursor to keep for the next sweep)."""
        if self.kind == "none":
            return True, None, None
        if not items:  # the end; a cursor API's current cursor is where the next sweep goes on from
            at = sweep["pos"]
            return True, None, at if self.kind == "cursor" and at not in (None, "") and at != self.start else None
        if sweep.get("sig") and sweep["sig"] == _signature(ids):
            log.warning("收集器 %s：第 %d 页与上一页完全相同，接口可能忽略了分页参数 %s；本轮到此为止",
                        self.name, sweep["n"] + 1, self.param)
            return True, None, None
        if sweep["n"] + 1 >= self.max_pages:
            log.warning("收集器 %s：本轮已读 %d 页（paging.max_pages），下次从头再读", self.name, sweep["n"] + 1)
            return True, None, None
        if self.order == "newest_first" and fresh == 0:
            return True, None, None  # everything after this page is older still
        more = self._flag(answer, self.paging.get("more"), MORE_KEYS)
        if self.kind == "cursor":
            following = get_path(answer, self.paging["next"])
            if following is _MISSING or following in (None, "") or following is False:
                return True, None, None
            following = str(following) if not isinstance(following, str) else following
            if more is False or following == sweep["pos"]:
                return True, None, following
            return False, following, None
        step_pos = int(sweep["pos"]) + (1 if self.kind == "page" else len(items))
        if more is not None:
            return (not more), step_pos, None
        total = self._flag(answer, self.paging.get("total"), TOTAL_KEYS, number=True)
        if total is not None:
            # items read in this sweep so far: right even when the API serves fewer per page than `size`
            covered = int(sweep.get("got", 0)) + len(items)
            return covered >= total, step_pos, None
        return len(items) < int(self.size or 0), step_pos, None

    def _flag(self, answer: Any, path: str | None, keys: tuple[str, ...], number: bool = False) -> Any:
        """A `more` / `total` value from its configured path, else from a sibling of the items array."""
        if path:
            value = get_path(answer, path)
        else:
            parent_path = self.items_path.rsplit(".", 1)[0] if "." in self.items_path.strip("$.") else ""
            parent = get_path(answer, parent_path) if parent_path else answer
            value = next((parent[k] for k in keys if isinstance(parent, dict) and k in parent), _MISSING)
        if value is _MISSING or value is None:
            return None
        if number:
            try:
                return int(value) if not isinstance(value, bool) else None
            except (TypeError, ValueError):
                return None
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    # ------------------------------------------------------------------ one item
    def _value(self, item: dict[str, Any], field: str, source_id: str = "") -> Any:
        """The item's value for a post field: the first present path, or a `=literal`."""
        spec = self.fields.get(field)
        if spec is None:
            return _MISSING
        paths = spec if isinstance(spec, list) else [spec]
        if field == "text":
            parts = [self._one(item, p, source_id) for p in paths]
            texts = [self._text(v) for v in parts if v is not _MISSING and v not in (None, "")]
            return "\n".join(t for t in texts if t) if texts else _MISSING
        for p in paths:
            value = self._one(item, p, source_id)
            if value is not _MISSING and value not in (None, ""):
                return value
        return _MISSING

    @staticmethod
    def _one(item: dict[str, Any], path: str, source_id: str) -> Any:
        if path.startswith("="):
            return path[1:].replace("{source_id}", source_id)
        return get_path(item, path)

    def _text(self, value: Any) -> str:
        if isinstance(value, (dict, list)) or isinstance(value, bool):
            raise ItemError(f"text 对应的字段应为文字，实际是 {type(value).__name__}")
        text = str(value)
        if self.strip_html or (self.strip_html is None and looks_like_html(text)):
            return html_to_text(text)
        return text.strip()

    def _convert(self, item: Any) -> tuple[Post, datetime, Any]:
        """(the post, its key time, the raw `since` value) — or ItemError with the reason."""
        if not isinstance(item, dict):
            raise ItemError(f"条目应是 JSON 对象，实际是 {type(item).__name__}")
        missing = [f"{f}（{_spec(self.fields[f])}）" for f in REQUIRED_FIELDS
                   if self._value(item, f, "") is _MISSING]
        if missing:
            raise ItemError(f"条目缺少字段：{'、'.join(missing)}")
        source_id = _identifier(self._value(item, "source_id"), "source_id")
        text = self._value(item, "text", source_id)
        created_raw = self._value(item, "created_at", source_id)
        created = self._time(created_raw, "created_at")
        key_time, key_raw = created, created_raw
        if self.since:
            raw_key = self._one(item, self.key_path, source_id) if isinstance(self.key_path, str) else \
                next((v for v in (get_path(item, p) for p in self.key_path) if v not in (_MISSING, None, "")), _MISSING)
            if raw_key not in (_MISSING, None, ""):
                key_time, key_raw = self._time(raw_key, f"since.field（{_spec(self.key_path)}）"), raw_key
        horizon = self.clock() + self.future_skew
        for name, value, when in (("created_at", created_raw, created), ("since.field", key_raw, key_time)):
            # refused here, before it can move the `since` position into the future and stall collection
            if when > horizon:
                raise ItemError(f"{name} 的值 {_short(value, 60)} 晚于当前时间（允许的时钟误差 "
                                f"{self.future_skew.total_seconds() / 60:g} 分钟，配置项 ingest.future_skew_minutes）；"
                                "请检查来源的时钟或 timezone 配置，条目改正后会重新读取")
        values: dict[str, str | None] = {}
        for field in ("author", "author_name", "thread", "reply_to", "url"):
            value = self._value(item, field, source_id)
            values[field] = None if value is _MISSING else _identifier(value, field)
        url = values["url"]
        if url and not url.startswith(("http://", "https://")):
            url = urljoin(self.url, url)
        raw: dict[str, Any] = {}
        for name, path in self.extra.items():
            value = get_path(item, path)
            if value is not _MISSING:
                raw[name] = value
        raw["_source"] = f"{self.name}:{self.client.host} #{printable(source_id, 100)}"
        post = Post(channel=self.channel, source_id=source_id, author=values["author"] or self.author_default,
                    text=text, created_at=created, thread=values["thread"], url=url, reply_to=values["reply_to"],
                    author_name=values["author_name"], raw=raw)
        return post, key_time, key_raw

    def _time(self, value: Any, field: str) -> datetime:
        try:
            return parse_time(value, self.time_format, self.tz)
        except (ValueError, OverflowError, OSError) as exc:
            example = {"iso": "2026-03-01T09:30:00+08:00 或 2026-03-01 09:30:00", "unix": "1772328600",
                       "unix_ms": "1772328600000"}.get(self.time_format, self.time_format)
            raise ItemError(f"{field} 的值 {_short(value, 60)} 无法按 time_format={self.time_format} 读取"
                            f"（{exc}），应形如 {example}") from None

    def _dead(self, item: Any, index: int, pos: Any, reason: str) -> DeadLetter:
        where = f" {self.param}={pos}" if self.kind != "none" and pos is not None and not str(pos).startswith("http") else ""
        ident = get_path(item, self.fields["source_id"]) if isinstance(item, dict) and \
            isinstance(self.fields["source_id"], str) else _MISSING
        label = f"#{printable(ident, 60)}" if ident not in (_MISSING, None, "") else f"第 {index + 1} 条"
        return DeadLetter(source=f"{self.name}:{self.client.host}{where} {label}", raw=_short(item, RAW_CHARS),
                          error=reason, channel=self.channel)


# --------------------------------------------------------------------------- helpers
def _identifier(value: Any, field: str) -> str:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise ItemError(f"{field} 对应的字段应为文字或数字，实际是 {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _spec(spec: Any) -> str:
    return "、".join(spec) if isinstance(spec, list) else str(spec)


def _signature(ids: list[str]) -> str:
    return digest("\n".join(ids)) if ids else ""


def _evict(cp: dict[str, Any]) -> None:
    """Keep the newest REMEMBER ids; the floor rises to the newest time forgotten."""
    seen: dict[str, float] = cp["seen"]
    if len(seen) <= REMEMBER:
        return
    ordered = sorted(seen.items(), key=lambda kv: kv[1], reverse=True)
    kept, dropped = ordered[:REMEMBER], ordered[REMEMBER:]
    floor = max(t for _, t in dropped)
    cp["floor"] = max(floor, cp.get("floor") or floor)
    cp["seen"] = dict(kept)

