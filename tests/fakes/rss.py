"""A local feed server (RSS 2.0 or Atom 1.0) for the `rss` channel tests.

What it reproduces, and from which documentation:

- RSS 2.0 (RSS Advisory Board, "RSS 2.0 Specification", rssboard.org/rss-specification):
  `<rss version="2.0"><channel>` with the required `title`, `link`, `description`; each `<item>` has
  `title`, `link`, `description` (HTML, entity-escaped), `pubDate` in RFC 822 format, `author` (an
  email address with the name in parentheses), `category`, and `<guid>`, a string the publisher
  keeps unique, `isPermaLink="false"` when it is not a URL. The full text may come in
  `<content:encoded>` (the RSS content module). Items with no guid, or no guid and no link, occur in
  the wild and are served when asked for.
- Atom 1.0 (RFC 4287): `<feed xmlns="http://www.w3.org/2005/Atom">` with `id`, `title`, `updated`;
  each `<entry>` has exactly one `id` and one `updated` (§4.1.2), optionally `published`, `author`
  (`name`, `uri`), `link rel="alternate"`, `summary` and `content type="html"`.
- Feed paging (RFC 5005 §3, "Paged Feeds"): with `page_size`, `?page=N` serves one page and links the
  next with `<link rel="next">` (Atom) / `<atom:link rel="next">` (RSS).
- Conditional GET (RFC 9110 §13.1.2, §13.1.3; feedparser's documentation "ETag and Last-Modified
  Headers"): every 200 answer carries an `ETag` (a hash of the body) and a `Last-Modified`; a request
  whose `If-None-Match` matches the current ETag gets `304 Not Modified` with no body, and
  `If-Modified-Since` is only looked at when there is no `If-None-Match` (304 when the feed has not
  changed since that date).
- Feeds keep only their newest N entries (`keep`), re-order entries (`reorder`), re-publish an old
  entry (`bump`), and carry entries without any date.
- Failures, scripted per request (`fail`): HTTP 500 (transient), 429 with `Retry-After` (RFC 6585
  §4), 401 when a `token` is required and the `Authorization: Bearer` header is missing or wrong, and
  an HTML sign-in page answered with 200 (what a portal behind single sign-on does).
"""
from __future__ import annotations

import email.utils
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LocalPlatform


@dataclass
class Entry:
    id: str | None  # guid / atom:id; None: the item has none
    title: str
    html: str  # description / content (HTML)
    published: datetime | None
    link: str | None = None
    author: str | None = "提案人 <staff@example.edu.cn>"
    updated: datetime | None = None
    category: str | None = None
    full: str | None = None  # content:encoded (RSS) — the full text besides the description


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class FeedServer(LocalPlatform):
    """`with FeedServer("rss") as feed:` — `feed.url`, `feed.entries` (newest first), `feed.requests`."""

    def __init__(self, kind: str = "rss", token: str | None = None, page_size: int | None = None,
                 etags: bool = True, last_modified: bool = True) -> None:
        self.kind = kind
        self.token = token
        self.page_size = page_size
        self.etags = etags
        self.last_modified = last_modified
        self.entries: list[Entry] = []
        self.changed = datetime(2026, 3, 1, tzinfo=timezone.utc)
        self.fail: list[Answer] = []  # answered before the feed, one per request
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    # ---------------------------------------------------------------- control
    @property
    def url(self) -> str:
        """The feed's address."""
        return f"{super().url}/feed.xml"

    def add(self, entry: Entry) -> None:
        with self.lock:
            self.entries.insert(0, entry)
            self._touch()

    def keep(self, n: int) -> None:
        """The feed shows only its newest n entries (old ones drop off)."""
        with self.lock:
            del self.entries[n:]
            self._touch()

    def reorder(self) -> None:
        with self.lock:
            self.entries.reverse()
            self._touch()

    def bump(self, entry_id: str) -> None:
        """An old entry comes back to the top (sticky post, re-published)."""
        with self.lock:
            e = next(e for e in self.entries if e.id == entry_id)
            self.entries.remove(e)
            self.entries.insert(0, e)
            self._touch()

    def _touch(self) -> None:
        self.changed = max(self.changed.replace(microsecond=0), datetime.now(timezone.utc).replace(microsecond=0))

    # ---------------------------------------------------------------- documents
    def document(self, page: int | None) -> bytes:
        with self.lock:
            entries = list(self.entries)
        next_page = None
        if self.page_size:
            page = page or 1
            start = (page - 1) * self.page_size
            if start + self.page_size < len(entries):
                next_page = page + 1
            entries = entries[start:start + self.page_size]
        return (self._atom if self.kind == "atom" else self._rss)(entries, next_page)

    def _next(self, next_page: int | None, prefix: str) -> str:
        if not next_page:
            return ""
        return f'<{prefix}link rel="next" href="/feed.xml?page={next_page}"/>'

    def _rss(self, entries: list[Entry], next_page: int | None) -> bytes:
        items = []
        for e in entries:
            parts = [f"<title>{escape(e.title)}</title>"]
            if e.link:
                parts.append(f"<link>{escape(e.link)}</link>")
            if e.id:
                permalink = "true" if e.id.startswith("http") else "false"
                parts.append(f'<guid isPermaLink="{permalink}">{escape(e.id)}</guid>')
            parts.append(f"<description>{escape(e.html)}</description>")
            if e.full:
                parts.append(f"<content:encoded><![CDATA[{e.full}]]></content:encoded>")
            if e.published:
                parts.append(f"<pubDate>{email.utils.format_datetime(e.published)}</pubDate>")
            if e.author:
                name, _, mail = e.author.partition(" <")
                parts.append(f"<author>{escape(mail.rstrip('>') or 'nobody@example.edu.cn')} ({escape(name)})</author>")
            if e.category:
                parts.append(f"<category>{escape(e.category)}</category>")
            items.append("<item>" + "".join(parts) + "</item>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
                "<title>校工会意见箱</title><link>https://union.example.edu.cn/board</link>"
                "<description>教职工意见与建议</description>"
                f"{self._next(next_page, 'atom:')}{''.join(items)}</channel></rss>").encode("utf-8")

    def _atom(self, entries: list[Entry], next_page: int | None) -> bytes:
        out = []
        for e in entries:
            updated = e.updated or e.published or self.changed
            parts = [f"<id>{escape(e.id or '')}</id>", f'<title type="text">{escape(e.title)}</title>',
                     f"<updated>{updated.isoformat()}</updated>"]
            if e.published:
                parts.append(f"<published>{e.published.isoformat()}</published>")
            if e.link:
                parts.append(f'<link rel="alternate" href="{escape(e.link)}"/>')
            if e.author:
                name, _, mail = e.author.partition(" <")
                parts.append(f"<author><name>{escape(name)}</name>"
                             f"<uri>https://union.example.edu.cn/u/{hashlib.md5(name.encode()).hexdigest()[:8]}</uri></author>")
            parts.append(f'<summary type="html">{escape(e.html)}</summary>')
            if e.full:
                parts.append(f'<content type="html">{escape(e.full)}</content>')
            if e.category:
                parts.append(f'<category term="{escape(e.category)}"/>')
            out.append("<entry>" + "".join(parts) + "</entry>")
        return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                "<id>urn:uuid:5a1f6c1e-union-portal</id><title>工会门户 · 通知公告</title>"
                f"<updated>{self.changed.isoformat()}</updated>"
                f'<link rel="self" href="/feed.xml"/>{self._next(next_page, "")}'
                f"{''.join(out)}</feed>").encode("utf-8")

    # ---------------------------------------------------------------- HTTP
    def answer(self, path: str, headers: dict[str, str]) -> Answer:
        self.requests.append((path, headers))
        if self.fail:
            return self.fail.pop(0)
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return Answer(401, {"WWW-Authenticate": 'Bearer realm="portal"'}, b"unauthorized")
        query = parse_qs(urlsplit(path).query)
        page = int(query["page"][0]) if "page" in query else None
        body = self.document(page)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = email.utils.format_datetime(self.changed, usegmt=True)
        out = {"Content-Type": "application/rss+xml; charset=utf-8" if self.kind == "rss"
               else "application/atom+xml; charset=utf-8"}
        if self.etags:
            out["ETag"] = etag
        if self.last_modified:
            out["Last-Modified"] = modified
        inm, ims = headers.get("if-none-match"), headers.get("if-modified-since")
        if inm is not None and self.etags:
            if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                return Answer(304, {k: v for k, v in out.items() if k != "Content-Type"})
        elif ims is not None and self.last_modified:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                since = None
            if since is not None and self.changed <= since:
                return Answer(304, {k: v for k, v in out.items() if k != "Content-Type"})
        return Answer(200, out, body)

    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        ans = self.answer(h.path, {k.lower(): v for k, v in h.headers.items()})
        h.send_response(ans.status)
        for k, v in ans.headers.items():
            h.send_header(k, v)
        if ans.status != 304:
            h.send_header("Content-Length", str(len(ans.body)))
        h.end_headers()
        if ans.status != 304:
            h.wfile.write(ans.body)


LOGIN_PAGE = Answer(200, {"Content-Type": "text/html; charset=utf-8"},
                    "<!DOCTYPE html><html><head><title>统一身份认证</title></head><body><form>登录</form></body></html>"
                    .encode("utf-8"))
