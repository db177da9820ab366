package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/driftwatch/driftwatch/alert"
	"github.com/driftwatch/driftwatch/alert/webhook"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/storage/storagetest"
)

// secretToken is planted in every receiver URL; it must never show up in
// logs, errors or stored rows.
const secretToken = "T0KEN-s3cr3t-b4cd"

// receiver is a local webhook endpoint answering with the scripted statuses
// in turn (the last one repeats), counting requests and 2xx answers.
type receiver struct {
	srv       *httptest.Server
	requests  atomic.Int64
	delivered atomic.Int64
	mu        sync.Mutex
	statuses  []int
	bodies    [][]byte
	got       chan struct{} // one value per 2xx answer
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses, got: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		n := int(r.requests.Add(1))
		status := r.statuses[min(n, len(r.statuses))-1]
		if status/100 == 2 {
			r.delivered.Add(1)
			r.mu.Lock()
			r.bodies = append(r.bodies, body)
			r.mu.Unlock()
			r.got <- struct{}{}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hooks/" + secretToken }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type dispatchBundle struct {
	st     *storage.Store
	runID  int64
	clock  *fakeClock
	logs   *syncBuffer
	logger *slog.Logger
}

func setupDispatch(t *testing.T) *dispatchBundle {
	t.Helper()
	st := storagetest.NewStore(t)
	logs := &syncBuffer{}
	return &dispatchBundle{st: st, runID: newRun(t, st), clock: newFakeClock(), logs: logs,
		logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// enqueue puts one DRIFT event for channel "webhook" into the outbox.
func (b *dispatchBundle) enqueue(t *testing.T) alert.Event {
	t.Helper()
	evs := alert.Events(driftReport(b.runID), b.clock.Now(), "")
	out, err := alert.Sequence{alert.Route{MinSeverity: map[string]alert.Severity{"webhook": alert.SeverityInfo}},
		alert.NewEnqueue(b.st, b.clock.Now)}.Exec(context.Background(), evs)
	require.NoError(t, err)
	require.Len(t, out, 1)
	return out[0]
}

func (b *dispatchBundle) dispatcher(t *testing.T, rcv *receiver) *alert.Dispatcher {
	t.Helper()
	n, err := webhook.New(webhook.Config{URL: alert.NewSecret(rcv.URL())}, rcv.srv.Client(), b.logger)
	require.NoError(t, err)
	return alert.NewDispatcher(b.st, &alert.DispatcherConfig{
		Notifiers: map[string]alert.Notifier{"webhook": n}, NowFunc: b.clock.Now, Logger: b.logger,
		BackoffMin: time.Minute, BackoffMax: 10 * time.Minute, MaxAttempts: 5,
	})
}

func (b *dispatchBundle) alerts(t *testing.T) []storage.Alert {
	t.Helper()
	as, err := b.st.ListRunAlerts(context.Background(), b.runID)
	require.NoError(t, err)
	return as
}

// requireNoSecret fails when the planted token appears in text.
func requireNoSecret(t *testing.T, what, text string) {
	t.Helper()
	require.NotContains(t, text, secretToken, "%s leaks the webhook URL", what)
}

func TestDispatcherRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDispatch(t)
	rcv := newReceiver(t, 500, 500, 200)
	ev := b.enqueue(t)
	d := b.dispatcher(t, rcv)

	sent, failed, err := d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int{0, 1}, [2]int{sent, failed})
	a := b.alerts(t)[0]
	require.Equal(t, storage.AlertPending, a.Status)
	require.Equal(t, 1, a.Attempts)
	require.Contains(t, a.LastError, "unexpected status 500")
	require.True(t, a.NextAttemptAt.Equal(b.clock.Now().Add(time.Minute)), "first backoff is BackoffMin")

	// Not due yet: nothing is tried.
	sent, failed, err = d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int{0, 0}, [2]int{sent, failed})
	require.EqualValues(t, 1, rcv.requests.Load())

	b.clock.Advance(time.Minute)
	_, failed, err = d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, failed)
	a = b.alerts(t)[0]
	require.Equal(t, 2, a.Attempts)
	require.True(t, a.NextAttemptAt.Equal(b.clock.Now().Add(2*time.Minute)), "backoff doubles")

	b.clock.Advance(2 * time.Minute)
	sent, _, err = d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, sent)

	b.clock.Advance(time.Hour)
	sent, failed, err = d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int{0, 0}, [2]int{sent, failed})

	require.EqualValues(t, 3, rcv.requests.Load())
	require.EqualValues(t, 1, rcv.delivered.Load(), "delivered exactly once")
	a = b.alerts(t)[0]
	require.Equal(t, storage.AlertSent, a.Status)
	require.Equal(t, 3, a.Attempts)
	require.NotNil(t, a.SentAt)

	var got alert.Event
	require.NoError(t, json.Unmarshal(rcv.bodies[0], &got))
	require.Equal(t, ev.DedupKey, got.DedupKey)
	require.Equal(t, ev.Fingerprint, got.Fingerprint)
	require.Equal(t, alert.KindDrift, got.Kind)
}

func TestDispatcherGivesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		statuses []int
		attempts int
	}{
		{"a 4xx is permanent", []int{404}, 1},
		{"5xx until MaxAttempts", []int{503}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupDispatch(t)
			rcv := newReceiver(t, tt.statuses...)
			b.enqueue(t)
			d := b.dispatcher(t, rcv)
			for range 10 {
				_, _, err := d.DeliverPending(ctx)
				require.NoError(t, err)
				b.clock.Advance(time.Hour)
			}
			a := b.alerts(t)[0]
			require.Equal(t, storage.AlertFailed, a.Status)
			require.Equal(t, tt.attempts, a.Attempts)
			require.EqualValues(t, tt.attempts, rcv.requests.Load())
			require.Contains(t, b.logs.String(), "alert delivery given up")
		})
	}
}

// TestDispatcherRestart: one dispatcher fails, a new instance (after a
// restart) delivers the same outbox row.
func TestDispatcherRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDispatch(t)
	b.enqueue(t)

	down := newReceiver(t, 503)
	_, failed, err := b.dispatcher(t, down).DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, failed)

	b.clock.Advance(time.Minute)
	up := newReceiver(t, 200)
	sent, _, err := b.dispatcher(t, up).DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, sent)
	require.EqualValues(t, 1, up.delivered.Load())
	a := b.alerts(t)[0]
	require.Equal(t, storage.AlertSent, a.Status)
	require.Equal(t, 2, a.Attempts)
}

// TestDispatcherLease: a dispatcher that claimed a row and died leaves it
// hidden until the lease expires, then another one delivers it once.
func TestDispatcherLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDispatch(t)
	b.enqueue(t)
	claimed, err := b.st.ClaimDueAlerts(ctx, []string{"webhook"}, b.clock.Now(), b.clock.Now().Add(alert.LeaseDefault), 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1)

	rcv := newReceiver(t, 200)
	d := b.dispatcher(t, rcv)
	sent, _, err := d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Zero(t, sent, "leased by the dead dispatcher")

	b.clock.Advance(alert.LeaseDefault)
	sent, _, err = d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, sent)
	require.EqualValues(t, 1, rcv.delivered.Load())
}

// TestSecretNeverLeaks plants a token in the webhook URL and fails
// deliveries every way net/http can (status, refused connection, which
// returns a *url.Error that embeds the URL), then greps logs, errors and
// stored rows for it.
func TestSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDispatch(t)
	b.enqueue(t)

	rcv := newReceiver(t, 500)
	_, _, err := b.dispatcher(t, rcv).DeliverPending(ctx)
	require.NoError(t, err)

	// Connection refused (a *url.Error): nothing listens on port 1. (A
	// closed test server's port can be taken by a parallel test's.)
	closedURL := "http://127.0.0.1:1/hooks/" + secretToken
	n, err := webhook.New(webhook.Config{URL: alert.NewSecret(closedURL)}, nil, b.logger)
	require.NoError(t, err)
	nerr := n.Notify(ctx, &alert.Event{DedupKey: "k"})
	require.Error(t, nerr)
	requireNoSecret(t, "notify error", nerr.Error())
	require.Contains(t, nerr.Error(), alert.Redacted)

	b.clock.Advance(time.Hour)
	d := alert.NewDispatcher(b.st, &alert.DispatcherConfig{Notifiers: map[string]alert.Notifier{"webhook": n},
		NowFunc: b.clock.Now, Logger: b.logger})
	_, failed, err := d.DeliverPending(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, failed)

	as := b.alerts(t)
	rows, err := json.Marshal(as)
	require.NoError(t, err)
	requireNoSecret(t, "stored alert rows", string(rows))
	require.Contains(t, as[0].LastError, "post: ")
	requireNoSecret(t, "logs", b.logs.String())
	require.Contains(t, b.logs.String(), "retry scheduled")

	cfg, err := json.Marshal(webhook.Config{URL: alert.NewSecret(rcv.URL()), Headers: map[string]alert.Secret{"Authorization": alert.NewSecret("Bearer " + secretToken)}})
	require.NoError(t, err)
	requireNoSecret(t, "marshalled config", string(cfg))
	s := alert.NewSecret(rcv.URL())
	for _, text := range []string{s.String(), s.GoString(), sprintAll(s)} {
		requireNoSecret(t, "formatted secret", text)
	}
	b.logger.Info("config", "url", s)
	requireNoSecret(t, "logged secret", b.logs.String())
}

func sprintAll(s alert.Secret) string {
	var sb strings.Builder
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		sb.WriteString(fmtSprintf(f, s))
	}
	return sb.String()
}

func TestDispatcherStartStop(t *testing.T) {
	t.Parallel()
	b := setupDispatch(t)
	rcv := newReceiver(t, 200)
	d := b.dispatcher(t, rcv)
	ctx := context.Background()
	require.NoError(t, d.Stop(ctx), "Stop before Start")

	b.enqueue(t)
	require.NoError(t, d.Start(ctx))
	require.NoError(t, d.Start(ctx), "Start twice")
	select {
	case <-rcv.got:
	case <-time.After(30 * time.Second): // its first pass reads PostgreSQL: generous under load
		t.Fatal("the started dispatcher delivered nothing within 30s")
	}
	require.NoError(t, d.Stop(ctx))
	require.NoError(t, d.Stop(ctx), "Stop twice")
	require.EqualValues(t, 1, rcv.delivered.Load())
}

func TestDispatcherOutboxError(t *testing.T) {
	t.Parallel()
	boom := errors.New("db down")
	d := alert.NewDispatcher(failingOutbox{boom}, &alert.DispatcherConfig{
		Notifiers: map[string]alert.Notifier{"log": alert.NewLogNotifier(nil, slog.LevelInfo)}})
	_, _, err := d.DeliverPending(context.Background())
	require.ErrorIs(t, err, boom)
}

type failingOutbox struct{ err error }

func (f failingOutbox) ClaimDueAlerts(context.Context, []string, time.Time, time.Time, int) ([]storage.Alert, error) {
	return nil, f.err
}
func (f failingOutbox) MarkAlertSent(context.Context, int64, time.Time) error { return f.err }
func (f failingOutbox) MarkAlertFailed(context.Context, int64, error, time.Time) error {
	return f.err
}
