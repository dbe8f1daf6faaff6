package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// prom is the Prometheus client: only package metrics imports it.
const prom = "github.com/prometheus/"

// importRules is the written import rule of docs/architecture.md: for each
// package (or tree, ending in "/"), the imports it must never have (a
// trailing "/" forbids a whole tree). Data flows
// main -> app -> handlers -> services -> repositories -> models.
var importRules = []struct {
	pkg    string
	forbid []string
}{
	{"aura/models", []string{"aura/", "gorm.io/", "github.com/gin-gonic/", prom}},
	{"aura/repositories", []string{"github.com/gin-gonic/", "aura/handlers", "aura/services/", "aura/app", "aura/config", "aura/database", prom}},
	{"aura/services/", []string{"github.com/gin-gonic/", "gorm.io/", "aura/handlers", "aura/app", "aura/config", "aura/database", "net/http",
		"aura/metrics", prom}},
	{"aura/handlers", []string{"gorm.io/", "aura/app", "aura/config", "aura/database", "aura/mail", "aura/metrics", prom}},
	{"aura/database", []string{"github.com/gin-gonic/", "aura/app", "aura/handlers", "aura/services/", "aura/repositories"}},
	{"aura/dbcopy", []string{"aura/app", "aura/handlers", "aura/services/", "github.com/gin-gonic/"}},
	// backup writes the database with dbcopy and the objects with storage.
	{"aura/backup", []string{"aura/app", "aura/handlers", "aura/services/", "aura/repositories", "github.com/gin-gonic/", prom}},
	{"aura/mail", []string{"aura/app", "aura/handlers", "aura/services/", "aura/config", "github.com/gin-gonic/", "aura/metrics", prom}},
	{"aura/queue", []string{"aura/app", "aura/handlers", "aura/services/", "aura/config", "github.com/gin-gonic/", "aura/metrics", prom}},
	{"aura/security", []string{"aura/", "gorm.io/", "github.com/gin-gonic/", prom}},
	// metrics knows Prometheus and nothing of the project: app hands it what
	// it reads and hooks it to the observers of services, queue and mail.
	{"aura/metrics", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/config", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/storage", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/report", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	// vocab is the contract's words (risk levels, metric names) that models,
	// analysis and report share; imaging reads images within a memory budget.
	{"aura/vocab", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/imaging", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/i18n", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/texts", []string{"aura/", "gorm.io/", "github.com/gin-gonic/", prom}},
	// fault classifies errors for every queue; it depends on nothing.
	{"aura/fault", []string{"aura/", "gorm.io/", "github.com/gin-gonic/"}},
	{"aura/apidoc", []string{"aura/", "gorm.io/", "github.com/gin-gonic/", "github.com/getkin/"}},
}

// importAllowed are the exceptions to importRules: the packages that may
// import aura/vocab (and report aura/i18n, for the one language fallback
// i18n.Lang) although they import nothing else of the project.
var importAllowed = map[string][]string{
	"aura/models": {"aura/vocab"},
	"aura/report": {"aura/vocab", "aura/i18n"},
	"aura/texts":  {"aura/i18n"},
}

// TestImportRule fails when a package imports across the layers against
// importRules (go list reads the real imports, tests excluded).
func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, r := range importRules {
			if pkg != r.pkg && !(strings.HasSuffix(r.pkg, "/") && strings.HasPrefix(pkg, r.pkg)) {
				continue
			}
			seen[r.pkg] = true
			for _, imp := range imports {
				if slices.Contains(importAllowed[r.pkg], imp) {
					continue
				}
				for _, f := range r.forbid {
					if imp == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) || strings.HasPrefix(imp, f+"/") {
						t.Errorf("%s imports %s: the import rule forbids %s there", pkg, imp, f)
					}
				}
			}
		}
	}
	for _, r := range importRules {
		if !seen[r.pkg] {
			t.Errorf("rule for %s matches no package: keep importRules in step with the tree", r.pkg)
		}
	}
}

// TestNoTransactionInHandlers: transactions begin in the rules (services),
// never in an HTTP handler.
func TestNoTransactionInHandlers(t *testing.T) {
	files, err := filepath.Glob("handlers/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no handlers: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{".Tx(", ".Transaction(", ".Begin("} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s calls %s: begin transactions in services/, not in handlers", f, call)
			}
		}
	}
}

// TestHandlersReturnFailures: handlers and middleware return their failures
// to handlers.Handle, the one adapter that renders them; none writes an
// error answer itself (only handlers/respond.go does).
func TestHandlersReturnFailures(t *testing.T) {
	files, err := filepath.Glob("handlers/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no handlers: %v", err)
	}
	more, _ := filepath.Glob("app/*.go")
	for _, f := range append(files, more...) {
		if f == filepath.Join("handlers", "respond.go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"fail(c", "Fail(c", "AbortWithStatusJSON(http.StatusBadRequest", "AbortWithStatusJSON(http.StatusServiceUnavailable",
			"AbortWithStatusJSON(http.StatusNotFound", "AbortWithStatusJSON(http.StatusForbidden", "AbortWithStatusJSON(http.StatusUnauthorized"} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s renders a failure itself (%s...): return it to handlers.Handle", f, call)
			}
		}
	}
}

// analysisShared are the packages of analysis/ that are not analyzers: the
// shared types and registry, and the risk rules.
var analysisShared = map[string]bool{"aura/analysis": true, "aura/analysis/risk": true}

// TestAnalyzersChosenByName: every other package of analysis/ is an analyzer
// that registers itself, and only app imports it (one line in
// app/analyzers.go); everything else reaches an analyzer through
// analysis.Analyzer, built by the name analysis.analyzer gives.
func TestAnalyzersChosenByName(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	analyzers := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		if strings.HasPrefix(pkg, "aura/analysis/") && !analysisShared[pkg] {
			analyzers++
		}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, "aura/analysis/") && !analysisShared[imp] && pkg != "aura/app" {
				t.Errorf("%s imports the analyzer %s: only app does (a blank import in app/analyzers.go)", pkg, imp)
			}
		}
	}
	if analyzers < 2 {
		t.Errorf("found %d analyzer packages under analysis/, want vessels and oip at least", analyzers)
	}
}
