-- Indexes for the dashboard (web/): the runs list and the alert log are
-- listed newest first, unfiltered or by status.

CREATE INDEX runs_started_idx ON runs (started_at DESC, id DESC);
CREATE INDEX alerts_created_idx ON alerts (created_at DESC, id DESC);
CREATE INDEX alerts_status_created_idx ON alerts (status, created_at DESC, id DESC);

---- create above / drop below ----

DROP INDEX alerts_status_created_idx;
DROP INDEX alerts_created_idx;
DROP INDEX runs_started_idx;
