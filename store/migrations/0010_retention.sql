-- Version 10: privacy and operations — retention, erasure on request, and the aggregates that keep
-- reports and dashboards whole once posts are gone.

-- Counts of posts that no longer exist (deleted by retention after `retention.posts_days`, or erased on
-- request), folded in just before their rows were deleted, so every count of posts over a period stays
-- the same: the store's queries (period_stats, sentiment_series, topic_counts, channel_counts, counts,
-- grievance_topics) add these rows to what they count in `posts`. A post is counted either there or
-- here, never both.
--
-- One row per UTC hour, channel, topic and sentiment label:
--   hour       the hour the posts were written, as the store writes times:
--              'YYYY-MM-DDTHH:00:00.000000+00:00' (UTC). An hour counts in a period when its start is
--              inside it, so compare it with ts(since) / ts(until) like posts.created_at. A UTC day is
--              substr(hour, 1, 10); a local day: convert the hour start to the time zone first.
--   channel    posts.channel
--   topic      analyses.topic, '' for none (or not analysed)
--   sentiment  analyses.sentiment (pos | neu | neg), '' when the post was never analysed
-- Counts (of posts): total; polarity_sum (sum of analyses.polarity, for averages); spam, rumour,
-- grievance, abuse (score >= 0.5; grievance >= 0.5 is what 提案线索 counts as a lead); pii (personal
-- data was found); flagged (ever flagged); removed (its flags were removed). Positive / neutral /
-- negative posts are the totals of the rows with that sentiment.
CREATE TABLE IF NOT EXISTS post_aggregates (
    hour         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    topic        TEXT NOT NULL DEFAULT '',
    sentiment    TEXT NOT NULL DEFAULT '',
    total        INTEGER NOT NULL DEFAULT 0,
    polarity_sum REAL NOT NULL DEFAULT 0,
    spam         INTEGER NOT NULL DEFAULT 0,
    rumour       INTEGER NOT NULL DEFAULT 0,
    grievance    INTEGER NOT NULL DEFAULT 0,
    abuse        INTEGER NOT NULL DEFAULT 0,
    pii          INTEGER NOT NULL DEFAULT 0,
    flagged      INTEGER NOT NULL DEFAULT 0,
    removed      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, channel, topic, sentiment)
);

-- The same deleted posts counted per channel over all time (what `counts` and `channel_counts` add,
-- read without scanning post_aggregates): total, analysed (sentiment != ''), flagged.
CREATE TABLE IF NOT EXISTS post_aggregate_totals (
    channel  TEXT PRIMARY KEY,
    total    INTEGER NOT NULL DEFAULT 0,
    analyzed INTEGER NOT NULL DEFAULT 0,
    flagged  INTEGER NOT NULL DEFAULT 0
);

-- When retention last replaced a post's personal data in place (NULL: never, or edited since). Only
-- posts that were analysed and seen by the rules are redacted, so a leak still raises its flag.
ALTER TABLE posts ADD COLUMN redacted_at TEXT;
CREATE INDEX IF NOT EXISTS posts_unredacted ON posts (created_at) WHERE redacted_at IS NULL;
CREATE INDEX IF NOT EXISTS dead_letters_created ON dead_letters (created_at);
CREATE INDEX IF NOT EXISTS posts_author ON posts (author, channel);

-- Posts that were erased on request: the SHA-256 of "channel\0source_id" only (no content, no id in
-- clear), so a collector that fetches the same comment again does not bring it back.
CREATE TABLE IF NOT EXISTS erased_posts (
    key_hash  TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);

-- Small facts the store keeps about itself. 'purged_before': posts written before this time were
-- deleted by retention (their counts are in post_aggregates); ingesting such a post again is ignored,
-- so it is neither stored again nor counted twice.
CREATE TABLE IF NOT EXISTS store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
