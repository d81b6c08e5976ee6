-- Version 3: what real channels need — a durable queue for pushed events, and the write-back outbox.

-- Events a platform pushes to us (OneBot's HTTP POST): stored before we answer the push, read by the
-- collector like a file, its checkpoint the last id taken. Exactly once across crashes and restarts.
CREATE TABLE inbound (
    id          INTEGER PRIMARY KEY,
    collector   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX inbound_collector ON inbound (collector, id);

-- Actions on the platform (delete a comment, mute its author, post the official reply), queued in the
-- same transaction as the decision that asked for them, and retried with backoff like alerts.
CREATE TABLE writebacks (
    id              INTEGER PRIMARY KEY,
    post_id         INTEGER NOT NULL REFERENCES posts (id),
    collector       TEXT NOT NULL,                -- the channel (collector name) the post came from
    action          TEXT NOT NULL,                -- delete | ban | reply | elect
    payload         TEXT NOT NULL DEFAULT '{}',   -- e.g. {"text": "…"} for a reply
    state           TEXT NOT NULL DEFAULT 'pending', -- pending | failing | sent | refused
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    result          TEXT NOT NULL DEFAULT '',     -- the platform's answer
    requested_by    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    done_at         TEXT
);
CREATE INDEX writebacks_due ON writebacks (state, next_attempt_at);
CREATE INDEX writebacks_post ON writebacks (post_id);
