package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// TestCampaignReport: GET /api/clinics/{id}/reports/campaign.pdf is a PDF
// in the caller's language with the clinic's counts, risk distribution,
// open alerts and turnaround over the range, and the statement that AURA
// measures and does not diagnose; who may not read it. With
// AURA_TEST_CAMPAIGN_PDF=dir the two PDFs are kept there to look at.
func TestCampaignReport(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		base := time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)
		for i, lv := range []string{"low", "low", "low", "medium", "high", "critical"} {
			seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusReviewed, created: base.Add(time.Duration(i) * time.Hour),
				level: lv, review: lv, reviewer: w.d1.ID, claimAfter: 10 * (i + 1), reviewAfter: 5})
		}
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusFailed, created: base})
		path := "/api/clinics/" + w.c1 + "/reports/campaign.pdf?from=2025-09-01&to=2025-09-30"
		for lang, want := range map[string][]string{
			"vi": {"Báo cáo tổng kết chiến dịch sàng lọc", "Phòng khám An Bình", "2025-09-01 – 2025-09-30", "Số ca sàng lọc",
				"Cảnh báo đang mở", "Phân bố mức nguy cơ", "Thấp", "Trung vị (P50)", "35,0 phút", "AURA không chẩn đoán"},
			"en": {"Screening campaign summary", "Phòng khám An Bình", "2025-09-01 – 2025-09-30", "Screenings", "Open alerts",
				"Risk distribution", "Low", "Critical", "50%", "Median (P50)", "35.0 min", "AURA does not diagnose"},
		} {
			code, h, body := rawGet(t, s, path, w.ca1.Token, map[string]string{"Accept-Language": lang})
			if code != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(body), "%PDF-") {
				t.Fatalf("%s: %d %s %.200s", lang, code, h.Get("Content-Type"), body)
			}
			if dir := os.Getenv("AURA_TEST_CAMPAIGN_PDF"); dir != "" {
				testenv.Must(t, os.WriteFile(filepath.Join(dir, "campaign-"+e.Name+"-"+lang+".pdf"), body, 0o600), "keep PDF")
			}
			text := strings.Join(strings.Fields(pdfText(t, body)), " ")
			for _, s := range want {
				if !strings.Contains(text, s) {
					t.Errorf("%s: no %q in\n%s", lang, s, text)
				}
			}
			if strings.Contains(text, w.p1.Email) || strings.Contains(text, "ngoc") {
				t.Errorf("%s: the summary names a patient", lang)
			}
		}
		if code, _, _ := rawGet(t, s, path, w.admin.Token, nil); code != http.StatusOK {
			t.Errorf("the admin: %d", code)
		}
		for _, p := range []person{w.d1, w.t1, w.p1} {
			s.Do(t, "GET", path, nil, p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		}
		s.Do(t, "GET", path, nil, w.ca2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		r := s.Do(t, "GET", "/api/clinics/"+w.c1+"/reports/campaign.pdf?from=2025-09-30&to=2025-09-01", nil, w.ca1.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["to"] == "" {
			t.Errorf("details %v", r.Env.Details)
		}
	})
}
