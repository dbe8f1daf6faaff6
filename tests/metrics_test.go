package tests

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// sample is one line of the Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape fetches GET /metrics from the operators' listener over HTTP and
// parses the text exposition.
func scrape(t *testing.T, s *testenv.Server) []sample {
	t.Helper()
	if s.MetricsURL == "" {
		t.Fatal("no metrics listener")
	}
	res, err := http.Get(s.MetricsURL + "/metrics")
	testenv.Must(t, err, "scrape")
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("scrape: %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	var out []sample
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		smp := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(smp.name, '{'); i >= 0 {
			body := strings.TrimSuffix(smp.name[i+1:], "}")
			smp.name = smp.name[:i]
			for body != "" {
				k, rest, _ := strings.Cut(body, `="`)
				end := strings.Index(rest, `"`)
				smp.labels[k] = rest[:end]
				body = strings.TrimPrefix(rest[end+1:], ",")
			}
		}
		out = append(out, smp)
	}
	return out
}

// find returns the samples of name whose labels include want.
func find(samples []sample, name string, want map[string]string) []sample {
	var out []sample
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// value is the sum of the samples of name with labels want; it fails t when
// there is none.
func value(t *testing.T, samples []sample, name string, want map[string]string) float64 {
	t.Helper()
	got := find(samples, name, want)
	if len(got) == 0 {
		t.Fatalf("no %s%v in the scrape", name, want)
	}
	sum := 0.0
	for _, s := range got {
		sum += s.value
	}
	return sum
}

// TestMetricsAfterTraffic drives a sign-up (with its mail), failed logins
// up to a 429, an upload and its analysis, then scrapes /metrics from the
// operators' listener and finds every family docs/metrics.md lists, with
// the labels the traffic should have given them.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		env := smtp.Env()
		env["AURA_METRICS_ADDR"] = "127.0.0.1:0"
		env["AURA_LIMITS_LOGIN_MAX_FAILURES"] = "2"
		s := testenv.Start(t, testenv.Config(t, e.URI(t), env))

		pat := signUp(t, s, "metrics.patient@example.com")
		for range 2 {
			s.Do(t, "POST", "/api/auth/login", map[string]any{"email": pat.Email, "password": "wrong password here"}, "").
				Expect(t, http.StatusUnauthorized, "")
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": pat.Email, "password": "wrong password here"}, "").
			Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
		s.Do(t, "GET", "/api/no-such-endpoint", nil, "").Expect(t, http.StatusNotFound, "")
		adm := makeAdmin(t, s, "metrics.admin@example.com")
		createClinic(t, s, adm, "Phòng khám Đo Lường")
		jpg, _ := fundus(t)
		var sc screening
		upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &sc)

		before := scrape(t, s)
		if n := value(t, before, "aura_queue_depth", map[string]string{"kind": "analyze", "state": "ready"}); n != 1 {
			t.Fatalf("analyze ready before the analysis: %v, want 1", n)
		}
		if analyse(t, s) != 1 {
			t.Fatal("the analysis job did not run")
		}
		getScreening(t, s, pat.Token, sc.ID)
		smtp.WaitTo(t, pat.Email, 1)
		// The sender records a message after the server accepted it.
		var m []sample
		deadline := time.Now().Add(10 * time.Second)
		for {
			m = scrape(t, s)
			if len(find(m, "aura_mail_sent_total", map[string]string{"kind": "verify_email"})) == 1 &&
				value(t, m, "aura_mail_sent_total", map[string]string{"kind": "verify_email"}) >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("aura_mail_sent_total{kind=verify_email} never counted the sign-up's mail")
			}
			time.Sleep(50 * time.Millisecond)
		}

		atLeast := func(name string, labels map[string]string, min float64) {
			t.Helper()
			if v := value(t, m, name, labels); v < min {
				t.Errorf("%s%v = %v, want at least %v", name, labels, v, min)
			}
		}
		h := "aura_http_request_duration_seconds_count"
		atLeast(h, map[string]string{"route": "/api/auth/register", "method": "POST", "status": "201"}, 2)
		atLeast(h, map[string]string{"route": "/api/auth/login", "method": "POST", "status": "401"}, 2)
		atLeast(h, map[string]string{"route": "/api/auth/login", "method": "POST", "status": "429"}, 1)
		atLeast(h, map[string]string{"route": "/api/screenings", "method": "POST", "status": "202"}, 1)
		atLeast(h, map[string]string{"route": "/api/screenings/:id", "method": "GET", "status": "200"}, 1)
		atLeast(h, map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1)
		atLeast("aura_http_request_duration_seconds_bucket", map[string]string{"route": "/api/auth/login", "le": "+Inf"}, 3)
		for _, smp := range find(m, h, nil) {
			if strings.Contains(smp.labels["route"], sc.ID) || strings.Contains(smp.labels["route"], "no-such") {
				t.Errorf("a raw path became a route label: %v", smp.labels)
			}
		}
		if v := value(t, m, "aura_http_requests_in_flight", nil); v != 0 {
			t.Errorf("in flight between requests: %v", v)
		}
		db := map[string]string{"db_name": engineOf(e)}
		atLeast("go_sql_max_open_connections", db, 1)
		atLeast("go_sql_open_connections", db, 1)
		for _, f := range []string{"go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total"} {
			value(t, m, f, db)
		}
		for _, kind := range []string{"analyze", "mail"} {
			for _, state := range []string{"ready", "delayed", "running"} {
				if v := value(t, m, "aura_queue_depth", map[string]string{"kind": kind, "state": state}); v != 0 {
					t.Errorf("aura_queue_depth{%s,%s} = %v after the queues drained", kind, state, v)
				}
			}
			value(t, m, "aura_queue_oldest_ready_seconds", map[string]string{"kind": kind})
		}
		atLeast("aura_queue_depth_up", nil, 1)
		atLeast("aura_job_duration_seconds_count", map[string]string{"kind": "analyze", "outcome": "done"}, 1)
		atLeast("aura_job_duration_seconds_count", map[string]string{"kind": "mail", "outcome": "done"}, 1)
		value(t, m, "aura_job_duration_seconds_count", map[string]string{"kind": "analyze", "outcome": "given_up"})
		value(t, m, "aura_mail_failed_total", map[string]string{"kind": "verify_email", "outcome": "retry"})
		value(t, m, "aura_mail_expired_total", nil)
		atLeast("aura_login_failures_total", map[string]string{"reason": "bad_credentials"}, 2)
		atLeast("aura_rate_limited_total", map[string]string{"limit": "login_account"}, 1)
		value(t, m, "aura_rate_limited_total", map[string]string{"limit": "register_address"})
		value(t, m, "aura_password_hashes_running", nil)
		value(t, m, "aura_password_hashes_waiting", nil)
		atLeast("aura_password_hashes_max", nil, 1)
		value(t, m, "aura_password_hashes_refused_total", nil)
		atLeast("aura_build_info", nil, 1)
		atLeast("go_goroutines", nil, 1)
		atLeast("process_resident_memory_bytes", nil, 1)
		start := time.Now()
		n := len(scrape(t, s))
		t.Logf("one scrape: %d samples in %s", n, time.Since(start).Round(time.Microsecond))
	})
}

// TestMetricsOffByDefault: with no metrics.addr nothing listens for
// operators, no request is observed, and the API answers as before
// (/metrics is not one of its paths).
func TestMetricsOffByDefault(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t, "sqlite:///:memory:", nil)
	if cfg.Metrics.Addr != "" {
		t.Fatalf("metrics.addr defaults to %q, want empty", cfg.Metrics.Addr)
	}
	s := testenv.Start(t, cfg)
	if s.MetricsURL != "" || s.App.Metrics != nil {
		t.Fatalf("metrics on by default: %q", s.MetricsURL)
	}
	s.Do(t, "GET", "/metrics", nil, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
	s.Do(t, "GET", "/api/metrics", nil, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
}

// TestMetricsListenerHealth: GET /health on the operators' listener is the
// operator view (pool, versions, queue depths) without a token; it answers
// nothing else, and the API's anonymous view is unchanged.
func TestMetricsListenerHealth(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_METRICS_ADDR": "127.0.0.1:0"}))
		signUp(t, s, "health.queue@example.com") // one verification mail in the outbox

		res, err := http.Get(s.MetricsURL + "/health")
		testenv.Must(t, err, "GET /health")
		var env struct {
			Success bool `json:"success"`
			Data    struct {
				operatorHealth
				Queues []struct {
					Kind                    string
					Ready, Delayed, Running int64
					OldestReadySeconds      float64 `json:"oldest_ready_seconds"`
				} `json:"queues"`
			} `json:"data"`
		}
		err = json.NewDecoder(res.Body).Decode(&env)
		res.Body.Close()
		testenv.Must(t, err, "decode /health")
		h := env.Data
		if res.StatusCode != 200 || !env.Success || h.Status != "ok" || !h.DBStatus || h.Database.Engine != engineOf(e) ||
			h.Database.PingMs == nil || h.Database.Pool["max_open"] == 0 || h.Database.ServerVersion == "" ||
			h.Version.AURA == "" || h.Version.Go == "" || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("operator health: %d %+v", res.StatusCode, env)
		}
		kinds := map[string]bool{}
		for _, q := range h.Queues {
			kinds[q.Kind] = true
			if q.Ready < 0 || q.Delayed < 0 || q.Running < 0 || q.OldestReadySeconds < 0 {
				t.Fatalf("queue %+v", q)
			}
		}
		if !kinds["analyze"] || !kinds["mail"] {
			t.Fatalf("queues %+v: want analyze and mail", h.Queues)
		}

		for path, want := range map[string]int{"/api/health": 404, "/metrics/x": 404, "/": 404} {
			res, err := http.Get(s.MetricsURL + path)
			testenv.Must(t, err, "GET %s", path)
			res.Body.Close()
			if res.StatusCode != want {
				t.Errorf("metrics listener %s: %d, want %d", path, res.StatusCode, want)
			}
		}
		res, err = http.Post(s.MetricsURL+"/health", "application/json", nil)
		testenv.Must(t, err, "POST /health")
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /health: %d", res.StatusCode)
		}
		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, "").Expect(t, 200, ""), e)
	})
}
