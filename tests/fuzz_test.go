package tests

import (
	"strings"
	"testing"
)

// FuzzJSONEndpoints sends arbitrary bodies to every POST and PATCH endpoint:
// no input may produce a 5xx or a panic. Run it with
// go test ./tests -run '^$' -fuzz FuzzJSONEndpoints -fuzztime 30s
func FuzzJSONEndpoints(f *testing.F) {
	for _, b := range hostileBodies {
		if len(b) < 4096 {
			f.Add(uint8(0), []byte(b))
		}
	}
	f.Add(uint8(1), []byte(`{"email":"patient.fixture@example.com","password":"violet-harbor-lantern-91"}`))
	f.Add(uint8(2), []byte(`{"refreshToken":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add(uint8(3), []byte(`{"fullName":"Lan","phone":null,"avatar":"https://x.example/a.png"}`))
	f.Add(uint8(4), []byte(`{"roles":["DOCTOR"],"isActive":true}`))
	f.Add(uint8(5), []byte(`{"currentPassword":"a","newPassword":"b","confirmPassword":"b"}`))

	fx := newFixture(f, "sqlite://")
	eps := fx.jsonEndpoints()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := eps[int(which)%len(eps)]
		if strings.HasSuffix(ep.path, "/logout") || strings.HasSuffix(ep.path, "/change-password") {
			ep.token = "" // keep the fixture's sessions alive; these still parse and answer 401
		}
		rec := fx.serve(t, ep, body, "application/json")
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", ep.method, ep.path, body, rec.Code, rec.Body.String())
		}
	})
}
