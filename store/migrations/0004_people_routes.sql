-- Version 4: alerts that reach people. Users get contact routes and subscriptions; an alert says
-- what kind it is and what it is about (for routing); a delivery is one alert to one notifier for one
-- recipient; cases get a response workflow (state, assigned leaders, their answers).

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN wecom_userid TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN dingtalk_userid TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN feishu_userid TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';      -- subscribed topics (empty: all)
ALTER TABLE users ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';    -- subscribed channels (empty: all)
ALTER TABLE users ADD COLUMN min_level TEXT NOT NULL DEFAULT 'yellow';

ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';     -- rumour | surge | spam | pii | collector | other
ALTER TABLE alerts ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
ALTER TABLE alerts ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE alerts ADD COLUMN claimed_by TEXT;
ALTER TABLE alerts ADD COLUMN claimed_at TEXT;
ALTER TABLE alerts ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;  -- escalation tiers already notified
ALTER TABLE alerts ADD COLUMN raised_at TEXT;  -- wall-clock time it was raised (created_at is event time)

-- One row per alert, notifier and recipient ('' for a group notifier), retried until sent.
CREATE TABLE deliveries_v4 (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    notifier        TEXT NOT NULL,
    recipient       TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         TEXT,
    reason          TEXT NOT NULL DEFAULT '',  -- why routing chose it (route name, escalation, digest)
    UNIQUE (alert_id, notifier, recipient)
);
INSERT INTO deliveries_v4 (id, alert_id, notifier, recipient, state, attempts, next_attempt_at, last_error, sent_at)
    SELECT id, alert_id, notifier, '', state, attempts, next_attempt_at, last_error, sent_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_alert ON deliveries (alert_id);

-- The rumour-response loop.
ALTER TABLE cases ADD COLUMN state TEXT NOT NULL DEFAULT 'suspected';  -- suspected | verifying | clarified | subsided | false_alarm
ALTER TABLE cases ADD COLUMN clarified_at TEXT;
CREATE TABLE case_assignees (
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    username    TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (case_id, username)
);
CREATE TABLE case_responses (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    username   TEXT NOT NULL,
    where_     TEXT NOT NULL,       -- where the leader answered (a channel, a group, a meeting)
    text       TEXT NOT NULL,       -- what they answered
    url        TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX case_responses_case ON case_responses (case_id);
