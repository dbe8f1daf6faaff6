// Package apidoc carries AURA's API reference: the OpenAPI 3.1 document
// (openapi.yaml, embedded), its JSON form served at GET /api/openapi.json,
// and the page served at GET /api/docs: Swagger UI (swagger-ui-dist, its
// build output vendored in swagger-ui/ with its licence and embedded here)
// started on that JSON, under a Content-Security-Policy that allows scripts
// and styles of this origin only.
//
// The document is authoritative: the HTTP tests validate every request and
// response they make against it (internal/testenv), and a test fails when a
// route of the router is missing from it or an operation is never exercised.
package apidoc

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var source []byte

// viewer is the docs page, its start script and Swagger UI's files.
//
//go:embed docs.html docs.js swagger-ui/swagger-ui-bundle.js swagger-ui/swagger-ui.css
//go:embed swagger-ui/LICENSE swagger-ui/NOTICE swagger-ui/swagger-ui-bundle.js.LICENSE.txt
var viewer embed.FS

// YAML is the document as written.
func YAML() []byte { return source }

// Asset is one rendering of the document with its validator.
type Asset struct {
	Body []byte
	// ETag is a strong validator of Body: its SHA-256 (first 128 bits, hex), quoted.
	ETag string
}

func newAsset(b []byte) Asset {
	sum := sha256.Sum256(b)
	return Asset{Body: b, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// File is a file of the docs page with its media type.
type File struct {
	Asset
	ContentType string
}

var (
	once    sync.Once
	jsonDoc Asset
	page    Asset
	files   map[string]File // by the name served under /api/docs/
	errLoad error
)

func load() {
	var doc any
	if err := yaml.Unmarshal(source, &doc); err != nil {
		errLoad = fmt.Errorf("apidoc: openapi.yaml: %w", err)
		return
	}
	doc = stringKeys(doc)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		errLoad = fmt.Errorf("apidoc: openapi.yaml to JSON: %w", err)
		return
	}
	jsonDoc = newAsset(bytes.TrimSpace(b.Bytes()))
	if errLoad = loadViewer(); errLoad != nil {
		return
	}
}

// loadViewer reads the page and the files it loads from /api/docs/.
func loadViewer() error {
	html, err := viewer.ReadFile("docs.html")
	if err != nil {
		return err
	}
	page = newAsset(html)
	files = map[string]File{}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, name := range []string{"docs.js", "swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css",
		"swagger-ui/LICENSE", "swagger-ui/NOTICE", "swagger-ui/swagger-ui-bundle.js.LICENSE.txt"} {
		b, err := viewer.ReadFile(name)
		if err != nil {
			return err
		}
		ct, ok := types[path.Ext(name)]
		if !ok {
			ct = "text/plain; charset=utf-8"
		}
		files[path.Base(name)] = File{Asset: newAsset(b), ContentType: ct}
	}
	return nil
}

// Load converts the document once; an error means the embedded YAML is
// broken (the tests catch it before a release).
func Load() error {
	once.Do(load)
	return errLoad
}

// JSON is the document as JSON (converted once from the YAML).
func JSON() Asset {
	if err := Load(); err != nil {
		panic(err)
	}
	return jsonDoc
}

// Page is the HTML reference page (Swagger UI's shell).
func Page() Asset {
	if err := Load(); err != nil {
		panic(err)
	}
	return page
}

// DocsFile is the file the page loads as /api/docs/{name}: Swagger UI's
// script and style, the page's start script, and the licences.
func DocsFile(name string) (File, bool) {
	if err := Load(); err != nil {
		panic(err)
	}
	f, ok := files[name]
	return f, ok
}

// DocsFiles lists the names DocsFile serves.
func DocsFiles() []string {
	if err := Load(); err != nil {
		panic(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CSP is the Content-Security-Policy of the HTML page: scripts, styles and
// fetches (the document, "Try it out") of this origin only; images also as
// data: and blob: URLs (Swagger UI's icons, a downloaded image shown); no
// frame, form, plugin or inline script.
func CSP() string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// stringKeys turns the map[any]any that YAML may give (a key written as a
// number) into map[string]any, as JSON needs; YAML's merge keys are already
// applied by the decoder.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
		return x
	}
	return v
}
