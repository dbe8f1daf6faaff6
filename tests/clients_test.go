package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
)

// The OpenAPI document must work with client generators (docs/openapi.md):
// these tests generate a Go client (oapi-codegen) and a TypeScript client
// (openapi-typescript, compiled with tsc --strict, run with node) from the
// document a running server serves, and use each against live servers on
// every engine: sign up and in, upload a fundus image, read the screening,
// list it with a comma-separated status filter. Their requests reach the
// server through a proxy that checks each exchange against the document,
// as every test's are. TestRedoclyLint runs `redocly lint` (recommended
// rules) on the served document.

// clientPassword is the password the client programs (internal/clients)
// sign up with.
const clientPassword = "generated-client-Secret-42"

// clientWorld is one live server per engine, each with one clinic (so an
// upload needs no clinicId), and the served document written to a file.
type clientWorld struct {
	doc     string
	engines []testenv.Engine
	servers []*testenv.Server
	proxies []string // the API's base through the checking proxy, http://host:port/api
	image   string   // a PNG fundus photograph
}

func newClientWorld(t *testing.T, dir string) *clientWorld {
	t.Helper()
	w := &clientWorld{doc: filepath.Join(dir, "openapi.json"), image: filepath.Join(dir, "fundus.png")}
	for _, e := range testenv.Engines() {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		admin := makeAdmin(t, s, "admin-"+strings.ReplaceAll(e.Name, "-", "")+"@example.com")
		createClinic(t, s, admin, "Clinic of generated clients")
		w.engines = append(w.engines, e)
		w.servers = append(w.servers, s)
		w.proxies = append(w.proxies, checkingProxy(t, s)+testenv.Base(t))
	}
	r := w.servers[0].Do(t, "GET", "/api/openapi.json", nil, "").Expect(t, http.StatusOK, "")
	testenv.Must(t, os.WriteFile(w.doc, r.Body, 0o644), "write the served document")
	_, png := fundus(t)
	testenv.Must(t, os.WriteFile(w.image, png, 0o644), "write the image")
	return w
}

// checkingProxy is a listening server that forwards to s through s.Client,
// whose transport checks every exchange against the document.
func checkingProxy(t *testing.T, s *testenv.Server) string {
	target, err := url.Parse(s.URL)
	testenv.Must(t, err, "parse %s", s.URL)
	p := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport: s.Client.Transport,
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientResult is the line a client program prints.
type clientResult struct {
	UserID      string `json:"userId"`
	ScreeningID string `json:"screeningId"`
	Status      string `json:"status"`
	Listed      bool   `json:"listed"`
	FilteredOut bool   `json:"filteredOut"`
}

// runClient runs a client program against every engine's server and checks
// on the server what it did.
func (w *clientWorld) runClient(t *testing.T, prefix string, command func(base, email string) *exec.Cmd) {
	for i, e := range w.engines {
		t.Run(e.Name, func(t *testing.T) {
			email := prefix + "-" + strings.ReplaceAll(e.Name, "-", "") + "@example.com"
			out := runCmd(t, command(w.proxies[i], email))
			var got clientResult
			if err := json.Unmarshal(bytes.TrimSpace(out), &got); err != nil {
				t.Fatalf("the client printed %q: %v", out, err)
			}
			if got.Status != "queued" || !got.Listed || !got.FilteredOut {
				t.Errorf("the client saw %+v: want a queued screening, listed by status=queued,...,failed and not by status=reviewed,in_review", got)
			}
			// What the generated client did is on the server.
			s := w.servers[i]
			var sess struct {
				AccessToken string `json:"accessToken"`
			}
			s.Do(t, "POST", "/api/auth/login", map[string]string{"email": email, "password": clientPassword}, "").
				Expect(t, http.StatusOK, "").Data(t, &sess)
			sc := getScreening(t, s, sess.AccessToken, got.ScreeningID)
			if sc.ID != got.ScreeningID || sc.Patient.UserID != got.UserID {
				t.Errorf("the server has %+v for the client's screening %s", sc, got.ScreeningID)
			}
		})
	}
}

// runCmd runs cmd (at most 10 minutes) and returns its standard output;
// a failure fails t with both outputs.
func runCmd(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%.4000s\nstderr:\n%.4000s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("%s (%.1fs)", filepath.Base(cmd.Args[0])+" "+strings.Join(cmd.Args[1:min(len(cmd.Args), 3)], " "), time.Since(start).Seconds())
	return stdout.Bytes()
}

func command(t *testing.T, dir, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "NO_COLOR=1", "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	return cmd
}

// copyFiles copies the named files of src into dst.
func copyFiles(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		testenv.Must(t, err, "read %s", n)
		testenv.Must(t, os.WriteFile(filepath.Join(dst, n), b, 0o644), "write %s", n)
	}
}

// TestGeneratedGoClient generates a Go client from the served document with
// oapi-codegen (pinned by internal/clients/go/go.mod's tool directive) and
// runs internal/clients/go, which uses it, against every engine.
func TestGeneratedGoClient(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	copyFiles(t, "../internal/clients/go", dir, "go.mod", "go.sum", "main.go")
	w := newClientWorld(t, dir)
	runCmd(t, command(t, dir, gobin, "tool", "oapi-codegen", "-generate", "types,client", "-package", "client",
		"-o", filepath.Join("client", "client.gen.go"), w.doc))
	runCmd(t, command(t, dir, gobin, "build", "-o", "auraclientcheck", "."))
	w.runClient(t, "go-client", func(base, email string) *exec.Cmd {
		return command(t, dir, filepath.Join(dir, "auraclientcheck"), "-base", base, "-image", w.image, "-email", email)
	})
}

// TestGeneratedTypeScriptClient generates TypeScript types from the served
// document with openapi-typescript, compiles internal/clients/ts/check.ts
// (openapi-fetch over those types) with tsc --strict and runs it with node
// against every engine.
func TestGeneratedTypeScriptClient(t *testing.T) {
	t.Parallel()
	node, modules := nodeTools(t)
	dir := t.TempDir()
	copyFiles(t, "../internal/clients/ts", dir, "check.ts", "generate.mjs", "tsconfig.json")
	testenv.Must(t, os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true, "type": "module"}`), 0o644), "package.json")
	testenv.Must(t, os.Symlink(modules, filepath.Join(dir, "node_modules")), "link node_modules")
	w := newClientWorld(t, dir)
	runCmd(t, command(t, dir, node, "generate.mjs", w.doc, "api.d.ts"))
	runCmd(t, command(t, dir, node, filepath.Join(modules, "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--strict"))
	w.runClient(t, "ts-client", func(base, email string) *exec.Cmd {
		return command(t, dir, node, filepath.Join("out", "check.js"), "--base", base, "--image", w.image, "--email", email)
	})
}

// TestRedoclyLint: `redocly lint` with its recommended rules finds no error
// in the served document (warnings are logged).
func TestRedoclyLint(t *testing.T) {
	t.Parallel()
	node, modules := nodeTools(t)
	dir := t.TempDir()
	s := testenv.Start(t, testenv.Config(t, "sqlite://", nil))
	r := s.Do(t, "GET", "/api/openapi.json", nil, "").Expect(t, http.StatusOK, "")
	doc := filepath.Join(dir, "openapi.json")
	testenv.Must(t, os.WriteFile(doc, r.Body, 0o644), "write the served document")
	cmd := command(t, dir, node, filepath.Join(modules, "@redocly", "cli", "bin", "cli.js"), "lint", "--extends", "recommended", doc)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("redocly lint:\n%s", out.String())
	if err != nil {
		t.Fatalf("redocly lint reports errors (%v)", err)
	}
}

var (
	npmOnce    sync.Once
	npmModules string
	npmErr     error
)

// nodeTools returns node and the node_modules of internal/clients/ts's
// package-lock.json, installed once (npm ci) into the user's cache
// directory, one folder per lock file. Without node or npm the test skips,
// unless AURA_TEST_REQUIRE_NODE=1 (as .ci/run sets), which fails it.
func nodeTools(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	npm, err2 := exec.LookPath("npm")
	if err != nil || err2 != nil {
		if os.Getenv("AURA_TEST_REQUIRE_NODE") == "1" {
			t.Fatal("AURA_TEST_REQUIRE_NODE=1 but node or npm is not on PATH (apt-get install nodejs npm)")
		}
		t.Skip("no node or npm on PATH (apt-get install nodejs npm); .ci/run installs them")
	}
	npmOnce.Do(func() { npmModules, npmErr = installNodeTools(npm) })
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return node, npmModules
}

func installNodeTools(npm string) (string, error) {
	src := "../internal/clients/ts"
	pkg, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		return "", err
	}
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append(append(pkg, 0), lock...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "aura-npm")
	dir := filepath.Join(root, hex.EncodeToString(sum[:8]))
	marker := filepath.Join(dir, "node_modules", ".aura-installed")
	if _, err := os.Stat(marker); err == nil {
		return filepath.Join(dir, "node_modules"), nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for name, b := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("npm ci in " + tmp + ": " + err.Error() + "\n" + string(out))
	}
	if err := os.WriteFile(filepath.Join(tmp, "node_modules", ".aura-installed"), nil, 0o644); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dir) // a half-made one of an interrupted run
	if err := os.Rename(tmp, dir); err != nil {
		if _, err2 := os.Stat(marker); err2 != nil { // another run did not install it either
			return "", err
		}
	}
	return filepath.Join(dir, "node_modules"), nil
}
