package yamlsuite

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCaseVars(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		suiteVars map[string]any
		own       map[string]any
		id        string
		want      map[string]any
		reusesOwn bool
	}{
		{
			name: "NoVars",
			id:   "c1",
			want: map[string]any{"id": "c1"},
		},
		{
			name:      "OwnVarsOnlyReusesTheRowMap",
			own:       map[string]any{"q": "2+2"},
			id:        "c1",
			want:      map[string]any{"q": "2+2", "id": "c1"},
			reusesOwn: true,
		},
		{
			name:      "CaseOverridesSuite",
			suiteVars: map[string]any{"lang": "en", "tone": "dry"},
			own:       map[string]any{"lang": "fr"},
			id:        "c1",
			want:      map[string]any{"lang": "fr", "tone": "dry", "id": "c1"},
		},
		{
			name:      "IDIsTheCaseID",
			suiteVars: map[string]any{"id": "suite"},
			own:       map[string]any{"id": 7.0},
			id:        "7",
			want:      map[string]any{"id": "7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := caseVars(tt.suiteVars, tt.own, tt.id)
			require.Equal(t, tt.want, got)
			if tt.own != nil {
				got["probe"] = true
				_, shared := tt.own["probe"]
				require.Equal(t, tt.reusesOwn, shared)
			}
		})
	}
}
