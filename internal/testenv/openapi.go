package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"aura/apidoc"
)

// Every request a test makes through a Server's Client (Do, DoHeaders and
// raw requests on s.Client alike) is checked against the OpenAPI document
// the server serves (apidoc): the request, unless the test marks it as
// deliberately invalid (Invalid, SkipRequestCheck), and always the response,
// its status, headers and body, error envelopes included. A mismatch fails
// the test that started the server.

var (
	specOnce   sync.Once
	spec       *openapi3.T
	base       string // the server's base path, "/api"
	specRouter routers.Router
	specErr    error

	coverMu  sync.Mutex
	coverage = map[string]map[int]int{} // "GET /api/x/{id}" -> status -> count
)

func loadSpec() {
	openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/jpeg", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apidoc.JSON().Body)
	if err != nil {
		specErr = fmt.Errorf("load the OpenAPI document: %w", err)
		return
	}
	if err := doc.Validate(context.Background()); err != nil {
		specErr = fmt.Errorf("the OpenAPI document is invalid: %w", err)
		return
	}
	if len(doc.Servers) != 1 || !strings.HasPrefix(doc.Servers[0].URL, "/") {
		specErr = fmt.Errorf("the OpenAPI document must name one server, its base path (servers: [{url: /api}])")
		return
	}
	// The paths are relative to the server's base (/api); kin-openapi's
	// router matches a relative server URL against the request's absolute
	// one, so it routes a copy without servers on the path less the base.
	base = strings.TrimSuffix(doc.Servers[0].URL, "/")
	routed := *doc
	routed.Servers = nil
	r, err := legacy.NewRouter(&routed)
	if err != nil {
		specErr = fmt.Errorf("route the OpenAPI document: %w", err)
		return
	}
	spec, specRouter = doc, r
}

// Spec is the loaded OpenAPI document (kin-openapi's model).
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(loadSpec)
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// Base is the path the document's paths are relative to (its one server's
// URL, "/api").
func Base(t testing.TB) string {
	t.Helper()
	Spec(t)
	return base
}

// Operations lists the document's operations as "METHOD /path", the path as
// the server routes it (the document's path under Base).
func Operations(t testing.TB) []string {
	var out []string
	for path, item := range Spec(t).Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+base+path)
		}
	}
	sort.Strings(out)
	return out
}

// Exercised returns, for each operation a checked request reached, the
// statuses it was answered with and how often.
func Exercised() map[string]map[int]int {
	coverMu.Lock()
	defer coverMu.Unlock()
	out := make(map[string]map[int]int, len(coverage))
	for k, v := range coverage {
		m := make(map[int]int, len(v))
		for s, n := range v {
			m[s] = n
		}
		out[k] = m
	}
	return out
}

func record(op string, status int) {
	coverMu.Lock()
	defer coverMu.Unlock()
	if coverage[op] == nil {
		coverage[op] = map[int]int{}
	}
	coverage[op][status]++
}

type skipKey struct{}

// SkipRequestCheck marks req as deliberately invalid (bad JSON, unknown
// fields, values the document refuses): its response is still checked
// against the document, the request is not.
func SkipRequestCheck(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), skipKey{}, true))
}

// invalid wraps a body that Do and DoHeaders send without checking it.
type invalid struct{ body any }

// Invalid marks the body of a Do or DoHeaders call (nil for a request with
// no body, such as bad query parameters) as deliberately invalid: the
// request is sent as it would be without the mark and is not checked
// against the document; the response still is.
func Invalid(body any) any { return invalid{body} }

// CheckedClient returns a copy of c whose requests are checked against the
// OpenAPI document; mismatches fail t.
func CheckedClient(t testing.TB, c *http.Client) *http.Client {
	cc := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = &checker{t: t, base: base}
	return &cc
}

type checker struct {
	t    testing.TB
	base http.RoundTripper
}

func (c *checker) RoundTrip(req *http.Request) (*http.Response, error) {
	skip := req.Context().Value(skipKey{}) != nil
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody && !skip {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := c.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	if stream(res) {
		// A Server-Sent Events stream does not end: its status and
		// headers are checked now, and its body is left to the caller.
		if err := checkExchange(req, reqBody, skip, res, nil); err != nil {
			c.t.Errorf("OpenAPI: %s %s answered %d (%s): %s", req.Method, req.URL.RequestURI(), res.StatusCode, caller(), err)
		}
		return res, nil
	}
	resBody, rerr := io.ReadAll(res.Body)
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if rerr != nil {
		return res, nil // the connection broke mid-body: nothing to check
	}
	if err := checkExchange(req, reqBody, skip, res, resBody); err != nil {
		msg := err.Error()
		if len(msg) > 1500 {
			msg = msg[:1500] + " ..."
		}
		c.t.Errorf("OpenAPI: %s %s answered %d (%s): %s", req.Method, req.URL.RequestURI(), res.StatusCode, caller(), msg)
	}
	return res, nil
}

// CheckAnswer checks, against the document, the answer res (its body
// already read into body) to a deliberately hostile request that a test
// served in process (httptest): the request is not checked, the answer is.
func CheckAnswer(t testing.TB, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	if err := checkExchange(req, nil, true, res, body); err != nil {
		t.Errorf("OpenAPI: %s %s answered %d: %v", req.Method, req.URL.RequestURI(), res.StatusCode, err)
	}
}

var authFunc = func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// caller is the chain of test lines that made the request, innermost first.
func caller() string {
	pc := make([]uintptr, 32)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	var lines []string
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.File, "_test.go") {
			lines = append(lines, filepath.Base(f.File)+":"+strconv.Itoa(f.Line))
		}
		if !more {
			break
		}
	}
	if len(lines) == 0 {
		return "?"
	}
	return strings.Join(lines, " < ")
}

// checkExchange checks one request and its response against the document.
// stream says res is a Server-Sent Events stream (text/event-stream).
func stream(res *http.Response) bool {
	return strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
}

func checkExchange(req *http.Request, reqBody []byte, skip bool, res *http.Response, resBody []byte) error {
	specOnce.Do(loadSpec)
	if specErr != nil {
		return specErr
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	rel, ok := strings.CutPrefix(req.URL.Path, base)
	if !ok || !strings.HasPrefix(rel, "/") {
		return checkUnrouted(req, routers.ErrPathNotFound, res, resBody)
	}
	u := *vreq.URL
	u.Path, u.RawPath = rel, strings.TrimPrefix(u.RawPath, base)
	vreq.URL = &u
	route, params, err := specRouter.FindRoute(vreq)
	if err != nil {
		return checkUnrouted(req, err, res, resBody)
	}
	if (res.StatusCode == http.StatusMovedPermanently || res.StatusCode == http.StatusTemporaryRedirect) &&
		rel != route.Path && strings.TrimSuffix(rel, "/") == route.Path {
		return checkUnrouted(req, routers.ErrPathNotFound, res, resBody) // gin's trailing-slash redirect
	}
	record(req.Method+" "+base+route.Path, res.StatusCode)
	if route.Operation.Responses.Status(res.StatusCode) == nil {
		return fmt.Errorf("status %d is not documented for %s %s", res.StatusCode, req.Method, route.Path)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: authFunc, MultiError: true}}
	if !skip {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			var sec *openapi3filter.SecurityRequirementsError
			// A request without the credentials the document requires must
			// be answered 401, as the document says it is.
			if !(errors.As(err, &sec) && res.StatusCode == http.StatusUnauthorized) {
				return fmt.Errorf("the request does not match the document (mark a deliberately invalid one with testenv.Invalid): %w", err)
			}
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: stream(res)}}
	out.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("the response does not match the document: %w\nbody: %.600s", err, resBody)
	}
	return nil
}

// checkUnrouted checks the answers to requests outside the document: an
// unknown path is 404 NOT_FOUND, a known path with another method 405
// METHOD_NOT_ALLOWED with Allow, both in the error envelope; a trailing
// slash redirects; a CORS preflight is 204.
func checkUnrouted(req *http.Request, routeErr error, res *http.Response, resBody []byte) error {
	switch {
	case res.StatusCode == http.StatusMovedPermanently || res.StatusCode == http.StatusTemporaryRedirect:
		if res.Header.Get("Location") == "" {
			return errors.New("a redirect without Location")
		}
		return nil
	case req.Method == http.MethodOptions && res.StatusCode == http.StatusNoContent:
		return nil
	}
	want, code := http.StatusNotFound, "NOT_FOUND"
	if routeErr.Error() == routers.ErrMethodNotAllowed.Error() {
		want, code = http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"
		if res.Header.Get("Allow") == "" {
			return errors.New("405 without Allow")
		}
	} else if routeErr.Error() != routers.ErrPathNotFound.Error() {
		return routeErr
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s is not in the document (%v): want %d, not %d", req.URL.Path, routeErr, want, res.StatusCode)
	}
	var v any
	if err := jsonUnmarshal(resBody, &v); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	schema := spec.Components.Schemas["Error"].Value
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("body is not the error envelope: %w", err)
	}
	if got := v.(map[string]any)["code"]; got != code {
		return fmt.Errorf("code %v, want %s", got, code)
	}
	return nil
}
