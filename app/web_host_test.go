package app

import (
	"io"
	"net/http"
	"net/http/httptest"
)

// localRequest is httptest.NewRequest addressed to the dashboard as a
// browser on this machine would (Host 127.0.0.1:8080): the dashboard
// answers 421 to other host names.
func localRequest(method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, target, body)
	req.Host = "127.0.0.1:8080"
	return req
}
