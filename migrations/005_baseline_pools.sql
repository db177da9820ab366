-- Pooled baselines and staged nights. A baseline pools pool_size accepted
-- stable runs that reached K, for one version of the suite's content
-- (suite_hash); it grows run by run until complete, then stays frozen until
-- `baseline accept` or a change of the suite's content rebuilds it.
-- run_sampling records a night's sampling plan, fixed before its first
-- sample (K is never raised after looking), and where a staged night
-- stopped; run_looks records each interim decision, so a resumed night
-- repeats none and a report can say which look stopped it.

ALTER TABLE baselines
    ADD COLUMN pool_size  integer NOT NULL DEFAULT 1 CHECK (pool_size > 0),
    ADD COLUMN suite_hash text NOT NULL DEFAULT '';

CREATE TABLE run_sampling (
    run_id          bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    mode            text NOT NULL CHECK (mode IN ('staged', 'fixed')),
    k               integer NOT NULL CHECK (k > 0),
    looks           integer[] NOT NULL DEFAULT '{}',
    bounds          double precision[] NOT NULL DEFAULT '{}',
    suite_hash      text NOT NULL DEFAULT '',
    -- The look at which a staged night stopped as STABLE; NULL: it reached
    -- K (or has not finished).
    stopped_at_look integer CHECK (stopped_at_look > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(looks) = cardinality(bounds))
);

CREATE INDEX run_sampling_suite_hash_idx ON run_sampling (suite_hash, run_id DESC);

CREATE TABLE run_looks (
    run_id           bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    look             integer NOT NULL CHECK (look > 0),
    samples_per_case integer NOT NULL CHECK (samples_per_case > 0),
    bound            double precision NOT NULL,
    p_cmh            double precision NOT NULL,
    p_sparse         double precision NOT NULL,
    z                double precision NOT NULL,
    mde              double precision,
    continued        boolean NOT NULL,
    shifts           text[] NOT NULL DEFAULT '{}',
    reason           text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, look)
);

---- create above / drop below ----

DROP TABLE run_looks;
DROP TABLE run_sampling;
ALTER TABLE baselines DROP COLUMN suite_hash, DROP COLUMN pool_size;
