package tests

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/internal/testenv"
	"aura/models"
)

// statRow is a screening as the statistics tests seed it: made at
// created, claimed and reviewed that many minutes later (0: not).
type statRow struct {
	patient, clinic, status string
	created                 time.Time
	level, review           string // the analysis's and the review's levels ("" none)
	reviewer                string
	claimAfter              int // minutes from upload to claim
	reviewAfter             int // minutes from claim to review
	analyzer                string
}

func seedStat(t *testing.T, s *testenv.Server, r statRow) string {
	t.Helper()
	id := uuid.NewString()
	sc := &models.Screening{ID: id, PatientID: r.patient, ClinicID: r.clinic, Status: r.status, Eye: "left",
		ImageKey: "screenings/" + id + "/image.png", ImageType: "image/png", ImageBytes: 1, ImageWidth: 256, ImageHeight: 256,
		ImageSHA256: fmt.Sprintf("%064d", 0), CreatedAt: r.created, UpdatedAt: r.created, Lang: "vi"}
	if r.level != "" || r.analyzer != "" {
		done := r.created.Add(time.Minute)
		a := "vessels"
		v := "2.1"
		if r.analyzer != "" {
			v = r.analyzer
		}
		sc.Analysis.CompletedAt, sc.Analysis.Analyzer, sc.Analysis.AnalyzerVersion = &done, &a, &v
		if r.level != "" {
			l := r.level
			sc.Analysis.RiskLevel = &l
		}
	}
	if r.reviewer != "" {
		rv := r.reviewer
		sc.ReviewerID = &rv
		claimed := r.created.Add(time.Duration(r.claimAfter) * time.Minute)
		sc.ClaimedAt = &claimed
		if r.status == models.StatusReviewed {
			reviewed := claimed.Add(time.Duration(r.reviewAfter) * time.Minute)
			sc.ReviewedAt = &reviewed
			l := r.review
			sc.ReviewRiskLevel = &l
			rec := "Tái khám sau 6 tháng"
			sc.Recommendation = &rec
		}
	}
	if r.status == models.StatusFailed {
		code := "ANALYSIS_FAILED"
		sc.FailureCode = &code
	}
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Create(sc).Error, "seed screening")
	return id
}

// nearestRank is the p-th percentile (0..100) of vs by the nearest-rank
// definition: the value of rank ceil(p*n/100) of the sorted values.
func nearestRank(vs []float64, p int) *float64 {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	rank := int(math.Ceil(float64(p) * float64(len(s)) / 100))
	v := s[rank-1]
	return &v
}

type clinicStatsOut struct {
	From, To          string
	Screenings        int64
	ByStatus          map[string]int64
	ByRiskLevel       map[string]int64
	Patients          int64
	TurnaroundMinutes struct{ P50, P90 *float64 }
	AnalysesUsed      int64
	OpenAlerts        int64
}

type adminStatsOut struct {
	clinicStatsOut
	PerClinic []struct {
		ClinicID, Name string
		Screenings     int64
		ByStatus       map[string]int64
		ByRiskLevel    map[string]int64
		Patients       int64
		AnalysesUsed   int64
	}
	FailureRate      *float64
	AnalyzerVersions []struct {
		Analyzer, Version string
		Results           int64
	}
}

type doctorStatsOut struct {
	From, To            string
	Reviewed, InReview  int64
	MedianReviewMinutes *float64
	ByRiskLevel         map[string]int64
	Agreement           *float64
}

func eqPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) < 1e-9
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

// TestStatistics: the doctor's, a clinic's and all clinics' statistics
// count the screenings created in [from, to) and nothing else; the
// percentiles are nearest-rank values that the test computes from the
// times it seeded; who may read them; a bad range is 400 naming the field.
func TestStatistics(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		p3 := signUp(t, s, "thuy.tran@patient.example")
		s.Do(t, "GET", "/api/patients/me", nil, p3.Token).Expect(t, http.StatusOK, "")
		base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		// Reviewed by d1 in c1: (claim after, review after, analysis level, review level).
		reviews := []struct {
			claim, review  int
			level, review2 string
		}{
			{5, 10, "low", "low"}, {15, 20, "medium", "high"}, {30, 5, "high", "high"}, {60, 40, "low", "low"},
			{2, 3, "critical", "critical"}, {90, 30, "medium", "low"}, {45, 15, "low", "low"},
		}
		var turnaround, reviewMinutes []float64
		agreed, rated := 0, 0
		wantLevels := map[string]int64{"low": 0, "medium": 0, "high": 0, "critical": 0}
		for i, r := range reviews {
			patient := w.p1.ID
			if i%2 == 1 {
				patient = p3.ID
			}
			seedStat(t, s, statRow{patient: patient, clinic: w.c1, status: models.StatusReviewed, created: base.Add(time.Duration(i) * 24 * time.Hour),
				level: r.level, review: r.review2, reviewer: w.d1.ID, claimAfter: r.claim, reviewAfter: r.review})
			turnaround = append(turnaround, float64(r.claim+r.review))
			reviewMinutes = append(reviewMinutes, float64(r.review))
			rated++
			if r.level == r.review2 {
				agreed++
			}
			wantLevels[r.review2]++
		}
		// A review of an analysis without a level: a review, not rated.
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusReviewed, created: base.Add(10 * 24 * time.Hour),
			analyzer: "2.1", review: "medium", reviewer: w.d1.ID, claimAfter: 100, reviewAfter: 1})
		turnaround = append(turnaround, 101)
		reviewMinutes = append(reviewMinutes, 1)
		wantLevels["medium"]++
		// Held by d1, awaiting review, failed, queued; and outside the range
		// or in the other clinic.
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusInReview, created: base.Add(2 * time.Hour),
			level: "high", reviewer: w.d1.ID, claimAfter: 3})
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusAwaitingReview, created: base.Add(3 * time.Hour), level: "medium"})
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusFailed, created: base.Add(4 * time.Hour)})
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusQueued, created: base.Add(5 * time.Hour)})
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusReviewed, created: base.AddDate(0, 0, -1),
			level: "low", review: "low", reviewer: w.d1.ID, claimAfter: 1, reviewAfter: 1})
		seedStat(t, s, statRow{patient: w.p1.ID, clinic: w.c1, status: models.StatusReviewed, created: base.AddDate(0, 1, 0),
			level: "low", review: "low", reviewer: w.d1.ID, claimAfter: 1, reviewAfter: 1})
		seedStat(t, s, statRow{patient: w.p2.ID, clinic: w.c2, status: models.StatusReviewed, created: base.Add(time.Hour),
			level: "high", review: "high", reviewer: w.d2.ID, claimAfter: 1000, reviewAfter: 1000, analyzer: "2.0"})
		seedStat(t, s, statRow{patient: w.p2.ID, clinic: w.c2, status: models.StatusFailed, created: base.Add(time.Hour)})
		q := "?from=2025-03-01&to=2025-03-31"

		// The clinic's.
		var c clinicStatsOut
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats"+q, nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &c)
		wantClinicLevels := map[string]int64{"low": wantLevels["low"], "medium": wantLevels["medium"] + 1, "high": wantLevels["high"] + 1, "critical": wantLevels["critical"]}
		wantStatus := map[string]int64{"queued": 1, "processing": 0, "awaiting_review": 1, "in_review": 1, "reviewed": 8, "failed": 1}
		if c.Screenings != 12 || c.Patients != 2 || c.AnalysesUsed != 10 || c.OpenAlerts != 0 ||
			!mapsEqual(c.ByStatus, wantStatus) || !mapsEqual(c.ByRiskLevel, wantClinicLevels) {
			t.Errorf("clinic stats %+v\nwant 12 screenings, 2 patients, 10 analyses, status %v, levels %v", c, wantStatus, wantClinicLevels)
		}
		if p50, p90 := nearestRank(turnaround, 50), nearestRank(turnaround, 90); !eqPtr(c.TurnaroundMinutes.P50, p50) || !eqPtr(c.TurnaroundMinutes.P90, p90) {
			t.Errorf("turnaround p50 %s p90 %s, want %s %s (of %v)", fmtPtr(c.TurnaroundMinutes.P50), fmtPtr(c.TurnaroundMinutes.P90),
				fmtPtr(p50), fmtPtr(p90), turnaround)
		}
		if c.From != "2025-03-01T00:00:00.000Z" || c.To != "2025-04-01T00:00:00.000Z" {
			t.Errorf("range %s %s", c.From, c.To)
		}
		var byAdmin clinicStatsOut
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats"+q, nil, w.admin.Token).Expect(t, http.StatusOK, "").Data(t, &byAdmin)
		if byAdmin.Screenings != c.Screenings {
			t.Errorf("the admin counts %d", byAdmin.Screenings)
		}
		// An instant range: only the first day's screenings (its 08:00
		// review, and the four made in the hours after).
		var day clinicStatsOut
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats?from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z", nil, w.ca1.Token).
			Expect(t, http.StatusOK, "").Data(t, &day)
		if day.Screenings != 5 || day.TurnaroundMinutes.P50 == nil || *day.TurnaroundMinutes.P50 != 15 {
			t.Errorf("one day: %+v", day)
		}
		// Nothing in the range: zeroes and nulls.
		var empty clinicStatsOut
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats?from=2020-01-01&to=2020-01-31", nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &empty)
		if empty.Screenings != 0 || empty.TurnaroundMinutes.P50 != nil || empty.TurnaroundMinutes.P90 != nil || empty.ByStatus["reviewed"] != 0 {
			t.Errorf("empty range: %+v", empty)
		}
		// The default range is the last 30 days: the world's own screening.
		var recent clinicStatsOut
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats", nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &recent)
		if recent.Screenings != 1 || recent.ByStatus["awaiting_review"] != 1 {
			t.Errorf("default range: %+v", recent)
		}

		// The doctor's.
		var d doctorStatsOut
		s.Do(t, "GET", "/api/doctors/me/stats"+q, nil, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &d)
		wantAgreement := float64(agreed) / float64(rated)
		if d.Reviewed != 8 || d.InReview != 1 || !mapsEqual(d.ByRiskLevel, wantLevels) || !eqPtr(d.Agreement, &wantAgreement) ||
			!eqPtr(d.MedianReviewMinutes, nearestRank(reviewMinutes, 50)) {
			t.Errorf("doctor stats %+v (median %s, agreement %s); want 8 reviewed, 1 held, levels %v, median %s, agreement %v",
				d, fmtPtr(d.MedianReviewMinutes), fmtPtr(d.Agreement), wantLevels, fmtPtr(nearestRank(reviewMinutes, 50)), wantAgreement)
		}
		var d2 doctorStatsOut
		s.Do(t, "GET", "/api/doctors/me/stats"+q, nil, w.d2.Token).Expect(t, http.StatusOK, "").Data(t, &d2)
		if d2.Reviewed != 1 || d2.Agreement == nil || *d2.Agreement != 1 || d2.MedianReviewMinutes == nil || *d2.MedianReviewMinutes != 1000 {
			t.Errorf("the other doctor: %+v", d2)
		}
		var none doctorStatsOut
		s.Do(t, "GET", "/api/doctors/me/stats?from=2020-01-01&to=2020-02-01", nil, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &none)
		if none.Reviewed != 0 || none.Agreement != nil || none.MedianReviewMinutes != nil {
			t.Errorf("no reviews: %+v", none)
		}

		// All clinics'.
		var a adminStatsOut
		s.Do(t, "GET", "/api/admin/stats"+q, nil, w.admin.Token).Expect(t, http.StatusOK, "").Data(t, &a)
		if a.Screenings != 14 || a.Patients != 3 || a.ByStatus["failed"] != 2 || len(a.PerClinic) != 2 {
			t.Fatalf("admin stats %+v", a)
		}
		if pc := a.PerClinic; pc[0].ClinicID != w.c1 || pc[0].Screenings != 12 || pc[0].Patients != 2 || pc[0].Name != "Phòng khám An Bình" ||
			pc[1].ClinicID != w.c2 || pc[1].Screenings != 2 || pc[1].Patients != 1 || pc[1].AnalysesUsed != 1 {
			t.Errorf("per clinic %+v", pc)
		}
		wantRate := 2.0 / float64(a.AnalysesUsed+2)
		if a.AnalysesUsed != 11 || !eqPtr(a.FailureRate, &wantRate) {
			t.Errorf("analyses %d, failure rate %s, want 11 and %v", a.AnalysesUsed, fmtPtr(a.FailureRate), wantRate)
		}
		if len(a.AnalyzerVersions) != 2 || a.AnalyzerVersions[0].Version != "2.1" || a.AnalyzerVersions[0].Results != 10 ||
			a.AnalyzerVersions[1].Version != "2.0" || a.AnalyzerVersions[1].Results != 1 {
			t.Errorf("analyzer versions %+v", a.AnalyzerVersions)
		}
		all := append(slices.Clone(turnaround), 2000)
		if !eqPtr(a.TurnaroundMinutes.P90, nearestRank(all, 90)) || !eqPtr(a.TurnaroundMinutes.P50, nearestRank(all, 50)) {
			t.Errorf("all clinics' turnaround %s %s, want %s %s", fmtPtr(a.TurnaroundMinutes.P50), fmtPtr(a.TurnaroundMinutes.P90),
				fmtPtr(nearestRank(all, 50)), fmtPtr(nearestRank(all, 90)))
		}

		// A bad range: 400 naming the field, on each endpoint.
		for _, path := range []string{"/api/clinics/" + w.c1 + "/stats", "/api/doctors/me/stats", "/api/admin/stats"} {
			tok := w.admin.Token
			if path == "/api/doctors/me/stats" {
				tok = w.d1.Token
			}
			for query, field := range map[string]string{
				"?from=yesterday":                          "from",
				"?from=2025-03-01&to=2025-02-01":           "to",
				"?from=2025-03-01&to=2025-03-01T00:00:00Z": "to",
				"?to=2025-13-01":                           "to",
				"?from=2024-01-01&to=2025-01-02":           "to",
			} {
				r := s.Do(t, "GET", path+query, nil, tok).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
				if r.Env.Details[field] == "" {
					t.Errorf("%s%s: details %v, want %s", path, query, r.Env.Details, field)
				}
			}
			// Exactly 366 days is allowed.
			s.Do(t, "GET", path+"?from=2024-01-01&to=2024-12-31", nil, tok).Expect(t, http.StatusOK, "")
		}

		// Who may read.
		const unknown = "22222222-2222-4222-8222-222222222222"
		for _, p := range []person{w.d1, w.t1, w.p1} {
			s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats", nil, p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		}
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats", nil, w.ca2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/"+unknown+"/stats", nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/nope/stats", nil, w.ca1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		for _, p := range []person{w.p1, w.ca1, w.t1, w.admin} {
			s.Do(t, "GET", "/api/doctors/me/stats", nil, p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		}
		for _, p := range []person{w.p1, w.ca1, w.d1} {
			s.Do(t, "GET", "/api/admin/stats", nil, p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		}
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/stats", nil, "").Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
