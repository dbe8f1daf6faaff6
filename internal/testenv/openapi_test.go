package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// fake answers as the handler says, with the headers every answer carries.
func fake(status int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Request-ID", "r1")
		h.Set("Content-Language", "en")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Type", "application/json; charset=utf-8")
		if status == http.StatusMethodNotAllowed {
			h.Set("Allow", "GET")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
}

// TestCheckerCatchesMismatches: the checking client reports answers and
// requests that differ from the document, and Invalid/SkipRequestCheck
// skip only the request.
func TestCheckerCatchesMismatches(t *testing.T) {
	cases := []struct {
		name         string
		status       int
		body         string
		method, path string
		reqBody      string
		skip         bool
		wantErr      string
	}{
		{"good answer", 200, `{"success":true,"data":{"status":"ok"}}`, "GET", "/api/health/live", "", false, ""},
		{"wrong data", 200, `{"success":true,"data":{"status":"nope"}}`, "GET", "/api/health/live", "", false, "response does not match"},
		{"extra field", 200, `{"success":true,"data":{"status":"ok"},"x":1}`, "GET", "/api/health/live", "", false, "response does not match"},
		{"undocumented status", 418, `{"success":false,"error":"x","code":"INTERNAL"}`, "GET", "/api/health/live", "", false, "not documented"},
		{"bad request body", 400, `{"success":false,"error":"x","code":"VALIDATION_FAILED"}`, "POST", "/api/auth/login", `{"email":"a@b.co"}`, false, "request does not match"},
		{"bad request body, marked", 400, `{"success":false,"error":"x","code":"VALIDATION_FAILED"}`, "POST", "/api/auth/login", `{"email":"a@b.co"}`, true, ""},
		{"marked, but a wrong code", 400, `{"success":false,"error":"x","code":"NOT_FOUND"}`, "POST", "/api/auth/login", `{"email":"a@b.co"}`, true, "response does not match"},
		{"no token, 401", 401, `{"success":false,"error":"x","code":"UNAUTHORIZED"}`, "GET", "/api/auth/me", "", false, ""},
		{"no token, 200", 200, `{"success":true,"data":{}}`, "GET", "/api/auth/me", "", false, "request does not match"},
		{"unknown path, 404", 404, `{"success":false,"error":"x","code":"NOT_FOUND"}`, "GET", "/api/nowhere", "", false, ""},
		{"unknown path, 200", 200, `{"success":true,"data":{}}`, "GET", "/api/nowhere", "", false, "not in the document"},
		{"wrong method, 405", 405, `{"success":false,"error":"x","code":"METHOD_NOT_ALLOWED"}`, "DELETE", "/api/health", "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fake(c.status, c.body)
			defer srv.Close()
			rec := &recorder{TB: t}
			client := CheckedClient(rec, srv.Client())
			var req *http.Request
			if c.reqBody != "" {
				req, _ = http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.reqBody))
				req.Header.Set("Content-Type", "application/json")
			} else {
				req, _ = http.NewRequest(c.method, srv.URL+c.path, nil)
			}
			if c.skip {
				req = SkipRequestCheck(req)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := strings.Join(rec.errs, "\n")
			if c.wantErr == "" && got != "" {
				t.Errorf("unexpected report: %s", got)
			}
			if c.wantErr != "" && !strings.Contains(got, c.wantErr) {
				t.Errorf("want a report with %q, got %q", c.wantErr, got)
			}
		})
	}
}
