package schedule

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 10, 0, 0, 300, time.UTC)
	tests := []struct {
		name, spec, tz string
		want           time.Time
		wantErr        bool
	}{
		{name: "daily", spec: "0 2 * * *", want: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)},
		{name: "zone", spec: "0 2 * * *", tz: "Europe/Paris", want: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)},
		{name: "every aligned", spec: "@every 7s", want: time.Unix(base.Unix()/7*7+7, 0).UTC()},
		{name: "bad spec", spec: "61 * * * *", wantErr: true},
		{name: "bad zone", spec: "@daily", tz: "Mars/Olympus", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.spec, tt.tz)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Equal(s.Next(base)), "next %v, want %v", s.Next(base).UTC(), tt.want)
		})
	}
}

// fakeClock advances only when the scheduler waits on it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestSchedulerFiresEachTimeOnce(t *testing.T) {
	t.Parallel()
	every, err := Parse("@every 1h", "")
	require.NoError(t, err)
	clock := &fakeClock{now: time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)}
	fired := make(chan time.Time, 100)
	s, err := New(Config{
		Entries: []Entry{{Name: "hourly", Schedule: every}},
		Clock:   clock,
		Fire: func(ctx context.Context, name string, at time.Time) error {
			require.Equal(t, "hourly", name)
			// The fake clock lets the scheduler fire as fast as it can: once
			// the test has read enough, a firing must not block Stop.
			select {
			case fired <- at:
			case <-ctx.Done():
			}
			return nil
		},
	})
	require.NoError(t, err)
	require.NoError(t, s.Stop(context.Background()), "stop before start")
	require.NoError(t, s.Start(context.Background()))
	require.NoError(t, s.Start(context.Background()), "start twice")
	var got []time.Time
	for len(got) < 3 {
		select {
		case at := <-fired:
			got = append(got, at)
		case <-time.After(10 * time.Second):
			t.Fatal("scheduler did not fire")
		}
	}
	require.NoError(t, s.Stop(context.Background()))
	require.NoError(t, s.Stop(context.Background()))
	want := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	for i, at := range got {
		require.Equal(t, want.Add(time.Duration(i)*time.Hour), at)
	}
}
