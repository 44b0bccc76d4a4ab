-- The latest content index read from the forge after a push to the base branch
-- (api/workers/content-refresh.ts). One row; isolates replace their bundled index with it.
CREATE TABLE content_snapshot (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  snapshot TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
