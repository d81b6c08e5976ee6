"""Read-only API clients, the API's posts feed and the report mail outbox on a search cluster (the
SQLite reference: store/sqlite/apitokens.py and reportmail.py).

Indices (P = the store's index prefix):
- P-api-tokens    one document per API client, id = its token's SHA-256 (the key every API request
                  presents: read by id, in real time). Its name is claimed first by a guard document
                  `api-token-name:<digest of the name>` in P-meta (op_type=create) naming the token,
                  so of two admins adding the same name at once exactly one succeeds.
- P-report-mails  one document per (period, first day, user), id = a digest of the three, created
                  with op_type=create: enqueuing a period twice, from one process or two at once,
                  queues each mail once. The store id (`ReportMail.id`) comes from the "report_mails"
                  sequence; `report_mail_done`/`_failed` find the document by it.

Writes without transactions:
- `add_api_token`: the name guard, then the audit event and the token in one bulk. A guard whose
  token never came (the process was killed between the two) is another add in flight while younger
  than the store's `write_lease` (the name is taken), and free after that (taken over with
  if_seq_no). A token written after its guard was taken over like that is removed again (checked).
- Revoking, touching a token and finishing a mail are read-modify-writes with if_seq_no/
  if_primary_term, retried when they lose a race (store/search/people.py `_rewrite`): a revocation
  is never undone by a concurrent `touch_api_token`, and two attempts both count.
- `touch_api_token` does not refresh (a token is read by id, in real time); the list of clients
  shows its last use within the index's refresh interval (1 s).

The posts feed (`posts_page`) reads the posts' read alias in (created_at, id) order with search_after.
The cluster keeps times to the millisecond: posts created within one millisecond are ordered by id
(SQLite orders them by the microsecond first), and a cursor continues exactly after the post it
names in that order, so a client paging through sees every post once. The `since` bound is checked
again on the exact time read back, as is the due time of report mails.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable, Sequence

from core.domain import Analysis, AuditEvent, Post, utcnow
from store.base import ApiToken, ReportMail
from store.codec import parse_ts, ts
from store.search import bodies
from store.search.client import ClusterWriteError, Conflict
from store.search.people import RewriteMixin, digest_id, epoch_ms, item_ok, reason, scan

GUARD_ATTEMPTS = 20

API_TOKEN_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "name": {"type": "keyword"},
        "scopes": {"type": "keyword"},
        "created_at": {"type": "date"},
        "created_by": {"type": "keyword"},
        "revoked_at": {"type": "date"},
        "last_used_at": {"type": "date"},
    },
}

REPORT_MAIL_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "period": {"type": "keyword"},  # daily | weekly | monthly
        "start": {"type": "keyword"},  # first local day of the period, YYYY-MM-DD
        "username": {"type": "keyword"},
        "state": {"type": "keyword"},  # pending | failing | sent | dropped
        "attempts": {"type": "integer"},
        "next_attempt_at": {"type": "date"},
        "last_error": {"type": "text", "index": False},
        "sent_at": {"type": "date"},
    },
}


def _token(s: dict[str, Any]) -> ApiToken:
    return ApiToken(name=s["name"], scopes=list(s.get("scopes") or []), created_at=parse_ts(s["created_at"]),  # type: ignore[arg-type]
                    created_by=s["created_by"], revoked_at=parse_ts(s.get("revoked_at")),
                    last_used_at=parse_ts(s.get("last_used_at")), id=int(s["id"]))


def _mail(s: dict[str, Any]) -> ReportMail:
    return ReportMail(period=s["period"], start=date.fromisoformat(s["start"]), username=s["username"],
                      state=s["state"], attempts=int(s["attempts"]), next_attempt_at=parse_ts(s["next_attempt_at"]),
                      last_error=s.get("last_error") or "", sent_at=parse_ts(s.get("sent_at")), id=int(s["id"]))


class AccessMixin(RewriteMixin):
    INDICES = {
        "api-tokens": bodies.index_body(API_TOKEN_MAPPING),
        "report-mails": bodies.index_body(REPORT_MAIL_MAPPING),
    }

    names: bodies.Names
    backend: str
    write_lease: Any  # timedelta (SearchStore)
    _allocate: Callable[[str, int], list[int]]

    # ------------------------------------------------------------------ API clients
    def _name_guard(self, name: str) -> str:
        return f"api-token-name:{digest_id(name)}"

    def _claim_name(self, name: str, token_hash: str) -> None:
        """Take the name's guard for `token_hash`; ValueError when another client has the name."""
        taken = ValueError(f"已有名为“{name}”的 API 客户端")
        guard = self._name_guard(name)
        doc = {"value": token_hash, "updated_at": ts(utcnow())}
        for _ in range(GUARD_ATTEMPTS):
            got = self.client.get(self.names.meta, guard)
            try:
                if got is None:
                    self.client.put(self.names.meta, guard, doc, create=True)
                    return
                if self.client.get(self.names.of("api-tokens"), got["_source"]["value"]) is not None:
                    raise taken
                if utcnow() - parse_ts(got["_source"]["updated_at"]) < self.write_lease:  # type: ignore[operator]
                    raise taken  # another add of this name is writing its token right now
                # an add that was killed before writing its token: the name is free again
                self.client.put(self.names.meta, guard, doc, if_seq_no=got["_seq_no"],
                                if_primary_term=got["_primary_term"])
                return
            except Conflict:
                continue  # another add moved the guard meanwhile: look again
        raise ClusterWriteError(f"API 客户端名称“{name}”的并发写入冲突过多，请稍后重试")

    def add_api_token(self, token: ApiToken, token_hash: str, audit: AuditEvent) -> ApiToken:
        index = self.names.of("api-tokens")
        self._claim_name(token.name, token_hash)
        [token_id] = self._allocate("api_tokens", 1)
        doc = {"id": token_id, "name": token.name, "scopes": sorted(token.scopes), "created_at": ts(token.created_at),
               "created_by": token.created_by}
        [item] = self._write_audited([({"create": {"_index": index, "_id": token_hash}}, doc)], [audit], "API 客户端")
        if item.get("status") == 409 and not self._own(index, token_hash, token_id):
            # the same token under another name (a 256-bit accident): free the name again
            self._bulk([({"delete": {"_index": self.names.meta, "_id": self._name_guard(token.name)}}, None)])
            raise ValueError("这个令牌已被另一个 API 客户端使用，请重新生成")
        guard = self.client.get(self.names.meta, self._name_guard(token.name))
        if guard is None or guard["_source"]["value"] != token_hash:  # our guard was taken over (see above)
            self._bulk([({"delete": {"_index": index, "_id": token_hash}}, None)], refresh=True)
            raise ValueError(f"已有名为“{token.name}”的 API 客户端")
        token.id = token_id
        return token

    def api_token(self, token_hash: str) -> ApiToken | None:
        got = self.client.get(self.names.of("api-tokens"), token_hash)
        return _token(got["_source"]) if got else None

    def api_tokens(self) -> list[ApiToken]:
        body = {"query": {"match_all": {}}, "sort": [{"name": "asc"}]}
        return [_token(h["_source"]) for h in scan(self.client, self.names.of("api-tokens"), body)]

    def revoke_api_token(self, name: str, audit: AuditEvent) -> bool:
        guard = self.client.get(self.names.meta, self._name_guard(name))
        if guard is None:
            return False

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None or current.get("revoked_at"):
                return None  # no active client of that name
            return {**current, "revoked_at": ts(audit.at)}

        return self._rewrite(self.names.of("api-tokens"), guard["_source"]["value"], change, [audit],
                             what="API 客户端") is not None

    def touch_api_token(self, token_hash: str, at: datetime) -> None:
        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if current is None else {**current, "last_used_at": ts(at)}

        self._rewrite(self.names.of("api-tokens"), token_hash, change, refresh=False, what="API 客户端")

    # ------------------------------------------------------------------ the API's posts feed
    def posts_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int
                   ) -> list[tuple[Post, Analysis | None]]:
        from store.search.store import _analysis, _post

        if limit <= 0:
            return []
        lower = ts(since)
        body: dict[str, Any] = {"query": {"range": {"created_at": {"gte": lower}}},
                                "sort": [{"created_at": "asc"}, {"id": "asc"}]}
        cursor: list[Any] | None = [epoch_ms(after[0]), after[1]] if after is not None else None
        out: list[tuple[Post, Analysis | None]] = []
        while len(out) < limit:
            request = {**body, "size": limit - len(out)}
            if cursor is not None:
                request["search_after"] = cursor
            hits = self.client.search(self.names.posts, request)["hits"]["hits"]
            for h in hits:
                s = h["_source"]
                if s["created_at"] >= lower:  # the exact time (the index keeps milliseconds)
                    out.append((_post(s), _analysis(s) if "analysis" in s else None))
            if len(hits) < request["size"]:
                break
            cursor = hits[-1]["sort"]
        return out

    # ------------------------------------------------------------------ the report mail outbox
    def enqueue_report_mails(self, period: str, start: date, usernames: Sequence[str], at: datetime) -> int:
        index = self.names.of("report-mails")
        names = list(dict.fromkeys(usernames))
        ids = {u: digest_id(period, start.isoformat(), u) for u in names}
        present = {d["_id"] for d in self.client.mget(index, list(ids.values())) if d.get("found")}
        todo = [u for u in names if ids[u] not in present]
        actions = [({"create": {"_index": index, "_id": ids[u]}},
                    {"id": i, "period": period, "start": start.isoformat(), "username": u, "state": "pending",
                     "attempts": 0, "next_attempt_at": ts(at), "last_error": ""})
                   for u, i in zip(todo, self._allocate("report_mails", len(todo)))]
        items = self._bulk(actions, refresh=True)  # type: ignore[arg-type]
        failed = [item for item in items if not item_ok(item, 409)]  # 409: queued by another process meanwhile
        if failed:
            raise ClusterWriteError(f"报告邮件无法加入发送队列（{reason(failed[0])}），请检查集群后重试")
        new = 0
        for (action, doc), item in zip(actions, items):
            if item_ok(item) or self._own(index, action["create"]["_id"], doc["id"]):  # a 409 may be our own retry
                new += 1
        return new

    def report_mails_exist(self, period: str, start: date) -> bool:
        return self.client.count(self.names.of("report-mails"), {"query": {"bool": {"filter": [
            {"term": {"period": period}}, {"term": {"start": start.isoformat()}}]}}}) > 0

    def due_report_mails(self, now: datetime, limit: int = 20) -> list[ReportMail]:
        if limit <= 0:
            return []
        upper = ts(now)
        body = {"query": {"bool": {"filter": [{"terms": {"state": ["pending", "failing"]}},
                                              {"range": {"next_attempt_at": {"lte": upper}}}]}},
                "sort": [{"next_attempt_at": "asc"}, {"id": "asc"}]}
        out = []
        for h in scan(self.client, self.names.of("report-mails"), body, page=limit + 5):
            if h["_source"]["next_attempt_at"] <= upper:  # the exact time (the index keeps milliseconds)
                out.append(_mail(h["_source"]))
                if len(out) == limit:
                    break
        return out

    def report_mails(self, period: str, start: date) -> list[ReportMail]:
        body = {"query": {"bool": {"filter": [{"term": {"period": period}}, {"term": {"start": start.isoformat()}}]}},
                "sort": [{"username": "asc"}]}
        return [_mail(h["_source"]) for h in scan(self.client, self.names.of("report-mails"), body)]

    def _change_mail(self, mail_id: int, fields: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        index = self.names.of("report-mails")
        hits = self.client.search(index, {"size": 1, "_source": False, "query": {"term": {"id": mail_id}}})["hits"]["hits"]
        if not hits:
            return  # as SQLite's UPDATE of no row

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if current is None else {**current, **fields(current), "attempts": int(current["attempts"]) + 1}

        self._rewrite(index, hits[0]["_id"], change, what="报告邮件")

    def report_mail_done(self, mail_id: int, state: str, at: datetime, note: str = "") -> None:
        """`state`: sent, or dropped (nothing to retry: unsubscribed, no address, refused address)."""
        self._change_mail(mail_id, lambda _: {"state": state, "sent_at": ts(at), "last_error": note[:2000]})

    def report_mail_failed(self, mail_id: int, error: str, next_attempt_at: datetime) -> None:
        self._change_mail(mail_id, lambda _: {"state": "failing", "last_error": error[:2000],
                                              "next_attempt_at": ts(next_attempt_at)})
