-- Version 4 of the outbox, as in the SQLite store: canary comments are marked, the time a comment
-- was proposed is kept for the review deadline, and the monitor keeps its small state (alerted
-- status, canary in flight) in monitor_state.
ALTER TABLE comments ADD COLUMN canary INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN proposed_at INTEGER;
CREATE INDEX comments_created ON comments (created_at);

CREATE TABLE monitor_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
