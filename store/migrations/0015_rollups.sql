-- Version 15: counts the officers' dashboard reads, kept up to date when an analysis is saved (and
-- taken back when a post is analysed again), so a chart of 90 days reads a few thousand rows, not
-- the period's posts. A day is a local date in the store's time zone ("YYYY-MM-DD").

-- Analysed posts per day, channel, topic ('' for none) and sentiment, with their polarity summed.
CREATE TABLE IF NOT EXISTS daily_counts (
    day       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    topic     TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    n         INTEGER NOT NULL DEFAULT 0,
    polarity  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, channel, topic, sentiment)
) WITHOUT ROWID;

-- Keywords of the non-spam analysed posts per day and channel (the word cloud). Days before
-- yesterday keep their top words only (see store/sqlite/rollups.py).
CREATE TABLE IF NOT EXISTS daily_words (
    day     TEXT NOT NULL,
    channel TEXT NOT NULL,
    word    TEXT NOT NULL,
    n       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, channel, word)
) WITHOUT ROWID;

-- The time zone the days above were counted in and the last day whose words were trimmed. An empty
-- time zone asks the store to count the stored posts again (it does so when it is opened).
CREATE TABLE IF NOT EXISTS rollup_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO rollup_meta (key, value) VALUES ('tz', ''), ('words_trimmed_before', '');

-- The moderation and case panels read a period of decisions, flags and cases.
CREATE INDEX IF NOT EXISTS decisions_created ON decisions (created_at);
CREATE INDEX IF NOT EXISTS flags_created ON flags (created_at);
CREATE INDEX IF NOT EXISTS cases_created ON cases (created_at);
