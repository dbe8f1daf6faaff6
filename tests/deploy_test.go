package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"aura/config"
	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// The scale-out layout of docs/deployment.md, without containers: PostgreSQL
// reached only through pgbouncer in transaction mode, two `aura serve`
// instances and one `aura worker` sharing it and one file store, HAProxy in
// round robin in front. Every flow of the product goes through HAProxy and
// no answer may be a 5xx, no process may log an error.
//
//	AURA_TEST_POSTGRES_URI=postgres://postgres@127.0.0.1:5432/aura_x?sslmode=disable \
//	  go test ./tests -run TestScaleOut -count=1 -v
//
// With AURA_TEST_DEPLOY_MEASURE=1 it then measures what docs/deployment.md
// sizes from: requests/s of /api/auth/me and login through HAProxy (two
// instances) and on one instance directly, the worker's analyses per minute
// at 1024², the database and store bytes per screening.

// deployExecMode is the pgx query mode of the DATABASE_URI behind pgbouncer:
// simple_protocol prepares nothing on the server, so no statement outlives
// the transaction pgbouncer lends a server connection for.
const deployExecMode = "simple_protocol"

func TestScaleOut(t *testing.T) {
	haproxyBin, err1 := lookSbin("haproxy")
	pgbouncerBin, err2 := lookSbin("pgbouncer")
	if err1 != nil || err2 != nil {
		if os.Getenv("AURA_TEST_REQUIRE_SCALEOUT") != "" {
			t.Fatal("AURA_TEST_REQUIRE_SCALEOUT is set but haproxy or pgbouncer is missing")
		}
		t.Skip("haproxy and pgbouncer are needed for the scale-out test (apt-get install haproxy pgbouncer; .ci/run installs them)")
	}
	base := testenv.RequirePostgres(t)
	d := newDeployment(t, base, haproxyBin, pgbouncerBin)
	d.flows(t)
	if os.Getenv("AURA_TEST_DEPLOY_MEASURE") != "" {
		d.measure(t)
	}
	d.stop(t)
	d.checkLogs(t)
	if d.fives.Load() != 0 {
		t.Fatalf("%d answers were 5xx: %v", d.fives.Load(), d.fiveList())
	}
}

// TestComposeEnvironmentIsAccepted loads the settings compose.yaml gives
// every AURA container (with deploy/env.example's values, a valid key in
// place of its placeholder) the way the binary does: every name must be one
// AURA reads and every value of the right form, in production mode.
func TestComposeEnvironmentIsAccepted(t *testing.T) {
	compose, err := os.ReadFile("../compose.yaml")
	testenv.Must(t, err, "read compose.yaml")
	example, err := os.ReadFile("../deploy/env.example")
	testenv.Must(t, err, "read deploy/env.example")
	vars := map[string]string{}
	for _, line := range strings.Split(string(example), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			vars[k] = v
		}
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	vars["AURA_STORAGE_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(key)
	// The x-aura environment block: "    NAME: value" lines up to services:.
	block := string(compose)
	block = block[strings.Index(block, "environment: &aura-env"):strings.Index(block, "\n  depends_on:")]
	ref := strings.NewReplacer("\"", "")
	env := map[string]string{}
	for _, line := range strings.Split(block, "\n")[1:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("compose.yaml: cannot read %q", line)
		}
		env[k] = os.Expand(ref.Replace(v), func(s string) string {
			name, def, _ := strings.Cut(s, ":")
			if val, ok := vars[name]; ok {
				return val
			}
			return strings.TrimPrefix(def, "-")
		})
	}
	for _, k := range []string{"DATABASE_URI", "SECRET_KEY", "AURA_STORAGE_URI", "AURA_STORAGE_ENCRYPTION_KEY", "AURA_ENV"} {
		if env[k] == "" {
			t.Fatalf("compose.yaml sets no %s: %v", k, env)
		}
	}
	cfg, err := config.Load(config.Options{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		}})
	testenv.Must(t, err, "the settings of compose.yaml")
	if cfg.Env != "production" || cfg.Database.DSN.Engine != "postgres" || !strings.HasPrefix(cfg.Storage.URI, "s3://aura?") ||
		cfg.Metrics.Addr != ":9464" || len(cfg.Server.TrustedProxies) != 3 {
		t.Fatalf("compose settings read as %+v", cfg)
	}
}

// lookSbin finds a daemon in PATH or in the sbin directories a non-root PATH lacks.
func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); fileExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func fileExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// auraBinary builds the aura command into the test's directory, as an
// operator would build it.
func auraBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aura")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build aura: %v: %s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "free port")
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemon is a process the test started, its output in a log file.
type daemon struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

func startDaemon(t *testing.T, dir, name string, env []string, stdin string, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(d.log)
	testenv.Must(t, err, "log of %s", name)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Dir = dir
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if stdin != "" {
		d.cmd.Stdin = strings.NewReader(stdin)
	}
	testenv.Must(t, d.cmd.Start(), "start %s", name)
	go func() {
		_ = d.cmd.Wait()
		f.Close()
		close(d.done)
	}()
	t.Cleanup(func() { d.kill() })
	return d
}

// term asks the process to stop and waits for it (killing it after 20 s).
func (d *daemon) term() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.kill()
	}
}

func (d *daemon) kill() {
	select {
	case <-d.done:
	default:
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) output() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// waitHTTP waits until url answers 200, or fails t with the daemon's log.
func waitHTTP(t *testing.T, d *daemon, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited:\n%s", d.name, d.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer %s:\n%s", d.name, url, d.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deployment is the running system of one test.
type deployment struct {
	dir, store, db string
	adminURI       string // straight to PostgreSQL, for measurements only
	lb             string // HAProxy
	api            []string
	metrics        []string // the operators' listeners: api1, api2, worker
	smtp           *mailtest.Server
	procs          []*daemon
	pgbouncer      *daemon
	haproxy        *daemon
	s              *testenv.Server // the API through HAProxy
	fives          atomic.Int64
	fivesMu        sync.Mutex
	fiveSeen       []string
}

func (d *deployment) fiveList() []string {
	d.fivesMu.Lock()
	defer d.fivesMu.Unlock()
	return append([]string(nil), d.fiveSeen...)
}

// fiveWatch counts every 5xx answer a client of the deployment receives.
type fiveWatch struct {
	d    *deployment
	next http.RoundTripper
}

func (f fiveWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := f.next.RoundTrip(req)
	if err == nil && res.StatusCode >= 500 {
		f.d.fives.Add(1)
		f.d.fivesMu.Lock()
		if len(f.d.fiveSeen) < 20 {
			f.d.fiveSeen = append(f.d.fiveSeen, fmt.Sprintf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode))
		}
		f.d.fivesMu.Unlock()
	}
	return res, err
}

func newDeployment(t *testing.T, base, haproxyBin, pgbouncerBin string) *deployment {
	t.Helper()
	bin := auraBinary(t)
	// A directory the unprivileged user pgbouncer switches to can read.
	dir, err := os.MkdirTemp("", "aura-deploy-")
	testenv.Must(t, err, "temp dir")
	testenv.Must(t, os.Chmod(dir, 0o755), "chmod")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	d := &deployment{dir: dir, store: filepath.Join(dir, "store")}

	// A fresh database of its own.
	bu, err := url.Parse(strings.Replace(base, "postgresql://", "postgres://", 1))
	testenv.Must(t, err, "parse %s", testenv.PostgresEnv)
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	d.db = "aura_deploy_" + hex.EncodeToString(rnd[:])
	admin := testenv.AdminDB(t, base)
	testenv.Must(t, admin.Exec("CREATE DATABASE "+d.db).Error, "create database")
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + d.db + " WITH (FORCE)")
		if s, err := admin.DB(); err == nil {
			s.Close()
		}
	})
	au := *bu
	au.Path = "/" + d.db
	au.RawQuery = "sslmode=disable"
	d.adminURI = au.String()

	// pgbouncer, transaction pooling, in front of it.
	pgUser := bu.User.Username()
	if pgUser == "" {
		pgUser = "postgres"
	}
	pgPass, _ := bu.User.Password()
	pgHost, pgPort := bu.Hostname(), bu.Port()
	if pgPort == "" {
		pgPort = "5432"
	}
	bouncerPort := freePort(t)
	target := fmt.Sprintf("host=%s port=%s dbname=%s user=%s", pgHost, pgPort, d.db, pgUser)
	if pgPass != "" {
		target += " password=" + pgPass
	}
	ini := fmt.Sprintf(`[databases]
%s = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 20
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
`, d.db, target, bouncerPort, filepath.Join(dir, "userlist.txt"))
	testenv.Must(t, os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644), "pgbouncer.ini")
	testenv.Must(t, os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(fmt.Sprintf("%q \"\"\n", pgUser)), 0o644), "userlist")
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		// pgbouncer refuses to run as root; -u switches to another user.
		name := "nobody"
		if _, err := user.Lookup("postgres"); err == nil {
			name = "postgres"
		}
		args = append([]string{"-u", name}, args...)
	}
	d.pgbouncer = startDaemon(t, dir, "pgbouncer", os.Environ(), "", pgbouncerBin, args...)
	waitTCP(t, d.pgbouncer, fmt.Sprintf("127.0.0.1:%d", bouncerPort))

	uri := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&default_query_exec_mode=%s",
		url.User(pgUser).String(), bouncerPort, d.db, deployExecMode)
	if v := os.Getenv("AURA_TEST_DEPLOY_EXEC_MODE"); v != "" {
		uri = strings.Replace(uri, "default_query_exec_mode="+deployExecMode, "default_query_exec_mode="+v, 1)
	}
	d.smtp = mailtest.Start(t, mailtest.Options{})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	common := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"AURA_ENV=production",
		"DATABASE_URI=" + uri,
		"SECRET_KEY=deploy-test-secret-deploy-test-secret-0123456789",
		"AURA_DATABASE_AUTO_MIGRATE=false",
		"AURA_STORAGE_URI=file://" + d.store,
		"AURA_STORAGE_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key),
		"AURA_SERVER_TRUSTED_PROXIES=127.0.0.1",
		"AURA_I18N_DEFAULT_LANGUAGE=en",
		"AURA_LIMITS_UPLOAD_MAX=0",
		"AURA_LIMITS_EMAIL_INTERVAL=0s",
		"AURA_ANALYSIS_NICE=0",
	}
	for k, v := range d.smtp.Env() {
		common = append(common, k+"="+v)
	}
	for _, k := range []string{"GOMAXPROCS", "GOMEMLIMIT", "GOGC"} {
		if v := os.Getenv(k); v != "" {
			common = append(common, k+"="+v)
		}
	}
	with := func(extra ...string) []string { return append(append([]string(nil), common...), extra...) }

	// The schema, then the first admin, through pgbouncer as an operator would.
	mig := startDaemon(t, dir, "migrate", with(), "", bin, "migrate")
	<-mig.done
	if mig.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("aura migrate through pgbouncer:\n%s", mig.output())
	}
	uc := startDaemon(t, dir, "users-create", with(), goodPassword+"\n", bin, "users", "create", "--email", "admin@deploy.example", "--role", "ADMIN")
	<-uc.done
	if uc.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("aura users create:\n%s", uc.output())
	}

	for i := range 2 {
		port, mport := freePort(t), freePort(t)
		p := startDaemon(t, dir, fmt.Sprintf("api%d", i+1), with(
			fmt.Sprintf("AURA_SERVER_ADDR=127.0.0.1:%d", port),
			fmt.Sprintf("AURA_METRICS_ADDR=127.0.0.1:%d", mport),
			"AURA_ANALYSIS_WORKERS=0"), "", bin, "serve")
		d.procs = append(d.procs, p)
		d.api = append(d.api, fmt.Sprintf("http://127.0.0.1:%d", port))
		d.metrics = append(d.metrics, fmt.Sprintf("http://127.0.0.1:%d", mport))
	}
	wport := freePort(t)
	w := startDaemon(t, dir, "worker", with(fmt.Sprintf("AURA_METRICS_ADDR=127.0.0.1:%d", wport), "AURA_ANALYSIS_WORKERS=1"), "", bin, "worker")
	d.procs = append(d.procs, w)
	d.metrics = append(d.metrics, fmt.Sprintf("http://127.0.0.1:%d", wport))
	for i, p := range d.procs {
		waitHTTP(t, p, d.metrics[i]+"/health")
	}

	// HAProxy in front of the two instances.
	lbPort := freePort(t)
	cfg := fmt.Sprintf(`global
    maxconn 2000
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 130s
    timeout server 130s
    retries 2
    option redispatch
frontend api
    bind 127.0.0.1:%d
    default_backend aura
backend aura
    balance roundrobin
    option httpchk GET /api/health/live
    http-check expect status 200
    default-server inter 1s fall 3 rise 1
    server api1 %s check
    server api2 %s check
`, lbPort, strings.TrimPrefix(d.api[0], "http://"), strings.TrimPrefix(d.api[1], "http://"))
	testenv.Must(t, os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644), "haproxy.cfg")
	d.haproxy = startDaemon(t, dir, "haproxy", os.Environ(), "", haproxyBin, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	d.lb = fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	waitHTTP(t, d.haproxy, d.lb+"/api/health/live")
	// Both servers up in HAProxy's eyes before the flows start.
	time.Sleep(1500 * time.Millisecond)

	client := testenv.CheckedClient(t, &http.Client{Timeout: 120 * time.Second})
	client.Transport = fiveWatch{d: d, next: client.Transport}
	d.s = &testenv.Server{URL: d.lb, Client: client}
	return d
}

func waitTCP(t *testing.T, d *daemon, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited:\n%s", d.name, d.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s:\n%s", d.name, addr, d.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *deployment) login(t *testing.T, email string) session {
	t.Helper()
	var out session
	d.s.Do(t, "POST", "/api/auth/login", map[string]any{"email": email, "password": goodPassword}, "").
		Expect(t, http.StatusOK, "").Data(t, &out)
	return out
}

// waitAnalysed polls the screening until the worker has analysed it.
func (d *deployment) waitAnalysed(t *testing.T, token, id string, within time.Duration) screening {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sc := getScreening(t, d.s, token, id)
		switch sc.Status {
		case "awaiting_review":
			return sc
		case "failed":
			t.Fatalf("analysis failed: %+v", sc.Failure)
		}
		if time.Now().After(deadline) {
			t.Fatalf("screening %s still %s after %s", id, sc.Status, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flows runs every flow of the product through HAProxy.
func (d *deployment) flows(t *testing.T) {
	s := d.s
	s.Do(t, "GET", "/api/health", nil, "").Expect(t, http.StatusOK, "")

	// Sign-up, the verification link by mail, login, refresh, me.
	adm := d.login(t, "admin@deploy.example").AccessToken
	owner := register(t, s, "owner@deploy.example")
	tok := mailtest.Token(t, d.smtp.WaitTo(t, "owner@deploy.example", 1)[0], "/verify-email")
	s.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": tok}, "").Expect(t, http.StatusOK, "")
	o := d.login(t, "owner@deploy.example")
	var fresh session
	s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": o.RefreshToken}, "").Expect(t, http.StatusOK, "").Data(t, &fresh)
	var me struct {
		ID            string
		EmailVerified bool
	}
	s.Do(t, "GET", "/api/auth/me", nil, fresh.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
	if me.ID != owner.User.ID || !me.EmailVerified {
		t.Fatalf("me after verification: %+v", me)
	}

	// A clinic applies and is approved.
	var c struct{ ID, Status string }
	s.Do(t, "POST", "/api/clinics/registrations", application("Phòng khám Mắt Huế", "GP-DEPLOY-1"), fresh.AccessToken).
		Expect(t, http.StatusCreated, "").Data(t, &c)
	s.Do(t, "GET", "/api/admin/clinics?status=pending", nil, adm).Expect(t, http.StatusOK, "")
	s.Do(t, "POST", "/api/admin/clinics/"+c.ID+"/approve", nil, adm).Expect(t, http.StatusOK, "").Data(t, &c)
	if c.Status != "active" {
		t.Fatalf("approved clinic is %q", c.Status)
	}
	d.smtp.WaitTo(t, "owner@deploy.example", 2)

	// A doctor of that clinic.
	doc := makeDoctor(t, s, adm, "doctor@deploy.example")
	attach(t, s, adm, c.ID, doc.ID, "0012345/HUE-CCHN").Expect(t, http.StatusOK, "")
	doc.Token = d.login(t, doc.Email).AccessToken

	// A patient uploads; the worker analyses; the doctor claims and reviews.
	p := signUp(t, s, "patient@deploy.example")
	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Văn An"}, p.Token).Expect(t, http.StatusOK, "")
	s.Do(t, "PATCH", "/api/patients/me", map[string]any{"dateOfBirth": "1958-03-02", "sex": "male"}, p.Token).Expect(t, http.StatusOK, "")
	jpg, _ := fundus(t)
	var sc screening
	upload(t, s, p.Token, form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": c.ID}}, nil).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)
	sc = d.waitAnalysed(t, p.Token, sc.ID, 3*time.Minute)
	if sc.Analysis == nil || sc.Clinic.ID != c.ID {
		t.Fatalf("analysed screening %+v", sc)
	}
	var queue struct{ Items []screening }
	s.Do(t, "GET", "/api/screenings?status=awaiting_review", nil, doc.Token).Expect(t, http.StatusOK, "").Data(t, &queue)
	if len(queue.Items) != 1 {
		t.Fatalf("the doctor's queue %+v", queue.Items)
	}
	base := "/api/screenings/" + sc.ID
	status, _, img := rawGet(t, s, base+"/image", doc.Token, nil)
	if status != 200 || !bytes.Equal(img, jpg) {
		t.Fatalf("image through the other instance: %d, %d bytes", status, len(img))
	}
	s.Do(t, "POST", base+"/claim", nil, doc.Token).Expect(t, http.StatusOK, "")
	s.Do(t, "POST", base+"/review", map[string]any{"riskLevel": "low", "notes": "Không thấy bất thường.",
		"recommendation": "Tái khám sau 12 tháng."}, doc.Token).Expect(t, http.StatusOK, "")
	status, h, pdf := rawGet(t, s, base+"/report", p.Token, nil)
	if status != 200 || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF") {
		t.Fatalf("report: %d %v", status, h)
	}
	var inbox struct{ Items []struct{ Type string } }
	s.Do(t, "GET", "/api/notifications", nil, p.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
	if len(inbox.Items) == 0 || inbox.Items[0].Type != "SCREENING_REVIEWED" {
		t.Fatalf("notifications %+v", inbox.Items)
	}
	d.smtp.WaitTo(t, "patient@deploy.example", 2)

	// What an admin lists.
	for _, path := range []string{"/api/admin/users", "/api/admin/clinics", "/api/admin/audit-logs?entityId=" + sc.ID,
		"/api/screenings", "/api/health", "/api/clinics"} {
		s.Do(t, "GET", path, nil, adm).Expect(t, http.StatusOK, "")
	}
	s.Do(t, "POST", "/api/auth/logout", map[string]string{"refreshToken": fresh.RefreshToken}, fresh.AccessToken).Expect(t, http.StatusOK, "")

	// A burst of concurrent reads and writes through both instances.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				switch (i + j) % 3 {
				case 0:
					s.Do(t, "GET", "/api/auth/me", nil, p.Token).Expect(t, http.StatusOK, "")
				case 1:
					s.Do(t, "PATCH", "/api/auth/me", map[string]any{"phone": fmt.Sprintf("090%07d", i*100+j)}, doc.Token).Expect(t, http.StatusOK, "")
				default:
					s.Do(t, "GET", "/api/screenings", nil, doc.Token).Expect(t, http.StatusOK, "")
				}
			}
		}()
	}
	wg.Wait()

	// Both instances served, and the worker analysed.
	for i, m := range d.metrics[:2] {
		if n := metricSum(t, m, "aura_http_request_duration_seconds_count"); n < 10 {
			t.Errorf("api%d served %v requests: the load balancer did not spread them", i+1, n)
		}
	}
	if n := metricSum(t, d.metrics[2], `aura_job_duration_seconds_count{kind="analyze",outcome="done"}`); n < 1 {
		t.Errorf("the worker reports %v analyses done", n)
	}
}

// metricSum adds the values of the series of the /metrics exposition whose
// line starts with prefix.
func metricSum(t *testing.T, base, prefix string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	testenv.Must(t, err, "scrape %s", base)
	defer res.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

func (d *deployment) stop(t *testing.T) {
	for _, p := range d.procs {
		p.term()
	}
	d.haproxy.term()
	d.pgbouncer.term()
}

// checkLogs fails t on any error line of an AURA process, and on a
// pgbouncer line that reports a prepared statement or a server error.
func (d *deployment) checkLogs(t *testing.T) {
	for _, p := range d.procs {
		for _, line := range strings.Split(p.output(), "\n") {
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`) || strings.HasPrefix(line, "panic:") {
				t.Errorf("%s logged: %s", p.name, line)
			}
		}
	}
	for _, line := range strings.Split(d.pgbouncer.output(), "\n") {
		if strings.Contains(line, "prepared statement") || strings.Contains(line, " ERROR ") {
			t.Errorf("pgbouncer logged: %s", line)
		}
	}
}

// load runs fn from conc goroutines for dur and returns requests/s and the
// number of answers that were not ok.
func load(conc int, dur time.Duration, fn func(c *http.Client) bool) (rps float64, bad int64) {
	var n, fails atomic.Int64
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if fn(c) {
					n.Add(1)
				} else {
					fails.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), fails.Load()
}

func hit(c *http.Client, method, u, token, body string) bool {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, u, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == 200
}

// measure prints the figures docs/deployment.md sizes from.
func (d *deployment) measure(t *testing.T) {
	dur := 5 * time.Second
	if v := os.Getenv("AURA_TEST_DEPLOY_SECONDS"); v != "" {
		n, _ := strconv.Atoi(v)
		dur = time.Duration(n) * time.Second
	}
	conc := 16
	p := d.login(t, "patient@deploy.example")
	loginBody := fmt.Sprintf(`{"email":"patient@deploy.example","password":%q}`, goodPassword)
	t.Logf("machine: %d CPUs (GOMAXPROCS %d), shared with whatever else runs", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	for _, target := range []struct{ name, url string }{{"haproxy -> 2 instances", d.lb}, {"1 instance directly", d.api[0]}} {
		rps, bad := load(conc, dur, func(c *http.Client) bool { return hit(c, "GET", target.url+"/api/auth/me", p.AccessToken, "") })
		t.Logf("MEASURE GET /api/auth/me, %s, %d clients, %s: %.0f req/s (%d not 200)", target.name, conc, dur, rps, bad)
		rps, bad = load(4, dur, func(c *http.Client) bool { return hit(c, "POST", target.url+"/api/auth/login", "", loginBody) })
		t.Logf("MEASURE POST /api/auth/login, %s, 4 clients, %s: %.1f req/s (%d not 200)", target.name, dur, rps, bad)
	}

	// The worker's throughput: n uploads at once, time until all analysed.
	n := 12
	if v := os.Getenv("AURA_TEST_DEPLOY_SCREENINGS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	adminDB := testenv.AdminDB(t, d.adminURI)
	defer func() {
		if s, err := adminDB.DB(); err == nil {
			s.Close()
		}
	}()
	dbSize := func() int64 {
		var size int64
		testenv.Must(t, adminDB.Raw(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE c.relkind = 'r' AND ns.nspname = 'public'`).Scan(&size).Error, "db size")
		return size
	}
	var clinicID string
	testenv.Must(t, adminDB.Raw("SELECT id FROM clinics WHERE status = 'active' LIMIT 1").Scan(&clinicID).Error, "clinic")
	before := dbSize()
	jpg, _ := fundus(t)
	start := time.Now()
	ids := make([]string, n)
	for i := range n {
		var sc screening
		upload(t, d.s, p.AccessToken, form{image: jpg, fields: map[string]string{"eye": []string{"left", "right"}[i%2], "clinicId": clinicID}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &sc)
		ids[i] = sc.ID
	}
	uploaded := time.Since(start)
	for _, id := range ids {
		d.waitAnalysed(t, p.AccessToken, id, 10*time.Minute)
	}
	took := time.Since(start)
	t.Logf("MEASURE %d uploads of a 1024² JPEG (%d bytes) in %s; all analysed by one worker (analysis.workers=1) after %s: %.1f screenings/min",
		n, len(jpg), uploaded.Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/took.Minutes())
	_, _ = adminDB.Exec("VACUUM ANALYZE").Rows()
	after := dbSize()
	t.Logf("MEASURE database: %d bytes before, %d after %d screenings analysed: %.0f bytes/screening (pg_total_relation_size, page-granular)",
		before, after, n, float64(after-before)/float64(n))
	type rowSize struct {
		Table string
		Rows  int64
		Bytes float64
	}
	var rows []rowSize
	for _, table := range []string{"screenings", "jobs", "audit_logs", "notifications", "outbox"} {
		var r rowSize
		if err := adminDB.Raw("SELECT count(*) AS rows, coalesce(avg(pg_column_size(x.*)), 0) AS bytes FROM " + table + " x").Scan(&r).Error; err == nil {
			r.Table = table
			rows = append(rows, r)
		}
	}
	t.Logf("MEASURE rows (count, average bytes of a row by pg_column_size): %+v", rows)

	// The store: bytes under each screening's prefix.
	per := map[string]int64{}
	_ = filepath.Walk(d.store, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(d.store, path)
		for _, id := range append(ids, "") {
			if id != "" && strings.Contains(rel, id) {
				per[id] += info.Size()
				return nil
			}
		}
		per["other"] += info.Size()
		if strings.Contains(rel, "report") {
			t.Logf("MEASURE store: %s %d bytes", rel, info.Size())
		}
		return nil
	})
	var sizes []int64
	for _, id := range ids {
		sizes = append(sizes, per[id])
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	files := 0
	_ = filepath.Walk(filepath.Join(d.store), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(path, ids[0]) {
			files++
			t.Logf("MEASURE store object of one screening: %s %d bytes", strings.TrimPrefix(path, d.store), info.Size())
		}
		return nil
	})
	t.Logf("MEASURE store bytes per analysed screening (image + maps, encrypted): min %d, median %d, max %d; other objects %d bytes",
		sizes[0], sizes[len(sizes)/2], sizes[len(sizes)-1], per["other"])
}
