package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/migrations"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

type testBundle struct {
	store    *storage.Store
	suiteID  int64
	targetID int64
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupTB(t)
}

func setupTB(t testing.TB) *testBundle {
	t.Helper()
	ctx := context.Background()
	st := storagetest.NewStore(t)
	suiteID, err := st.EnsureSuite(ctx, storagetest.ProjectID(t, st), "prime")
	require.NoError(t, err)
	targetID, err := st.EnsureTarget(ctx, storagetest.ProjectID(t, st), "gpt", "openai", "gpt-4o")
	require.NoError(t, err)
	return &testBundle{store: st, suiteID: suiteID, targetID: targetID}
}

func (b *testBundle) newRun(t *testing.T) storage.Run {
	t.Helper()
	run, err := b.store.CreateRun(context.Background(), storage.NewRun{
		SuiteID: b.suiteID, TargetID: b.targetID, Trigger: storage.TriggerCLI, SamplesPerCase: 3,
		Config: json.RawMessage(`{"k":"v"}`), HarnessVersion: "test",
	})
	require.NoError(t, err)
	return run
}

func sample(runID int64, caseKey string, idx int, output, errText string) storage.Sample {
	score := 0.5
	return storage.Sample{
		RunID: runID, CaseKey: caseKey, CaseHash: "h1", SampleIdx: idx, Output: output, Error: errText,
		Passed: errText == "", Score: &score, Request: json.RawMessage(`{"prompt":"p"}`),
		IdentityHash: "id1", OutputTokens: 7, FinishReason: "stop",
	}
}

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := storage.Open(ctx, storagetest.NewEmptyDatabaseURL(t), storage.WithMaxConns(2))
	require.NoError(t, err)
	t.Cleanup(st.Close)

	require.NoError(t, st.Migrate(ctx))
	v, err := st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, latestMigration(t), v)
	require.NoError(t, st.Migrate(ctx)) // no-op

	require.NoError(t, st.MigrateTo(ctx, 0))
	_, err = st.EnsureProject(ctx, storage.DefaultProject)
	require.Error(t, err, "tables must be gone after migrating down")

	require.NoError(t, st.Migrate(ctx))
	_, err = st.EnsureSuite(ctx, storagetest.ProjectID(t, st), "s")
	require.NoError(t, err)
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storagetest.NewEmptyDatabaseURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			st, err := storage.Open(ctx, url, storage.WithMaxConns(1))
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			errs[i] = st.Migrate(ctx)
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const password = "s3cr3t-pw"
	_, err := storage.Open(ctx, "postgres://driftwatch:"+password+"@127.0.0.1:1/driftwatch?sslmode=disable")
	require.Error(t, err)
	require.NotContains(t, err.Error(), password)
	require.Contains(t, err.Error(), "connect to database")
	require.Contains(t, err.Error(), "127.0.0.1:1")

	_, err = storage.Open(ctx, "postgres://driftwatch:"+password+"@127.0.0.1:1/driftwatch?sslmode=bogus")
	require.Error(t, err)
	require.NotContains(t, err.Error(), password)
}

func TestTargetsSuitesCases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	id, err := b.store.EnsureTarget(ctx, storagetest.ProjectID(t, b.store), "gpt", "openai", "gpt-4o-2024")
	require.NoError(t, err)
	require.Equal(t, b.targetID, id)
	id, err = b.store.EnsureSuite(ctx, storagetest.ProjectID(t, b.store), "prime")
	require.NoError(t, err)
	require.Equal(t, b.suiteID, id)

	cases := []storage.Case{{Key: "a", ContentHash: "1", Spec: json.RawMessage(`{"x":1}`)}, {Key: "b", ContentHash: "1"}}
	require.NoError(t, b.store.UpsertCases(ctx, b.suiteID, cases))
	require.NoError(t, b.store.UpsertCases(ctx, b.suiteID, cases))
	require.ErrorIs(t, b.store.UpsertCases(ctx, 999999, cases), storage.ErrNotFound)
}

func TestRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	_, err := b.store.LatestCompletedRun(ctx, b.suiteID, b.targetID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = b.store.GetRun(ctx, 424242)
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = b.store.CreateRun(ctx, storage.NewRun{SuiteID: 999999, TargetID: b.targetID, Trigger: "cli"})
	require.ErrorIs(t, err, storage.ErrNotFound)

	run1 := b.newRun(t)
	require.Equal(t, storage.RunRunning, run1.Status)
	require.Equal(t, 3, run1.SamplesPerCase)
	require.JSONEq(t, `{"k":"v"}`, string(run1.Config))
	require.Nil(t, run1.FinishedAt)

	require.NoError(t, b.store.FinishRun(ctx, run1.ID, storage.FinishRun{
		Status: storage.RunCompleted, Verdict: "unchanged", Reason: "no drift",
		Summary: json.RawMessage(`{"findings":0}`), BaselineRunIDs: []int64{run1.ID}, CostUSD: 0.25,
	}))
	require.ErrorIs(t, b.store.FinishRun(ctx, 424242, storage.FinishRun{Status: storage.RunFailed}), storage.ErrNotFound)
	got, err := b.store.GetRun(ctx, run1.ID)
	require.NoError(t, err)
	require.Equal(t, "unchanged", got.Verdict)
	require.Equal(t, []int64{run1.ID}, got.BaselineRunIDs)
	require.InDelta(t, 0.25, got.CostUSD, 1e-9)
	require.NotNil(t, got.FinishedAt)

	run2 := b.newRun(t)
	latest, err := b.store.LatestCompletedRun(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.Equal(t, run1.ID, latest.ID)

	runs, err := b.store.ListRuns(ctx, storage.RunFilter{SuiteID: b.suiteID, TargetID: b.targetID})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, run2.ID, runs[0].ID)
	runs, err = b.store.ListRuns(ctx, storage.RunFilter{SuiteID: b.suiteID, Limit: 1, Offset: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, run1.ID, runs[0].ID)
	runs, err = b.store.ListRuns(ctx, storage.RunFilter{Status: storage.RunRunning})
	require.NoError(t, err)
	require.Len(t, runs, 1)
}

func TestWriteSamplesIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)

	t.Run("SameSampleTwice", func(t *testing.T) {
		s := sample(run.ID, "twice", 0, "out", "")
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{s}))
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{s, s}))
		got, err := b.store.ListSamples(ctx, run.ID, "twice")
		require.NoError(t, err)
		require.Len(t, got, 1)
	})
	t.Run("ErroredThenSucceeded", func(t *testing.T) {
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{sample(run.ID, "retry", 0, "", "429 rate limited")}))
		done, err := b.store.DoneSamples(ctx, run.ID)
		require.NoError(t, err)
		require.NotContains(t, done, storage.SampleKey{CaseKey: "retry"})

		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{sample(run.ID, "retry", 0, "fine", "")}))
		got, err := b.store.ListSamples(ctx, run.ID, "retry")
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "fine", got[0].Output)
		require.Empty(t, got[0].Error)
		require.Equal(t, storage.OutcomePassed, got[0].Outcome)
	})
	t.Run("SucceededThenRewritten", func(t *testing.T) {
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{sample(run.ID, "keep", 0, "first", "")}))
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{sample(run.ID, "keep", 0, "second", "")}))
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{sample(run.ID, "keep", 0, "", "boom")}))
		got, err := b.store.ListSamples(ctx, run.ID, "keep")
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "first", got[0].Output)
		require.Empty(t, got[0].Error)
	})
	t.Run("InBatchErroredThenSucceeded", func(t *testing.T) {
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{
			sample(run.ID, "batch", 0, "", "timeout"), sample(run.ID, "batch", 0, "ok", ""), sample(run.ID, "batch", 0, "late", ""),
		}))
		got, err := b.store.ListSamples(ctx, run.ID, "batch")
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "ok", got[0].Output)
	})
	t.Run("AllColumnsRoundTrip", func(t *testing.T) {
		answer := "42"
		in := storage.Sample{
			RunID: run.ID, CaseKey: "full", CaseHash: "hh", SampleIdx: 2, Request: json.RawMessage(`{"a":1}`),
			Output: "```json\n{}\n```", Raw: json.RawMessage(`{"id":"x"}`), Identity: json.RawMessage(`{"model":"m"}`),
			IdentityHash: "ih", InputTokens: 11, OutputTokens: 22, LatencyMS: 123.5, CostUSD: 0.001,
			Outcome: storage.OutcomeFailed, Checks: json.RawMessage(`[{"name":"c","ok":false}]`), Answer: &answer,
			Refused: true, JSONValid: true, CodeFence: true, FinishReason: "length",
		}
		require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{in}))
		got, err := b.store.ListSamples(ctx, run.ID, "full")
		require.NoError(t, err)
		require.Len(t, got, 1)
		out := got[0]
		require.NotZero(t, out.ID)
		require.False(t, out.CreatedAt.IsZero())
		require.Nil(t, out.Score)
		require.JSONEq(t, string(in.Checks), string(out.Checks))
		out.ID, out.CreatedAt, out.Checks, in.Checks = 0, time.Time{}, nil, nil
		in.Request, out.Request = nil, nil // jsonb normalises whitespace
		in.Raw, out.Raw, in.Identity, out.Identity = nil, nil, nil, nil
		require.Equal(t, in, out)
	})
	t.Run("BadOutcome", func(t *testing.T) {
		s := sample(run.ID, "bad", 0, "", "")
		s.Outcome = "exploded"
		err := b.store.WriteSamples(ctx, []storage.Sample{s})
		require.Error(t, err)
		require.Contains(t, err.Error(), "write 1 samples")
	})
}

func TestSampleWriterConcurrentRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	runs := []storage.Run{b.newRun(t), b.newRun(t)}
	const cases, perCase = 60, 5

	var wg sync.WaitGroup
	errs := make([]error, len(runs))
	for i, run := range runs {
		wg.Go(func() {
			w := b.store.NewSampleWriter(ctx, run.ID, storage.SampleWriterOpts{BatchSize: 37, FlushInterval: 5 * time.Millisecond})
			for c := range cases {
				for k := range perCase {
					s := sample(0, fmt.Sprintf("case-%03d", c), k, fmt.Sprintf("run %d", run.ID), "")
					if err := w.Write(s); err != nil {
						errs[i] = err
						return
					}
					if c%7 == 0 { // duplicates are harmless
						if err := w.Write(s); err != nil {
							errs[i] = err
							return
						}
					}
				}
			}
			errs[i] = w.Close(ctx)
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	for _, run := range runs {
		n := 0
		err := b.store.StreamSamples(ctx, []int64{run.ID}, func(s storage.Sample) error {
			n++
			require.Equal(t, run.ID, s.RunID)
			require.Equal(t, fmt.Sprintf("run %d", run.ID), s.Output)
			require.Equal(t, "id1", s.IdentityHash)
			require.Equal(t, storage.OutcomePassed, s.Outcome)
			require.NotNil(t, s.Score)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, cases*perCase, n)
	}

	stop := errors.New("stop")
	err := b.store.StreamSamples(ctx, []int64{runs[0].ID, runs[1].ID}, func(storage.Sample) error { return stop })
	require.ErrorIs(t, err, stop)
}

func TestSampleWriterKilledAndResumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)
	const cases, perCase = 50, 4

	// First attempt: some samples error, and the process "dies" after a few
	// flushes without closing the writer.
	killCtx, kill := context.WithCancel(ctx)
	w := b.store.NewSampleWriter(killCtx, run.ID, storage.SampleWriterOpts{BatchSize: 20, FlushInterval: time.Hour})
	written := 0
	for c := range cases {
		for k := range perCase {
			errText := ""
			if (c+k)%5 == 0 {
				errText = "503 upstream"
			}
			require.NoError(t, w.Write(sample(0, fmt.Sprintf("c%02d", c), k, "first", errText)))
			written++
		}
		if written >= 110 {
			break
		}
	}
	// Wait until at least 100 samples are durable, then kill.
	require.Eventually(t, func() bool {
		n := 0
		require.NoError(t, b.store.StreamSamples(ctx, []int64{run.ID}, func(storage.Sample) error { n++; return nil }))
		return n >= 100
	}, 30*time.Second, 10*time.Millisecond)
	kill()
	require.Error(t, w.Close(ctx), "closing a killed writer reports the cancellation")

	// Resume: skip what is done, write everything else once.
	done, err := b.store.DoneSamples(ctx, run.ID)
	require.NoError(t, err)
	require.NotEmpty(t, done)
	w = b.store.NewSampleWriter(ctx, run.ID, storage.SampleWriterOpts{})
	rewritten := 0
	for c := range cases {
		for k := range perCase {
			key := storage.SampleKey{CaseKey: fmt.Sprintf("c%02d", c), SampleIdx: k}
			if _, ok := done[key]; ok {
				continue
			}
			rewritten++
			require.NoError(t, w.Write(sample(0, key.CaseKey, k, "second", "")))
		}
	}
	require.NoError(t, w.Close(ctx))
	require.NoError(t, w.Close(ctx), "Close is idempotent")
	require.ErrorIs(t, w.Write(sample(0, "late", 0, "", "")), storage.ErrWriterClosed)
	require.Equal(t, cases*perCase-len(done), rewritten)

	seen := map[storage.SampleKey]int{}
	err = b.store.StreamSamples(ctx, []int64{run.ID}, func(s storage.Sample) error {
		seen[storage.SampleKey{CaseKey: s.CaseKey, SampleIdx: s.SampleIdx}]++
		require.Empty(t, s.Error)
		if _, ok := done[storage.SampleKey{CaseKey: s.CaseKey, SampleIdx: s.SampleIdx}]; ok {
			require.Equal(t, "first", s.Output)
		} else {
			require.Equal(t, "second", s.Output)
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, seen, cases*perCase)
	for k, n := range seen {
		require.Equal(t, 1, n, "sample %v", k)
	}
}

func TestSampleWriterRunMismatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.newRun(t)
	w := b.store.NewSampleWriter(context.Background(), run.ID, storage.SampleWriterOpts{})
	err := w.Write(sample(run.ID+1, "x", 0, "", ""))
	require.Error(t, err)
	require.NoError(t, w.Close(context.Background()))
}

func TestSampleWriterFlushError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	w := b.store.NewSampleWriter(ctx, 0, storage.SampleWriterOpts{FlushInterval: time.Millisecond})
	require.NoError(t, w.Write(sample(987654, "orphan", 0, "", ""))) // no such run: not retried
	err := w.Close(ctx)
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, w.Write(sample(987654, "orphan", 1, "", "")), storage.ErrNotFound, "flush errors are sticky")
}

func TestIdentities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run1, run2 := b.newRun(t), b.newRun(t)

	require.NoError(t, b.store.RecordIdentity(ctx, b.targetID, run1.ID, "a", json.RawMessage(`{"fp":"a"}`)))
	require.NoError(t, b.store.RecordIdentity(ctx, b.targetID, run2.ID, "a", json.RawMessage(`{"fp":"a"}`)))
	require.NoError(t, b.store.RecordIdentity(ctx, b.targetID, run2.ID, "b", json.RawMessage(`{"fp":"b"}`)))

	hist, err := b.store.IdentityHistory(ctx, b.targetID)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, "a", hist[0].IdentityHash)
	require.Equal(t, run1.ID, *hist[0].FirstRunID)
	require.Equal(t, run2.ID, *hist[0].LastRunID)
	require.False(t, hist[0].LastSeen.Before(hist[0].FirstSeen))
	require.JSONEq(t, `{"fp":"b"}`, string(hist[1].Identity))
}

func TestBaselines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run1, run2 := b.newRun(t), b.newRun(t)

	_, err := b.store.ActiveBaseline(ctx, b.suiteID, b.targetID)
	require.ErrorIs(t, err, storage.ErrNotFound)

	first, err := b.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: b.suiteID, TargetID: b.targetID, RunIDs: []int64{run1.ID}, AcceptedBy: "ana", Note: "initial"})
	require.NoError(t, err)
	require.True(t, first.Active)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = b.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: b.suiteID, TargetID: b.targetID, RunIDs: []int64{run1.ID, run2.ID}, AcceptedBy: "bo"})
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	active, err := b.store.ActiveBaseline(ctx, b.suiteID, b.targetID)
	require.NoError(t, err)
	require.NotEqual(t, first.ID, active.ID)
	require.Equal(t, []int64{run1.ID, run2.ID}, active.RunIDs)
	require.Equal(t, "bo", active.AcceptedBy)

	_, err = b.store.AcceptBaseline(ctx, storage.AcceptBaseline{SuiteID: b.suiteID, TargetID: b.targetID})
	require.Error(t, err)
}

func TestFindingsAndAlerts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)

	in := []storage.Finding{
		{BaselineRunIDs: []int64{run.ID}, Scope: "case:a", Metric: "pass_rate", Statistic: "fisher", P: 0.001, Q: 0.01,
			Effect: -0.4, CILow: -0.6, CIHigh: -0.2, BaselineValue: 0.9, CurrentValue: 0.5, Verdict: "drift",
			Reason: "metric regression", Examples: json.RawMessage(`[{"before":"x","after":"y"}]`)},
		{Scope: "suite", Metric: "length", P: math.NaN(), Q: math.NaN(), Effect: 0, CILow: math.NaN(), CIHigh: math.NaN(),
			BaselineValue: 10, CurrentValue: 10, Verdict: "unchanged"},
	}
	ids, err := b.store.InsertFindings(ctx, run.ID, in)
	require.NoError(t, err)
	require.Len(t, ids, 2)
	got, err := b.store.ListFindings(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, ids[0], got[0].ID)
	require.Equal(t, "metric regression", got[0].Reason)
	require.InDelta(t, 0.001, got[0].P, 1e-12)
	require.JSONEq(t, string(in[0].Examples), string(got[0].Examples))
	require.True(t, math.IsNaN(got[1].P))
	require.Empty(t, got[1].BaselineRunIDs)
	_, err = b.store.InsertFindings(ctx, 999999, in)
	require.ErrorIs(t, err, storage.ErrNotFound)

	now := time.Now()
	a1, err := b.store.EnqueueAlert(ctx, storage.NewAlert{FindingID: ids[0], RunID: run.ID, Channel: "slack", DedupKey: "k1", Payload: json.RawMessage(`{"text":"drift"}`)})
	require.NoError(t, err)
	require.Equal(t, storage.AlertPending, a1.Status)
	_, err = b.store.EnqueueAlert(ctx, storage.NewAlert{RunID: run.ID, Channel: "webhook", DedupKey: "k2", NextAttemptAt: now.Add(time.Hour)})
	require.NoError(t, err)

	pending, err := b.store.PendingAlerts(ctx, now.Add(time.Second), 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, a1.ID, pending[0].ID)

	require.NoError(t, b.store.MarkAlertFailed(ctx, a1.ID, errors.New("502 from slack"), now.Add(time.Minute)))
	pending, err = b.store.PendingAlerts(ctx, now.Add(time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	pending, err = b.store.PendingAlerts(ctx, now.Add(2*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, pending, 2)

	require.NoError(t, b.store.MarkAlertSent(ctx, a1.ID, now))
	last, err := b.store.LastAlert(ctx, "k1")
	require.NoError(t, err)
	require.Equal(t, storage.AlertSent, last.Status)
	require.Equal(t, 2, last.Attempts)
	require.Equal(t, "502 from slack", last.LastError)
	require.NotNil(t, last.SentAt)

	a2, err := b.store.LastAlert(ctx, "k2")
	require.NoError(t, err)
	require.NoError(t, b.store.MarkAlertFailed(ctx, a2.ID, errors.New("410 gone"), time.Time{}))
	a2, err = b.store.LastAlert(ctx, "k2")
	require.NoError(t, err)
	require.Equal(t, storage.AlertFailed, a2.Status)

	_, err = b.store.LastAlert(ctx, "nope")
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, b.store.MarkAlertSent(ctx, 999999, now), storage.ErrNotFound)
	require.True(t, strings.Contains(fmt.Sprint(b.store.MarkAlertSent(ctx, 999999, now)), "mark alert 999999 sent"))
}

// latestMigration is the highest NNN of migrations/NNN_*.sql.
func latestMigration(t *testing.T) int32 {
	t.Helper()
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	var latest int32
	for _, e := range entries {
		var n int32
		if _, err := fmt.Sscanf(e.Name(), "%03d_", &n); err == nil && n > latest {
			latest = n
		}
	}
	require.Positive(t, latest)
	return latest
}
