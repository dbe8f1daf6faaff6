package handlers

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"aura/report"
	"aura/services/stats"
)

// statsService is the rules of the statistics, on the screenings' clock.
func (d *Deps) statsService() *stats.Service {
	return &stats.Service{Clock: d.Screenings.Clock}
}

func statsRange(c *gin.Context) stats.RangeQuery {
	return stats.RangeQuery{From: c.Query("from"), To: c.Query("to")}
}

// PercentilesView is the 50th and 90th percentile of a duration, in
// minutes (null when nothing was measured).
type PercentilesView struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
}

// DoctorStatsView is GET /api/doctors/me/stats.
type DoctorStatsView struct {
	From                Timestamp        `json:"from"`
	To                  Timestamp        `json:"to"`
	Reviewed            int64            `json:"reviewed"`
	InReview            int64            `json:"inReview"`
	MedianReviewMinutes *float64         `json:"medianReviewMinutes"`
	ByRiskLevel         map[string]int64 `json:"byRiskLevel"`
	Agreement           *float64         `json:"agreement"`
}

// ClinicStatsView is GET /api/clinics/{id}/stats.
type ClinicStatsView struct {
	From              Timestamp        `json:"from"`
	To                Timestamp        `json:"to"`
	Screenings        int64            `json:"screenings"`
	ByStatus          map[string]int64 `json:"byStatus"`
	ByRiskLevel       map[string]int64 `json:"byRiskLevel"`
	Patients          int64            `json:"patients"`
	TurnaroundMinutes PercentilesView  `json:"turnaroundMinutes"`
	AnalysesUsed      int64            `json:"analysesUsed"`
	OpenAlerts        int64            `json:"openAlerts"`
}

// ClinicLineView is one clinic of the admin's statistics.
type ClinicLineView struct {
	ClinicID     string           `json:"clinicId"`
	Name         string           `json:"name"`
	Screenings   int64            `json:"screenings"`
	ByStatus     map[string]int64 `json:"byStatus"`
	ByRiskLevel  map[string]int64 `json:"byRiskLevel"`
	Patients     int64            `json:"patients"`
	AnalysesUsed int64            `json:"analysesUsed"`
}

// AnalyzerVersionView is one analyzer version's count of recorded analyses.
type AnalyzerVersionView struct {
	Analyzer string `json:"analyzer"`
	Version  string `json:"version"`
	Results  int64  `json:"results"`
}

// AdminStatsView is GET /api/admin/stats.
type AdminStatsView struct {
	ClinicStatsView
	PerClinic        []ClinicLineView      `json:"perClinic"`
	FailureRate      *float64              `json:"failureRate"`
	AnalyzerVersions []AnalyzerVersionView `json:"analyzerVersions"`
}

func clinicStatsView(c *stats.Clinic) ClinicStatsView {
	return ClinicStatsView{From: ts(c.From), To: ts(c.To), Screenings: c.Screenings, ByStatus: c.ByStatus,
		ByRiskLevel: c.ByRiskLevel, Patients: c.Patients,
		TurnaroundMinutes: PercentilesView{P50: c.Turnaround.P50, P90: c.Turnaround.P90},
		AnalysesUsed:      c.AnalysesUsed, OpenAlerts: c.OpenAlerts}
}

// DoctorStats is GET /api/doctors/me/stats?from&to (DOCTOR).
func (d *Deps) DoctorStats(c *gin.Context) error {
	s, err := d.statsService().DoctorMe(c.Request.Context(), store(c), actor(c), statsRange(c))
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	OK(c, http.StatusOK, DoctorStatsView{From: ts(s.From), To: ts(s.To), Reviewed: s.Reviewed, InReview: s.InReview,
		MedianReviewMinutes: s.MedianReviewMinutes, ByRiskLevel: s.ByRiskLevel, Agreement: s.Agreement}, "")
	return nil
}

// ClinicStats is GET /api/clinics/{id}/stats?from&to (CLINIC_ADMIN of the
// clinic, ADMIN).
func (d *Deps) ClinicStats(c *gin.Context) error {
	s, err := d.statsService().ClinicOf(c.Request.Context(), store(c), actor(c), c.Param("id"), statsRange(c))
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	OK(c, http.StatusOK, clinicStatsView(s), "")
	return nil
}

// AdminStats is GET /api/admin/stats?from&to (ADMIN).
func (d *Deps) AdminStats(c *gin.Context) error {
	s, err := d.statsService().Everything(c.Request.Context(), store(c), actor(c), statsRange(c))
	if err != nil {
		return err
	}
	v := AdminStatsView{ClinicStatsView: clinicStatsView(&s.Clinic), FailureRate: s.FailureRate,
		PerClinic: make([]ClinicLineView, len(s.PerClinic)), AnalyzerVersions: make([]AnalyzerVersionView, len(s.AnalyzerVersions))}
	for i, l := range s.PerClinic {
		v.PerClinic[i] = ClinicLineView{ClinicID: l.ClinicID, Name: l.Name, Screenings: l.Screenings, ByStatus: l.ByStatus,
			ByRiskLevel: l.ByRiskLevel, Patients: l.Patients, AnalysesUsed: l.AnalysesUsed}
	}
	for i, a := range s.AnalyzerVersions {
		v.AnalyzerVersions[i] = AnalyzerVersionView{Analyzer: a.Analyzer, Version: a.Version, Results: a.Results}
	}
	c.Header("Cache-Control", "no-store")
	OK(c, http.StatusOK, v, "")
	return nil
}

// CampaignReport is GET /api/clinics/{id}/reports/campaign.pdf?from&to
// (CLINIC_ADMIN of the clinic, ADMIN): the clinic's statistics over the
// range as a one-page PDF in the caller's language.
func (d *Deps) CampaignReport(c *gin.Context) error {
	s, clinic, err := d.statsService().Campaign(c.Request.Context(), store(c), actor(c), c.Param("id"), statsRange(c))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	err = report.RenderCampaign(c.Request.Context(), &buf, report.Campaign{
		Lang: lang(c), Clinic: report.Clinic{Name: clinic.Name, Address: deref(clinic.Address)},
		From: s.From, To: s.To, Screenings: s.Screenings, Patients: s.Patients, ByStatus: s.ByStatus,
		ByRiskLevel: s.ByRiskLevel, AnalysesUsed: s.AnalysesUsed, OpenAlerts: s.OpenAlerts,
		TurnaroundP50: s.Turnaround.P50, TurnaroundP90: s.Turnaround.P90, GeneratedAt: d.Screenings.Clock.Now(),
	})
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", `inline; filename="aura-campaign-`+s.From.UTC().Format("20060102")+"-"+
		s.To.UTC().Add(-time.Nanosecond).Format("20060102")+`.pdf"`)
	c.Data(http.StatusOK, "application/pdf", buf.Bytes())
	return nil
}
