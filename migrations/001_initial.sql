-- Driftwatch initial schema: targets, suites, cases, runs, samples, identities,
-- baselines, findings and alerts. Recorded outputs (samples) are append-only and
-- keyed idempotently by (run_id, case_key, sample_idx).

CREATE TABLE targets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    provider   text NOT NULL,
    model      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE suites (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    suite_id     bigint NOT NULL REFERENCES suites (id) ON DELETE CASCADE,
    key          text NOT NULL,
    content_hash text NOT NULL,
    spec         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (suite_id, key, content_hash)
);

CREATE TABLE runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    suite_id         bigint NOT NULL REFERENCES suites (id),
    target_id        bigint NOT NULL REFERENCES targets (id),
    trigger          text NOT NULL CHECK (trigger IN ('cli', 'schedule', 'confirm', 'api')),
    schedule         text,
    status           text NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running', 'completed', 'failed', 'stopped')),
    verdict          text,
    verdict_reason   text NOT NULL DEFAULT '',
    samples_per_case integer NOT NULL DEFAULT 1 CHECK (samples_per_case > 0),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    config           jsonb NOT NULL DEFAULT '{}'::jsonb,
    harness_version  text NOT NULL DEFAULT '',
    summary          jsonb,
    baseline_run_ids bigint[] NOT NULL DEFAULT '{}',
    error            text NOT NULL DEFAULT '',
    cost_usd         double precision NOT NULL DEFAULT 0
);

CREATE INDEX runs_suite_target_started_idx ON runs (suite_id, target_id, started_at DESC, id DESC);

CREATE TABLE samples (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_key      text NOT NULL,
    case_hash     text NOT NULL DEFAULT '',
    sample_idx    integer NOT NULL CHECK (sample_idx >= 0),
    request       jsonb,
    output        text NOT NULL DEFAULT '',
    raw           jsonb,
    identity      jsonb,
    identity_hash text NOT NULL DEFAULT '',
    input_tokens  integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    latency_ms    double precision NOT NULL DEFAULT 0,
    cost_usd      double precision NOT NULL DEFAULT 0,
    -- error is NULL for a sample that completed; resume re-runs only samples
    -- that are missing or have a non-NULL error.
    error         text,
    error_kind    text NOT NULL DEFAULT '',
    outcome       text NOT NULL CHECK (outcome IN ('passed', 'failed', 'errored', 'skipped')),
    passed        boolean NOT NULL DEFAULT false,
    score         double precision,
    checks        jsonb,
    answer        text,
    refused       boolean NOT NULL DEFAULT false,
    json_valid    boolean NOT NULL DEFAULT false,
    code_fence    boolean NOT NULL DEFAULT false,
    finish_reason text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Also serves "samples by run" lookups.
    UNIQUE (run_id, case_key, sample_idx)
);

CREATE TABLE identities (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id     bigint NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    identity_hash text NOT NULL,
    identity      jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    first_run_id  bigint REFERENCES runs (id) ON DELETE SET NULL,
    last_run_id   bigint REFERENCES runs (id) ON DELETE SET NULL,
    -- Also serves "identities by target" lookups.
    UNIQUE (target_id, identity_hash)
);

CREATE INDEX identities_target_first_seen_idx ON identities (target_id, first_seen);

CREATE TABLE baselines (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    suite_id    bigint NOT NULL REFERENCES suites (id) ON DELETE CASCADE,
    target_id   bigint NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    run_ids     bigint[] NOT NULL CHECK (cardinality(run_ids) > 0),
    accepted_by text NOT NULL DEFAULT '',
    note        text NOT NULL DEFAULT '',
    accepted_at timestamptz NOT NULL DEFAULT now(),
    active      boolean NOT NULL DEFAULT true
);

CREATE UNIQUE INDEX baselines_one_active_idx ON baselines (suite_id, target_id) WHERE active;
CREATE INDEX baselines_suite_target_idx ON baselines (suite_id, target_id, accepted_at DESC);

CREATE TABLE findings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    baseline_run_ids bigint[] NOT NULL DEFAULT '{}',
    scope            text NOT NULL DEFAULT '',
    metric           text NOT NULL DEFAULT '',
    statistic        text NOT NULL DEFAULT '',
    p                double precision,
    q                double precision,
    effect           double precision,
    ci_low           double precision,
    ci_high          double precision,
    baseline_value   double precision,
    current_value    double precision,
    verdict          text NOT NULL DEFAULT '',
    reason           text NOT NULL DEFAULT '',
    examples         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX findings_run_idx ON findings (run_id);

CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id      bigint REFERENCES findings (id) ON DELETE SET NULL,
    run_id          bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    channel         text NOT NULL,
    dedup_key       text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alerts_status_next_attempt_idx ON alerts (status, next_attempt_at);
CREATE INDEX alerts_dedup_key_idx ON alerts (dedup_key, created_at DESC);

---- create above / drop below ----

DROP TABLE alerts;
DROP TABLE findings;
DROP TABLE baselines;
DROP TABLE identities;
DROP TABLE samples;
DROP TABLE runs;
DROP TABLE cases;
DROP TABLE suites;
DROP TABLE targets;
