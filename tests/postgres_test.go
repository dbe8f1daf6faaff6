package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"aura/app"
	"aura/internal/testenv"
)

// appNamed gives a test's server connections an application_name of their
// own, so the test can find (and kill) exactly those backends.
func appNamed(t *testing.T) (uri, name string) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name = "aura_test_" + hex.EncodeToString(b[:])
	return testenv.PostgresURI(t) + "&application_name=" + name, name
}

// TestPostgresKilledConnectionsAreReplaced terminates every backend of a
// running server; the next requests succeed on fresh connections.
func TestPostgresKilledConnectionsAreReplaced(t *testing.T) {
	t.Parallel()
	uri, name := appNamed(t)
	s := testenv.Start(t, testenv.Config(t, uri, nil))
	reg := register(t, s, "survivor@example.com")
	for range 20 {
		s.Do(t, "GET", "/api/auth/me", nil, reg.AccessToken).Expect(t, 200, "")
	}
	admin := testenv.AdminDB(t, testenv.RequirePostgres(t))
	for round := range 3 {
		var killed int
		testenv.Must(t, admin.Raw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?", name).
			Scan(&killed).Error, "terminate")
		if killed == 0 {
			t.Fatalf("round %d: no backend to kill", round)
		}
		for i := range 30 {
			if r := s.Do(t, "GET", "/api/auth/me", nil, reg.AccessToken); r.Status != 200 {
				t.Fatalf("round %d, request %d after killing %d backends: %d %s", round, i, killed, r.Status, r.Body)
			}
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "survivor@example.com", "password": goodPassword}, "").Expect(t, 200, "")
	}
}

// TestClientDisconnectCancelsQueries blocks /me behind a table lock, drops
// the client, and watches the server's query leave pg_stat_activity while the
// lock is still held.
func TestClientDisconnectCancelsQueries(t *testing.T) {
	t.Parallel()
	uri, name := appNamed(t)
	s := testenv.Start(t, testenv.Config(t, uri, map[string]string{"AURA_DATABASE_QUERY_TIMEOUT": "60s"}))
	reg := register(t, s, "leaver@example.com")

	locker := testenv.AdminDB(t, uri)
	tx := locker.Begin()
	testenv.Must(t, tx.Exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE").Error, "lock")
	defer tx.Rollback()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+reg.AccessToken)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := s.Client.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	waiting := func() int {
		var n int
		testenv.Must(t, testenv.AdminDB(t, uri).Raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND wait_event_type = 'Lock'", name).Scan(&n).Error, "activity")
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	deadline = time.Now().Add(5 * time.Second)
	for waiting() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("query still waiting after the client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInstancesMigrateTogether starts several instances at once on one empty
// PostgreSQL schema: each migrates at start, and none fails.
func TestInstancesMigrateTogether(t *testing.T) {
	t.Parallel()
	uri := testenv.PostgresURI(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			a, err := app.New(context.Background(), testenv.Config(t, uri, nil), testenv.Logger(t))
			if err == nil {
				a.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent start: %v", err)
		}
	}
	s := testenv.Start(t, testenv.Config(t, uri, nil))
	register(t, s, "after@example.com")
}
