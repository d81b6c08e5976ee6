"""Users, dashboard sessions, the debunk registry, saved filters and releasing quarantined posts on a
search cluster (the SQLite reference: store/sqlite/people.py and sessions.py).

Indices (P = the store's index prefix):
- P-users          one document per user, id = a digest of the username, so a username is unique:
                   `add_user` creates it with op_type=create and of two admins creating the same
                   user at once exactly one succeeds (the other gets the ValueError SQLite gives).
                   The store id (`User.id`) comes from the "users" sequence.
- P-sessions       one document per sign-in, id = the token's SHA-256 (read in real time by id).
- P-debunks        one document per entry, id = its store id (the "debunks" sequence).
- P-filter-sets    one document per (user, page) holding that page's saved filters, id = a digest of
                   the two: the per-page limit and the unique name (SQLite's UNIQUE (username, page,
                   name)) are then checked and kept in one conditional write.

How each write stays correct without transactions (a process killed half-way, two writers at once):
- Changes to a user, a debunk, a session or a filter are read-modify-writes with
  if_seq_no/if_primary_term and a bounded retry (`_rewrite`): a concurrent change (another admin,
  a session touched by the next request) is read again and merged, never overwritten.
- A change and its audit event go in one bulk request, event first (store/search/audit.py). A retry
  after a lost race sends the same event again (created under the same id, so it is not written
  twice). Only when the race is lost to a change that makes ours unnecessary (two admins changing
  the same thing) does the event stay without its change; a change is never left without its event.
- `set_password` ends the user's sessions before and after changing the hash: a crash half-way
  leaves the user signed out (never a stolen session alive with a new password), and a session
  opened with the old password meanwhile is ended by the second pass. Deactivation (`update_user`)
  likewise; a session left by a crash is refused anyway (dashboard/auth.py checks `active`).
- `save_filter` and `delete_filter` rewrite the page's one filter-set document: of saves racing past
  the limit, the first to write wins and the others read the full set again and are refused (a
  check-then-undo across separate documents could refuse every one of them).
- Writes a following search depends on (the user list, a user's open sessions, saved filters,
  debunks) refresh the index; `touch_session` does not (sessions are read by id, in real time).

Times are stored as the store's UTC text (`codec.ts`); the cluster compares them at millisecond
precision, so bounds that must be exact are checked again on the text read back.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Sequence

from core.domain import AuditEvent, Debunk, Level, Role, User, utcnow
from store.base import SavedFilter, SessionRecord
from store.codec import dumps, parse_ts, ts
from store.search import bodies
from store.search.client import ClusterWriteError, SearchClient
from store.sqlite.people import _LIST_FIELDS, PROFILE_FIELDS  # the same profile fields on every backend

Action = tuple[dict[str, Any], dict[str, Any] | None]
REWRITE_ATTEMPTS = 50  # optimistic-concurrency retries of one document before giving up
PAGE = 1000  # documents per request when reading "all" (search_after)
OK = (200, 201)

_NOT_INDEXED = {"type": "keyword", "index": False, "doc_values": False}

USER_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "username": {"type": "keyword"},
        "role": {"type": "keyword"},
        "password_hash": _NOT_INDEXED,
        "active": {"type": "boolean"},
        "email": _NOT_INDEXED,
        "wecom_userid": _NOT_INDEXED,
        "dingtalk_userid": _NOT_INDEXED,
        "feishu_userid": _NOT_INDEXED,
        "topics": {"type": "keyword"},
        "channels": {"type": "keyword"},
        "min_level": {"type": "keyword"},
        "reports": {"type": "keyword"},
        "review_channels": {"type": "keyword"},
    },
}

SESSION_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "username": {"type": "keyword"},
        "created_at": {"type": "date"},
        "last_seen": {"type": "date"},
        "expires_at": {"type": "date"},
        "revoked_at": {"type": "date"},  # absent while the session is open
        "net": _NOT_INDEXED,
    },
}

DEBUNK_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "claim": {"type": "text", "index": False},
        "clarification": {"type": "text", "index": False},
        "keywords": _NOT_INDEXED,  # JSON text
        "source_url": _NOT_INDEXED,
        "active": {"type": "boolean"},
        "created_by": {"type": "keyword"},
        "created_at": {"type": "date"},
    },
}

FILTER_SET_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "username": {"type": "keyword"},
        "page": {"type": "keyword"},
        "ids": {"type": "long"},  # the filters' store ids, for delete_filter's lookup
        "filters": {"type": "object", "enabled": False},  # [{id, name, query, created_at}], by name
    },
}



# ---- helpers shared with store/search/access.py ------------------------------------------------------

def digest_id(*parts: str) -> str:
    """A document id made of text parts (ids are limited to 512 bytes; the parts are not)."""
    joined = "\x00".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def scan(client: SearchClient, index: str, body: dict[str, Any], page: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every hit of `body` in its order, a page at a time (search_after; `body["sort"]` must end in
    a unique field), so no result set stops at the cluster's 10,000-hit window."""
    after: list[Any] | None = None
    while True:
        request = {**body, "size": page}
        if after is not None:
            request["search_after"] = after
        hits = client.search(index, request)["hits"]["hits"]
        yield from hits
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


def epoch_ms(at: datetime) -> int:
    """A time as the cluster's date sort value (epoch milliseconds, truncated like the index does)."""
    return (at - datetime(1970, 1, 1, tzinfo=at.tzinfo)) // timedelta(milliseconds=1)


def item_ok(item: dict[str, Any], *also: int) -> bool:
    return item.get("status") in (*OK, *also)


def reason(item: dict[str, Any] | None) -> str:
    if not item:
        return "无应答"
    error = item.get("error")
    if isinstance(error, dict):
        return f"{item.get('status')} {error.get('type')}: {str(error.get('reason'))[:300]}"
    return f"{item.get('status')} {str(error or '')[:300]}"


class RewriteMixin:
    """Read-modify-write of one document with its audit events (see the module docstring)."""

    client: SearchClient
    _bulk: Callable[..., list[dict[str, Any]]]
    _audit_actions: Callable[[Sequence[AuditEvent]], list[Action]]

    def _rewrite(self, index: str, doc_id: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
                 audit: Sequence[AuditEvent] = (), refresh: bool = True, what: str = "记录") -> dict[str, Any] | None:
        """Write `change(current source or None)` in place of the document (created when it was
        absent), unless it returns None; with the audit events first, in the same bulk. A write
        that lost a race is read and changed again. Returns what was written (None: nothing)."""
        audit_actions: list[Action] | None = None
        for _ in range(REWRITE_ATTEMPTS):
            got = self.client.get(index, doc_id)  # real time
            new = change(dict(got["_source"]) if got else None)
            if new is None:
                return None
            if audit and audit_actions is None:
                audit_actions = self._audit_actions(audit)  # ids fixed once: a retry re-sends the same events
            if got is None:
                action: dict[str, Any] = {"create": {"_index": index, "_id": doc_id}}
            else:
                action = {"index": {"_index": index, "_id": doc_id, "if_seq_no": got["_seq_no"],
                                    "if_primary_term": got["_primary_term"]}}
            items = self._bulk([*(audit_actions or []), (action, new)], refresh=refresh)
            for item in items[:-1]:
                if not item_ok(item, 409):  # 409: this event was written by an earlier attempt
                    raise ClusterWriteError(f"审计记录无法写入搜索集群（{reason(item)}），请检查集群后重试")
            if items[-1].get("status") == 409:
                continue  # changed (or created) meanwhile: read it again
            if not item_ok(items[-1]):
                raise ClusterWriteError(f"{what}无法写入搜索集群（{reason(items[-1])}），请检查集群后重试")
            return new
        raise ClusterWriteError(f"{what}的并发修改冲突过多，请稍后重试")

    def _own(self, index: str, doc_id: str, store_id: int) -> bool:
        """Whether a create answered 409 met our own document (a first attempt answered 429 that
        landed): it carries the store id we allocated."""
        got = self.client.get(index, doc_id)
        return got is not None and int(got["_source"].get("id", -1)) == store_id

    def _write_audited(self, actions: list[Action], audit: Sequence[AuditEvent], what: str,
                       refresh: bool = True) -> list[dict[str, Any]]:
        """The audit events, then `actions`, in one bulk; raises if an event or a change is refused
        (a 409 of a change is returned for the caller to judge)."""
        items = self._bulk([*self._audit_actions(audit), *actions], refresh=refresh)
        for item in items[:len(audit)]:
            if not item_ok(item, 409):  # 409: our own event, landed on an attempt answered 429 (ids are unique)
                raise ClusterWriteError(f"审计记录无法写入搜索集群（{reason(item)}），请检查集群后重试")
        changes = items[len(audit):]
        for item in changes:
            if not item_ok(item, 409):
                raise ClusterWriteError(f"{what}无法写入搜索集群（{reason(item)}），请检查集群后重试")
        return changes


# ---- documents <-> domain objects --------------------------------------------------------------------

def _user_doc(user: User, user_id: int) -> dict[str, Any]:
    return {"id": user_id, "username": user.username, "role": user.role.value, "password_hash": user.password_hash,
            "active": bool(user.active), "email": user.email, "wecom_userid": user.wecom_userid,
            "dingtalk_userid": user.dingtalk_userid, "feishu_userid": user.feishu_userid,
            "topics": list(user.topics), "channels": list(user.channels), "min_level": user.min_level.value,
            "reports": list(user.reports), "review_channels": list(user.review_channels)}


def _user(s: dict[str, Any]) -> User:
    return User(username=s["username"], role=Role(s["role"]), password_hash=s["password_hash"],
                active=bool(s["active"]), id=int(s["id"]), email=s.get("email") or "",
                wecom_userid=s.get("wecom_userid") or "", dingtalk_userid=s.get("dingtalk_userid") or "",
                feishu_userid=s.get("feishu_userid") or "", topics=list(s.get("topics") or []),
                channels=list(s.get("channels") or []), min_level=Level(s.get("min_level") or "yellow"),
                reports=list(s.get("reports") or []), review_channels=list(s.get("review_channels") or []))


def _profile_value(name: str, value: Any) -> Any:
    if name in _LIST_FIELDS:
        return json.loads(dumps(list(value)))  # what SQLite's JSON text reads back as
    if name == "min_level":
        return Level(value).value
    return str(value)


def _session_doc(r: SessionRecord) -> dict[str, Any]:
    doc = {"username": r.username, "created_at": ts(r.created_at), "last_seen": ts(r.last_seen),
           "expires_at": ts(r.expires_at), "net": r.net}
    if r.revoked_at is not None:
        doc["revoked_at"] = ts(r.revoked_at)
    return doc


def _session(token_hash: str, s: dict[str, Any]) -> SessionRecord:
    return SessionRecord(token_hash=token_hash, username=s["username"], created_at=parse_ts(s["created_at"]),  # type: ignore[arg-type]
                         last_seen=parse_ts(s["last_seen"]), expires_at=parse_ts(s["expires_at"]),  # type: ignore[arg-type]
                         revoked_at=parse_ts(s.get("revoked_at")), net=s.get("net") or "")


def _debunk_doc(d: Debunk, debunk_id: int) -> dict[str, Any]:
    return {"id": debunk_id, "claim": d.claim, "clarification": d.clarification, "keywords": dumps(d.keywords),
            "source_url": d.source_url, "active": bool(d.active), "created_by": d.created_by,
            "created_at": ts(d.created_at)}


def _debunk(s: dict[str, Any]) -> Debunk:
    return Debunk(claim=s["claim"], clarification=s["clarification"], keywords=json.loads(s["keywords"]),
                  source_url=s.get("source_url") or "", active=bool(s["active"]), created_by=s["created_by"],
                  created_at=parse_ts(s["created_at"]), id=int(s["id"]))  # type: ignore[arg-type]


def _filter_set(s: dict[str, Any], filters: list[dict[str, Any]]) -> dict[str, Any]:
    """A page's filter-set document with these filters (and their ids, indexed for delete_filter)."""
    return {**s, "filters": filters, "ids": [int(x["id"]) for x in filters]}


def _filters(s: dict[str, Any]) -> list[SavedFilter]:
    return [SavedFilter(s["username"], s["page"], f["name"], f["query"], int(f["id"])) for f in s["filters"]]


class PeopleMixin(RewriteMixin):
    INDICES = {
        "users": bodies.index_body(USER_MAPPING),
        "sessions": bodies.index_body(SESSION_MAPPING),
        "debunks": bodies.index_body(DEBUNK_MAPPING),
        "filter-sets": bodies.index_body(FILTER_SET_MAPPING),
    }

    names: bodies.Names
    _allocate: Callable[[str, int], list[int]]

    # ------------------------------------------------------------------ users
    def add_user(self, user: User) -> User:
        index, doc_id = self.names.of("users"), digest_id(user.username)
        taken = ValueError(f"用户名 {user.username} 已存在")
        if self.client.get(index, doc_id) is not None:
            raise taken
        [user_id] = self._allocate("users", 1)
        [item] = self._bulk([({"create": {"_index": index, "_id": doc_id}}, _user_doc(user, user_id))], refresh=True)
        if item.get("status") == 409:
            if not self._own(index, doc_id, user_id):
                raise taken  # another admin created the same user meanwhile
        elif not item_ok(item):
            raise ClusterWriteError(f"用户无法写入搜索集群（{reason(item)}），请检查集群后重试")
        user.id = user_id
        return user

    def get_user(self, username: str) -> User | None:
        got = self.client.get(self.names.of("users"), digest_id(username))
        return _user(got["_source"]) if got else None

    def users(self) -> list[User]:
        body = {"query": {"match_all": {}}, "sort": [{"username": "asc"}]}  # byte order, as SQLite's BINARY
        return [_user(h["_source"]) for h in scan(self.client, self.names.of("users"), body)]

    def _change_user(self, username: str, fields: dict[str, Any], audit: Sequence[AuditEvent] = ()) -> None:
        def change(current: dict[str, Any] | None) -> dict[str, Any]:
            if current is None:
                raise ValueError(f"用户 {username} 不存在")
            return {**current, **fields}

        self._rewrite(self.names.of("users"), digest_id(username), change, audit, what="用户")

    def set_password(self, username: str, password_hash: str) -> None:
        """Ends every open session of the user before and after the change (see the module docstring)."""
        if self.get_user(username) is None:
            raise ValueError(f"用户 {username} 不存在")
        self.revoke_user_sessions(username, utcnow())
        self._change_user(username, {"password_hash": password_hash})
        self.revoke_user_sessions(username, utcnow())

    def update_user(self, username: str, audit: AuditEvent, *, role: Role | None = None,
                    active: bool | None = None) -> None:
        fields: dict[str, Any] = {}
        if role is not None:
            fields["role"] = role.value
        if active is not None:
            fields["active"] = bool(active)
        if active is False:  # a deactivated account is signed out everywhere
            if self.get_user(username) is None:
                raise ValueError(f"用户 {username} 不存在")
            self.revoke_user_sessions(username, audit.at)
        self._change_user(username, fields, [audit])
        if active is False:
            self.revoke_user_sessions(username, audit.at)

    def update_profile(self, username: str, audit: AuditEvent, **fields: Any) -> None:
        """Change a user's contact routes and subscriptions (PROFILE_FIELDS) and append the audit event."""
        unknown = set(fields) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"unknown profile fields: {sorted(unknown)}")
        if not fields:
            return
        self._change_user(username, {k: _profile_value(k, v) for k, v in fields.items()}, [audit])

    # ------------------------------------------------------------------ sessions
    def create_session(self, record: SessionRecord) -> None:
        index = self.names.of("sessions")
        self.client.put(index, record.token_hash, _session_doc(record), refresh=True)
        # keep the index small: sessions that ended more than a day ago are of no use (a page per sign-in)
        cutoff = ts(record.created_at - timedelta(days=1))
        body = {"size": PAGE, "_source": False, "query": {"bool": {"should": [
            {"range": {"expires_at": {"lt": cutoff}}}, {"range": {"revoked_at": {"lt": cutoff}}}],
            "minimum_should_match": 1}}}
        old = [h["_id"] for h in self.client.search(index, body)["hits"]["hits"]]
        if old:
            self._bulk([({"delete": {"_index": index, "_id": i}}, None) for i in old], refresh=True)

    def get_session(self, token_hash: str) -> SessionRecord | None:
        got = self.client.get(self.names.of("sessions"), token_hash)
        return _session(token_hash, got["_source"]) if got else None

    def touch_session(self, token_hash: str, at: datetime) -> None:
        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None or current["last_seen"] >= ts(at):
                return None
            return {**current, "last_seen": ts(at)}

        self._rewrite(self.names.of("sessions"), token_hash, change, refresh=False, what="登录会话")

    def revoke_session(self, token_hash: str, at: datetime) -> None:
        self._revoke(token_hash, at)

    def _revoke(self, token_hash: str, at: datetime) -> bool:
        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None or current.get("revoked_at"):
                return None
            return {**current, "revoked_at": ts(at)}

        return self._rewrite(self.names.of("sessions"), token_hash, change, what="登录会话") is not None

    def revoke_user_sessions(self, username: str, at: datetime) -> int:
        index = self.names.of("sessions")
        body = {"size": PAGE, "seq_no_primary_term": True, "sort": [{"created_at": "asc"}],
                "query": {"bool": {"filter": [{"term": {"username": username}}],
                                   "must_not": [{"exists": {"field": "revoked_at"}}]}}}
        revoked, idle = 0, 0
        while True:  # a page of open sessions at a time; the revoked ones leave the query
            hits = self.client.search(index, body)["hits"]["hits"]
            if not hits:
                return revoked
            actions: list[Action] = [
                ({"index": {"_index": index, "_id": h["_id"], "if_seq_no": h["_seq_no"],
                            "if_primary_term": h["_primary_term"]}}, {**h["_source"], "revoked_at": ts(at)})
                for h in hits]
            progress = 0
            for h, item in zip(hits, self._bulk(actions, refresh=True)):
                if item_ok(item):
                    progress += 1
                elif item.get("status") == 409:  # touched or revoked meanwhile: read it again, by id
                    progress += int(self._revoke(h["_id"], at))
                elif item.get("status") != 404:
                    raise ClusterWriteError(f"登录会话无法写入搜索集群（{reason(item)}），请检查集群后重试")
            revoked += progress
            # hits another process revoked (its refresh not seen yet) make no progress: look a few times more
            idle = 0 if progress else idle + 1
            if idle >= 5:
                return revoked

    # ------------------------------------------------------------------ the quarantine
    def release_quarantine(self, stage: str, post_id: int) -> bool:
        index = self.names.quarantine
        body = {"_source": False, "sort": [{"version": "asc"}],
                "query": {"bool": {"filter": [{"term": {"stage": stage}}, {"term": {"post_id": post_id}}]}}}
        ids = [h["_id"] for h in scan(self.client, index, body)]
        if not ids:
            return False
        items = self._bulk([({"delete": {"_index": index, "_id": i}}, None) for i in ids], refresh=True)
        failed = [item for item in items if not item_ok(item, 404)]
        if failed:
            raise ClusterWriteError(f"隔离记录无法删除（{reason(failed[0])}），请检查集群后重试")
        return any(item.get("status") == 200 for item in items)

    # ------------------------------------------------------------------ debunk registry
    def debunks(self, active_only: bool = True) -> list[Debunk]:
        query: dict[str, Any] = {"term": {"active": True}} if active_only else {"match_all": {}}
        body = {"query": query, "sort": [{"id": "asc"}]}
        return [_debunk(h["_source"]) for h in scan(self.client, self.names.of("debunks"), body)]

    def get_debunk(self, debunk_id: int) -> Debunk | None:
        got = self.client.get(self.names.of("debunks"), str(debunk_id))
        return _debunk(got["_source"]) if got else None

    def save_debunk(self, debunk: Debunk, audit: AuditEvent) -> Debunk:
        index = self.names.of("debunks")
        if debunk.id is None:
            [debunk_id] = self._allocate("debunks", 1)
            audit.target = audit.target or f"debunk:{debunk_id}"
            self._write_audited([({"create": {"_index": index, "_id": str(debunk_id)}},
                                  _debunk_doc(debunk, debunk_id))], [audit], "辟谣条目")
            debunk.id = debunk_id
            return debunk
        audit.target = audit.target or f"debunk:{debunk.id}"
        if self.client.get(index, str(debunk.id)) is None:
            self.audit(audit)  # type: ignore[attr-defined]  # as SQLite: an update of no row, still audited
            return debunk
        fields = {"claim": debunk.claim, "clarification": debunk.clarification, "keywords": dumps(debunk.keywords),
                  "source_url": debunk.source_url, "active": bool(debunk.active)}

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if current is None else {**current, **fields}  # created_by/created_at stay

        if self._rewrite(index, str(debunk.id), change, [audit], what="辟谣条目") is None:
            self.audit(audit)  # type: ignore[attr-defined]  # removed meanwhile: the attempt is still audited
        return debunk

    # ------------------------------------------------------------------ saved filters
    def saved_filters(self, username: str, page: str) -> list[SavedFilter]:
        got = self.client.get(self.names.of("filter-sets"), digest_id(username, page))  # real time
        return _filters(got["_source"]) if got else []

    def save_filter(self, f: SavedFilter, limit: int) -> SavedFilter:
        new_id: list[int] = []  # allocated once, kept across a lost race

        def change(current: dict[str, Any] | None) -> dict[str, Any]:
            s = current or {"username": f.username, "page": f.page, "ids": [], "filters": []}
            same = next((x for x in s["filters"] if x["name"] == f.name), None)
            if same is not None:  # the same name again: replace its query
                f.id = int(same["id"])
                return _filter_set(s, [{**x, "query": f.query} if x is same else x for x in s["filters"]])
            if len(s["filters"]) >= limit:
                raise ValueError(f"最多保存 {limit} 个筛选，请先删除不用的")
            if not new_id:
                new_id.extend(self._allocate("saved_filters", 1))
            f.id = new_id[0]
            added = {"id": f.id, "name": f.name, "query": f.query, "created_at": ts(utcnow())}
            return _filter_set(s, sorted([*s["filters"], added], key=lambda x: x["name"]))

        self._rewrite(self.names.of("filter-sets"), digest_id(f.username, f.page), change, what="筛选")
        return f

    def delete_filter(self, username: str, filter_id: int) -> bool:
        index = self.names.of("filter-sets")
        body = {"size": 10, "_source": False, "query": {"bool": {"filter": [
            {"term": {"ids": filter_id}}, {"term": {"username": username}}]}}}
        hits = self.client.search(index, body)["hits"]["hits"]
        removed = False
        for h in hits:
            def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
                nonlocal removed
                if current is None or filter_id not in current["ids"]:
                    return None  # deleted meanwhile
                removed = True
                return _filter_set(current, [x for x in current["filters"] if int(x["id"]) != filter_id])
            self._rewrite(index, h["_id"], change, what="筛选")
        return removed
