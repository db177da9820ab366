package app

import (
	"context"
	"net/http"
)

// webHandler returns the dashboard's handler, mounted by serve at "/".
// The dashboard (web/) replaces this body; until then serve answers 404 at "/"
// and still serves /healthz and /metrics.
func (a *App) webHandler(ctx context.Context) (http.Handler, error) {
	return http.NotFoundHandler(), nil
}
