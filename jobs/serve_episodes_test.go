package jobs_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/app"
	"github.com/driftwatch/driftwatch/jobs"
	"github.com/driftwatch/driftwatch/sim"
	"github.com/driftwatch/driftwatch/storage"
)

// slackMessages is a local Slack incoming webhook: it keeps the text of
// every message, its notification text first.
type slackMessages struct {
	mu   sync.Mutex
	msgs []string
}

func (s *slackMessages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var m struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Text any `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err != nil || json.Unmarshal(b, &m) != nil || m.Text == "" || len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	lines := []string{m.Text}
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			lines = append(lines, bl.Text.Text)
		}
		for _, e := range bl.Elements {
			if s, ok := e.Text.(string); ok {
				lines = append(lines, s)
			}
		}
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, strings.Join(lines, "\n"))
	s.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (s *slackMessages) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.msgs
	s.msgs = nil
	return out
}

// TestServeDriftRecoveryDriftSlack plays nights through serve (run jobs,
// then the alert job) against a simulator that silently degrades, recovers
// and degrades again, with Slack pointed at a local receiver. Every message
// is checked: a DRIFT names the first run of its own episode as "since"
// (the relapse is not dated to the recovery before it), lists example
// outputs under that label, says why in words and links the run; the
// recovery sends one RESOLVED.
func TestServeDriftRecoveryDriftSlack(t *testing.T) {
	t.Parallel()
	const cases, k = 60, 3
	mixture := []sim.Component{{Weight: 0.7, P: 0.95}, {Weight: 0.3, P: 0.1}}
	base := sim.Profile{Seed: 1, Mixture: mixture}
	worse := sim.Profile{Seed: 1, Mixture: mixture, Drop: 0.35}
	recv := &slackMessages{}
	slackSrv := httptest.NewServer(recv)
	t.Cleanup(slackSrv.Close)
	e := setup(t, envOpts{cases: cases, k: k,
		updates: []sim.Update{{Name: "silent", Profile: &worse}, {Name: "rollback", Profile: &base}, {Name: "silent again", Profile: &worse}},
		// A repeat interval shorter than a night: every DRIFT night posts.
		extra: fmt.Sprintf("web: {url: \"https://dash.example\"}\nalerts:\n  slack: {webhook_url: %q}\n  repeat_interval: 1ms", slackSrv.URL+"/services/x")})
	e.serve(t, app.ServeOptions{BatchSize: 60, BatchWorkers: 2})

	var runIDs []int64
	night := func(i int, wantVerdict string) []string {
		t.Helper()
		key := fmt.Sprintf("manual@night%02d/arith/gpt", i)
		insertRun(t, e, key)
		run := awaitRunDone(t, e, key, 60*time.Second)
		require.Equal(t, storage.RunCompleted, run.Status, run.VerdictReason)
		require.Equal(t, wantVerdict, run.Verdict, "night %d: %s", i, run.VerdictReason)
		runIDs = append(runIDs, run.ID)
		await(t, 30*time.Second, "the alert job of night "+fmt.Sprint(i), func() bool { return completedJobs(t, e, jobs.KindAlert) == i+1 })
		return recv.take()
	}
	update := func() {
		t.Helper()
		_, err := e.sim.Update("sim-gpt")
		require.NoError(t, err)
	}
	requireDrift := func(msgs []string, since int64) {
		t.Helper()
		require.Len(t, msgs, 1)
		m := msgs[0]
		t.Logf("night %d:\n%s", len(runIDs)-1, m)
		require.True(t, strings.HasPrefix(m, "DRIFT: arith on gpt: pass rate fell "), m)
		require.Contains(t, m, fmt.Sprintf("since run %d", since), "the why names the episode's first run")
		require.Contains(t, m, fmt.Sprintf("*Since* run %d, the first run at the new pass rate", since))
		require.Contains(t, m, "*Why* pass rate fell ")
		require.Contains(t, m, fmt.Sprintf("<https://dash.example/runs/%d|run %d on the dashboard>", runIDs[len(runIDs)-1], runIDs[len(runIDs)-1]))
		if strings.Contains(m, "*Drifted cases*") {
			require.NotContains(t, m, "no single case drifted on its own")
		} else {
			require.Contains(t, m, "*Example outputs*")
		}
		require.NotContains(t, m, "Top drifted cases")
	}

	require.Empty(t, night(0, "BASELINE"), "a baseline alerts nobody")
	require.Empty(t, night(1, "STABLE"))
	update()
	msgs := night(2, "DRIFT")
	requireDrift(msgs, runIDs[2])
	requireDrift(night(3, "DRIFT"), runIDs[2])

	update() // rolled back
	msgs = night(4, "STABLE")
	require.Len(t, msgs, 1, "one recovery message")
	require.True(t, strings.HasPrefix(msgs[0], "RESOLVED: arith on gpt: Run "+fmt.Sprint(runIDs[4])+" is STABLE again"), msgs[0])
	require.Contains(t, msgs[0], fmt.Sprintf("(run %d)", runIDs[2]), "it names the first drift alert of the episode")
	require.Empty(t, night(5, "STABLE"), "resolved already")

	update() // degraded again
	requireDrift(night(6, "DRIFT"), runIDs[6])
	requireDrift(night(7, "DRIFT"), runIDs[6])
}
