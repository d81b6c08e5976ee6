-- Version 19: leases. Two service instances can share one store; the one holding the `worker`
-- lease runs collection, analysis, rules and delivery, the other serves the dashboard only and
-- takes the lease over when it expires (core/lease.py).
CREATE TABLE IF NOT EXISTS leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,  -- when this holder took it (renewals keep it)
    expires_at  TEXT NOT NULL   -- UTC text, as everywhere in the store
) WITHOUT ROWID;
