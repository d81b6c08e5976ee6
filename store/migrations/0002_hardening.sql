-- Version 2: server-side sessions, the quarantine of records that keep failing a stage, and a repair
-- of times written before years were zero-padded.

-- A sign-in. The browser's cookie carries a random token; only its SHA-256 is stored, so a copy of
-- the database signs nobody in. Logout, password change and deactivation set revoked_at.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,             -- sha256 hex of the cookie token
    username   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    expires_at TEXT NOT NULL,                -- absolute end, however active the session is
    revoked_at TEXT,
    net        TEXT NOT NULL DEFAULT ''      -- coarse client network at sign-in (audit, not tracking)
);
CREATE INDEX sessions_user ON sessions (username, revoked_at);

-- Poison records: a post version that made a stage (analyze, rules) fail. After `attempts` reaches
-- the configured limit the stage skips it; an admin sees it on the dead-letter page and may retry it.
CREATE TABLE quarantine (
    stage      TEXT NOT NULL,                -- analyze | rules
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    version    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    error      TEXT NOT NULL,
    first_at   TEXT NOT NULL,
    last_at    TEXT NOT NULL,
    PRIMARY KEY (stage, post_id, version)
);

-- Years before 1000 used to be written without zero padding ("999-01-01T…"), which does not parse
-- back. Pad them so every stored time is "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" again.
UPDATE posts SET created_at = substr('0000', 1, 5 - instr(created_at, '-')) || created_at
    WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE flags SET created_at = substr('0000', 1, 5 - instr(created_at, '-')) || created_at
    WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE alerts SET created_at = substr('0000', 1, 5 - instr(created_at, '-')) || created_at
    WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE cases SET created_at = substr('0000', 1, 5 - instr(created_at, '-')) || created_at
    WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE cases SET updated_at = substr('0000', 1, 5 - instr(updated_at, '-')) || updated_at
    WHERE instr(updated_at, '-') BETWEEN 2 AND 4;
