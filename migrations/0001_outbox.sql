-- The outbox and receipts on D1, with the same tables and columns as version 3 of the SQLite
-- outbox (api/outbox/sqlite-store.ts), plus two columns that D1 needs or that the next version of
-- the store uses:
--   comments.dead_cause: why a comment became a dead letter (credentials, not_found, forbidden or
--     attempts), for requeueing by cause.
--   webhook_deliveries.batch_id: a random id written by the batch that inserted the row. D1 has no
--     interactive transactions, so the later statements of that batch apply a review only when the
--     row carries their batch id, which makes a redelivery change nothing.
CREATE TABLE comments (
  id TEXT PRIMARY KEY,
  post TEXT NOT NULL,
  parent TEXT,
  author TEXT NOT NULL,
  author_url TEXT,
  visibility TEXT NOT NULL,
  source TEXT NOT NULL,
  body TEXT NOT NULL,
  date TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_attempt_at INTEGER,
  last_error TEXT,
  pr_number INTEGER,
  pr_url TEXT,
  fingerprint TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  dead_at INTEGER,
  dead_cause TEXT
) STRICT;
CREATE INDEX comments_due ON comments (status, next_attempt_at);
CREATE INDEX comments_fingerprint ON comments (fingerprint, created_at);
CREATE INDEX comments_last_attempt ON comments (last_attempt_at);

CREATE TABLE webhook_deliveries (
  delivery_id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  batch_id TEXT NOT NULL
) STRICT;

CREATE TABLE merges (
  sha TEXT PRIMARY KEY,
  comment_id TEXT NOT NULL,
  merged_at INTEGER NOT NULL
) STRICT;

CREATE TABLE comment_addresses (
  comment_id TEXT PRIMARY KEY,
  iv BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX comment_addresses_created ON comment_addresses (created_at);
