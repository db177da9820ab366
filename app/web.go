package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/driftwatch/driftwatch/run"
	"github.com/driftwatch/driftwatch/storage"
	"github.com/driftwatch/driftwatch/web"
)

// webHandler returns the dashboard's handler. Its accept-baseline action is
// on when web.token is set; "run now" needs the job queue, so only serve's
// dashboard has it.
func (a *App) webHandler(ctx context.Context) (http.Handler, error) {
	return a.newWeb(ctx, nil)
}

// newWeb returns the dashboard's handler; runNow, if not nil, is its "run
// now" action (see web.Actions).
func (a *App) newWeb(ctx context.Context, runNow func(ctx context.Context, suite, target string) error) (*web.Handler, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	h, err := web.New(web.Options{
		Data:   webData{st: st, project: a.cfg.ProjectName()},
		Token:  a.cfg.Web.Token,
		Logger: a.logger,
		Hosts:  web.AllowedHosts(a.cfg.Web.Addr, a.cfg.Web.URL),
		Actions: web.Actions{
			AcceptBaseline: func(ctx context.Context, runID int64, by, note string) error {
				return webError(a.AcceptBaseline(ctx, runID, by, note))
			},
			RunNow: runNow,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return h, nil
}

// WriteRunHTML writes run id's page as one self-contained HTML file.
func (a *App) WriteRunHTML(ctx context.Context, w io.Writer, id int64) error {
	h, err := a.newWeb(ctx, nil)
	if err != nil {
		return err
	}
	return h.WriteRunHTML(ctx, w, id)
}

// webError maps lifecycle and storage errors onto the dashboard's.
func webError(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: %v", web.ErrNotFound, err)
	case errors.Is(err, run.ErrNotCompleted):
		return fmt.Errorf("%w: %v", web.ErrInvalid, err)
	}
	return err
}

// webData adapts the store to web.Data for one project's dashboard; the row
// types mirror each other.
type webData struct {
	st      *storage.Store
	project string
}

func listings(rs []storage.RunListing) []web.RunListing {
	out := make([]web.RunListing, len(rs))
	for i, r := range rs {
		out[i] = web.RunListing(r)
	}
	return out
}

func (d webData) LatestRunsPerPair(ctx context.Context, perPair int) ([]web.RunListing, error) {
	rs, err := d.st.LatestRunsPerPair(ctx, d.project, perPair)
	return listings(rs), webError(err)
}

func (d webData) ListRunListings(ctx context.Context, f web.RunFilter) ([]web.RunListing, error) {
	f.Project = d.project
	rs, err := d.st.ListRunListings(ctx, storage.RunFilter(f))
	return listings(rs), webError(err)
}

func (d webData) GetRunListing(ctx context.Context, id int64) (web.RunListing, error) {
	r, err := d.st.GetRunListing(ctx, id)
	if err == nil && r.Project != d.project {
		// Another project's run: not this dashboard's to show.
		err = fmt.Errorf("run %d: %w", id, storage.ErrNotFound)
	}
	return web.RunListing(r), webError(err)
}

func (d webData) PairIDs(ctx context.Context, suite, target string) (int64, int64, error) {
	s, t, err := d.st.PairIDs(ctx, d.project, suite, target)
	return s, t, webError(err)
}

func (d webData) ListBaselines(ctx context.Context, suiteID, targetID int64) ([]web.Baseline, error) {
	bs, err := d.st.ListBaselines(ctx, suiteID, targetID)
	out := make([]web.Baseline, len(bs))
	for i, b := range bs {
		out[i] = web.Baseline(b)
	}
	return out, webError(err)
}

func (d webData) ListSamplePage(ctx context.Context, f web.SampleFilter) ([]web.Sample, error) {
	ss, err := d.st.ListSamplePage(ctx, storage.SampleFilter(f))
	out := make([]web.Sample, len(ss))
	for i, s := range ss {
		out[i] = web.Sample(s)
	}
	return out, webError(err)
}

func (d webData) RunLatencies(ctx context.Context, runIDs []int64) (map[int64]float64, error) {
	m, err := d.st.RunLatencies(ctx, runIDs)
	return m, webError(err)
}

func (d webData) ListAlerts(ctx context.Context, f web.AlertFilter) ([]web.Alert, error) {
	as, err := d.st.ListAlerts(ctx, storage.AlertFilter(f))
	out := make([]web.Alert, len(as))
	for i, a := range as {
		out[i] = web.Alert(a)
	}
	return out, webError(err)
}
