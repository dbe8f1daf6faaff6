// Package apidoc carries AURA's API reference: the OpenAPI 3.1 document
// (openapi.yaml, embedded), its JSON form served at GET /api/openapi.json,
// and the HTML page served at GET /api/docs, rendered here from the same
// document with html/template: no script, no third-party asset, one inline
// style allowed by its hash.
//
// The document is authoritative: the HTTP tests validate every request and
// response they make against it (internal/testenv), and a test fails when a
// route of the router is missing from it or an operation is never exercised.
package apidoc

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var source []byte

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

var (
	once    sync.Once
	jsonDoc Asset
	page    Asset
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
	html, err := render(doc.(map[string]any))
	if err != nil {
		errLoad = fmt.Errorf("apidoc: render: %w", err)
		return
	}
	page = newAsset(html)
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

// Page is the HTML reference page.
func Page() Asset {
	if err := Load(); err != nil {
		panic(err)
	}
	return page
}

// CSP is the Content-Security-Policy of the HTML page: nothing but its one
// inline style (by hash); no script, image, font, frame or form.
func CSP() string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
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

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
