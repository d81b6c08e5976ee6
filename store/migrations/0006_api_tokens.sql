-- Version 6: read-only API clients (/api/v1/). A token is stored as its SHA-256 only; scopes are a
-- JSON list (posts:read, cases:read, pii:read). Revoked tokens stay for the audit trail.

CREATE TABLE IF NOT EXISTS api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  TEXT,
    last_used_at TEXT
);
