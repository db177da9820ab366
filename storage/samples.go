package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// sampleWriteColumns are the samples columns a write sets, in order.
var sampleWriteColumns = []string{
	"run_id", "case_key", "case_hash", "sample_idx", "request", "output", "raw", "identity",
	"identity_hash", "input_tokens", "output_tokens", "latency_ms", "cost_usd", "error",
	"error_kind", "outcome", "passed", "score", "checks", "answer", "refused", "json_valid",
	"code_fence", "finish_reason", "usage_estimated", "output_bytes", "raw_bytes",
}

// sampleConflictClause makes sample writes idempotent: an existing sample is
// replaced only if it had errored.
const sampleConflictClause = `
	ON CONFLICT (run_id, case_key, sample_idx) DO UPDATE SET
		case_hash = EXCLUDED.case_hash, request = EXCLUDED.request, output = EXCLUDED.output,
		raw = EXCLUDED.raw, identity = EXCLUDED.identity, identity_hash = EXCLUDED.identity_hash,
		input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
		latency_ms = EXCLUDED.latency_ms, cost_usd = EXCLUDED.cost_usd, error = EXCLUDED.error,
		error_kind = EXCLUDED.error_kind, outcome = EXCLUDED.outcome, passed = EXCLUDED.passed,
		score = EXCLUDED.score, checks = EXCLUDED.checks, answer = EXCLUDED.answer,
		refused = EXCLUDED.refused, json_valid = EXCLUDED.json_valid, code_fence = EXCLUDED.code_fence,
		finish_reason = EXCLUDED.finish_reason, usage_estimated = EXCLUDED.usage_estimated,
		output_bytes = EXCLUDED.output_bytes, raw_bytes = EXCLUDED.raw_bytes, created_at = now()
	WHERE samples.error IS NOT NULL`

// WriteSamples stores samples synchronously in one statement batch, with the
// idempotency rules of the package doc. Samples may belong to several runs.
func (s *Store) WriteSamples(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	clean := make([]Sample, len(samples))
	for i := range samples {
		clean[i] = samples[i]
		cleanSample(&clean[i])
	}
	if err := s.writeSamplesCopy(ctx, dedupeSamples(clean)); err != nil {
		return fmt.Errorf("write %d samples: %w", len(samples), err)
	}
	return nil
}

// writeSamplesCopy COPYs samples into a per-session temporary staging table
// and moves them into samples with INSERT ... ON CONFLICT, in one transaction.
// samples must not repeat a key.
func (s *Store) writeSamplesCopy(ctx context.Context, samples []Sample) error {
	return translate(s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			CREATE TEMP TABLE IF NOT EXISTS driftwatch_samples_stage (
				run_id bigint, case_key text, case_hash text, sample_idx integer, request jsonb,
				output text, raw jsonb, identity jsonb, identity_hash text, input_tokens bigint,
				output_tokens bigint, latency_ms double precision, cost_usd double precision,
				error text, error_kind text, outcome text, passed boolean, score double precision,
				checks jsonb, answer text, refused boolean, json_valid boolean, code_fence boolean,
				finish_reason text, usage_estimated boolean, output_bytes bytea, raw_bytes bytea
			) ON COMMIT DELETE ROWS`); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"driftwatch_samples_stage"}, sampleWriteColumns,
			copyRows(samples)); err != nil {
			return fmt.Errorf("copy into staging table: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO samples (`+columnList+`)
			SELECT `+columnList+` FROM driftwatch_samples_stage`+sampleConflictClause); err != nil {
			return fmt.Errorf("insert from staging table: %w", err)
		}
		return nil
	}))
}

// writeSamplesUnnest inserts samples with one INSERT ... SELECT FROM
// unnest(arrays) ... ON CONFLICT statement. samples must not repeat a key.
func (s *Store) writeSamplesUnnest(ctx context.Context, samples []Sample) error {
	n := len(samples)
	cols := make([][]any, len(sampleWriteColumns))
	for c := range cols {
		cols[c] = make([]any, n)
	}
	for i := range samples {
		for c, v := range sampleValues(&samples[i]) {
			cols[c][i] = v
		}
	}
	args := make([]any, len(cols))
	for c := range cols {
		args[c] = cols[c]
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO samples (`+columnList+`)
		SELECT u.run_id, u.case_key, u.case_hash, u.sample_idx, u.request::jsonb, u.output, u.raw::jsonb,
			u.identity::jsonb, u.identity_hash, u.input_tokens, u.output_tokens, u.latency_ms, u.cost_usd,
			u.error, u.error_kind, u.outcome, u.passed, u.score, u.checks::jsonb, u.answer, u.refused,
			u.json_valid, u.code_fence, u.finish_reason, u.usage_estimated, u.output_bytes, u.raw_bytes
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::float8[], $13::float8[], $14::text[],
			$15::text[], $16::text[], $17::boolean[], $18::float8[], $19::text[], $20::text[], $21::boolean[],
			$22::boolean[], $23::boolean[], $24::text[], $25::boolean[], $26::bytea[], $27::bytea[])
			AS u(`+columnList+`)`+sampleConflictClause, args...)
	return translate(err)
}

func copyRows(samples []Sample) pgx.CopyFromSource {
	return &sampleRows{samples: samples, i: -1, row: make([]any, len(sampleWriteColumns))}
}

// sampleRows is a CopyFromSource that reuses one row slice: pgx encodes a
// row before it asks for the next.
type sampleRows struct {
	samples []Sample
	i       int
	row     []any
}

func (r *sampleRows) Next() bool {
	r.i++
	return r.i < len(r.samples)
}

func (r *sampleRows) Values() ([]any, error) {
	return appendSampleValues(r.row[:0], &r.samples[r.i]), nil
}

func (r *sampleRows) Err() error { return nil }

var columnList = func() string {
	out := ""
	for i, c := range sampleWriteColumns {
		if i > 0 {
			out += ", "
		}
		out += c
	}
	return out
}()

// sampleValues returns the values of sampleWriteColumns for s, JSON as
// text (for the unnest path's text arrays).
func sampleValues(s *Sample) []any {
	v := appendSampleValues(make([]any, 0, len(sampleWriteColumns)), s)
	for i, x := range v {
		if b, ok := x.([]byte); ok && jsonColumns[sampleWriteColumns[i]] {
			v[i] = string(b)
		}
	}
	return v
}

// jsonColumns are the jsonb columns among sampleWriteColumns.
var jsonColumns = map[string]bool{"request": true, "raw": true, "identity": true, "checks": true}

// jsonBytes is a JSON column's value: raw JSON (no copy), NULL when empty.
func jsonBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// appendSampleValues appends the values of sampleWriteColumns for s to v.
func appendSampleValues(v []any, s *Sample) []any {
	outcome := s.Outcome
	if outcome == "" {
		switch {
		case s.Error != "":
			outcome = OutcomeErrored
		case s.Passed:
			outcome = OutcomePassed
		default:
			outcome = OutcomeFailed
		}
	}
	var errText, score, answer any
	if s.Error != "" {
		errText = s.Error
	}
	if s.Score != nil {
		score = *s.Score
	}
	if s.Answer != nil {
		answer = *s.Answer
	}
	return append(v,
		s.RunID, s.CaseKey, s.CaseHash, int32(s.SampleIdx), jsonBytes(s.Request), s.Output, jsonBytes(s.Raw),
		jsonBytes(s.Identity), s.IdentityHash, int64(s.InputTokens), int64(s.OutputTokens), s.LatencyMS,
		s.CostUSD, errText, s.ErrorKind, outcome, s.Passed, score, jsonBytes(s.Checks), answer,
		s.Refused, s.JSONValid, s.CodeFence, s.FinishReason, s.UsageEstimated, s.OutputBytes, s.RawBytes,
	)
}

// dedupeSamples removes repeated (run, case, sample) keys from one batch,
// applying the same rule as the database: a later copy replaces an earlier one
// only if the earlier one had errored. Order is otherwise kept.
func dedupeSamples(samples []Sample) []Sample {
	type key struct {
		run int64
		SampleKey
	}
	seen := make(map[key]int, len(samples))
	out := samples[:0:0]
	for _, s := range samples {
		k := key{s.RunID, s.Key()}
		if i, ok := seen[k]; ok {
			if out[i].Error != "" {
				out[i] = s
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, s)
	}
	return out
}

// DoneSamples returns the keys of a run's samples stored without error. A
// resumed run skips these and re-runs everything else.
func (s *Store) DoneSamples(ctx context.Context, runID int64) (map[SampleKey]struct{}, error) {
	rows, err := s.pool.Query(ctx, `SELECT case_key, sample_idx FROM samples WHERE run_id = $1 AND error IS NULL`, runID)
	return collectSampleKeys(rows, err, runID)
}

// DoneSamplesOf is DoneSamples for the given cases of a run only: a batch of
// a 100,000-case run reads its own cases' keys, not the whole run's.
func (s *Store) DoneSamplesOf(ctx context.Context, runID int64, caseKeys []string) (map[SampleKey]struct{}, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT case_key, sample_idx FROM samples
		WHERE run_id = $1 AND case_key = ANY($2) AND error IS NULL`, runID, caseKeys)
	return collectSampleKeys(rows, err, runID)
}

func collectSampleKeys(rows pgx.Rows, err error, runID int64) (map[SampleKey]struct{}, error) {
	if err != nil {
		return nil, fmt.Errorf("list done samples of run %d: %w", runID, translate(err))
	}
	defer rows.Close()
	done := make(map[SampleKey]struct{})
	var k SampleKey
	for rows.Next() {
		if err := rows.Scan(&k.CaseKey, &k.SampleIdx); err != nil {
			return nil, fmt.Errorf("list done samples of run %d: %w", runID, translate(err))
		}
		done[k] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list done samples of run %d: %w", runID, translate(err))
	}
	return done, nil
}

// StreamSamples calls fn for every sample of runIDs, ordered by run, case and
// sample index, without holding them all in memory. Only the fields the drift
// engine needs are set: RunID, CaseKey, CaseHash, SampleIdx, Error, Outcome,
// Passed, Score, Refused, Output, Answer, JSONValid, CodeFence, OutputTokens,
// FinishReason and IdentityHash. An error from fn stops the stream and is
// returned unwrapped.
func (s *Store) StreamSamples(ctx context.Context, runIDs []int64, fn func(Sample) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT run_id, case_key, case_hash, sample_idx, coalesce(error, ''), outcome, passed, score,
			refused, output, answer, json_valid, code_fence, output_tokens, finish_reason, identity_hash
		FROM samples WHERE run_id = ANY($1)
		ORDER BY run_id, case_key, sample_idx`, runIDs)
	if err != nil {
		return fmt.Errorf("stream samples of runs %v: %w", runIDs, translate(err))
	}
	defer rows.Close()
	// Text columns are read from the row's raw bytes: a case's key and hash
	// repeat on its consecutive rows, and errors, outcomes, finish reasons
	// and identity hashes take few values, so they share one string each
	// instead of one allocation per row (100,000-sample analyses hold them).
	var (
		in               interner
		lastKey, lastHsh string
	)
	for rows.Next() {
		var sm Sample
		if err := rows.Scan(&sm.RunID, nil, nil, &sm.SampleIdx, nil, nil,
			&sm.Passed, &sm.Score, &sm.Refused, nil, nil, &sm.JSONValid, &sm.CodeFence,
			&sm.OutputTokens, nil, nil); err != nil {
			return fmt.Errorf("stream samples of runs %v: %w", runIDs, translate(err))
		}
		raw := rows.RawValues()
		if string(raw[1]) != lastKey {
			lastKey = string(raw[1])
		}
		if string(raw[2]) != lastHsh {
			lastHsh = string(raw[2])
		}
		sm.CaseKey, sm.CaseHash = lastKey, lastHsh
		sm.Error = in.get(raw[4])
		sm.Outcome = in.get(raw[5])
		sm.Output = string(raw[9])
		if raw[10] != nil {
			a := in.get(raw[10])
			sm.Answer = &a
		}
		sm.FinishReason = in.get(raw[14])
		sm.IdentityHash = in.get(raw[15])
		if err := fn(sm); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stream samples of runs %v: %w", runIDs, translate(err))
	}
	return nil
}

// interner shares the strings of low-cardinality text columns. It stops
// adding entries past a bound (free-form values then cost what they did).
type interner struct{ m map[string]string }

const internMax = 4096

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= 128 && len(in.m) < internMax {
		if in.m == nil {
			in.m = make(map[string]string)
		}
		in.m[s] = s
	}
	return s
}

// ListSamples returns every column of a run's samples for reports, ordered by
// case and sample index. An empty caseKey lists all cases.
func (s *Store) ListSamples(ctx context.Context, runID int64, caseKey string) ([]Sample, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, run_id, case_key, case_hash, sample_idx, request, output, raw, identity, identity_hash,
			input_tokens, output_tokens, latency_ms, cost_usd, coalesce(error, '') AS error, error_kind,
			outcome, passed, score, checks, answer, refused, json_valid, code_fence, finish_reason, created_at
		FROM samples WHERE run_id = $1 AND ($2::text = '' OR case_key = $2)
		ORDER BY case_key, sample_idx`, runID, caseKey)
	samples, err := pgx.CollectRows(rows, pgx.RowToStructByName[Sample])
	if err != nil {
		return nil, fmt.Errorf("list samples of run %d: %w", runID, translate(err))
	}
	return samples, nil
}

// cleanSample makes s storable whatever an endpoint sent: text PostgreSQL
// cannot hold (a NUL byte, invalid UTF-8) is replaced by U+FFFD, with the
// reply's and the response body's exact bytes kept in OutputBytes and
// RawBytes; JSON that jsonb rejects (the \u0000 escape, invalid UTF-8) is
// cleaned the same way, or dropped when it is not JSON at all; token counts
// and cost are never negative and never NaN. A sample that went through
// cleanSample can fail a write only for reasons outside it.
func cleanSample(s *Sample) {
	if t, changed := cleanText(s.Output); changed {
		s.OutputBytes = []byte(s.Output)
		s.Output = t
	}
	if j, changed := cleanJSON(s.Raw); changed {
		s.RawBytes = append([]byte(nil), s.Raw...)
		s.Raw = j
	}
	s.Request, _ = cleanJSON(s.Request)
	s.Identity, _ = cleanJSON(s.Identity)
	s.Checks, _ = cleanJSON(s.Checks)
	for _, f := range []*string{&s.CaseKey, &s.CaseHash, &s.Error, &s.ErrorKind, &s.Outcome, &s.FinishReason, &s.IdentityHash} {
		*f, _ = cleanText(*f)
	}
	if s.Answer != nil {
		a, _ := cleanText(*s.Answer)
		s.Answer = &a
	}
	if s.InputTokens < 0 || s.OutputTokens < 0 {
		s.InputTokens, s.OutputTokens = max(s.InputTokens, 0), max(s.OutputTokens, 0)
		s.UsageEstimated = true
	}
	if !(s.CostUSD >= 0) || math.IsInf(s.CostUSD, 0) { // negative, NaN or infinite
		s.CostUSD = 0
	}
	if math.IsNaN(s.LatencyMS) || math.IsInf(s.LatencyMS, 0) || s.LatencyMS < 0 {
		s.LatencyMS = 0
	}
}

// cleanText returns s with NUL bytes and invalid UTF-8 replaced by U+FFFD,
// and whether anything was replaced.
func cleanText(s string) (string, bool) {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s, false
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD"), true
}

// cleanJSON returns b as jsonb accepts it: invalid UTF-8 replaced by
// U+FFFD and the \u0000 escape by \ufffd (jsonb rejects both); nil when the
// result is not valid JSON. It reports whether b changed.
func cleanJSON(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return b, false
	}
	if utf8.Valid(b) && !bytes.Contains(b, []byte(`\u0000`)) && bytes.IndexByte(b, 0) < 0 {
		return b, false
	}
	out := bytes.ToValidUTF8(b, []byte("\uFFFD"))
	var fixed []byte
	for i := 0; i < len(out); i++ {
		c := out[i]
		if c == '\\' && i+1 < len(out) {
			if out[i+1] == 'u' && i+6 <= len(out) && string(out[i+2:i+6]) == "0000" {
				fixed = append(fixed, `\ufffd`...)
				i += 5
				continue
			}
			fixed = append(fixed, c, out[i+1]) // any other escape, \\ included
			i++
			continue
		}
		fixed = append(fixed, c)
	}
	if !json.Valid(fixed) {
		return nil, true
	}
	if bytes.Equal(fixed, b) { // an escaped backslash before u0000
		return b, false
	}
	return fixed, true
}
