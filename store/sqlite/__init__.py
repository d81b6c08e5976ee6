"""The default store: one SQLite file (WAL) under the data directory.

Split by area; each mixin holds the SQL for one part of the contract in store/base.py:
posts.py (ingestion, posts, analyses, search, rules cursor), review.py (flags, decisions, cases,
alerts, outbox), people.py (users, audit, debunk registry), sessions.py (dashboard sessions, the quarantine),
stats.py (dashboard aggregates, adding those of deleted posts), apitokens.py (API clients and the posts,
alert and decision feeds), reportmail.py (the report mail outbox), rollups.py (the officers' dashboard: daily
counts and words kept as analyses are saved, drill-down, moderation and cases), privacy.py (retention,
erasure on request, the aggregates of deleted posts), leases.py (which instance does the work).
"""
from __future__ import annotations

from store.sqlite.apitokens import ApiTokensMixin
from store.sqlite.connection import Database
from store.sqlite.leases import LeasesMixin
from store.sqlite.people import PeopleMixin
from store.sqlite.posts import PostsMixin
from store.sqlite.privacy import PrivacyMixin
from store.sqlite.reportmail import ReportMailMixin
from store.sqlite.review import ReviewMixin
from store.sqlite.rollups import RollupsMixin
from store.sqlite.sessions import SessionsMixin
from store.sqlite.stats import StatsMixin
from store.base import Store


class SqliteStore(PostsMixin, ReviewMixin, PeopleMixin, SessionsMixin, StatsMixin, ApiTokensMixin, ReportMailMixin,
                  RollupsMixin, PrivacyMixin, LeasesMixin, Database, Store):
    """`SqliteStore(path, tokenize=search_tokens, timezone="Asia/Shanghai", tokenize_many=search_tokens_many)`;
    call `migrate()` once before use."""


__all__ = ["SqliteStore"]
