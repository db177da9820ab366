package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert/notify"
	"github.com/driftwatch/driftwatch/config"
	"github.com/driftwatch/driftwatch/drift"
	"github.com/driftwatch/driftwatch/report"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// receiver is a local stand-in for a Slack or webhook endpoint that keeps
// the bodies it received.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// A DRIFT report reaches Slack and the webhook once each; the same drift
// on the next run is not alerted again within the repeat interval.
func TestReportsDeliverOnceToEveryChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.NewStore(t)
	pid := storagetest.ProjectID(t, st)
	sid, err := st.EnsureSuite(ctx, pid, "prime")
	require.NoError(t, err)
	tid, err := st.EnsureTarget(ctx, pid, "gpt", "openai", "gpt-4o")
	require.NoError(t, err)
	drifted := func() *report.Report {
		r, err := st.CreateRun(ctx, storage.NewRun{SuiteID: sid, TargetID: tid, Trigger: storage.TriggerCLI})
		require.NoError(t, err)
		return &report.Report{Suite: "prime", Target: "gpt", RunID: r.ID, Verdict: string(drift.Drift), Status: "completed",
			Reason: "pass rate dropped by 0.20"}
	}
	slack, hook := newReceiver(t), newReceiver(t)
	cfg := &config.Config{Alerts: config.Alerts{
		Slack:   &config.Slack{WebhookURL: slack.URL + "/services/T/B/X"},
		Webhook: &config.Webhook{URL: hook.URL + "/hook"},
	}}
	ns, err := notify.Notifiers(cfg.Alerts, nil)
	require.NoError(t, err)
	require.Len(t, ns, 3, "log, slack and webhook")

	for range 2 {
		failed, err := notify.Reports(ctx, st, cfg, []*report.Report{drifted()}, nil)
		require.NoError(t, err)
		require.Zero(t, failed)
	}
	require.Len(t, slack.received(), 1)
	require.Contains(t, slack.received()[0], "DRIFT")
	require.Len(t, hook.received(), 1)
	require.True(t, strings.Contains(hook.received()[0], "pass rate dropped"), hook.received()[0])
}

// A notifier that cannot be built is an error that never shows its URL
// (the credential); the others are still returned.
func TestNotifierErrorsHideTheURL(t *testing.T) {
	t.Parallel()
	ns, err := notify.Notifiers(config.Alerts{Slack: &config.Slack{WebhookURL: "hooks.slack.com/services/T/B/s3cret"}}, nil)
	require.ErrorContains(t, err, "alerts.slack")
	require.NotContains(t, err.Error(), "s3cret")
	require.Contains(t, ns, notify.ChannelLog)
	require.NotContains(t, ns, notify.ChannelSlack)
}
