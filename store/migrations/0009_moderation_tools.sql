-- Version 9: moderation tools and report mail.
-- * A moderator may be limited to some channels (review_channels; empty: all).
-- * Officers subscribe to the daily / weekly / monthly report by e-mail (reports: ["weekly", …]).
-- * An author's history is read by (channel, author).
-- * Saved filters: a user's named query strings for a page (the review queue).
-- * Report mail outbox: one row per report period and recipient, retried until sent.

ALTER TABLE users ADD COLUMN review_channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN reports TEXT NOT NULL DEFAULT '[]';

CREATE INDEX IF NOT EXISTS posts_author ON posts (channel, author, id);

CREATE TABLE IF NOT EXISTS saved_filters (
    id         INTEGER PRIMARY KEY,
    username   TEXT NOT NULL,
    page       TEXT NOT NULL,      -- which page the filter is for (endpoint name)
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,      -- the query string, e.g. status=pending&channel=qq
    created_at TEXT NOT NULL,
    UNIQUE (username, page, name)
);

CREATE TABLE IF NOT EXISTS report_mails (
    id              INTEGER PRIMARY KEY,
    period          TEXT NOT NULL,   -- daily | weekly | monthly
    start           TEXT NOT NULL,   -- first local day of the period, YYYY-MM-DD
    username        TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',  -- pending | failing | sent
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         TEXT,
    UNIQUE (period, start, username)
);
CREATE INDEX IF NOT EXISTS report_mails_due ON report_mails (state, next_attempt_at);

-- The decisions feed of the API and exports reads decisions by time.
CREATE INDEX IF NOT EXISTS decisions_created ON decisions (created_at, id);
