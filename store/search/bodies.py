"""Index names, templates, mappings and query bodies of the search-cluster store, shared by the
Elasticsearch and OpenSearch backends (both accept exactly these bodies; each backend only wraps
its own client, see client.py).

Layout, for an `index_prefix` P:
- P-posts-YYYY.MM   posts, one index per month of `created_at` (UTC), made from the index template
                    P-posts, which also puts each of them behind the read alias P-posts. A post's
                    document id is its store id; its analysis lives in the same document, its
                    Analysis.tokens in `tokens`, a whitespace-analysed field (Chinese search without
                    plugins: the tokens are jieba's, from the NLP step).
- P-keys            one document per (channel, source_id) — the exactly-once guard (created with
                    op_type=create) — with the post's id, version and monthly index, read in real time.
- P-versions        earlier texts of edited posts.
- P-dead-letters    records that could not be ingested.
- P-quarantine      post versions a stage failed on.
- P-inbound         pushed events (webhooks) waiting for their collector, by collector and id.
- P-meta            id sequences and collector checkpoints (changed with if_seq_no/if_primary_term).

Every other part of the contract keeps its documents in indices of its own area (one module of
store/search each, like store/sqlite): the area's mixin declares them in `INDICES` (name → create
body), named `Names.of(name)` = P-name, and `SearchStore.migrate` creates them all. The layouts
several areas write are here: flags and decisions (written by the rules pass and by moderators)
and the audit log (written next to most changes).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

# Every index: one replica once the cluster has a second node (a one-node cluster stays green).
_COMMON_SETTINGS: dict[str, Any] = {"index.auto_expand_replicas": "0-1"}

POST_MAPPING: dict[str, Any] = {
    "dynamic": False,  # unknown fields stay in _source, unindexed
    "properties": {
        "id": {"type": "long"},
        "channel": {"type": "keyword"},
        "source_id": {"type": "keyword"},
        "thread": {"type": "keyword"},
        "author": {"type": "keyword"},
        "author_name": {"type": "keyword", "index": False, "doc_values": False},
        "text": {"type": "text", "index": False},
        "created_at": {"type": "date"},
        "url": {"type": "keyword", "index": False, "doc_values": False},
        "reply_to": {"type": "keyword"},
        "raw": {"type": "keyword", "index": False, "doc_values": False},  # JSON text, as the platform sent it
        "version": {"type": "integer"},
        "analyzed_version": {"type": "integer"},
        "ruled_version": {"type": "integer"},
        "needs_analysis": {"type": "boolean"},
        "needs_rules": {"type": "boolean"},  # analysed version ahead of the ruled one (store/search/review.py)
        "ingested_at": {"type": "date"},
        "updated_at": {"type": "date"},
        "redacted_at": {"type": "date"},  # when retention masked its personal data (store/search/privacy.py)
        "tokens": {"type": "text", "analyzer": "whitespace"},
        # what the dashboard's aggregations read (store/search/stats.py sets it with the analysis):
        # the scores compared and summed, as doubles like SQLite's; the post's words in the word cloud
        "stats": {
            "dynamic": False,
            "properties": {
                "polarity": {"type": "double"},
                "spam": {"type": "double"},
                "grievance": {"type": "double"},
                "cloud_words": {"type": "keyword"},
            },
        },
        "analysis": {
            "dynamic": False,
            "properties": {
                "sentiment": {"type": "keyword"},
                "polarity": {"type": "float"},
                "spam": {"type": "float"},
                "rumour": {"type": "float"},
                "grievance": {"type": "float"},
                "abuse": {"type": "float"},
                "topic": {"type": "keyword"},
                "keywords": {"type": "keyword"},
                "debunk_id": {"type": "long"},
                "model_version": {"type": "keyword"},
            },
        },
    },
}

KEY_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "post_id": {"type": "long"},
        "channel": {"type": "keyword"},
        "source_id": {"type": "keyword"},
        "index": {"type": "keyword"},
        "version": {"type": "integer"},
        "text_sha256": {"type": "keyword", "index": False},
        "written_at": {"type": "date"},
        # a deleted post's key stays as a tombstone (store/search/privacy.py): why, and what it counted as
        "gone": {"type": "keyword"},  # purged | erased
        "gone_at": {"type": "date"},
        "gone_analyzed": {"type": "boolean"},
        "gone_flagged": {"type": "boolean"},
    },
}

VERSION_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "post_id": {"type": "long"},
        "version": {"type": "integer"},
        "text": {"type": "text", "index": False},
        "seen_at": {"type": "date"},
    },
}

DEAD_LETTER_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "source": {"type": "keyword", "index": False, "doc_values": False},
        "channel": {"type": "keyword"},
        "raw": {"type": "text", "index": False},
        "error": {"type": "text", "index": False},
        "created_at": {"type": "date"},
    },
}

QUARANTINE_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "stage": {"type": "keyword"},
        "post_id": {"type": "long"},
        "version": {"type": "integer"},
        "attempts": {"type": "integer"},
        "error": {"type": "text", "index": False},
        "first_at": {"type": "date"},
        "last_at": {"type": "date"},
    },
}

INBOUND_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "collector": {"type": "keyword"},
        "payload": {"type": "text", "index": False},
        "received_at": {"type": "date"},
    },
}

FLAG_MAPPING: dict[str, Any] = {
    # one document per flag, id = its store id; `post_id` joins it to the post
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "post_id": {"type": "long"},
        "rule": {"type": "keyword"},
        "reason": {"type": "text", "index": False},
        "status": {"type": "keyword"},  # pending | approved | removed | escalated (as in SQLite)
        "created_at": {"type": "date"},
        "channel": {"type": "keyword"},  # the post's: the dashboard's per-channel reads filter on it
    },
}

DECISION_MAPPING: dict[str, Any] = {
    # one document per decision, id = its store id
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "post_id": {"type": "long"},
        "moderator": {"type": "keyword"},  # a person's username, or "auto:<rule>"
        "action": {"type": "keyword"},
        "reason_code": {"type": "keyword"},
        "note": {"type": "text", "index": False},
        "created_at": {"type": "date"},
        "channel": {"type": "keyword"},  # the post's: the dashboard's per-channel reads filter on it
    },
}

AUDIT_MAPPING: dict[str, Any] = {
    # append-only: one document per event, id = its store id (from the "audit" sequence)
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "at": {"type": "date"},
        "actor": {"type": "keyword"},
        "action": {"type": "keyword"},
        "target": {"type": "keyword"},
        "detail": {"type": "keyword", "index": False, "doc_values": False},  # JSON text
    },
}

META_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"value": {"type": "keyword", "index": False}, "updated_at": {"type": "date"}},
}


@dataclass(frozen=True)
class Names:
    """The store's index names under one prefix."""

    prefix: str

    @property
    def posts(self) -> str:
        """The read alias over every monthly posts index."""
        return f"{self.prefix}-posts"

    @property
    def posts_template(self) -> str:
        return f"{self.prefix}-posts"

    def posts_for(self, created_at: datetime) -> str:
        """The monthly index a post written at `created_at` lives in."""
        if created_at.tzinfo is None:
            raise ValueError("naive datetime: every time in Union Sentinel must carry a time zone")
        return f"{self.prefix}-posts-{created_at.astimezone(timezone.utc):%Y.%m}"

    @property
    def keys(self) -> str:
        return f"{self.prefix}-keys"

    @property
    def versions(self) -> str:
        return f"{self.prefix}-versions"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}-dead-letters"

    @property
    def quarantine(self) -> str:
        return f"{self.prefix}-quarantine"

    @property
    def inbound(self) -> str:
        return f"{self.prefix}-inbound"

    @property
    def meta(self) -> str:
        return f"{self.prefix}-meta"

    def of(self, area: str) -> str:
        """The index of one of an area's `INDICES` (see the module docstring)."""
        return f"{self.prefix}-{area}"

    def fixed_indices(self) -> dict[str, dict[str, Any]]:
        """The indices that are not time-based: name → create body."""
        return {
            self.keys: index_body(KEY_MAPPING, shards=3),
            self.versions: index_body(VERSION_MAPPING),
            self.dead_letters: index_body(DEAD_LETTER_MAPPING),
            self.quarantine: index_body(QUARANTINE_MAPPING),
            self.inbound: index_body(INBOUND_MAPPING),  # one shard: a pushed batch turns visible at once
            self.meta: index_body(META_MAPPING),
        }

    def posts_template_body(self) -> dict[str, Any]:
        """The composable index template every monthly posts index is made from."""
        return {
            "index_patterns": [f"{self.prefix}-posts-*"],
            "priority": 200,
            "template": {
                "settings": {**_COMMON_SETTINGS, "index.number_of_shards": 3},
                "mappings": POST_MAPPING,
                "aliases": {self.posts: {}},
            },
            "_meta": {"description": "Union Sentinel posts, one index per month (store/search/bodies.py)"},
        }


def index_body(mapping: dict[str, Any], shards: int = 1) -> dict[str, Any]:
    """The create body of a non-time-based index."""
    return {"settings": {**_COMMON_SETTINGS, "index.number_of_shards": shards}, "mappings": mapping}


def key_id(channel: str, source_id: str) -> str:
    """The document id of a post's key: a digest, since ids are limited to 512 bytes."""
    return hashlib.sha256(f"{len(channel)}:{channel}\x00{source_id}".encode("utf-8", "surrogatepass")).hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---- queries -------------------------------------------------------------------------------------

def by_ids(ids: Sequence[int]) -> dict[str, Any]:
    return {"ids": {"values": [str(i) for i in ids]}}


def to_analyze(limit: int, skip: Sequence[tuple[int, int]] = ()) -> dict[str, Any]:
    """Post versions waiting for analysis, oldest first; `skip`: (post id, version) quarantined."""
    must_not = [{"bool": {"filter": [{"term": {"id": pid}}, {"term": {"version": version}}]}} for pid, version in skip]
    return {
        "size": limit,
        "query": {"bool": {"filter": [{"term": {"needs_analysis": True}}], "must_not": must_not}},
        "sort": [{"created_at": "asc"}, {"id": "asc"}],
    }


def token_search(terms: Sequence[str], channels: Sequence[str] | None, limit: int, offset: int) -> dict[str, Any]:
    """Posts whose tokens hold every term, most recently stored (highest id) first."""
    filters: list[dict[str, Any]] = [{"match": {"tokens": {"query": " ".join(terms), "operator": "and"}}}]
    if channels:
        filters.append({"terms": {"channel": list(channels)}})
    return {"size": limit, "from": offset, "query": {"bool": {"filter": filters}}, "sort": [{"id": "desc"}]}


def versions_of(post_id: int) -> dict[str, Any]:
    return {"size": 10_000, "query": {"term": {"post_id": post_id}}, "sort": [{"version": "asc"}]}


def newest_first(limit: int, offset: int) -> dict[str, Any]:
    return {"size": limit, "from": offset, "query": {"match_all": {}}, "sort": [{"id": "desc"}]}


def quarantined_at_least(stage: str, attempts: int) -> dict[str, Any]:
    return {"size": 10_000, "query": {"bool": {"filter": [{"term": {"stage": stage}},
                                                          {"range": {"attempts": {"gte": attempts}}}]}}}


def analyzed() -> dict[str, Any]:
    return {"query": {"range": {"analyzed_version": {"gt": 0}}}}


def inbound_after(collector: str, after_id: int, limit: int) -> dict[str, Any]:
    return {"size": limit, "sort": [{"id": "asc"}], "query": {"bool": {"filter": [
        {"term": {"collector": collector}}, {"range": {"id": {"gt": after_id}}}]}}}


def inbound_taken(collector: str, up_to_id: int, received_before: str) -> dict[str, Any]:
    return {"query": {"bool": {"filter": [
        {"term": {"collector": collector}}, {"range": {"id": {"lte": up_to_id}}},
        {"range": {"received_at": {"lt": received_before}}}]}}}
