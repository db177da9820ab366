package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// benchSamples returns n realistic samples for run, with unique keys.
func benchSamples(run int64, n, offset int) []storage.Sample {
	out := make([]storage.Sample, n)
	for i := range out {
		s := sample(run, fmt.Sprintf("case-%06d", (offset+i)/5), (offset+i)%5, "The answer is 42. Here is a longer explanation of the reasoning so the row has a realistic size.", "")
		s.Raw = []byte(`{"id":"chatcmpl-1","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":7}}`)
		s.Checks = []byte(`[{"name":"contains","passed":true},{"name":"json","passed":false}]`)
		out[i] = s
	}
	return out
}

func benchRun(b *testing.B) (*storage.Store, int64) {
	bundle := setupTB(b)
	run, err := bundle.store.CreateRun(context.Background(), storage.NewRun{SuiteID: bundle.suiteID, TargetID: bundle.targetID, Trigger: storage.TriggerCLI})
	require.NoError(b, err)
	return bundle.store, run.ID
}

const benchBatch = 500

// BenchmarkSampleWriter measures samples/s through the Store's batching
// writer (COPY into a staging table + INSERT ... ON CONFLICT).
func BenchmarkSampleWriter(b *testing.B) {
	st, runID := benchRun(b)
	ctx := context.Background()
	samples := benchSamples(runID, b.N, 0)
	b.ResetTimer()
	w := st.NewSampleWriter(ctx, runID, storage.SampleWriterOpts{})
	for _, s := range samples {
		if err := w.Write(s); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkWriteSamplesCopy is the synchronous path the writer uses, in
// batches of 500.
func BenchmarkWriteSamplesCopy(b *testing.B) {
	benchBatches(b, func(st *storage.Store, batch []storage.Sample) error {
		return st.WriteSamples(context.Background(), batch)
	})
}

// BenchmarkWriteSamplesUnnest is the alternative: one INSERT ... SELECT FROM
// unnest(array params) ... ON CONFLICT per batch of 500.
func BenchmarkWriteSamplesUnnest(b *testing.B) {
	benchBatches(b, func(st *storage.Store, batch []storage.Sample) error {
		return st.WriteSamplesUnnest(context.Background(), batch)
	})
}

// BenchmarkCopyFromBaseline is a bare pgx CopyFrom of the same rows, with no
// conflict handling: the upper bound.
func BenchmarkCopyFromBaseline(b *testing.B) {
	benchBatches(b, func(st *storage.Store, batch []storage.Sample) error {
		return st.CopyFromBaseline(context.Background(), batch)
	})
}

func benchBatches(b *testing.B, write func(*storage.Store, []storage.Sample) error) {
	st, runID := benchRun(b)
	samples := benchSamples(runID, b.N, 0)
	b.ResetTimer()
	for i := 0; i < len(samples); i += benchBatch {
		if err := write(st, samples[i:min(i+benchBatch, len(samples))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}
