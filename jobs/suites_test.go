package jobs

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/eval"
)

type fixedSuite struct {
	name  string
	cases []eval.Case
}

func (s fixedSuite) Name() string       { return s.name }
func (s fixedSuite) Cases() []eval.Case { return s.cases }

// The suite cache keeps the suiteCacheSize most recently used suites.
func TestSuiteCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	var c suiteCache
	for i := range suiteCacheSize {
		c.put(fmt.Sprint(i), &loadedSuite{hash: fmt.Sprint(i)})
	}
	require.NotNil(t, c.get("0")) // 0 is now the most recently used
	c.put("new", &loadedSuite{hash: "new"})
	require.Nil(t, c.get("1"), "the least recently used is evicted")
	for _, k := range []string{"0", "2", fmt.Sprint(suiteCacheSize - 1), "new"} {
		require.NotNil(t, c.get(k), k)
	}
	c.put("new", &loadedSuite{hash: "again"}) // a replacement evicts nothing
	require.Equal(t, "again", c.get("new").hash)
	require.NotNil(t, c.get("0"))
	require.Len(t, c.entries, suiteCacheSize)
}

// A suite's hash changes with any case's content, id or order.
func TestSuiteHash(t *testing.T) {
	t.Parallel()
	base := fixedSuite{name: "s", cases: []eval.Case{{ID: "a", Hash: "1"}, {ID: "b", Hash: "2"}}}
	tests := []struct {
		name string
		s    fixedSuite
	}{
		{"Name", fixedSuite{name: "t", cases: base.cases}},
		{"CaseHash", fixedSuite{name: "s", cases: []eval.Case{{ID: "a", Hash: "1"}, {ID: "b", Hash: "3"}}}},
		{"CaseID", fixedSuite{name: "s", cases: []eval.Case{{ID: "a", Hash: "1"}, {ID: "c", Hash: "2"}}}},
		{"Order", fixedSuite{name: "s", cases: []eval.Case{{ID: "b", Hash: "2"}, {ID: "a", Hash: "1"}}}},
		{"Boundary", fixedSuite{name: "s", cases: []eval.Case{{ID: "a", Hash: "1b"}, {ID: "", Hash: "2"}}}},
	}
	require.Equal(t, suiteHash(base), suiteHash(fixedSuite{name: "s", cases: base.cases}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, suiteHash(base), suiteHash(tt.s))
		})
	}
}
