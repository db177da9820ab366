package storage_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// DoneSamplesOf returns only the given cases' samples stored without
// error, of the given run only.
func TestDoneSamplesOf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run, other := b.newRun(t), b.newRun(t)
	require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{
		sample(run.ID, "a", 0, "x", ""), sample(run.ID, "a", 1, "x", ""),
		sample(run.ID, "b", 0, "x", ""),
		sample(run.ID, "c", 0, "x", ""), sample(run.ID, "c", 1, "", "timeout"),
		sample(other.ID, "a", 2, "x", ""),
	}))

	tests := []struct {
		name string
		keys []string
		want []storage.SampleKey
	}{
		{"SomeCases", []string{"a", "c"}, []storage.SampleKey{{CaseKey: "a", SampleIdx: 0}, {CaseKey: "a", SampleIdx: 1}, {CaseKey: "c", SampleIdx: 0}}},
		{"UnknownCase", []string{"zz"}, nil},
		{"NoCases", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			done, err := b.store.DoneSamplesOf(ctx, run.ID, tt.keys)
			require.NoError(t, err)
			var got []storage.SampleKey
			for k := range done {
				got = append(got, k)
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}
