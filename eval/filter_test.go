package eval_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pattern string
		wantErr       bool
		match, skip   []string
	}{
		{name: "empty matches all", pattern: "", match: []string{"q00", "a/b"}},
		{name: "unanchored", pattern: "q0", match: []string{"q00", "xq0y"}, skip: []string{"q10"}},
		{name: "by element", pattern: "q00/fr", match: []string{"q00", "q00/fr", "q001/french"}, skip: []string{"q01", "q00/de"}},
		{name: "bad regexp", pattern: "q00[", wantErr: true},
		{name: "bad second element", pattern: "q00/(", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := eval.ParseFilter(tc.pattern)
			if tc.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.pattern)
				return
			}
			require.NoError(t, err)
			for _, id := range tc.match {
				require.True(t, f.Match(id), id)
			}
			for _, id := range tc.skip {
				require.False(t, f.Match(id), id)
			}
		})
	}
}
