package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"aura/app"
	"aura/internal/testenv"
)

// hostileBodies are request bodies no endpoint may answer with a 5xx or act on.
var hostileBodies = map[string]string{
	"empty":               "",
	"malformed":           `{"email": "a@b.co",`,
	"not json":            `email=a@b.co&password=x`,
	"array":               `[{"email":"a@b.co"}]`,
	"string":              `"hello"`,
	"null":                `null`,
	"number":              `42`,
	"trailing data":       `{"email":"a@b.co"} {"x":1}`,
	"trailing garbage":    `{"email":"a@b.co"}xyz`,
	"wrong types":         `{"email":1,"password":true,"refreshToken":[],"fullName":{},"roles":"ADMIN","isActive":"yes","token":5,"newPassword":1.5}`,
	"unknown fields":      `{"email":"x@example.com","password":"violet-harbor-lantern-91","isAdmin":true,"roles":["ADMIN"],"emailVerified":true}`,
	"invalid utf8":        "{\"email\":\"\xff\xfe@example.com\",\"password\":\"violet-harbor-lantern-91\"}",
	"nul raw":             "{\"email\":\"a\x00@example.com\",\"password\":\"violet-harbor-lantern-91\"}",
	"nul escaped":         `{"email":"a\u0000@example.com","password":"violet-harbor-lantern-91","fullName":"\u0000","token":"\u0000"}`,
	"huge":                `{"email":"` + strings.Repeat("a", 100_000) + `@example.com"}`,
	"deeply nested":       strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000),
	"nested array":        `{"roles":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
	"duplicate keys":      `{"email":"dup@example.com","email":"admin@example.com","password":"violet-harbor-lantern-91"}`,
	"sql injection":       `{"email":"' OR 1=1; DROP TABLE users; --@example.com","password":"' OR '1'='1' --x","refreshToken":"' OR 1=1 --","token":"x' OR '1'='1","currentPassword":"' OR 1=1","newPassword":"'; DROP TABLE users; --aa","confirmPassword":"x","fullName":"Robert'); DROP TABLE users;--","phone":"1' OR '1'='1","avatar":"https://x/'--","roles":["ADMIN' --"],"isActive":false}`,
	"huge numbers":        `{"isActive":1e999,"page":99999999999999999999999}`,
	"long strings":        `{"email":"` + strings.Repeat("x", 300) + `@example.com","password":"` + strings.Repeat("p", 5000) + `","fullName":"` + strings.Repeat("n", 3000) + `","refreshToken":"` + strings.Repeat("r", 4000) + `","token":"` + strings.Repeat("t", 4000) + `"}`,
	"bidi and zero-width": "{\"email\":\"adm\u200bin@example.com\",\"password\":\"violet-harbor-lantern-91\",\"fullName\":\"\u202egnp.exe\"}",
	"control chars":       "{\"fullName\":\"a\\u0007b\\u001bc\",\"phone\":\"\\n\\r\"}",
}

// optionalBody lists the endpoints whose body may be empty.
var optionalBody = map[string]bool{"/api/auth/logout": true, "/api/auth/send-verification-email": true}

type fixture struct {
	handler http.Handler
	router  *gin.Engine
	app     *app.App
	user    string // access token of a patient
	admin   string // access token of an admin
	userID  string
}

// newFixture builds an App on uri with a patient and an admin, served through
// its handler directly (fast enough for fuzzing).
func newFixture(t testing.TB, uri string) *fixture {
	t.Helper()
	s := testenv.Start(t, testenv.Config(t, uri, map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "1000000"}))
	p := register(t, s, "patient.fixture@example.com")
	return &fixture{handler: s.App.Handler, router: s.App.Router, app: s.App, user: p.AccessToken, userID: p.User.ID,
		admin: makeAdmin(t, s, "admin.fixture@example.com")}
}

type endpoint struct{ method, path, token string }

// jsonEndpoints lists every POST and PATCH route of the router, with the
// token that gets it past authentication.
func (f *fixture) jsonEndpoints() []endpoint {
	var out []endpoint
	for _, r := range f.router.Routes() {
		if r.Method != "POST" && r.Method != "PATCH" && r.Method != "PUT" {
			continue
		}
		if r.Method == "POST" && (r.Path == "/api/screenings" || r.Path == "/api/dicomweb/studies" || r.Path == "/api/batches/:id/items") {
			continue // multipart, not JSON: their own refusals are in screening_test.go, dicom_test.go and batches_test.go
		}
		path := strings.ReplaceAll(strings.ReplaceAll(r.Path, ":userId", f.userID), ":id", f.userID)
		tok := f.user
		if strings.HasPrefix(path, "/api/admin/") {
			tok = f.admin
		}
		out = append(out, endpoint{r.Method, path, tok})
	}
	return out
}

// serve sends a hostile body to e in process; the answer (not the request)
// is checked against the OpenAPI document.
func (f *fixture) serve(t testing.TB, e endpoint, body []byte, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(e.method, e.path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	testenv.CheckAnswer(t, req, rec.Result(), rec.Body.Bytes())
	return rec
}

// accountsDigest summarises every account row, so a test can show that a
// request changed nothing.
func (f *fixture) accountsDigest(t testing.TB) string {
	var rows []map[string]any
	testenv.Must(t, f.app.DB.Raw("SELECT u.*, (SELECT count(*) FROM user_roles ur WHERE ur.user_id = u.id) AS nroles FROM users u ORDER BY id").
		Scan(&rows).Error, "digest")
	b, err := json.Marshal(rows)
	testenv.Must(t, err, "marshal")
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func TestHostileBodies(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		f := newFixture(t, e.URI(t))
		before := f.accountsDigest(t)
		eps := f.jsonEndpoints()
		if len(eps) < 7 {
			t.Fatalf("only %d JSON endpoints found", len(eps))
		}
		for _, ep := range eps {
			for name, body := range hostileBodies {
				for _, ct := range []string{"application/json", "text/plain"} {
					rec := f.serve(t, ep, []byte(body), ct)
					if rec.Code < 400 || rec.Code >= 500 {
						// An empty body is a valid "no options" where the body is optional.
						if name == "empty" && optionalBody[ep.path] && rec.Code == 200 {
							continue
						}
						t.Errorf("%s %s %q (%s): %d %s", ep.method, ep.path, name, ct, rec.Code, truncateBody(rec.Body.String()))
						continue
					}
					if !strings.Contains(rec.Body.String(), `"success":false`) || !strings.Contains(rec.Body.String(), `"code":"`) {
						t.Errorf("%s %q: not an error envelope: %s", ep.path, name, truncateBody(rec.Body.String()))
					}
				}
			}
		}
		if after := f.accountsDigest(t); after != before {
			t.Fatal("hostile requests changed account rows")
		}
	})
}

func truncateBody(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
