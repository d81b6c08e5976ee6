-- Version 7: what officers did with a grievance lead (提案线索): turned it into a proposal, or handled it.
-- A post without a row is an open lead. Every change is also in the audit log.

CREATE TABLE IF NOT EXISTS leads (
    post_id    INTEGER PRIMARY KEY REFERENCES posts (id),
    state      TEXT NOT NULL,            -- proposal | handled
    note       TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
