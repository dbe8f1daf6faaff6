package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRequestLabels: methods outside the standard ones share one label
// value, so a client cannot make series by inventing methods.
func TestRequestLabels(t *testing.T) {
	m := New(Options{Version: "v1", GoVersion: "go1"})
	m.RequestStarted()
	m.RequestDone("/api/x", "BREW", 418, time.Millisecond)
	m.RequestStarted()
	m.RequestDone("/api/x", "GET", 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`aura_http_request_duration_seconds_count{method="OTHER",route="/api/x",status="418"} 1`,
		`aura_http_request_duration_seconds_count{method="GET",route="/api/x",status="200"} 1`,
		`aura_http_requests_in_flight 0`,
		`aura_build_info{goversion="go1",revision="",version="v1"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if strings.Contains(body, "BREW") {
		t.Error("an invented method became a label")
	}
}

// BenchmarkRequest is the cost the middleware adds to one request.
func BenchmarkRequest(b *testing.B) {
	m := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestStarted()
			m.RequestDone("/api/auth/me", "GET", 200, 3*time.Millisecond)
		}
	})
}
