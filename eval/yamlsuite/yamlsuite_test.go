package yamlsuite_test

import (
	"errors"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/eval"
	"github.com/driftwatch/driftwatch/eval/evaltest"
	"github.com/driftwatch/driftwatch/eval/yamlsuite"
	"github.com/driftwatch/driftwatch/internal/yamldoc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loadErr loads path, which must fail, and returns its only located error.
func loadErr(t testing.TB, path string) *yamldoc.Error {
	t.Helper()
	_, err := yamlsuite.Load(path, yamlsuite.Options{})
	require.Error(t, err, path)
	var es yamldoc.Errors
	var e *yamldoc.Error
	switch {
	case errors.As(err, &es):
		require.Len(t, es, 1, "want exactly one error, got:\n%v", err)
		return es[0]
	case errors.As(err, &e):
		return e
	}
	t.Fatalf("%s: error %T is not located: %v", path, err, err)
	return nil
}

// load loads a good suite.
func load(t testing.TB, path string) *yamlsuite.Suite {
	t.Helper()
	s, err := yamlsuite.Load(path, yamlsuite.Options{})
	require.NoError(t, err)
	return s
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	bad := func(name string) string { return filepath.Join("testdata", "bad", name) }
	tests := []struct {
		name  string
		file  string // the suite file loaded
		where string // the file the error names; default file
		line  int
		field string
		words []string // the message contains these
	}{
		{name: "Syntax", file: "syntax.yaml", line: 2,
			words: []string{"invalid YAML", "mapping values are not allowed"}},
		{name: "UnknownField", file: "unknown_field.yaml", line: 4,
			words: []string{`unknown field "temprature"`}},
		{name: "UnknownCheckType", file: "unknown_check.yaml", line: 6, field: "checks[1]",
			words: []string{`unknown check type "containz"`, `did you mean "contains"`}},
		{name: "BadRegex", file: "bad_regex.yaml", line: 4, field: "checks[0]",
			words: []string{"regex", "missing closing )"}},
		{name: "MissingDataset", file: "missing_dataset.yaml", line: 4, field: "dataset",
			words: []string{"no-such-file.jsonl", "not found"}},
		{name: "MissingVariable", file: "missing_var.yaml", line: 6, field: "cases[1].prompt",
			words: []string{`missing variable "language"`}},
		{name: "MissingVariableInDatasetRow", file: "missing_var_dataset.yaml",
			line: 2, field: "prompt", words: []string{`missing variable "language"`, "for the case at", "missing_var_dataset.jsonl:2)"}},
		{name: "MissingVariableInCheckForDatasetRow", file: "missing_var_check_dataset.yaml",
			line: 6, field: "checks[0].value",
			words: []string{`missing variable "expected"`, "missing_var_check_dataset.jsonl:2)"}},
		{name: "DuplicateCaseID", file: "duplicate_id.yaml", line: 8, field: "cases[2].id",
			words: []string{`duplicate case id "seventeen"`, "duplicate_id.yaml:4"}},
		{name: "BadRole", file: "bad_role.yaml", line: 7, field: "cases[0].messages[1].role",
			words: []string{`unknown role "bot"`}},
		{name: "BadCSV", file: "bad_csv.yaml", where: "bad_csv.csv", line: 3,
			words: []string{"invalid CSV", "wrong number of fields"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := loadErr(t, bad(tt.file))
			where := tt.where
			if where == "" {
				where = tt.file
			}
			require.Equal(t, bad(where), e.File)
			require.Equal(t, tt.line, e.Line, "error: %v", e)
			require.Equal(t, tt.field, e.Field, "error: %v", e)
			for _, w := range tt.words {
				require.Contains(t, e.Msg, w)
			}
		})
	}
}

func TestLoadPathsReportsEveryFile(t *testing.T) {
	t.Parallel()
	_, err := yamlsuite.LoadPaths([]string{filepath.Join("testdata", "bad")}, yamlsuite.Options{})
	var es yamldoc.Errors
	require.ErrorAs(t, err, &es)
	files, err := yamlsuite.SuiteFiles([]string{filepath.Join("testdata", "bad")})
	require.NoError(t, err)
	require.Len(t, es, len(files), "one error per bad file:\n%v", es)
}

func TestCSVDatasetWithIDs(t *testing.T) {
	t.Parallel()
	s := load(t, filepath.Join("testdata", "good", "csv_ids.yaml"))
	require.Equal(t, "csv-ids", s.Name())
	var ids []string
	for i, c := range s.Cases() {
		ids = append(ids, c.ID)
		require.Equal(t, filepath.Join("testdata", "good", "primes.csv"), c.File)
		require.Equal(t, i+2, c.Line, "row %d is on line %d", i, i+2)
	}
	require.Equal(t, []string{"seven", "nine", "eleven"}, ids)
	require.Equal(t, "Is 11 a prime number? Answer [Yes] or [No].", s.Request("eleven").Messages[0].Content)

	res := eval.RunSample(t.Context(), s, s.Cases()[0], 0, evaltest.Fake("[Yes], 7 is prime."))
	require.Equal(t, eval.Passed, res.Outcome)
	require.Equal(t, "Yes", res.Answer)
}

func TestJSONLDatasetWithoutIDs(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "good", "jsonl_noid.yaml")
	s := load(t, path)
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	var ids []string
	lines := []int{1, 3, 4} // line 2 is blank
	for i, c := range s.Cases() {
		require.Regexp(t, hexID, c.ID)
		require.Equal(t, c.Hash, c.ID, "without an id column the id is the content hash")
		require.Equal(t, lines[i], c.Line)
		ids = append(ids, c.ID)
	}
	require.Len(t, ids, 3)
	require.Len(t, map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true}, 3, "ids are distinct")

	// Stable: loading again gives the same ids.
	again := load(t, path)
	for i, c := range again.Cases() {
		require.Equal(t, ids[i], c.ID)
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	s := load(t, filepath.Join("testdata", "good", "overrides.yaml"))
	require.Len(t, s.Cases(), 2)
	def, own := s.Cases()[0], s.Cases()[1]
	require.Equal(t, []string{"math"}, def.Tags)
	require.Equal(t, []string{"math", "smoke"}, own.Tags)

	dr := s.Request("defaults")
	require.Equal(t, []eval.Message{
		{Role: eval.RoleSystem, Content: "You are terse."},
		{Role: eval.RoleUser, Content: "What is 1 + 2?"},
	}, dr.Messages)
	require.Equal(t, 0.2, *dr.Params.Temperature)
	require.Equal(t, 100, dr.Params.MaxTokens)
	require.Nil(t, dr.Params.Seed)

	or := s.Request("own")
	require.Equal(t, []eval.Message{
		{Role: eval.RoleSystem, Content: "You are verbose."},
		{Role: eval.RoleUser, Content: "Add 2 and 2."},
	}, or.Messages)
	require.Equal(t, 0.2, *or.Params.Temperature, "unset case params keep the suite's")
	require.Equal(t, 10, or.Params.MaxTokens)
	require.Equal(t, int64(7), *or.Params.Seed)

	// The suite's check runs for both cases; the case adds its own, and
	// its extractor replaces the suite's.
	out := "The answer is 4.\nIndeed."
	rd := eval.RunSample(t.Context(), s, def, 0, evaltest.Fake(out))
	require.Len(t, rd.Checks, 1)
	require.Equal(t, eval.Failed, rd.Outcome, "1+2 is not 4")
	require.Equal(t, "4", rd.Answer)
	ro := eval.RunSample(t.Context(), s, own, 0, evaltest.Fake(out))
	require.Len(t, ro.Checks, 2)
	require.Equal(t, eval.Passed, ro.Outcome)
	require.Equal(t, "The answer is 4", ro.Answer, "first-line drops the final period")
	require.NotEqual(t, def.Hash, own.Hash)
}

func TestMessages(t *testing.T) {
	t.Parallel()
	s := load(t, filepath.Join("testdata", "good", "messages.yaml"))
	require.Equal(t, "A multi-turn conversation per case.", s.Description)
	require.Equal(t, []eval.Message{
		{Role: eval.RoleSystem, Content: "You are a travel agent."},
		{Role: eval.RoleUser, Content: "What should I see in Paris?"},
	}, s.Request("suite-messages").Messages)
	require.Equal(t, []eval.Message{
		{Role: eval.RoleUser, Content: "What should I see in Rome?"},
		{Role: eval.RoleAssistant, Content: "The Colosseum."},
		{Role: eval.RoleUser, Content: "And where should I eat near it in Rome?"},
	}, s.Request("followup").Messages)

	res := eval.RunSample(t.Context(), s, s.Cases()[1], 0, evaltest.FakeFunc(func(req *eval.Request) (string, error) {
		return req.Messages[len(req.Messages)-1].Content, nil
	}))
	require.Equal(t, eval.Passed, res.Outcome)
	require.Equal(t, 1, res.Calls)
	require.Equal(t, "And where should I eat near it in Rome?", res.Output)
}

func TestLoadGoodFolder(t *testing.T) {
	t.Parallel()
	ss, err := yamlsuite.LoadPaths([]string{filepath.Join("testdata", "good")}, yamlsuite.Options{})
	require.NoError(t, err)
	require.Len(t, ss, 4)
}

func TestLoadSuitesFolder(t *testing.T) {
	t.Parallel()
	// The example suites shipped in suites/ all load.
	ss, err := yamlsuite.LoadPaths([]string{filepath.Join("..", "..", "suites")}, yamlsuite.Options{})
	require.NoError(t, err)
	names := map[string]bool{}
	for _, s := range ss {
		names[s.Name()] = true
		require.NotEmpty(t, s.Cases(), s.Name())
	}
	require.True(t, names["arithmetic"], "suites: %v", names)
	require.True(t, names["support-triage"], "suites: %v", names)
	require.True(t, names["borderline-requests"], "suites: %v", names)
}
