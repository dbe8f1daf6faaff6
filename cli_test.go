package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"aura/storage"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds aura once per test run, as an operator would run it.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aura-cli-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "aura")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%w: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return binPath
}

// run starts the binary in dir with only the given environment (plus PATH and HOME).
func run(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestCLIRefusesBadSettings(t *testing.T) {
	cases := map[string][]string{
		"database.uri (DATABASE_URI)":  {"DATABASE_URI=mysql://root:hunter2@db/aura"},
		"database.engine (DB_ENGINE)":  {"DB_ENGINE=oracle", "DB_PASSWORD=hunter2"},
		"auth.jwt_secret (SECRET_KEY)": {"AURA_ENV=production"},
		"server.addr":                  {"AURA_SERVER_ADDR=not-an-address:99999", "DATABASE_URI=sqlite://"},
	}
	for mention, env := range cases {
		t.Run(mention, func(t *testing.T) {
			out, code := run(t, t.TempDir(), env)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code == 0 || !strings.Contains(out, mention) || strings.Contains(out, "hunter2") {
				t.Fatalf("exit %d, output %q", code, out)
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "aura: ") || !strings.Contains(last, mention) {
				t.Fatalf("last line %q should name %s", last, mention)
			}
		})
	}
	out, code := run(t, t.TempDir(), []string{"DATABASE_URI=postgresql://aura:hunter2@127.0.0.1:1/aura?sslmode=disable",
		"AURA_DATABASE_CONNECT_TIMEOUT=0s"}, "migrate")
	if code == 0 || strings.Contains(out, "hunter2") || !strings.Contains(out, "xxxxx") {
		t.Fatalf("unreachable database: exit %d, %q", code, out)
	}
}

// TestCLIRefusesUnknownSettings: a typo in config.yaml or in an AURA_*
// variable, or a value of the wrong form, stops the binary with exactly one
// line that names it, instead of running on a default.
func TestCLIRefusesUnknownSettings(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"typo in config.yaml", "databse:\n  uri: postgresql://aura:hunter2@127.0.0.1:1/aura\n", nil,
			`aura: config.yaml: unknown key "databse"; did you mean "database"?`},
		{"typo deep in config.yaml", "database:\n  pol:\n    max_open_conns: 3\n", nil,
			`aura: config.yaml: unknown key "database.pol"; did you mean "database.pool"?`},
		{"typo in the environment", "", []string{"AURA_DATABSE_URI=postgresql://aura:hunter2@127.0.0.1:1/aura"},
			"aura: environment: unknown variable AURA_DATABSE_URI; did you mean AURA_DATABASE_URI?"},
		{"duration of the wrong form", "auth:\n  access_ttl: \"15 minutes\"\n", nil,
			`aura: auth.access_ttl (AURA_AUTH_ACCESS_TTL): "15 minutes" is not a duration; use a Go duration such as 15m or 1h30m`},
		{"integer of the wrong form", "", []string{"AURA_SERVER_MAX_BODY_BYTES=64k"},
			`aura: server.max_body_bytes (AURA_SERVER_MAX_BODY_BYTES): "64k" is not an integer; use a whole number such as 10`},
		{"boolean of the wrong form", "database:\n  auto_migrate: sure\n", nil,
			`aura: database.auto_migrate (AURA_DATABASE_AUTO_MIGRATE): "sure" is not a boolean; use true or false`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.yaml != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(c.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// migrate, so that a start that wrongly succeeds ends by itself.
			out, code := run(t, dir, c.env, "migrate")
			if code != 1 || out != c.want+"\n" {
				t.Fatalf("exit %d, output %q\nwant exit 1, %q", code, out, c.want)
			}
		})
	}
}

// TestCLIDatabaseOpenFailure: a database that cannot be opened ends the
// start with exactly one line and exit status 1, in text and in JSON
// logging, with the password hidden and no line of GORM's own (one try:
// database.connect_timeout 0).
func TestCLIDatabaseOpenFailure(t *testing.T) {
	uri := "DATABASE_URI=postgresql://u:secretpw@127.0.0.1:1/x"
	modes := map[string][]string{
		"text": {uri, "AURA_DATABASE_CONNECT_TIMEOUT=0s"},
		"json": {uri, "AURA_DATABASE_CONNECT_TIMEOUT=0s", "AURA_ENV=production", "SECRET_KEY=" + strings.Repeat("k", 40), "AURA_MAIL_DRIVER=smtp",
			"AURA_STORAGE_ALLOW_PLAINTEXT=true"},
	}
	for mode, env := range modes {
		for _, cmd := range []string{"serve", "migrate"} {
			t.Run(mode+"/"+cmd, func(t *testing.T) {
				out, code := run(t, t.TempDir(), env, cmd)
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "aura: ") ||
					!strings.Contains(out, "postgres://u:xxxxx@127.0.0.1:1/x") || strings.Contains(out, "secretpw") || strings.Contains(out, "%v") {
					t.Fatalf("exit %d, output %q; want exit 1 and one line without the password", code, out)
				}
			})
		}
	}
}

// TestCLIProductionNeedsSMTP: production with the log driver, which would
// write reset and verification links to the log, stops the start with one
// line saying what to set.
func TestCLIProductionNeedsSMTP(t *testing.T) {
	secret := "SECRET_KEY=" + strings.Repeat("k", 40)
	want := "aura: mail.driver (AURA_MAIL_DRIVER): "
	for name, env := range map[string][]string{
		"default driver": {"AURA_ENV=production", secret, "DATABASE_URI=sqlite:///aura.db"},
		"log named":      {"FLASK_ENV=production", secret, "AURA_MAIL_DRIVER=log", "DATABASE_URI=sqlite:///aura.db"},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, t.TempDir(), env, "migrate")
			if code != 1 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, want) || !strings.Contains(out, "set AURA_MAIL_DRIVER=smtp") {
				t.Fatalf("exit %d, output %q", code, out)
			}
		})
	}
	// env: production in config.yaml counts the same.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("env: production\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, dir, []string{secret}, "migrate"); code != 1 || !strings.HasPrefix(out, want) {
		t.Fatalf("config.yaml: exit %d, output %q", code, out)
	}
	// With smtp, production starts (migrate needs no relay).
	if out, code := run(t, dir, []string{secret, "AURA_MAIL_DRIVER=smtp", "AURA_STORAGE_ALLOW_PLAINTEXT=true"}, "migrate"); code != 0 {
		t.Fatalf("smtp: exit %d, output %q", code, out)
	}
}

func TestCLIMigrateVersionHelp(t *testing.T) {
	dir := t.TempDir()
	out, code := run(t, dir, []string{"DATABASE_URI=sqlite:///data/aura.db"}, "migrate")
	if code != 0 || !strings.Contains(out, "schema is up to date") {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "aura.db")); err != nil {
		t.Fatalf("no database file: %v", err)
	}
	if out, code := run(t, dir, nil, "version"); code != 0 || !strings.HasPrefix(out, "aura ") || !strings.Contains(out, "\ngo: go1.") {
		t.Fatalf("version: %d %s", code, out)
	}
	for _, cmd := range [][]string{{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"users", "create", "--help"}, {"version", "--help"}} {
		if out, code := run(t, dir, nil, cmd...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Fatalf("%v: %d %s", cmd, code, out)
		}
	}
}

// TestCLIServeAndStop starts the binary with the shipped config.yaml, as a new
// user does, checks it answers, and stops it with SIGTERM: exit status 0.
func TestCLIServeAndStop(t *testing.T) {
	dir := t.TempDir()
	cfg, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary(t))
	cmd.Dir = dir
	// AURA_TEST_* belongs to the test suite and is ignored, not refused.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AURA_SERVER_ADDR=" + addr,
		"AURA_TEST_POSTGRES_URI=postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("health %d", res.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("server never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "aura.db")); err != nil {
		t.Fatalf("the default SQLite file was not created: %v", err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	var all []string
	for l := range logs {
		all = append(all, l)
	}
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, strings.Join(all, "\n"))
	}
	if !strings.Contains(strings.Join(all, "\n"), "shutting down") {
		t.Fatalf("no shutdown log line:\n%s", strings.Join(all, "\n"))
	}
}

// TestCLIUsersCreate makes the first admin from standard input, as the
// README shows, and refuses a weak password and a second account.
func TestCLIUsersCreate(t *testing.T) {
	dir := t.TempDir()
	env := []string{"DATABASE_URI=sqlite:///aura.db"}
	create := func(stdin string, args ...string) (string, int) {
		cmd := exec.Command(binary(t), append([]string{"users", "create"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	out, code := create("violet harbor lantern 91\n", "--email", "Admin@Clinic.example", "--role", "ADMIN")
	if code != 0 || !strings.Contains(out, "created Admin@Clinic.example") || !strings.Contains(out, "ADMIN") {
		t.Fatalf("create: %d %s", code, out)
	}
	if out, code := create("violet harbor lantern 91\n", "--email", "admin@clinic.example", "--role", "ADMIN"); code == 0 || !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate: %d %s", code, out)
	}
	if out, code := create("password1234\n", "--email", "weak@clinic.example"); code == 0 || !strings.Contains(out, "password") {
		t.Fatalf("weak password: %d %s", code, out)
	}
	if out, code := create("violet harbor lantern 91\n", "--email", "x@clinic.example", "--role", "ROOT"); code == 0 || !strings.Contains(out, "--role") {
		t.Fatalf("bad role: %d %s", code, out)
	}
	if out, code := create("", "--email", "empty@clinic.example"); code == 0 || !strings.Contains(out, "no password") {
		t.Fatalf("no password: %d %s", code, out)
	}
}

// forwardLater listens on addr after delay and forwards every connection to
// target; it stops when t ends.
func forwardLater(t *testing.T, addr, target string, delay time.Duration) {
	t.Helper()
	done := make(chan struct{})
	var lnMu sync.Mutex
	var ln net.Listener
	t.Cleanup(func() {
		close(done)
		lnMu.Lock()
		if ln != nil {
			ln.Close()
		}
		lnMu.Unlock()
	})
	go func() {
		select {
		case <-done:
			return
		case <-time.After(delay):
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("forwarder listen: %v", err)
			return
		}
		lnMu.Lock()
		ln = l
		lnMu.Unlock()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// freeAddr is a loopback address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCLIServeWaitsForDatabase: `aura serve` started before its PostgreSQL
// accepts connections waits for it (one log line per failed attempt, with
// the attempt, the error and the next wait) and serves once it does; a
// database that answers "does not exist" fails the start at once instead.
func TestCLIServeWaitsForDatabase(t *testing.T) {
	base := os.Getenv("AURA_TEST_POSTGRES_URI")
	if base == "" {
		t.Skip("set AURA_TEST_POSTGRES_URI to run PostgreSQL tests")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	dbAddr, apiAddr := freeAddr(t), freeAddr(t)
	u.Host = dbAddr
	cmd := exec.Command(binary(t), "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URI=" + u.String(), "AURA_SERVER_ADDR=" + apiAddr,
		"AURA_DATABASE_AUTO_MIGRATE=false", "AURA_DATABASE_CONNECT_TIMEOUT=20s", "AURA_ANALYSIS_WORKERS=0"}
	stderr, _ := cmd.StderrPipe()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var mu sync.Mutex
	var logs []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs = append(logs, sc.Text())
			mu.Unlock()
		}
	}()
	forwardLater(t, dbAddr, target, time.Second)
	for {
		res, err := http.Get("http://" + apiAddr + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("health %d", res.StatusCode)
			}
			break
		}
		if time.Since(start) > 20*time.Second {
			mu.Lock()
			t.Fatalf("server never answered: %v\n%s", err, strings.Join(logs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	up := time.Since(start)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	mu.Lock()
	var retries []string
	for _, l := range logs {
		if strings.Contains(l, "database not reachable yet") {
			retries = append(retries, l)
		}
	}
	mu.Unlock()
	if len(retries) == 0 {
		t.Fatalf("no retry line:\n%s", strings.Join(logs, "\n"))
	}
	for i, l := range retries {
		if !strings.Contains(l, fmt.Sprintf("attempt=%d ", i+1)) || !strings.Contains(l, "connection refused") || !strings.Contains(l, "retry_in=") {
			t.Fatalf("retry line %d lacks attempt, error or next wait: %s", i+1, l)
		}
	}
	t.Logf("up after %s, %d failed attempts; first: %s", up.Round(time.Millisecond), len(retries), retries[0])

	// A database that does not exist is not waited for.
	u.Host = target
	u.Path = "/aura_no_such_database"
	start = time.Now()
	out, code := run(t, t.TempDir(), []string{"DATABASE_URI=" + u.String(), "AURA_DATABASE_CONNECT_TIMEOUT=30s"}, "migrate")
	if code != 1 || !strings.Contains(out, "does not exist") || strings.Contains(out, "not reachable yet") || time.Since(start) > 10*time.Second {
		t.Fatalf("missing database: exit %d after %s: %s", code, time.Since(start), out)
	}
}

// TestCLIWorkerServesMetrics: `aura worker`, which has no API, serves the
// operators' listener on metrics.addr (metrics and the operator health
// view) and closes it when stopped.
func TestCLIWorkerServesMetrics(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "worker")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URI=sqlite:///aura.db", "AURA_METRICS_ADDR=" + addr}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(20 * time.Second)
	var body []byte
	for {
		res, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("metrics %d: %s", res.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker never served metrics: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{`aura_queue_depth{kind="analyze",state="ready"} 0`, `go_sql_open_connections{db_name="sqlite"}`, "aura_build_info{"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("worker metrics lack %s", want)
		}
	}
	res, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(h), `"queues":[`) || !strings.Contains(string(h), `"pool":{`) {
		t.Fatalf("worker /health: %d %s", res.StatusCode, h)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exit: %v\n%s", err, logs.String())
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("metrics listener still open after the worker stopped")
	}
}

// TestCLIMetricsAddressBusy: a metrics.addr that cannot be listened on
// stops the start with a last line naming the setting, exit status 1.
func TestCLIMetricsAddressBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, cmd := range []string{"serve", "worker"} {
		out, code := run(t, t.TempDir(), []string{"DATABASE_URI=sqlite://", "AURA_SERVER_ADDR=" + freeAddr(t),
			"AURA_METRICS_ADDR=" + ln.Addr().String()}, cmd)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 1 || !strings.HasPrefix(lines[len(lines)-1], "aura: metrics.addr (AURA_METRICS_ADDR)") {
			t.Fatalf("%s: exit %d, output %q", cmd, code, out)
		}
	}
}

// TestCLIProductionNeedsStorageKey: production with neither
// storage.encryption_key nor storage.keeper stops the start with one line
// saying what to set; storage.allow_plaintext lets it start.
func TestCLIProductionNeedsStorageKey(t *testing.T) {
	env := []string{"AURA_ENV=production", "SECRET_KEY=" + strings.Repeat("k", 40), "AURA_MAIL_DRIVER=smtp", "DATABASE_URI=sqlite:///aura.db"}
	out, code := run(t, t.TempDir(), env, "migrate")
	want := "aura: storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY): production stores patient images encrypted"
	if code != 1 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, want) || !strings.Contains(out, "storage.allow_plaintext") {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if out, code := run(t, t.TempDir(), append(env, "AURA_STORAGE_ALLOW_PLAINTEXT=true"), "migrate"); code != 0 {
		t.Fatalf("allow_plaintext: exit %d, output %q", code, out)
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if out, code := run(t, t.TempDir(), append(env, "AURA_STORAGE_ENCRYPTION_KEY="+key), "migrate"); code != 0 || strings.Contains(out, key) {
		t.Fatalf("with a key: exit %d, output %q", code, out)
	}
}

// TestCLIStorageEncrypt: `aura storage encrypt` encrypts the objects of a
// store in the clear, prints the counts, and converts nothing the second
// time; the objects read back the same with the key. `aura storage rekey`
// moves them to a new key, after which the old one no longer opens them.
// Without a key, both refuse in one line.
func TestCLIStorageEncrypt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	uri := "file://" + filepath.ToSlash(dir)
	plain, err := storage.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{}
	for i, n := range []int{0, 100, 70 << 10, 300 << 10} {
		k := fmt.Sprintf("screenings/ab/%d/image.jpg", i)
		objs[k] = bytes.Repeat([]byte{byte(i + 1)}, n)
		if _, err := plain.Put(ctx, k, bytes.NewReader(objs[k]), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
	}
	_ = plain.Close()
	work := t.TempDir()
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	env := func(key string) []string {
		return []string{"AURA_STORAGE_URI=" + uri, "AURA_STORAGE_ENCRYPTION_KEY=" + key, "DATABASE_URI=sqlite:///aura.db"}
	}
	check := func(key string) {
		t.Helper()
		keeper, err := storage.OpenKeeper(ctx, key, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := storage.OpenWith(ctx, uri, storage.Options{Keeper: keeper})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for k, want := range objs {
			raw, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k)))
			if !bytes.HasPrefix(raw, []byte("AURAENC")) {
				t.Fatalf("%s is in the clear", k)
			}
			rc, attrs, err := st.Get(ctx, k)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) || attrs.ContentType != "image/jpeg" {
				t.Fatalf("%s: %d bytes, %s, %v", k, len(got), attrs.ContentType, err)
			}
		}
	}

	out, code := run(t, work, []string{"AURA_STORAGE_URI=" + uri}, "storage", "encrypt")
	if code != 1 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "no master key") {
		t.Fatalf("without a key: exit %d, output %q", code, out)
	}
	out, code = run(t, work, env(k1), "storage", "encrypt")
	if code != 0 || !strings.Contains(out, "4 objects: 4 converted, 0 already done") || strings.Contains(out, k1) {
		t.Fatalf("first run: exit %d, output %q", code, out)
	}
	check(k1)
	out, code = run(t, work, env(k1), "storage", "encrypt")
	if code != 0 || !strings.Contains(out, "4 objects: 0 converted, 4 already done") {
		t.Fatalf("second run: exit %d, output %q", code, out)
	}
	out, code = run(t, work, env(k2), "storage", "encrypt")
	if code != 1 || !strings.Contains(out, "4 under an unknown key") {
		t.Fatalf("under another key: exit %d, output %q", code, out)
	}

	oldKey := filepath.Join(work, "old-key")
	if err := os.WriteFile(oldKey, []byte(k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, work, env(k2), "storage", "rekey", "--old-key-file", oldKey)
	if code != 0 || !strings.Contains(out, "4 objects: 4 converted") {
		t.Fatalf("rekey: exit %d, output %q", code, out)
	}
	check(k2)
	out, code = run(t, work, env(k2), "storage", "rekey", "--old-key-file", oldKey)
	if code != 0 || !strings.Contains(out, "4 objects: 0 converted, 4 already done") {
		t.Fatalf("rekey again: exit %d, output %q", code, out)
	}
	out, code = run(t, work, env(k1), "storage", "encrypt")
	if code != 1 || !strings.Contains(out, "4 under an unknown key") {
		t.Fatalf("the old key after rekey: exit %d, output %q", code, out)
	}
}

// TestCLIHealthcheck: `aura healthcheck`, the container image's health
// check, exits 0 on a 200 from the liveness path and 1 with one line
// otherwise; without --url it finds the server from server.addr.
func TestCLIHealthcheck(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	var paths sync.Map
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.Path, true)
		w.WriteHeader(int(status.Load()))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	out, code := run(t, t.TempDir(), []string{fmt.Sprintf("AURA_SERVER_ADDR=:%d", port)}, "healthcheck")
	if code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthy: exit %d, %q", code, out)
	}
	if _, ok := paths.Load("/api/health/live"); !ok {
		t.Fatal("the liveness path was not asked")
	}
	status.Store(http.StatusServiceUnavailable)
	out, code = run(t, t.TempDir(), nil, "healthcheck", "--url", fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if code != 1 || !strings.Contains(out, "503") || !strings.HasPrefix(out, "aura: healthcheck:") {
		t.Fatalf("unhealthy: exit %d, %q", code, out)
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln2.Addr().String()
	ln2.Close()
	if out, code = run(t, t.TempDir(), []string{"AURA_SERVER_ADDR=" + closed}, "healthcheck", "--timeout", "1s"); code != 1 {
		t.Fatalf("nothing listening: exit %d, %q", code, out)
	}
}
