-- Submission times for the sliding-window rate limits (api/abuse/d1-rate-limit.ts). One row per
-- recorded request and bucket key; rows older than the longest window are deleted as keys are
-- used and by the scheduled sweep.
CREATE TABLE rate_limit_hits (
  key TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limit_hits_key ON rate_limit_hits (key, at);
CREATE INDEX rate_limit_hits_at ON rate_limit_hits (at);
