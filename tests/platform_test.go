package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"aura/app"
	"aura/internal/testenv"
)

func TestHTTPBasics(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		var idx struct{ Message string }
		s.Do(t, "GET", "/api/", nil, "").Expect(t, 200, "").Data(t, &idx)
		if idx.Message != "Welcome to AURA API" {
			t.Fatalf("index: %q", idx.Message)
		}
		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, "").Expect(t, 200, ""), e)
		s.Do(t, "GET", "/api/health/live", nil, "").Expect(t, 200, "")
		s.Do(t, "GET", "/api/nothing/here", nil, "").Expect(t, 404, "NOT_FOUND")
		s.Do(t, "DELETE", "/api/health", nil, "").Expect(t, 405, "METHOD_NOT_ALLOWED")
		s.Do(t, "GET", "/api/auth/login", nil, "").Expect(t, 405, "METHOD_NOT_ALLOWED")
		big := `{"email":"` + strings.Repeat("a", 70000) + `"}`
		s.Do(t, "POST", "/api/auth/login", testenv.Invalid(big), "").Expect(t, 413, "PAYLOAD_TOO_LARGE")
		s.DoHeaders(t, "POST", "/api/auth/login", testenv.Invalid(`{"email":"a@b.co","password":"x"}`), map[string]string{"Content-Type": "text/plain"}).
			Expect(t, 415, "UNSUPPORTED_MEDIA_TYPE")

		r := s.DoHeaders(t, "GET", "/api/health/live", nil, map[string]string{"X-Request-ID": "trace-123"})
		if r.Header.Get("X-Request-ID") != "trace-123" {
			t.Fatalf("request id not echoed: %v", r.Header)
		}
		r = s.Do(t, "GET", "/api/nothing", nil, "")
		if len(r.Header.Get("X-Request-ID")) < 16 {
			t.Fatalf("no generated request id on a 404: %v", r.Header)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("content type %q", ct)
		}
	})
}

// TestPanicAnswers500 mounts a panicking route on a real App.
func TestPanicAnswers500(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t, "sqlite:///:memory:", nil)
	a, err := app.New(testenv.Ctx(t), cfg, testenv.Logger(t))
	testenv.Must(t, err, "app")
	defer a.Close()
	a.Router.GET("/api/boom", func(*gin.Context) { panic("secret internal detail") })
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	// /api/boom is this test's own route, outside the OpenAPI document: its
	// answer is not checked against it.
	s := &testenv.Server{URL: srv.URL, Client: srv.Client()}
	r := s.Do(t, "GET", "/api/boom", nil, "").Expect(t, 500, "INTERNAL")
	checkSecurityHeaders(t, "a recovered panic", r.Header)
	if strings.Contains(string(r.Body), "secret") || strings.Contains(string(r.Body), "goroutine") {
		t.Fatalf("panic leaked: %s", r.Body)
	}
}

// TestHealthWhenDatabaseIsGone closes the pool under a running server.
func TestHealthWhenDatabaseIsGone(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		admin := makeAdmin(t, s, "admin.gone@example.com")
		sqlDB, _ := s.App.DB.DB()
		sqlDB.Close()
		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, "").Expect(t, 503, "UNAVAILABLE"), e)
		// An operator's token cannot be checked either: the anonymous answer, still 503.
		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, admin).Expect(t, 503, "UNAVAILABLE"), e)
		s.Do(t, "POST", "/api/auth/login", map[string]string{"email": "a@b.co", "password": "whatever-password"}, "").
			Expect(t, 503, "UNAVAILABLE")
	})
}

// TestInMemoryDatabaseSurvivesIdleAndConcurrency: the one connection is never
// recycled, whatever the pool overrides say, and concurrent requests queue.
func TestInMemoryDatabaseSurvivesIdleAndConcurrency(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t, "sqlite://", map[string]string{
		"AURA_DATABASE_POOL_CONN_MAX_IDLE_TIME": "20ms",
		"AURA_DATABASE_POOL_CONN_MAX_LIFETIME":  "20ms",
		"AURA_DATABASE_POOL_MAX_OPEN_CONNS":     "5",
	})
	s := testenv.Start(t, cfg)
	first := register(t, s, "idle@example.com")
	time.Sleep(300 * time.Millisecond) // far beyond the overridden idle time and lifetime
	s.Do(t, "GET", "/api/auth/me", nil, first.AccessToken).Expect(t, 200, "")

	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": fmt.Sprintf("c%d@example.com", i), "password": goodPassword}, "")
				if r.Status != 201 {
					errs <- string(r.Body)
				}
			} else if r := s.Do(t, "GET", "/api/auth/me", nil, first.AccessToken); r.Status != 200 {
				errs <- string(r.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if st, _ := s.App.DB.DB(); st.Stats().MaxOpenConnections != 1 {
		t.Fatalf("in-memory pool has %d connections", st.Stats().MaxOpenConnections)
	}
}

// TestFileSQLiteConcurrentWriters: 50 concurrent sign-ups never meet
// "database is locked".
func TestFileSQLiteConcurrentWriters(t *testing.T) {
	t.Parallel()
	e := testenv.Engines()[1]
	s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
	var wg sync.WaitGroup
	bad := make(chan string, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": fmt.Sprintf("writer%d@example.com", i), "password": goodPassword}, "")
			if r.Status != 201 {
				bad <- fmt.Sprintf("%d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	close(bad)
	for b := range bad {
		t.Error(b)
	}
	var p struct{ Total int }
	admin := makeAdmin(t, s, "boss@example.com")
	s.Do(t, "GET", "/api/admin/users?pageSize=1", nil, admin).Expect(t, 200, "").Data(t, &p)
	if p.Total != 51 {
		t.Fatalf("%d users, want 51", p.Total)
	}
}

// TestShutdownFinishesInFlight holds the database's write lock so sign-ups
// are in flight, starts a shutdown, then releases the lock: every request
// answers 201 and its account exists after a restart.
func TestShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	uri := "sqlite:///" + dir + "/aura.db"
	cfg := testenv.Config(t, uri, nil)
	s := testenv.Start(t, cfg)
	lock := openRawSQLite(t, dir+"/aura.db")
	tx, err := lock.Begin()
	testenv.Must(t, err, "begin")
	_, err = tx.Exec("INSERT INTO rate_limits (bucket, hits, reset_at) VALUES ('hold', 1, '2000-01-01')")
	testenv.Must(t, err, "take write lock")

	const n = 5
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": fmt.Sprintf("flight%d@example.com", i), "password": goodPassword}, "")
			codes <- r.Status
		}()
	}
	time.Sleep(300 * time.Millisecond) // let the requests reach the lock
	stopped := make(chan struct{})
	go func() { s.Stop(t); close(stopped) }()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("server stopped before its in-flight requests finished")
	default:
	}
	testenv.Must(t, tx.Rollback(), "release lock")
	wg.Wait()
	<-stopped
	close(codes)
	for c := range codes {
		if c != 201 {
			t.Fatalf("in-flight request answered %d", c)
		}
	}
	lock.Close()
	s2 := testenv.Start(t, testenv.Config(t, uri, nil))
	for i := range n {
		s2.Do(t, "POST", "/api/auth/login", map[string]any{"email": fmt.Sprintf("flight%d@example.com", i), "password": goodPassword}, "").Expect(t, 200, "")
	}
}

var _ = context.Background
var _ = http.StatusOK
