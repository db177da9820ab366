package storage

import (
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func journalFiles(t *testing.T, j Journal) []string {
	t.Helper()
	paths, err := filepath.Glob(j.pattern())
	require.NoError(t, err)
	return paths
}

// Each file of a journal holds a gob stream of samples; a file is removed
// once it is no longer appended to and every sample in it is stored, and
// the last one when the journal closes with nothing pending.
func TestJournalRemovesFilesWhoseSamplesAreStored(t *testing.T) {
	t.Parallel()
	spec := Journal{Dir: t.TempDir(), Run: Run{ID: 7, StartedAt: time.Now()}}
	j := &journal{spec: spec, segmentMax: 1} // every sample starts a new file
	var segs []*segment
	for i := range 3 {
		seg, err := j.append(&Sample{RunID: 7, CaseKey: fmt.Sprintf("c%d", i)})
		require.NoError(t, err)
		segs = append(segs, seg)
	}
	require.Len(t, journalFiles(t, spec), 3)

	f, err := os.Open(segs[1].path)
	require.NoError(t, err)
	var got Sample
	require.NoError(t, gob.NewDecoder(f).Decode(&got))
	require.NoError(t, f.Close())
	require.Equal(t, "c1", got.CaseKey)

	require.NoError(t, j.stored(segs[1], 1))
	require.NoFileExists(t, segs[1].path, "a closed file whose samples are stored is removed")
	require.NoError(t, j.stored(segs[2], 1))
	require.FileExists(t, segs[2].path, "the file being appended to stays")
	require.NoError(t, j.close())
	require.Equal(t, []string{segs[0].path}, journalFiles(t, spec), "a file with a sample not stored stays")
}

// A journal that cannot be written is given up: append reports the error
// once, then journals nothing.
func TestJournalThatCannotBeWrittenIsGivenUp(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(dir, nil, 0o600)) // a file where the folder should be
	j := &journal{spec: Journal{Dir: dir, Run: Run{ID: 1}}, segmentMax: journalSegmentMax}
	seg, err := j.append(&Sample{RunID: 1})
	require.Error(t, err)
	require.Nil(t, seg)
	seg, err = j.append(&Sample{RunID: 1})
	require.NoError(t, err)
	require.Nil(t, seg)
	require.NoError(t, j.close())
}

// The file being appended to is locked: another opener cannot take it.
func TestJournalLocksTheFileBeingAppendedTo(t *testing.T) {
	t.Parallel()
	j := &journal{spec: Journal{Dir: t.TempDir(), Run: Run{ID: 3}}, segmentMax: journalSegmentMax}
	seg, err := j.append(&Sample{RunID: 3})
	require.NoError(t, err)
	f, err := os.Open(seg.path)
	require.NoError(t, err)
	defer f.Close()
	require.ErrorIs(t, lock(f), syscall.EWOULDBLOCK)
	require.NoError(t, j.stored(seg, 1))
	require.NoError(t, j.close())
	require.NoFileExists(t, seg.path)
	require.NoError(t, lock(f), "closing the journal releases its lock")
}

// BenchmarkJournalAppend is the cost a journal adds to each sample written.
func BenchmarkJournalAppend(b *testing.B) {
	score, answer := 1.0, "42"
	s := Sample{RunID: 1, CaseKey: "case-000001", CaseHash: "3f7a9c2e", Output: "The answer is 42. Here is a longer explanation of the reasoning so the row has a realistic size.",
		Request:  []byte(`{"messages":[{"role":"user","content":"What is 19 + 23?"}],"params":{"max_tokens":64,"temperature":0.7}}`),
		Raw:      []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt","system_fingerprint":"fp_1","choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 42."},"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":7}}`),
		Identity: []byte(`{"resolved_model":"gpt-2025-01-01","fingerprint":"fp_1"}`), IdentityHash: "abc123",
		Checks: []byte(`[{"name":"contains","pass":true}]`), Score: &score, Answer: &answer, Passed: true, Outcome: OutcomePassed,
		InputTokens: 31, OutputTokens: 7, LatencyMS: 12.5, FinishReason: "stop"}
	j := &journal{spec: Journal{Dir: b.TempDir(), Run: Run{ID: 1}}, segmentMax: journalSegmentMax}
	b.ReportAllocs()
	for b.Loop() {
		seg, err := j.append(&s)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.stored(seg, 1); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.close(); err != nil {
		b.Fatal(err)
	}
}
