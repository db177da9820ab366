package evaltest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/driftwatch/driftwatch/eval"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func contains(sub string) eval.Checker {
	return eval.CheckFunc(func(ctx context.Context, in eval.CheckInput) eval.CheckResult {
		if strings.Contains(in.Output, sub) {
			return eval.CheckResult{Name: "contains", Pass: true, Score: 1}
		}
		return eval.CheckResult{Name: "contains", Reason: fmt.Sprintf("output lacks %q", sub)}
	})
}

func arithmetic() eval.Suite {
	return eval.NewSuite("arithmetic", eval.SuiteOpts{Samples: 2},
		eval.CaseFunc("add", func(t *eval.T) { t.Check(t.Ask("10+7?"), contains("17")) }),
		eval.CaseFunc("mul", func(t *eval.T) { t.Check(t.Ask("6*7?"), contains("42")) }),
		eval.CaseFunc("twice", func(t *eval.T) {
			first := t.Ask("10+7?")
			t.Check(first+t.Ask("10+7?"), contains("17"))
		}),
	)
}

// httpTarget is a minimal live target posting requests to url.
func httpTarget(url string) eval.Target {
	return eval.TargetFunc(func(ctx context.Context, req *eval.Request) (*eval.Response, error) {
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
		if err != nil {
			return nil, err
		}
		hresp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			return nil, &eval.TargetError{Kind: eval.ErrTransport, Provider: "http", Err: err}
		}
		defer hresp.Body.Close()
		var resp eval.Response
		if err := json.NewDecoder(hresp.Body).Decode(&resp); err != nil {
			return nil, &eval.TargetError{Kind: eval.ErrMalformed, Provider: "http", Err: err}
		}
		return &resp, nil
	})
}

func TestRecordThenReplay(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req eval.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := served.Add(1)
		answer := map[string]string{"10+7?": "17", "6*7?": "42"}[req.Messages[len(req.Messages)-1].Content]
		_ = json.NewEncoder(w).Encode(eval.Response{
			Text: fmt.Sprintf("%s (call %d)", answer, n), FinishReason: "stop",
			Identity: eval.Identity{Provider: "http", RequestedModel: "m"},
		})
	}))
	path := filepath.Join(t.TempDir(), "testdata", "arithmetic.jsonl")

	t.Run("Record", func(t *testing.T) {
		Run(t, arithmetic(), recorded(t, path, httpTarget(srv.URL), true))
	})
	srv.Close()
	require.EqualValues(t, 8, served.Load())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 8)
	var e entry
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
	require.Len(t, e.Key, 32)

	// Replay: the server is gone, every call is answered from the file, and
	// each identical request gets its own recorded response.
	var texts []string
	target := recorded(t, path, nil, false)
	for range 6 {
		resp, err := target.Complete(t.Context(), &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "10+7?"}}})
		require.NoError(t, err)
		texts = append(texts, resp.Text)
	}
	require.Len(t, texts, 6)
	seen := map[string]bool{}
	for _, s := range texts {
		require.True(t, strings.HasPrefix(s, "17 (call "))
		seen[s] = true
	}
	require.Len(t, seen, 6, "the nth identical request gets the nth response")

	t.Run("Replay", func(t *testing.T) {
		Run(t, arithmetic(), recorded(t, path, nil, false))
	})
}

// fakeReporter records what report does.
type fakeReporter struct {
	errors  []string
	skipped string
}

func (f *fakeReporter) Helper() {}
func (f *fakeReporter) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeReporter) Skip(args ...any) { f.skipped = fmt.Sprint(args...) }

func TestReplayUnrecordedRequestFails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "empty.jsonl")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	p := &player{t: &errorSpy{TB: t}, path: path, counts: map[string]int{}}
	require.NoError(t, p.load())
	_, err := p.Complete(t.Context(), &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "new"}}})
	require.ErrorIs(t, err, errNotRecorded)
	require.Equal(t, eval.ErrBadRequest, eval.KindOf(err))
	spy := p.t.(*errorSpy)
	require.Len(t, spy.msgs, 1)
	require.Contains(t, spy.msgs[0], "re-record with go test -record")
	require.Contains(t, spy.msgs[0], `prompt "new"`)
}

type errorSpy struct {
	testing.TB
	msgs []string
}

func (e *errorSpy) Errorf(format string, args ...any) {
	e.msgs = append(e.msgs, fmt.Sprintf(format, args...))
}

func TestReport(t *testing.T) {
	t.Parallel()
	s := eval.SuiteFunc("s",
		eval.CaseFunc("fails", func(t *eval.T) { t.Check(t.Ask("q"), contains("17")) }),
		eval.CaseFunc("errors", func(t *eval.T) { t.Ask("q") }),
		eval.CaseFunc("skips", func(t *eval.T) { t.Skip("no tool calling") }),
		eval.CaseFunc("passes", func(t *eval.T) { t.Check(t.Ask("q"), contains("16")) }),
	)
	cases := s.Cases()

	var f fakeReporter
	report(&f, cases[0], eval.RunSample(t.Context(), s, cases[0], 0, Fake("16")))
	require.Len(t, f.errors, 1)
	require.Regexp(t, `evaltest_test\.go:\d+: case fails sample 0 failed`, f.errors[0])
	require.Contains(t, f.errors[0], `check contains failed: output lacks "17"`)
	require.Contains(t, f.errors[0], `output: "16"`)

	f = fakeReporter{}
	boom := FakeFunc(func(*eval.Request) (string, error) {
		return "", &eval.TargetError{Kind: eval.ErrServer, Provider: "p", Model: "m", Status: 503}
	})
	report(&f, cases[1], eval.RunSample(t.Context(), s, cases[1], 0, boom))
	require.Len(t, f.errors, 1)
	require.Contains(t, f.errors[0], "case errors sample 0 errored (server): p m: server (HTTP 503)")

	f = fakeReporter{}
	report(&f, cases[2], eval.RunSample(t.Context(), s, cases[2], 0, Fake()))
	require.Empty(t, f.errors)
	require.Equal(t, "no tool calling", f.skipped)

	f = fakeReporter{}
	report(&f, cases[3], eval.RunSample(t.Context(), s, cases[3], 0, Fake("16")))
	require.Empty(t, f.errors)
	require.Empty(t, f.skipped)
}

func TestFake(t *testing.T) {
	t.Parallel()
	target := Fake("a", "b")
	var got []string
	for range 3 {
		r, err := target.Complete(t.Context(), &eval.Request{Messages: []eval.Message{{Role: eval.RoleUser, Content: "two words"}}})
		require.NoError(t, err)
		require.Equal(t, eval.Usage{InputTokens: 2, OutputTokens: 1}, r.Usage)
		got = append(got, r.Text)
	}
	require.Equal(t, []string{"a", "b", "a"}, got)
}

func TestFromEnv(t *testing.T) {
	// Not parallel: it sets the environment.
	t.Setenv(EnvTarget, "local")
	var asked string
	target := FromEnv(t, func(name string) (eval.Target, error) {
		asked = name
		return Fake("x"), nil
	})
	require.Equal(t, "local", asked)
	require.NotNil(t, target)

	t.Run("Unset", func(t *testing.T) {
		t.Setenv(EnvTarget, "")
		FromEnv(t, func(string) (eval.Target, error) { panic("not called") })
		t.Fatal("FromEnv should have skipped")
	})
}

func TestRunSkipsAndPasses(t *testing.T) {
	t.Parallel()
	s := eval.SuiteFunc("s",
		eval.CaseFunc("passes", func(t *eval.T) { t.Check(t.Ask("q"), contains("ok")) }),
		eval.CaseFunc("skips", func(t *eval.T) { t.Skip("not today") }),
	)
	Run(t, s, Fake("ok"), Parallel(), Samples(2))
}
