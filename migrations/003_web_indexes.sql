-- Indexes for the dashboard (web/): the alert log is listed newest first,
-- filtered by status or not.

CREATE INDEX alerts_created_idx ON alerts (created_at DESC, id DESC);
CREATE INDEX alerts_status_created_idx ON alerts (status, created_at DESC, id DESC);

---- create above / drop below ----

DROP INDEX alerts_status_created_idx;
DROP INDEX alerts_created_idx;
