package tests

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"aura/internal/testenv"
)

const wantCSP = "default-src 'none'; frame-ancestors 'none'"

// checkSecurityHeaders fails t unless h carries the headers every answer of
// the API must carry.
func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != wantCSP {
		t.Errorf("%s: Content-Security-Policy %q, want %q", what, got, wantCSP)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, got)
	}
}

// TestSecurityHeadersOnEveryResponse: successes, client errors, 404, 405,
// 413, 415, a CORS preflight and trailing-slash redirects all carry the
// Content-Security-Policy and nosniff headers.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Config(t, "sqlite://", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"}))
	reg := register(t, s, "headers@example.com")
	client := testenv.CheckedClient(t, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
	for _, c := range []struct {
		method, path, body string
		headers            map[string]string
		status             int
	}{
		{"GET", "/api/", "", nil, 200},
		{"GET", "/api/health", "", nil, 200},
		{"GET", "/api/health/live", "", nil, 200},
		{"GET", "/api/auth/me", "", map[string]string{"Authorization": "Bearer " + reg.AccessToken}, 200},
		{"GET", "/api/auth/me", "", nil, 401},
		{"GET", "/api/nothing/here", "", nil, 404},
		{"GET", "/favicon.ico", "", nil, 404},
		{"DELETE", "/api/health", "", nil, 405},
		{"POST", "/api/auth/login", `{"email":`, map[string]string{"Content-Type": "application/json"}, 400},
		{"POST", "/api/auth/login", `{}`, map[string]string{"Content-Type": "text/plain"}, 415},
		{"POST", "/api/auth/login", `{"email":"` + strings.Repeat("a", 70000) + `"}`, map[string]string{"Content-Type": "application/json"}, 413},
		{"OPTIONS", "/api/auth/login", "", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, 204},
		{"GET", "/api/health/", "", nil, 301},
		{"POST", "/api/auth/login/", `{}`, map[string]string{"Content-Type": "application/json"}, 307},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(c.method, s.URL+c.path, body)
		if c.status == 400 || c.status == 413 || c.status == 415 {
			req = testenv.SkipRequestCheck(req) // deliberately malformed
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		res.Body.Close()
		what := c.method + " " + c.path
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", what, res.StatusCode, c.status)
		}
		checkSecurityHeaders(t, what, res.Header)
	}
}
