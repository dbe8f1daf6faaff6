package tests

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// reviewWorld is a clinic with two doctors, a patient (named in Vietnamese,
// writing in Vietnamese) and one analysed screening awaiting review.
type reviewWorld struct {
	s              *testenv.Server
	smtp           *mailtest.Server
	adm            string
	clinic         string
	d1, d2, p, out person
	id             string
}

func newReviewWorld(t *testing.T, uri string) *reviewWorld {
	t.Helper()
	smtp := mailtest.Start(t, mailtest.Options{})
	s := startWithMail(t, uri, smtp, nil)
	w := &reviewWorld{s: s, smtp: smtp}
	w.adm = makeAdmin(t, s, "admin@clinic.example")
	w.clinic = createClinic(t, s, w.adm, "Phòng khám Mắt Sài Gòn")
	s.Do(t, "PATCH", "/api/admin/clinics/"+w.clinic, map[string]any{"address": "12 Nguyễn Huệ, Quận 1"}, w.adm).Expect(t, http.StatusOK, "")
	w.d1 = makeDoctor(t, s, w.adm, "bs.mai@clinic.example")
	w.d2 = makeDoctor(t, s, w.adm, "bs.tuan@clinic.example")
	w.out = makeDoctor(t, s, w.adm, "bs.khac@clinic.example")
	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "BS. Trần Thị Mai"}, w.d1.Token).Expect(t, http.StatusOK, "")
	attach(t, s, w.adm, w.clinic, w.d1.ID, "0012345/HCM-CCHN").Expect(t, http.StatusOK, "")
	attach(t, s, w.adm, w.clinic, w.d2.ID, "0067890/HCM-CCHN").Expect(t, http.StatusOK, "")
	w.p = signUp(t, s, "lan.nguyen@patient.example")
	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Lan", "language": "vi"}, w.p.Token).Expect(t, http.StatusOK, "")
	s.Do(t, "PATCH", "/api/patients/me", map[string]any{"dateOfBirth": "1962-07-09", "sex": "female"}, w.p.Token).Expect(t, http.StatusOK, "")
	jpg, _ := fundus(t)
	var sc screening
	upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "right"}}, map[string]string{"Accept-Language": "vi"}).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)
	w.id = sc.ID
	s.Do(t, "GET", "/api/screenings/"+w.id+"/report", nil, w.p.Token).Expect(t, http.StatusConflict, "NOT_READY")
	s.Do(t, "POST", "/api/screenings/"+w.id+"/claim", nil, w.d1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
	analyse(t, s)
	return w
}

// TestClaimRace: 16 concurrent claims by 2 doctors; exactly one wins, the
// others get 200 (the winner again) or 409 ALREADY_CLAIMED.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newReviewWorld(t, e.URI(t))
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		winners := map[string]int{}
		counts := burst(16, func(i int) *testenv.Response {
			doc := []person{w.d1, w.d2}[i%2]
			r := w.s.Do(t, "POST", "/api/screenings/"+w.id+"/claim", nil, doc.Token)
			if r.Status == http.StatusOK {
				<-mu
				winners[doc.ID]++
				mu <- struct{}{}
			}
			return r
		})
		if len(winners) != 1 || counts[http.StatusOK]+counts[http.StatusConflict] != 16 || counts[http.StatusConflict] < 8 {
			t.Fatalf("claims: %v, winners %v", counts, winners)
		}
		sc := getScreening(t, w.s, w.adm, w.id)
		if sc.Status != "in_review" || sc.Review == nil || winners[sc.Review.Reviewer.UserID] == 0 || sc.Review.ClaimedAt == nil || sc.Review.ReviewedAt != nil {
			t.Fatalf("after the race %+v %+v", sc, sc.Review)
		}
		rows := auditLogs(t, w.s, w.adm, "action=screening.claim&entityId="+w.id)
		if len(rows) != 1 {
			t.Fatalf("claims audited %d times", len(rows))
		}
	})
}

// TestReviewFlow: every 409 of the contract, the release, the review and its
// notices (in the app and by email), the doctor's queue, membership removal
// returning claims, and the patient's PDF report.
func TestReviewFlow(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newReviewWorld(t, e.URI(t))
		s, base := w.s, "/api/screenings/"+w.id
		rv := map[string]any{"riskLevel": "medium", "notes": "Mạch máu hơi xoắn ở góc thái dương.", "recommendation": "Tái khám sau 6 tháng; kiểm soát đường huyết."}

		// The queue: awaiting_review with code, name, birth date and risk level.
		var list struct{ Items []screening }
		s.Do(t, "GET", "/api/screenings?status=awaiting_review", nil, w.d2.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 1 || list.Items[0].Patient.FullName != "Nguyễn Thị Lan" || list.Items[0].Analysis == nil {
			t.Fatalf("queue %+v", list.Items)
		}
		s.Do(t, "POST", base+"/claim", nil, w.out.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", base+"/claim", nil, w.p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", base+"/review", rv, w.d1.Token).Expect(t, http.StatusConflict, "NOT_CLAIMED")
		s.Do(t, "POST", base+"/release", nil, w.d1.Token).Expect(t, http.StatusConflict, "NOT_CLAIMED")
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", base+"/claim", nil, w.d2.Token).Expect(t, http.StatusConflict, "ALREADY_CLAIMED")
		s.Do(t, "POST", base+"/review", rv, w.d2.Token).Expect(t, http.StatusConflict, "NOT_CLAIMED")
		s.Do(t, "POST", base+"/release", nil, w.d2.Token).Expect(t, http.StatusConflict, "NOT_CLAIMED")
		s.Do(t, "GET", "/api/screenings?status=in_review", nil, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("in_review list %+v", list.Items)
		}
		// Release, and removal from the clinic returns a claim.
		var sc screening
		s.Do(t, "POST", base+"/release", nil, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &sc)
		if sc.Status != "awaiting_review" || sc.Review != nil {
			t.Fatalf("released %+v", sc)
		}
		s.Do(t, "POST", base+"/claim", nil, w.d2.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "DELETE", "/api/admin/clinics/"+w.clinic+"/doctors/"+w.d2.ID, nil, w.adm).Expect(t, http.StatusOK, "")
		if sc = getScreening(t, s, w.adm, w.id); sc.Status != "awaiting_review" || sc.Review != nil {
			t.Fatalf("after removal %+v", sc)
		}
		s.Do(t, "POST", base+"/review", rv, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")

		// Review: validated, final, told.
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		for name, bad := range map[string]map[string]any{
			"level":          {"riskLevel": "severe", "recommendation": "x"},
			"recommendation": {"riskLevel": "low", "recommendation": " "},
			"notes":          {"riskLevel": "low", "recommendation": "x", "notes": strings.Repeat("n", 4001)},
		} {
			if r := s.Do(t, "POST", base+"/review", testenv.Invalid(bad), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED"); len(r.Env.Details) != 1 {
				t.Errorf("%s: %v", name, r.Env.Details)
			}
		}
		s.Do(t, "POST", base+"/review", rv, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &sc)
		if sc.Status != "reviewed" || sc.Review == nil || *sc.Review.RiskLevel != "medium" || *sc.Review.Recommendation != rv["recommendation"] ||
			sc.Review.Reviewer.FullName != "BS. Trần Thị Mai" || sc.Review.ReviewedAt == nil {
			t.Fatalf("reviewed %+v %+v", sc, sc.Review)
		}
		s.Do(t, "POST", base+"/review", rv, w.d1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", base+"/release", nil, w.d1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
		if got := getScreening(t, s, w.p.Token, w.id); got.Review == nil || *got.Review.Notes != rv["notes"] || got.Analysis == nil {
			t.Fatalf("the patient's view %+v", got)
		}
		var inbox struct{ Items []struct{ Type, Body string } }
		s.Do(t, "GET", "/api/notifications", nil, w.p.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
		if len(inbox.Items) != 2 || inbox.Items[0].Type != "SCREENING_REVIEWED" || !strings.Contains(inbox.Items[0].Body, "Phòng khám Mắt Sài Gòn") {
			t.Fatalf("inbox %+v", inbox.Items)
		}
		msgs := w.smtp.WaitTo(t, w.p.Email, 2)
		m := msgs[len(msgs)-1]
		if m.Subject != "Bác sĩ đã xem xét kết quả sàng lọc của bạn" || !strings.Contains(m.Text, "Nguyễn Thị Lan") ||
			!strings.Contains(m.Text, "/screenings/"+w.id) || strings.Contains(m.Text, "medium") || strings.Contains(m.Text, "Tái khám") {
			t.Fatalf("mail %q\n%s", m.Subject, m.Text)
		}
		for _, a := range []string{"screening.claim", "screening.release", "screening.review"} {
			if rows := auditLogs(t, s, w.adm, "action="+a+"&entityId="+w.id); len(rows) == 0 {
				t.Errorf("no %s audit row", a)
			}
		}

		// The report, as the patient downloads it.
		status, h, pdf := rawGet(t, s, base+"/report", w.p.Token, nil)
		if status != 200 || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF") {
			t.Fatalf("report: %d %v", status, h)
		}
		var pc struct{ PatientCode string }
		s.Do(t, "GET", "/api/patients/me", nil, w.p.Token).Expect(t, http.StatusOK, "").Data(t, &pc)
		text := pdfText(t, pdf)
		for _, want := range []string{"Nguyễn Thị Lan", pc.PatientCode, "Trung bình", "không phải chẩn đoán", "0012345/HCM-CCHN",
			"Phòng khám Mắt Sài Gòn", sc.Image.SHA256, "Tái khám sau 6 tháng"} {
			if !strings.Contains(text, want) {
				t.Errorf("report text lacks %q", want)
			}
		}
		if dir := os.Getenv("AURA_TEST_REPORT_DIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "review-"+e.Name+".pdf"), pdf, 0o644)
		}
		s.Do(t, "GET", base+"/report", nil, w.out.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
	})
}

// pdfText is the text of a PDF by pdftotext (poppler-utils; .ci/run installs it).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed; .ci/run installs it")
	}
	f := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
