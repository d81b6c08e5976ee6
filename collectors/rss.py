"""`rss`: an RSS 2.0 / Atom feed (the union portal, the suggestion board), polled with conditional GET.

Each poll sends the feed's last `ETag` (If-None-Match) and `Last-Modified` (If-Modified-Since); a
304 answer means nothing changed and costs one small request. A 200 answer is parsed by feedparser
(RSS 0.9x/1.0/2.0, Atom 0.3/1.0, broken XML read leniently).

Identity: the entry's id (RSS `<guid>`, Atom `<id>`), else its link, else a hash of title + date.
Text: the title and the content (or summary) with HTML turned into plain text. Time: published, else
updated; a feed without times gets the time the entry was first seen (`raw.time_guessed`).

Exactly once: the checkpoint keeps the ids already collected (as 16-hex digests): every id in the
latest feed plus up to `SEEN_LIMIT` older ones. Feeds drop old entries, re-order them, bump a sticky
entry back to the top or insert a back-dated one; none of that matters, since only an id never seen
is new. The checkpoint (with ETag and Last-Modified) is saved with the posts in one transaction.
A feed paged per RFC 5005 (`<link rel="next">`) is followed while a whole page is new (more new
entries than the feed shows at once); `backfill` follows `next` / `prev-archive` links to the end.

Also home to the helpers the `http_json` channel shares: secret headers from environment variables,
scrubbing secrets out of error texts, HTML to plain text, short digests of ids.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin

import feedparser

from collectors.base import Batch, Collector, options_schema
from collectors.http import HttpClient, SourceError
from core.config import Settings
from core.domain import Post, utcnow
from core.errors import ConfigError
from core.text import printable
from store.base import DeadLetter

log = logging.getLogger("sentinel.collectors")

SEEN_LIMIT = 2000  # ids remembered besides those in the current feed
FOLLOW_PAGES = 10  # RFC 5005 pages followed in one poll while every entry on a page is new
BACKFILL_PAGES = 1000
CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# header names whose values are credentials: never accepted as plain text in the config file
SECRET_HEADER = re.compile(r"(authorization|cookie|token|secret|passw|api[-_]?key|^x-.*key$|signature)", re.I)

# options shared with http_json: static headers, and secrets only through environment variables
AUTH_OPTIONS: dict[str, Any] = {
    "headers": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
    "headers_env": {"type": "object", "additionalProperties": {"type": "string", "pattern": ENV_NAME}},
    "token_env": {"type": "string", "pattern": ENV_NAME},
    "token_header": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9-]+$"},
    "token_prefix": {"type": "string"},
}


# --------------------------------------------------------------------------- shared helpers
def where_of(cfg: Mapping[str, Any]) -> str:
    return f"channels（{cfg.get('name', '?')}）"


def env_value(env: Mapping[str, str], var: str, settings: Settings, field: str) -> str:
    """The value of environment variable `var` (named by config option `field`), or ConfigError."""
    value = env.get(var)
    if not value:
        raise ConfigError(settings.config_file, field,
                          f"环境变量 {var} 未设置或为空；请先设置它（例如 export {var}=…）再启动")
    return value


def auth_headers(cfg: Mapping[str, Any], settings: Settings, where: str,
                 env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The request headers a channel sends, and the secret values among them (to scrub from errors).

    `headers`: plain, non-secret values (a key ending in `_env` names an environment variable holding
    that header's value instead); `headers_env`: header -> variable name; `token_env` (+ `token_header`,
    default Authorization, and `token_prefix`, default "Bearer ")."""
    headers: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in (cfg.get("headers") or {}).items():
        if key.endswith("_env"):
            name = key[:-4]
            if not re.fullmatch(ENV_NAME, str(value)):
                raise ConfigError(settings.config_file, f"{where}.headers.{key}",
                                  f"应写环境变量名（字母、数字、下划线），实际是 {printable(value, 40)!r}")
            headers[name] = env_value(env, str(value), settings, f"{where}.headers.{key}")
            secrets.append(headers[name])
            continue
        if SECRET_HEADER.search(key):
            raise ConfigError(settings.config_file, f"{where}.headers.{key}",
                              f"请求头 {key} 是凭据，不能明文写在配置文件里；请改用 token_env，"
                              f"或写成 {key}_env: 环境变量名，把值放进该环境变量")
        headers[key] = str(value)
    for key, var in (cfg.get("headers_env") or {}).items():
        headers[key] = env_value(env, var, settings, f"{where}.headers_env.{key}")
        secrets.append(headers[key])
    if cfg.get("token_env"):
        token = env_value(env, cfg["token_env"], settings, f"{where}.token_env")
        prefix = cfg.get("token_prefix", "Bearer ")
        headers[cfg.get("token_header") or "Authorization"] = f"{prefix}{token}"
        secrets.append(token)
    return headers, secrets


def scrub(exc: SourceError, secrets: list[str]) -> SourceError:
    """The same error with every secret value replaced by ***, so no log line or /healthz shows one."""
    text = str(exc)
    hidden = text
    for secret in secrets:
        if secret and len(secret) >= 4:
            hidden = hidden.replace(secret, "***")
    if hidden == text:
        return exc
    clean = type(exc)(hidden, code=exc.code, retry_after=exc.retry_after)
    return clean


def digest(value: str) -> str:
    """A short stable digest of an id (what checkpoints remember)."""
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section",
          "article", "table", "ul", "ol", "hr", "dd", "dt", "figure", "figcaption", "header", "footer"}
_SKIP = {"script", "style", "head", "noscript", "template", "iframe", "object", "svg"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "img" and not self.skipping:
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, block elements as line breaks,
    scripts and styles left out, spaces collapsed."""
    if not html:
        return ""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # HTMLParser is lenient; keep the text rather than fail on a freak fragment
        text = re.sub(r"<[^>]*>", " ", html)
    lines = [" ".join(line.replace("\u00a0", " ").split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


HTML_HINT = re.compile(r"<(p|br|div|span|a|img|strong|b|i|em|u|ul|ol|li|h[1-6]|table|tr|td|font|section|blockquote)\b[^>]*>"
                       r"|&(nbsp|lt|gt|amp|quot|#\d+);", re.I)


def looks_like_html(text: str) -> bool:
    return bool(HTML_HINT.search(text))


def load_checkpoint(checkpoint: str | None, name: str) -> dict[str, Any]:
    if not checkpoint:
        return {}
    try:
        cp = json.loads(checkpoint)
    except ValueError:
        cp = None
    if not isinstance(cp, dict):
        log.warning("收集器 %s 的断点无法读取，将从头读取（已收集的帖子不会重复入库）", name)
        return {}
    return cp


# --------------------------------------------------------------------------- the collector
class RssCollector(Collector):
    type_name = "rss"
    title_zh = "RSS/Atom 订阅源"
    options_schema = options_schema("rss", {
        "url": {"type": "string", "pattern": r"^https?://\S+$"},
        "channel": {"type": "string", "pattern": CHANNEL_PATTERN},
        **AUTH_OPTIONS,
    }, required=("url",))
    default_every = 600.0
    write_actions = frozenset()

    def __init__(self, name: str, url: str, channel: str = "board", headers: dict[str, str] | None = None,
                 secrets: list[str] | None = None, client: HttpClient | None = None) -> None:
        super().__init__(name)
        self.url = url
        self.channel = channel
        self.headers = dict(headers or {})
        self.secrets = list(secrets or [])
        self.client = client or HttpClient(url)

    @classmethod
    def create(cls, cfg: dict[str, Any], settings: Settings, where: str | None = None,
               env: Mapping[str, str] | None = None) -> "RssCollector":
        headers, secrets = auth_headers(cfg, settings, where or where_of(cfg), os.environ if env is None else env)
        return cls(cfg["name"], cfg["url"], cfg.get("channel", "board"), headers, secrets)

    # ------------------------------------------------------------------ polling
    def fetch(self, checkpoint: str | None) -> Batch:
        cp = load_checkpoint(checkpoint, self.name)
        seen: list[str] = [s for s in cp.get("seen", []) if isinstance(s, str)]
        known = set(seen)
        conditional: dict[str, str] = {}
        if isinstance(cp.get("etag"), str):
            conditional["If-None-Match"] = cp["etag"]
        if isinstance(cp.get("modified"), str):
            conditional["If-Modified-Since"] = cp["modified"]
        resp = self._get(self.url, conditional)
        if resp.status_code == 304:
            return Batch(note="订阅源未更新（HTTP 304）")
        feed = self._parse(resp, self.url)
        now = utcnow()
        entries = _entries(feed)
        current = [key for key, _ in entries]
        fresh = [(key, entry) for key, entry in entries if key not in known]
        # RFC 5005 paged feed: a page that is new from top to bottom may hide more new entries behind it
        page, page_url, page_entries, followed = feed, self.url, entries, {self.url}
        while known and page_entries and all(key not in known for key, _ in page_entries) \
                and len(followed) <= FOLLOW_PAGES:
            next_url = _link(page, "next", page_url)
            if not next_url or next_url in followed:
                break
            followed.add(next_url)
            page, page_url = self._parse(self._get(next_url, {}), next_url), next_url
            page_entries = _entries(page)
            taken = {key for key, _ in fresh}
            fresh += [(key, entry) for key, entry in page_entries if key not in known and key not in taken]
        batch = self._posts(fresh, feed, now)
        keep = list(dict.fromkeys([*current, *(key for key, _ in fresh), *seen]))
        new_cp: dict[str, Any] = {"v": 1, "seen": keep[:len(current) + SEEN_LIMIT]}
        etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        if etag:
            new_cp["etag"] = etag
        if modified:
            new_cp["modified"] = modified
        title = printable(html_to_text(feed.feed.get("title") or "") or self.url, 60)
        batch.checkpoint = json.dumps(new_cp, ensure_ascii=False)
        batch.note = f"{title}：新条目 {len(batch.posts)} 条"
        return batch

    def backfill(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """The feed and every older page it links to (RFC 5005 `next` / `prev-archive`), page by page."""
        url: str | None = self.url
        visited: set[str] = set()
        while url and url not in visited and len(visited) < BACKFILL_PAGES:
            visited.add(url)
            feed = self._parse(self._get(url, {}), url)
            entries = [(k, e) for k, e in _entries(feed) if _in_range(_entry_time(e), since, until)]
            batch = self._posts(entries, feed, utcnow())
            batch.note = printable(url, 100)
            yield batch
            url = _link(feed, "next", url) or _link(feed, "prev-archive", url)

    # ------------------------------------------------------------------ helpers
    def _get(self, url: str, conditional: dict[str, str]) -> Any:
        try:
            return self.client.request("GET", url, headers={
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5",
                **self.headers, **conditional}, raw=True)
        except SourceError as exc:
            raise scrub(exc, self.secrets) from None

    def _parse(self, resp: Any, url: str) -> Any:
        # the encoding from Content-Type; no Content-Location, so ids stay as the feed wrote them (links
        # are made absolute against the feed's address in _post)
        headers = {k.lower(): v for k, v in resp.headers.items() if k.lower() in ("content-type", "content-language")}
        # a stream, never bytes or str: feedparser would open a body that looks like a file name
        feed = feedparser.parse(io.BytesIO(resp.content), response_headers=headers)
        feed["_base"] = resp.url or url
        if not feed.get("version") and not feed.entries:
            problem = printable(str(feed.get("bozo_exception") or ""), 120)
            raise SourceError(f"{self.client.host} 返回的内容不是 RSS/Atom 订阅源（HTTP {resp.status_code}，"
                              f"{resp.headers.get('Content-Type', '未知类型')}{'，' + problem if problem else ''}）："
                              "请检查 url 是否是订阅源地址，或它是否跳转到了登录页")
        return feed

    def _posts(self, entries: list[tuple[str, Any]], feed: Any, now: datetime) -> Batch:
        """A batch with a post per entry (an entry that cannot become one is a dead letter)."""
        title = html_to_text(feed.feed.get("title") or "") or None
        batch = Batch()
        for _, entry in entries:
            try:
                post = self._post(entry, title, feed, now)
            except Exception as exc:  # a freak value (a link that is no URL…) must not block the feed
                batch.dead.append(DeadLetter(source=f"{self.name}:{printable(_identity(entry), 200)}",
                                             raw=_original(entry), channel=self.channel,
                                             error=f"条目无法读取（{type(exc).__name__}：{printable(exc, 200)}）"))
                continue
            batch.posts.append(post)
            batch.originals[id(post)] = _original(entry)
        return batch

    def _post(self, entry: Any, feed_title: str | None, feed: Any, now: datetime) -> Post:
        source_id = _identity(entry)
        heading = _plain(entry.get("title") or "", entry.get("title_detail"))
        body = ""
        contents = entry.get("content") or []
        if contents:
            body = "\n".join(_plain(c.get("value") or "", c) for c in contents)
        if not body.strip():
            body = _plain(entry.get("summary") or "", entry.get("summary_detail"))
        text = body if heading and body.startswith(heading) else "\n".join(p for p in (heading, body) if p)
        detail = entry.get("author_detail") or feed.feed.get("author_detail") or {}
        name = (detail.get("name") or entry.get("author") or feed.feed.get("author") or "").strip() or None
        email = (detail.get("email") or "").strip().lower()
        # a stable, pseudonymous id: the author's profile URI, else a digest of the email, else the name
        author = (detail.get("href") or "").strip() or (f"email:{digest(email)}" if email else "") or name or "anonymous"
        when = _entry_time(entry)
        raw: dict[str, Any] = {"feed": self.url, "entry_id": source_id}
        tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
        if tags:
            raw["tags"] = tags[:20]
        if when is None:
            when = now  # the feed gives no time: the time the entry was first seen
            raw["time_guessed"] = True
        return Post(channel=self.channel, source_id=source_id, author=author[:256], text=text, created_at=when,
                    thread=feed_title, url=_absolute(entry.get("link"), feed.get("_base")), author_name=name, raw=raw)


# --------------------------------------------------------------------------- entries
def _identity(entry: Any) -> str:
    """RSS guid / Atom id, else the link, else a hash of title + date."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    basis = f"{entry.get('title') or ''}\n{dict.get(entry, 'published') or dict.get(entry, 'updated') or ''}"
    return "sha1:" + hashlib.sha1(basis.encode("utf-8", "surrogatepass")).hexdigest()


def _entries(feed: Any) -> list[tuple[str, Any]]:
    """(digest of the id, entry) for each entry of a parsed feed, one per id, in feed order."""
    return _dedupe((digest(_identity(entry)), entry) for entry in feed.entries)


def _dedupe(entries: Any) -> list[tuple[str, Any]]:
    """One entry per id; several with the same id are the same entry (RFC 4287 §4.1.1): the latest wins."""
    best: dict[str, Any] = {}
    for key, entry in entries:
        old = best.get(key)
        if old is None or (_updated(entry) or datetime.min.replace(tzinfo=timezone.utc)) > \
                (_updated(old) or datetime.min.replace(tzinfo=timezone.utc)):
            best[key] = entry
    return list(best.items())


def _struct(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=timezone.utc)  # feedparser's 9-tuples are UTC
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_time(entry: Any) -> datetime | None:
    # dict.get: FeedParserDict.get maps a missing `updated` to `published` with a DeprecationWarning
    return _struct(dict.get(entry, "published_parsed")) or _struct(dict.get(entry, "updated_parsed")) or \
        _struct(dict.get(entry, "created_parsed"))


def _updated(entry: Any) -> datetime | None:
    return _struct(dict.get(entry, "updated_parsed")) or _entry_time(entry)


def _plain(value: str, detail: Any) -> str:
    kind = (detail or {}).get("type") or ""
    if "html" in kind or looks_like_html(value):
        return html_to_text(value)
    return "\n".join(" ".join(line.split()) for line in value.splitlines() if line.strip())


def _absolute(link: Any, base: Any) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    return urljoin(base, link.strip()) if isinstance(base, str) and base else link.strip()


def _link(feed: Any, rel: str, base: str) -> str | None:
    for link in feed.feed.get("links") or []:
        if link.get("rel") == rel and link.get("href"):
            return urljoin(base, link["href"])
    return None


def _in_range(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if when is None:
        return True
    return (since is None or when >= since) and (until is None or when < until)


def _original(entry: Any) -> str:
    record = {k: dict.get(entry, k) for k in ("id", "link", "title", "published", "updated", "author")
              if dict.get(entry, k)}
    summary = entry.get("summary")
    if summary:
        record["summary"] = summary[:2000]
    return json.dumps(record, ensure_ascii=False)[:4000]
