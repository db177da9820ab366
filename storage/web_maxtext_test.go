package storage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/storage"
)

// TestListSamplePageMaxTextLoadsOnlyTheStart: with MaxText, a page of
// samples with huge outputs, errors and requests loads MaxText+1
// characters of each text (so the caller can tell it was cut) and no
// oversized request.
func TestListSamplePageMaxTextLoadsOnlyTheStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	run := b.newRun(t)
	huge := strings.Repeat("é", 5<<20/2)
	s0 := sample(run.ID, "c", 0, huge, "")
	s0.Request = json.RawMessage(`{"prompt":"` + strings.Repeat("p", 10000) + `"}`)
	s1 := sample(run.ID, "c", 1, "", strings.Repeat("x", 100000))
	s2 := sample(run.ID, "c", 2, "short", "")
	require.NoError(t, b.store.WriteSamples(ctx, []storage.Sample{s0, s1, s2}))

	got, err := b.store.ListSamplePage(ctx, storage.SampleFilter{RunIDs: []int64{run.ID}, Limit: 10, MaxText: 4000})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, strings.Repeat("é", 4001), got[0].Output)
	require.Nil(t, got[0].Request, "a request longer than MaxText is left out")
	require.Len(t, got[1].Error, 4001)
	require.Equal(t, "short", got[2].Output)
	require.JSONEq(t, `{"prompt":"p"}`, string(got[2].Request))

	all, err := b.store.ListSamplePage(ctx, storage.SampleFilter{RunIDs: []int64{run.ID}, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, huge, all[0].Output, "without MaxText the whole text")
}
