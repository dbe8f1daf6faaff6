// Package testenv gives tests real databases and a real AURA server: every
// test runs on in-memory SQLite, file SQLite and, when AURA_TEST_POSTGRES_URI
// is set, PostgreSQL (a fresh schema per test).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"aura/config"
	"aura/database"
)

// PostgresEnv names the variable that points tests at a PostgreSQL database.
const PostgresEnv = "AURA_TEST_POSTGRES_URI"

// Engine is one database flavour a test runs on.
type Engine struct {
	Name string
	// URI returns a fresh database URI for t (cleaned up with t).
	URI func(t testing.TB) string
}

// Engines lists in-memory SQLite, file SQLite and PostgreSQL (when set).
func Engines() []Engine {
	es := []Engine{
		{Name: "sqlite-memory", URI: func(testing.TB) string { return "sqlite:///:memory:" }},
		{Name: "sqlite-file", URI: func(t testing.TB) string { return "sqlite:///" + filepath.Join(t.TempDir(), "aura.db") }},
	}
	if os.Getenv(PostgresEnv) != "" {
		es = append(es, Engine{Name: "postgres", URI: PostgresURI})
	}
	return es
}

// ForEach runs fn as a subtest on every engine.
func ForEach(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// RequirePostgres skips t when no PostgreSQL is configured.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip("set " + PostgresEnv + " to run PostgreSQL tests")
	}
	return base
}

// PostgresURI creates a fresh schema in the test database and returns a URI
// whose search_path is that schema; the schema is dropped after t.
func PostgresURI(t testing.TB) string {
	t.Helper()
	base := RequirePostgres(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin := AdminDB(t, base)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if s, err := admin.DB(); err == nil {
			s.Close()
		}
	})
	u, err := url.Parse(strings.Replace(base, "postgresql://", "postgres://", 1))
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenDB opens a fresh database of engine e the way the binary does
// (database.OpenDB with the test configuration), migrates it, and closes it
// when t ends. Repository and service tests build their Store on it.
func OpenDB(t testing.TB, e Engine) *gorm.DB {
	t.Helper()
	cfg := Config(t, e.URI(t), nil)
	ctx := context.Background()
	db, err := database.OpenDB(ctx, cfg, Logger(t))
	Must(t, err, "open %s database", e.Name)
	t.Cleanup(func() { database.Close(db) })
	Must(t, database.Migrate(ctx, db, Logger(t)), "migrate %s database", e.Name)
	return db
}

// AdminDB opens a plain GORM handle on uri for test set-up and checks.
func AdminDB(t testing.TB, uri string) *gorm.DB {
	t.Helper()
	dsn, err := config.ParseURI(uri)
	if err != nil || dsn.Engine != config.EnginePostgres {
		t.Fatalf("AdminDB wants a postgres URI")
	}
	db, err := gorm.Open(postgres.Open(dsn.URL), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	return db
}

// Config loads a configuration the way the binary does, from the given
// environment only (no files, no process environment), plus test defaults:
// a fixed secret and cheap password hashing.
func Config(t testing.TB, uri string, env map[string]string) *config.Config {
	t.Helper()
	vals := map[string]string{
		"DATABASE_URI":                uri,
		"SECRET_KEY":                  "test-secret-test-secret-test-secret-0123",
		"AURA_AUTH_ARGON2_MEMORY_KIB": "64",
		"AURA_AUTH_ARGON2_TIME":       "1",
		"AURA_SERVER_ADDR":            "127.0.0.1:0",
		"AURA_LIMITS_EMAIL_INTERVAL":  "0s",
		// Tests sign up many accounts from 127.0.0.1; the sign-up limit's own
		// tests set theirs.
		"AURA_LIMITS_REGISTER_MAX": "1000000",
		// Tests upload many screenings as one patient; the upload limit's
		// own tests set theirs.
		"AURA_LIMITS_UPLOAD_MAX": "1000000",
		// Images go to the test's own directory; tests drive the analysis
		// queue themselves (App.Analysis.RunOne) unless they set workers.
		"AURA_STORAGE_URI":      "file://" + storeDir(t),
		"AURA_ANALYSIS_WORKERS": "0",
		// Tests read English messages unless they ask for another
		// language; the shipped default (vi) has its own tests.
		"AURA_I18N_DEFAULT_LANGUAGE": "en",
	}
	if raceOn {
		// The race detector slows hashing (a legacy bcrypt or PBKDF2
		// hash checked and upgraded at login) past the 5 s request
		// deadline on a loaded 2-core machine; the deadline's own tests
		// set theirs.
		vals["AURA_DATABASE_QUERY_TIMEOUT"] = "60s"
	}
	for k, v := range env {
		vals[k] = v
	}
	cfg, err := config.Load(config.Options{Dir: t.TempDir(), Getenv: func(k string) string { return vals[k] },
		Environ: func() []string {
			kv := make([]string, 0, len(vals))
			for k, v := range vals {
				kv = append(kv, k+"="+v)
			}
			return kv
		}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// Logger returns a logger that writes to t's log when verbose, else nowhere.
// A fuzz test's log is never written to: a server started for it logs from
// its own goroutines while the fuzz target runs, and testing panics on an
// f.Log there.
func Logger(t testing.TB) *slog.Logger {
	if _, fuzz := t.(*testing.F); testing.Verbose() && !fuzz {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Ctx is a context cancelled when t ends.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// Must fails t on err.
func Must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// Race runs fn(0), ..., fn(n-1) in n goroutines released at the same moment
// and returns their errors by index, once all have returned.
func Race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// storeDir is a fresh image-store directory for t, named without t's name
// (subtest names may hold '#', which a file:// URI cannot).
func storeDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "aura-store-")
	if err != nil {
		t.Fatalf("store dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
