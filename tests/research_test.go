package tests

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/services/exports"
)

const (
	researchKey      = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes
	otherResearchKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

// researchCSV fetches the research export and returns its rows keyed by
// column, and the raw body.
func researchCSV(t *testing.T, s *testenv.Server, query, token string) ([]map[string]string, string) {
	t.Helper()
	return csvRows(t, s, "/api/admin/exports/research.csv"+query, token, exports.ResearchColumns())
}

// TestResearchExport: the patient gives research consent through the
// profile; the doctor leaves feedback with the review (checked like any
// typed text). The research export (ADMIN) holds the consenting patients'
// analysed screenings only, with no name, email, code, birth date or id,
// the patient as a keyed pseudonym, stable from one export to the next
// and different under another key, the age as a 5-year band, and cells a
// spreadsheet would run neutralised. Without the key: 503.
func TestResearchExport(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_PRIVACY_PSEUDONYM_KEY": researchKey}))
		adminTok := makeAdmin(t, s, "admin@research.example")
		clinic := createClinic(t, s, adminTok, "Phòng khám Nghiên Cứu")
		doc := makeDoctor(t, s, adminTok, "doctor@research.example")
		attach(t, s, adminTok, clinic, doc.ID, "BS-777").Expect(t, http.StatusOK, "")
		yes := signUp(t, s, "dong.y@patient.example")
		no := signUp(t, s, "khong@patient.example")
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Đồng Ý"}, yes.Token).Expect(t, http.StatusOK, "")

		// Consent: false by default, set by the patient; null is refused.
		var me struct {
			PatientCode     string
			ResearchConsent bool
		}
		s.Do(t, "GET", "/api/patients/me", nil, yes.Token).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.ResearchConsent {
			t.Fatal("consent given by default")
		}
		s.Do(t, "PATCH", "/api/patients/me", map[string]any{"researchConsent": true, "dateOfBirth": "1980-05-10"}, yes.Token).
			Expect(t, http.StatusOK, "").Data(t, &me)
		if !me.ResearchConsent {
			t.Fatal("consent not recorded")
		}
		r := s.Do(t, "PATCH", "/api/patients/me", testenv.Invalid(map[string]any{"researchConsent": nil}), yes.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["researchConsent"] == "" {
			t.Errorf("details %v", r.Env.Details)
		}
		s.Do(t, "PATCH", "/api/patients/me", map[string]any{"dateOfBirth": "1975-01-01"}, no.Token).Expect(t, http.StatusOK, "")

		at := time.Date(2025, 6, 15, 9, 0, 0, 0, time.UTC)
		reviewed := seedStat(t, s, statRow{patient: yes.ID, clinic: clinic, status: models.StatusAwaitingReview, created: at, level: "high"})
		seedStat(t, s, statRow{patient: yes.ID, clinic: clinic, status: models.StatusAwaitingReview, created: at.Add(time.Hour), level: "low"})
		seedStat(t, s, statRow{patient: yes.ID, clinic: clinic, status: models.StatusQueued, created: at.Add(2 * time.Hour)}) // not analysed
		hidden := seedStat(t, s, statRow{patient: no.ID, clinic: clinic, status: models.StatusAwaitingReview, created: at, level: "critical"})

		// Feedback with the review: checked, then recorded.
		s.Do(t, "POST", "/api/screenings/"+reviewed+"/claim", nil, doc.Token).Expect(t, http.StatusOK, "")
		for _, bad := range []string{"bell\a", "tab\there", strings.Repeat("x", 2001), "rtl\u202e"} {
			r := s.Do(t, "POST", "/api/screenings/"+reviewed+"/review", testenv.Invalid(map[string]any{"riskLevel": "medium",
				"recommendation": "Tái khám", "feedback": bad}), doc.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details["feedback"] == "" {
				t.Errorf("feedback %q: details %v", bad, r.Env.Details)
			}
		}
		feedback := "=HYPERLINK(\"http://x\")\nBản đồ mạch bỏ sót một nhánh"
		var sc struct{ Review struct{ Feedback *string } }
		s.Do(t, "POST", "/api/screenings/"+reviewed+"/review", map[string]any{"riskLevel": "medium", "recommendation": "Tái khám",
			"analysisAgreement": "partial", "feedback": feedback}, doc.Token).Expect(t, http.StatusOK, "").Data(t, &sc)
		if sc.Review.Feedback == nil || *sc.Review.Feedback != feedback {
			t.Errorf("feedback recorded as %v", sc.Review.Feedback)
		}
		s.Do(t, "POST", "/api/screenings/"+hidden+"/claim", nil, doc.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/screenings/"+hidden+"/review", map[string]any{"riskLevel": "critical", "recommendation": "Khám ngay",
			"feedback": "Đúng"}, doc.Token).Expect(t, http.StatusOK, "")

		q := "?from=2025-06-01&to=2025-06-30"
		rows, body := researchCSV(t, s, q, adminTok)
		if len(rows) != 2 {
			t.Fatalf("%d rows, want the consenting patient's 2 analysed screenings:\n%s", len(rows), body)
		}
		want := exports.Pseudonym(mustKey(t, researchKey), yes.ID)
		first := rows[0]
		if first["pseudonym"] != want || rows[1]["pseudonym"] != want || len(want) != 64 {
			t.Errorf("pseudonyms %q %q, want %q", first["pseudonym"], rows[1]["pseudonym"], want)
		}
		if first["ageBand"] != "45-49" || first["month"] != "2025-06" || first["riskLevel"] != "high" || first["reviewRiskLevel"] != "medium" ||
			first["analysisAgreement"] != "partial" || first["feedback"] != "'"+feedback || first["eye"] != "left" {
			t.Errorf("first row %v", first)
		}
		if rows[1]["reviewRiskLevel"] != "" || rows[1]["feedback"] != "" || rows[1]["riskLevel"] != "low" {
			t.Errorf("second row %v", rows[1])
		}
		// Nothing that identifies: no name, email, code, birth date, id.
		for what, v := range map[string]string{"patient id": yes.ID, "other patient's id": no.ID, "email": yes.Email, "email's name": "dong.y",
			"name": "Nguyễn Thị Đồng Ý", "code": me.PatientCode, "birth date": "1980-05-10", "birth year": "1980", "screening id": reviewed,
			"clinic id": clinic, "clinic name": "Nghiên Cứu", "doctor id": doc.ID, "doctor": "doctor@research", "the other's feedback": "Đúng",
			"licence": "BS-777"} {
			if strings.Contains(body, v) {
				t.Errorf("the export holds the %s (%s)", what, v)
			}
		}
		// Stable from one export to the next; another key gives another.
		again, _ := researchCSV(t, s, q, adminTok)
		if again[0]["pseudonym"] != want {
			t.Errorf("pseudonym changed between exports: %s then %s", want, again[0]["pseudonym"])
		}
		if other := exports.Pseudonym(mustKey(t, otherResearchKey), yes.ID); other == want {
			t.Error("another key gives the same pseudonym")
		}
		if n := countWhere(t, s, "SELECT count(*) FROM audit_logs WHERE action = ?", exports.AuditResearch); n != 2 {
			t.Errorf("%d audit rows, want one per export", n)
		}

		// Withdrawn consent: gone from the next export.
		s.Do(t, "PATCH", "/api/patients/me", map[string]any{"researchConsent": false}, yes.Token).Expect(t, http.StatusOK, "")
		if rows, _ := researchCSV(t, s, q, adminTok); len(rows) != 0 {
			t.Errorf("after withdrawal: %v", rows)
		}

		// A bad range, and who may not.
		r = s.Do(t, "GET", "/api/admin/exports/research.csv?from=2024-01-01&to=2025-06-01", nil, adminTok).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["to"] == "" {
			t.Errorf("details %v", r.Env.Details)
		}
		for _, p := range []person{doc, yes} {
			s.Do(t, "GET", "/api/admin/exports/research.csv", nil, p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		}
	})
}

// TestResearchExportWithoutKey: without privacy.pseudonym_key the research
// export is 503 UNAVAILABLE, and nothing is audited.
func TestResearchExportWithoutKey(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Config(t, testenv.Engines()[0].URI(t), nil))
	adminTok := makeAdmin(t, s, "admin@nokey.example")
	s.Do(t, "GET", "/api/admin/exports/research.csv", nil, adminTok).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
	if n := countWhere(t, s, "SELECT count(*) FROM audit_logs WHERE action = ?", exports.AuditResearch); n != 0 {
		t.Errorf("%d audit rows", n)
	}
}

func mustKey(t *testing.T, b64 string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(b64)
	testenv.Must(t, err, "key")
	return k
}
