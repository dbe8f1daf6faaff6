package tests

import (
	"strings"
	"testing"

	"aura/internal/testenv"
)

// caseField is, for each JSON endpoint (its path, or "METHOD path" where
// methods of one path take different bodies), one of its fields with a
// value and the other fields it needs: the tests send the field twice (the second time
// in another case; encoding/json alone would take the last) or once in upper
// case.
var caseField = map[string]struct{ field, value, rest string }{
	"/api/auth/register":                  {"email", `"twin.a@example.com"`, `"password":"` + goodPassword + `",`},
	"/api/auth/login":                     {"password", `"` + goodPassword + `"`, `"email":"patient.fixture@example.com",`},
	"/api/auth/refresh":                   {"refreshToken", `"a"`, ""},
	"/api/auth/logout":                    {"refreshToken", `"a"`, ""},
	"/api/auth/me":                        {"fullName", `"A"`, ""},
	"/api/auth/change-password":           {"newPassword", `"b"`, `"currentPassword":"a","confirmPassword":"b",`},
	"/api/auth/send-verification-email":   {"x", "1", ""},
	"/api/auth/resend-verification-email": {"email", `"a@example.com"`, ""},
	"/api/auth/verify-email":              {"token", `"a"`, ""},
	"/api/auth/forgot-password":           {"email", `"a@example.com"`, ""},
	"/api/auth/reset-password":            {"token", `"a"`, `"newPassword":"b","confirmPassword":"b",`},
	"/api/auth/google":                    {"idToken", `"a"`, ""},
	"/api/admin/users/:id":                {"isActive", "false", ""},
	"/api/admin/clinics":                  {"name", `"Twin"`, ""},
	"/api/admin/clinics/:id":              {"name", `"Twin"`, ""},
	"/api/admin/clinics/:id/doctors/:id":  {"licenseNo", `"L-1"`, ""},
	"/api/patients/me":                    {"sex", `"male"`, ""},
	"/api/screenings/:id/claim":           {"x", "1", ""},
	"/api/screenings/:id/release":         {"x", "1", ""},
	"/api/screenings/:id/review":          {"riskLevel", `"low"`, `"recommendation":"r",`},
	"/api/notifications/read-all":         {"x", "1", ""},
	"/api/notifications/:id/read":         {"x", "1", ""},
	"/api/alerts/:id/acknowledge":         {"x", "1", ""},
	"/api/alerts/:id/resolve":             {"note", `"n"`, ""},
	"/api/admin/analysis-profile":         {"rules", "[]", ""},
	// Clinic applications and decisions.
	"/api/clinics/registrations":        {"licenseNo", `"GP-1"`, `"name":"N","address":"A","phone":"123",`},
	"/api/admin/clinics/:id/approve":    {"x", "1", ""},
	"/api/admin/clinics/:id/reactivate": {"x", "1", ""},
	"/api/admin/clinics/:id/reject":     {"reason", `"r"`, ""},
	"/api/admin/clinics/:id/suspend":    {"reason", `"r"`, ""},
	// Invitations and accounts an admin makes.
	"/api/clinics/:id/invitations": {"role", `"TECHNICIAN"`, `"email":"twin@example.com",`},
	"/api/invitations/accept":      {"token", `"a"`, ""},
	"/api/admin/users":             {"fullName", `"A"`, `"email":"twin@example.com","roles":["PATIENT"],`},
	// Patients of a clinic.
	"/api/clinics/:id/patients": {"fullName", `"Twin"`, ""},
	// A clinic's camera or PACS router.
	"/api/clinics/:id/devices": {"name", `"Cam"`, ""},
	// A clinic's batches.
	"/api/clinics/:id/batches": {"name", `"Camp"`, ""},
	"/api/batches/:id/close":   {"x", "1", ""},
	// Conversations and live updates.
	"POST /api/conversations":         {"clinicId", `"00000000-0000-4000-8000-000000000000"`, ""},
	"/api/conversations/:id/messages": {"body", `"hi"`, ""},
	"/api/conversations/:id/read":     {"upTo", `"00000000-0000-4000-8000-000000000000"`, ""},
	"/api/events/ticket":              {"x", "1", ""},
	// A patient's doctor in a clinic.
	"/api/clinics/:id/patients/:patientId/invite": {"x", "1", ""},
	"/api/clinics/:id/patients/:patientId/doctor": {"doctorId", `"00000000-0000-4000-8000-000000000000"`, ""},
	// A patient deletes their account.
	"DELETE /api/patients/me": {"password", `"a"`, ""},
	// Billing.
	"/api/admin/wallets/grants": {"reason", `"r"`, `"credits":1,`},
	"/api/admin/packages":       {"code", `"p"`, ""},
	"/api/admin/packages/:id":   {"code", `"p"`, ""},
	"/api/orders":               {"packageId", `"p"`, ""},
	// Mail and notice templates.
	"/api/admin/templates/:kind/:channel/:lang":         {"body", `"b"`, `"subject":"s",`},
	"/api/admin/templates/:kind/:channel/:lang/preview": {"data", `{}`, ""},
}

// TestKeysEqualUpToCaseAreDuplicates: on every endpoint, two keys that differ
// only in case are a duplicate (400 INVALID_JSON), and a key in the wrong
// case alone is an unknown field; nothing is acted on.
func TestKeysEqualUpToCaseAreDuplicates(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		f := newFixture(t, e.URI(t))
		before := f.accountsDigest(t)
		for _, ep := range f.jsonEndpoints() {
			key := strings.ReplaceAll(ep.path, f.userID, ":id")
			cf, ok := caseField[ep.method+" "+key] // a method of its own on a shared path
			if !ok {
				cf, ok = caseField[key]
			}
			if !ok {
				t.Errorf("%s %s: no entry in caseField; add one", ep.method, ep.path)
				continue
			}
			capitalised := strings.ToUpper(cf.field[:1]) + cf.field[1:]
			twin := "{" + cf.rest + `"` + cf.field + `":` + cf.value + `,"` + capitalised + `":` + cf.value + "}"
			rec := f.serve(t, ep, []byte(twin), "application/json")
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"code":"INVALID_JSON"`) ||
				!strings.Contains(rec.Body.String(), "duplicate field") {
				t.Errorf("%s %s %s: %d %s", ep.method, ep.path, twin, rec.Code, rec.Body.String())
			}
			upper := strings.ToUpper(cf.field)
			lone := "{" + cf.rest + `"` + upper + `":` + cf.value + "}"
			rec = f.serve(t, ep, []byte(lone), "application/json")
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"code":"INVALID_JSON"`) ||
				!strings.Contains(rec.Body.String(), `"`+upper+`":"is not a known field"`) {
				t.Errorf("%s %s %s: %d %s", ep.method, ep.path, lone, rec.Code, rec.Body.String())
			}
		}
		if after := f.accountsDigest(t); after != before {
			t.Fatal("a request with keys equal up to case changed accounts")
		}
	})
}
