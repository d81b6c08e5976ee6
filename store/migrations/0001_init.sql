-- Union Sentinel schema, version 1. Times are UTC ISO 8601 text ("2026-01-01T08:00:00.000000+00:00").

CREATE TABLE posts (
    id               INTEGER PRIMARY KEY,
    channel          TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    thread           TEXT,
    author           TEXT NOT NULL,
    author_name      TEXT,
    text             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    url              TEXT,
    reply_to         TEXT,
    raw              TEXT NOT NULL DEFAULT '{}',
    version          INTEGER NOT NULL DEFAULT 1,
    analyzed_version INTEGER NOT NULL DEFAULT 0,   -- which version the analysis row describes
    ruled_version    INTEGER NOT NULL DEFAULT 0,   -- which version the rules have seen
    ingested_at      TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (channel, source_id)
);
CREATE INDEX posts_created ON posts (created_at);
CREATE INDEX posts_unanalyzed ON posts (created_at) WHERE analyzed_version < version;
CREATE INDEX posts_unruled ON posts (created_at) WHERE ruled_version < analyzed_version;

-- Earlier texts of edited posts; the current text stays on posts.
CREATE TABLE post_versions (
    post_id  INTEGER NOT NULL REFERENCES posts (id),
    version  INTEGER NOT NULL,
    text     TEXT NOT NULL,
    seen_at  TEXT NOT NULL,
    PRIMARY KEY (post_id, version)
);

CREATE TABLE analyses (
    post_id       INTEGER PRIMARY KEY REFERENCES posts (id),
    version       INTEGER NOT NULL,
    normalized    TEXT NOT NULL,
    sentiment     TEXT NOT NULL,
    polarity      REAL NOT NULL,
    spam          REAL NOT NULL,
    rumour        REAL NOT NULL,
    topic         TEXT,
    keywords      TEXT NOT NULL DEFAULT '[]',
    pii           TEXT NOT NULL DEFAULT '[]',
    reasons       TEXT NOT NULL DEFAULT '[]',
    extra         TEXT NOT NULL DEFAULT '{}',
    debunk_id     INTEGER,
    model_version TEXT NOT NULL,
    analyzed_at   TEXT NOT NULL
);
CREATE INDEX analyses_topic ON analyses (topic);

-- Word-aware full-text index: jieba search tokens joined by spaces, rowid = posts.id.
CREATE VIRTUAL TABLE posts_fts USING fts5 (tokens, tokenize = 'unicode61');

CREATE TABLE checkpoints (
    collector  TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY,
    source     TEXT NOT NULL,
    channel    TEXT,
    raw        TEXT NOT NULL,
    error      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE flags (
    id         INTEGER PRIMARY KEY,
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    rule       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL
);
CREATE INDEX flags_post ON flags (post_id);
CREATE INDEX flags_status ON flags (status, created_at);

CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY,
    post_id     INTEGER NOT NULL REFERENCES posts (id),
    moderator   TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX decisions_post ON decisions (post_id);

CREATE TABLE cases (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    title      TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, key)
);
CREATE TABLE case_posts (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    post_id INTEGER NOT NULL REFERENCES posts (id),
    PRIMARY KEY (case_id, post_id)
);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    rule            TEXT NOT NULL,
    level           TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL,
    post_ids        TEXT NOT NULL DEFAULT '[]',
    notifiers       TEXT NOT NULL DEFAULT '[]',
    case_id         INTEGER REFERENCES cases (id),
    created_at      TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT
);
CREATE INDEX alerts_dedupe ON alerts (dedupe_key, created_at);
CREATE INDEX alerts_created ON alerts (created_at);

-- The outbox: one row per alert and notifier, retried with backoff until sent.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    notifier        TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         TEXT,
    UNIQUE (alert_id, notifier)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

CREATE TABLE debunks (
    id            INTEGER PRIMARY KEY,
    claim         TEXT NOT NULL,
    clarification TEXT NOT NULL,
    keywords      TEXT NOT NULL DEFAULT '[]',
    source_url    TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1
);

-- Append-only: the triggers refuse any change to a written row.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
