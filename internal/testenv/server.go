package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"aura/app"
	"aura/config"
)

// Server is a real AURA server listening on a loopback port.
type Server struct {
	App *app.App
	URL string
	// MetricsURL is the operators' listener (metrics.addr), "" when off.
	MetricsURL string
	Client     *http.Client
	stop       context.CancelFunc
	done       chan error
}

// Start builds and serves an App for cfg until t ends (or Stop).
func Start(t testing.TB, cfg *config.Config) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, Logger(t))
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	maddr, err := a.ListenMetrics()
	if err != nil {
		cancel()
		ln.Close()
		a.Close()
		t.Fatalf("listen metrics: %v", err)
	}
	s := &Server{App: a, URL: "http://" + ln.Addr().String(), stop: cancel, done: make(chan error, 1),
		Client: CheckedClient(t, &http.Client{Timeout: 30 * time.Second})}
	if maddr != "" {
		s.MetricsURL = "http://" + maddr
	}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop shuts the server down gracefully and waits for it.
func (s *Server) Stop(t testing.TB) {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	if err := <-s.done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// Response is a decoded API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Env    struct {
		Success bool              `json:"success"`
		Data    json.RawMessage   `json:"data"`
		Message string            `json:"message"`
		Error   string            `json:"error"`
		Code    string            `json:"code"`
		Details map[string]string `json:"details"`
	}
}

// Data decodes the envelope's data into v.
func (r *Response) Data(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Env.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Body, err)
	}
}

// Do sends a request; body is JSON-encoded unless it is []byte or string
// (sent as is). token, when set, is sent as a bearer token. The request and
// its answer are checked against the OpenAPI document (see CheckedClient);
// wrap a deliberately invalid body in Invalid.
func (s *Server) Do(t testing.TB, method, path string, body any, token string) *Response {
	t.Helper()
	return s.DoHeaders(t, method, path, body, map[string]string{"Authorization": bearer(token)})
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// DoHeaders is Do with explicit headers (Content-Type defaults to JSON).
func (s *Server) DoHeaders(t testing.TB, method, path string, body any, headers map[string]string) *Response {
	t.Helper()
	inv, skip := body.(invalid)
	if skip {
		body = inv.body
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if skip {
		req = SkipRequestCheck(req)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &Response{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	if len(out.Body) > 0 {
		if err := json.Unmarshal(out.Body, &out.Env); err != nil {
			t.Fatalf("%s %s: body is not the JSON envelope: %q", method, path, out.Body)
		}
	}
	return out
}

// Expect fails t unless r has the status (and code, when not "").
func (r *Response) Expect(t testing.TB, status int, code string) *Response {
	t.Helper()
	if r.Status != status || (code != "" && r.Env.Code != code) {
		t.Fatalf("want %d %s, got %d: %s", status, code, r.Status, r.Body)
	}
	return r
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
