-- Version 8: the two-person rule. Removing a critical post (negative, and removed for a reason other
-- than spam, abuse or a privacy leak) is first a request; a second moderator's removal completes it,
-- an approval drops it. Both steps are in the audit log.

CREATE TABLE IF NOT EXISTS removal_requests (
    post_id      INTEGER PRIMARY KEY REFERENCES posts (id),
    requested_by TEXT NOT NULL,
    reason_code  TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    requested_at TEXT NOT NULL
);
