package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/app"
	"aura/config"
	"aura/internal/testenv"
	"aura/mail"
	"aura/mail/mailtest"
)

// What browsers and generated clients need of the API (API.md, "For
// browsers and generated clients").

// TestCORSPreflightFollowsRoutes: a preflight from an allowed origin allows
// every method of every registered route and the request headers the API
// reads; answers expose the headers clients need.
func TestCORSPreflightFollowsRoutes(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example"
	s := testenv.Start(t, testenv.Config(t, "sqlite://", map[string]string{"CORS_ALLOWED_ORIGINS": origin}))
	list := func(h string) []string {
		var out []string
		for _, v := range strings.Split(h, ",") {
			out = append(out, strings.ToLower(strings.TrimSpace(v)))
		}
		return out
	}
	wantHeaders := []string{"Authorization", "Content-Type", "Accept-Language", "Idempotency-Key", "If-None-Match", "Last-Event-ID", "X-Request-ID"}
	routes := s.App.Router.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes", len(routes))
	}
	seen := map[string]bool{}
	for _, r := range routes {
		path := regexp.MustCompile(`[:*][A-Za-z]+`).ReplaceAllString(r.Path, "11111111-1111-4111-8111-111111111111")
		req, _ := http.NewRequest(http.MethodOptions, s.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", r.Method)
		req.Header.Set("Access-Control-Request-Headers", strings.ToLower(strings.Join(wantHeaders, ",")))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("preflight %s %s: %v", r.Method, path, err)
		}
		res.Body.Close()
		h := res.Header
		if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("preflight %s %s: %d %v", r.Method, path, res.StatusCode, h)
		}
		if !slices.Contains(list(h.Get("Access-Control-Allow-Methods")), strings.ToLower(r.Method)) {
			t.Errorf("preflight %s %s: Allow-Methods %q lacks %s", r.Method, path, h.Get("Access-Control-Allow-Methods"), r.Method)
		}
		for _, w := range wantHeaders {
			if !slices.Contains(list(h.Get("Access-Control-Allow-Headers")), strings.ToLower(w)) {
				t.Errorf("preflight %s %s: Allow-Headers %q lacks %s", r.Method, path, h.Get("Access-Control-Allow-Headers"), w)
			}
		}
		seen[r.Method] = true
	}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if !seen[m] {
			t.Errorf("no route uses %s: the contract lists it", m)
		}
	}
	// The methods come from the routes: none that no route uses.
	if got, want := app.RouteMethods(routes), []string{"GET", "POST", "PUT", "PATCH", "DELETE"}; !slices.Equal(got, want) {
		t.Errorf("route methods %v, want %v", got, want)
	}
	// An answer to the browser exposes what clients read.
	_, h, _ := rawGet(t, s, "/api/health/live", "", map[string]string{"Origin": origin})
	for _, w := range []string{"ETag", "Location", "Retry-After", "Content-Disposition", "Content-Language", "X-Request-ID"} {
		if !slices.Contains(list(h.Get("Access-Control-Expose-Headers")), strings.ToLower(w)) {
			t.Errorf("Expose-Headers %q lacks %s", h.Get("Access-Control-Expose-Headers"), w)
		}
	}
	// Another origin gets no CORS headers.
	_, h, _ = rawGet(t, s, "/api/health/live", "", map[string]string{"Origin": "https://evil.example"})
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin is allowed: %v", h)
	}
}

// timestampRe is the one form of an instant in answers.
var timestampRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// collectTimes walks a decoded JSON value and records every field that holds
// an instant (named "at" or ending in "At"), by name, with its value.
func collectTimes(v any, found map[string][]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "at" || strings.HasSuffix(k, "At") {
				found[k] = append(found[k], val)
			}
			collectTimes(val, found)
		}
	case []any:
		for _, e := range x {
			collectTimes(e, found)
		}
	}
}

// TestTimestampsOneForm: on every engine, every instant in user, session,
// clinic, doctor, screening (analysis, review), notification and audit
// answers is RFC 3339 in UTC with exactly three fraction digits.
func TestTimestampsOneForm(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		found := map[string][]any{}
		keep := func(r *testenv.Response) *testenv.Response {
			t.Helper()
			var v any
			if err := json.Unmarshal(r.Body, &v); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			collectTimes(v, found)
			return r
		}
		adm := makeAdmin(t, s, "admin@times.example")
		clinic := createClinic(t, s, adm, "Phòng khám Thời Gian")
		doc := makeDoctor(t, s, adm, "bs.time@times.example")
		keep(attach(t, s, adm, clinic, doc.ID, "BS-T1").Expect(t, http.StatusOK, ""))
		keep(s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "pat@times.example", "password": goodPassword}, "").Expect(t, http.StatusCreated, ""))
		pat := login(t, s, "pat@times.example", goodPassword)
		jpg, _ := fundus(t)
		var sc screening
		keep(upload(t, s, pat.AccessToken, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "")).Data(t, &sc)
		analyse(t, s)
		keep(s.Do(t, "POST", "/api/screenings/"+sc.ID+"/claim", nil, doc.Token).Expect(t, http.StatusOK, ""))
		keep(s.Do(t, "POST", "/api/screenings/"+sc.ID+"/review", map[string]any{"riskLevel": "low", "recommendation": "Tái khám sau 12 tháng."}, doc.Token).Expect(t, http.StatusOK, ""))
		var inbox struct{ Items []struct{ ID string } }
		keep(s.Do(t, "GET", "/api/notifications", nil, pat.AccessToken).Expect(t, http.StatusOK, "")).Data(t, &inbox)
		if len(inbox.Items) == 0 {
			t.Fatalf("no notice")
		}
		keep(s.Do(t, "POST", "/api/notifications/"+inbox.Items[0].ID+"/read", nil, pat.AccessToken).Expect(t, http.StatusOK, ""))
		for _, get := range []struct{ path, token string }{
			{"/api/auth/me", pat.AccessToken}, {"/api/screenings/" + sc.ID, pat.AccessToken}, {"/api/screenings", doc.Token},
			{"/api/clinics", pat.AccessToken}, {"/api/doctors/me", doc.Token}, {"/api/admin/users", adm},
			{"/api/admin/audit-logs", adm}, {"/api/notifications", pat.AccessToken},
		} {
			keep(s.Do(t, "GET", get.path, nil, get.token).Expect(t, http.StatusOK, ""))
		}
		for _, name := range []string{"createdAt", "updatedAt", "completedAt", "claimedAt", "reviewedAt", "readAt", "at"} {
			nonNull := 0
			for _, v := range found[name] {
				if v == nil {
					continue
				}
				nonNull++
				if s, ok := v.(string); !ok || !timestampRe.MatchString(s) {
					t.Errorf("%s: %v is not RFC 3339 UTC with three fraction digits", name, v)
				}
			}
			if nonNull == 0 {
				t.Errorf("no %s was answered", name)
			}
		}
		for name, vs := range found {
			for _, v := range vs {
				if s, ok := v.(string); v != nil && (!ok || !timestampRe.MatchString(s)) {
					t.Errorf("%s: %v", name, v)
				}
			}
		}
	})
}

// slowServer is a server whose uploads may take upload but other requests
// only read (server.read_timeout), with a patient ready to upload.
func slowServer(t *testing.T, read, upload time.Duration) (*testenv.Server, string) {
	t.Helper()
	s := testenv.Start(t, testenv.Config(t, "sqlite://", map[string]string{
		"AURA_SERVER_READ_TIMEOUT": read.String(), "AURA_SERVER_UPLOAD_TIMEOUT": upload.String()}))
	adm := makeAdmin(t, s, "admin@slow.example")
	createClinic(t, s, adm, "Slow Clinic")
	return s, signUp(t, s, "slow@patient.example").Token
}

// slowUpload sends an upload over a raw connection: the head, then the body
// in chunks with pause between them, stopping after stopAfter bytes (-1:
// all), and reads the answer (nil when the connection ended without one).
func slowUpload(t *testing.T, s *testenv.Server, token string, chunks int, pause time.Duration, stopAfter int) (*http.Response, []byte, time.Duration) {
	t.Helper()
	jpg, _ := fundusLarge(t)
	ct, body := form{image: jpg, fields: map[string]string{"eye": "left"}}.body()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /api/screenings HTTP/1.1\r\nHost: aura\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		token, ct, len(body))
	if stopAfter >= 0 {
		body = body[:stopAfter]
	}
	step := (len(body) + chunks - 1) / chunks
	for i := 0; i < len(body); i += step {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := conn.Write(body[i:min(i+step, len(body))]); err != nil {
			break // the server gave up on us: the answer, if any, says why
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, time.Since(start)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, b, time.Since(start)
}

// TestSlowUploadOwnDeadline: an upload whose body takes longer than
// server.read_timeout but less than server.upload_timeout is accepted; one
// whose body stops arriving is answered 408 REQUEST_TIMEOUT once
// server.upload_timeout has passed, not cut without an answer.
func TestSlowUploadOwnDeadline(t *testing.T) {
	t.Parallel()
	t.Run("slow but in time", func(t *testing.T) {
		t.Parallel()
		s, tok := slowServer(t, time.Second, 6*time.Second)
		res, body, took := slowUpload(t, s, tok, 5, 500*time.Millisecond, -1)
		if res == nil || res.StatusCode != http.StatusAccepted {
			t.Fatalf("upload over %v (read_timeout 1s, upload_timeout 6s): %v %s", took, res, body)
		}
		if took < 2*time.Second {
			t.Fatalf("the upload was not slow: %v", took)
		}
		// Other requests keep server.read_timeout.
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: aura\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err = http.ReadResponse(bufio.NewReader(conn), nil)
		if wait := time.Since(start); wait > 4*time.Second {
			t.Fatalf("a stalled JSON body held on for %v (read_timeout 1s): %v %v", wait, res, err)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		s, tok := slowServer(t, time.Second, 3*time.Second)
		res, body, took := slowUpload(t, s, tok, 2, 200*time.Millisecond, 40_000)
		if res == nil {
			t.Fatalf("no answer after %v", took)
		}
		var env struct {
			Success     bool
			Code, Error string
		}
		_ = json.Unmarshal(body, &env)
		if res.StatusCode != http.StatusRequestTimeout || env.Code != "REQUEST_TIMEOUT" || env.Error == "" || env.Success {
			t.Fatalf("stalled upload: %d %s", res.StatusCode, body)
		}
		if took < 2500*time.Millisecond || took > 10*time.Second {
			t.Fatalf("answered after %v, want about server.upload_timeout (3s)", took)
		}
		var n int64
		testenv.Must(t, s.App.DB.Table("screenings").Count(&n).Error, "count")
		if n != 0 {
			t.Fatalf("a stalled upload left %d screening(s)", n)
		}
	})
}

// TestUploadMultipartCode: a body that is not the multipart it claims is 400
// INVALID_MULTIPART, not INVALID_JSON.
func TestUploadMultipartCode(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Config(t, "sqlite://", nil))
	adm := makeAdmin(t, s, "admin@multipart.example")
	createClinic(t, s, adm, "Multipart Clinic")
	tok := signUp(t, s, "mp@patient.example").Token
	jpg, _ := fundus(t)
	ct, whole := form{image: jpg, fields: map[string]string{"eye": "left"}}.body()
	for _, c := range []struct{ name, ct, body string }{
		{"no boundary", "multipart/form-data", "--x\r\n"},
		{"not multipart at all", "multipart/form-data; boundary=zzz", "not multipart at all"},
		{"broken part head", "multipart/form-data; boundary=zzz", "--zzz\r\nContent-Disposition form-data\r\n\r\nx\r\n--zzz--\r\n"},
		{"cut inside the image", ct, string(whole[:len(whole)/2])},
	} {
		r := s.DoHeaders(t, "POST", "/api/screenings", testenv.Invalid(c.body), map[string]string{"Authorization": "Bearer " + tok, "Content-Type": c.ct})
		if r.Status != http.StatusBadRequest || r.Env.Code != "INVALID_MULTIPART" {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
}

// TestProductionLogsNoRecipient: in production, the mail sender's lines (a
// message sent, one refused for good) name the recipient by RecipientTag,
// never by address.
func TestProductionLogsNoRecipient(t *testing.T) {
	t.Parallel()
	const good, refused = "Lan.Nguyen@patient.example", "refused.person@patient.example"
	smtp := mailtest.Start(t, mailtest.Options{RejectRcpt: func(addr string) bool { return strings.HasPrefix(addr, "refused.") }})
	env := smtp.Env()
	env["AURA_ENV"] = "production"
	env["AURA_STORAGE_ALLOW_PLAINTEXT"] = "true"
	env["AURA_AUTH_ARGON2_MEMORY_KIB"] = "19456"
	env["AURA_LOG_LEVEL"] = "debug"
	cfg := testenv.Config(t, "sqlite://", env)
	s, logs, stop := loggedServer(t, cfg, &http.Client{Timeout: 30 * time.Second})
	register(t, s, good)
	register(t, s, refused)
	smtp.WaitTo(t, strings.ToLower(good), 1)
	waitDrained(t, s.App.DB)
	stop()
	out := logs.String()
	for _, addr := range []string{good, refused} {
		for _, form := range []string{addr, strings.ToLower(addr), addr[:strings.IndexByte(addr, '@')]} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(form)) {
				t.Errorf("the log names %q:\n%s", form, out)
			}
		}
		if !strings.Contains(out, mail.RecipientTag(addr)) {
			t.Errorf("the log has no line for %s (%s):\n%s", addr, mail.RecipientTag(addr), out)
		}
	}
	if !strings.Contains(out, `"msg":"mail sent"`) || !strings.Contains(out, `"msg":"mail refused for good; dropped"`) {
		t.Errorf("the mail lines are missing:\n%s", out)
	}
}

// loggedServer serves cfg on a free port with its log written to the
// returned buffer, read through client; stop shuts it down and waits, so
// the log is whole when it returns.
func loggedServer(t *testing.T, cfg *config.Config, client *http.Client) (s *testenv.Server, logs *syncBuffer, stop func()) {
	t.Helper()
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, logs))
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	s = &testenv.Server{App: a, URL: "http://" + ln.Addr().String(), Client: client}
	return s, logs, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
	}
}

// syncBuffer is a bytes.Buffer that the server and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
