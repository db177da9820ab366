-- Durable execution under `driftwatch serve` / `worker` (River jobs on this
-- database; River's own tables are created by rivermigrate):
--   runs.run_key   finds the run a retried run job already created;
--   run_batches    the case batches a run fans out into, and which are done;
--   rate_buckets   one cluster-wide token bucket per target and unit.

ALTER TABLE runs ADD COLUMN run_key text UNIQUE;

CREATE TABLE run_batches (
    run_id    bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    batch     integer NOT NULL CHECK (batch >= 0),
    case_keys text[] NOT NULL,
    done_at   timestamptz,
    PRIMARY KEY (run_id, batch)
);

CREATE TABLE rate_buckets (
    key        text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

---- create above / drop below ----

DROP TABLE rate_buckets;
DROP TABLE run_batches;
ALTER TABLE runs DROP COLUMN run_key;
