// Package stats counts the screenings of a doctor, a clinic or all
// clinics over a range of days: every figure is computed in SQL, on
// indexed columns, at the moment it is asked (nothing is cached). The
// figures are counts about the work of the staff, not patient data: they
// name no patient and are not audited, but who may read them is decided
// by the permission table (services/policy) like everything else.
package stats

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/exports"
	"aura/services/policy"
)

// DefaultRange is the range counted when from is absent: the 30 days
// before to (to absent: now).
const DefaultRange = 30 * 24 * time.Hour

// Service holds the rules of the statistics.
type Service struct {
	Clock models.Clock
}

// RangeQuery is a range as typed: from and to are days (YYYY-MM-DD, UTC;
// to's day included) or RFC 3339 instants, each optional.
type RangeQuery struct{ From, To string }

// Range is a parsed range: screenings created in [From, To).
type Range struct{ From, To time.Time }

// ParseRange reads q at now: to absent is now, from absent is DefaultRange
// before to. An unreadable bound, a to not after from, or a range longer
// than exports.MaxRange (a year, leap day included) is VALIDATION_FAILED naming the field.
func ParseRange(q RangeQuery, now time.Time) (Range, error) {
	details := map[string]string{}
	r := Range{To: now.UTC()}
	if q.To != "" {
		t, err := exports.Instant(q.To, true)
		if err != nil {
			details["to"] = err.Error()
		}
		r.To = t
	}
	if q.From != "" {
		f, err := exports.Instant(q.From, false)
		if err != nil {
			details["from"] = err.Error()
		}
		r.From = f
	} else {
		r.From = r.To.Add(-DefaultRange)
	}
	if len(details) == 0 {
		exports.CheckRange(r.From, r.To, details)
	}
	if len(details) > 0 {
		return Range{}, models.Invalid(details)
	}
	return r, nil
}

// Percentiles are the 50th and 90th percentile of a duration in minutes
// (nearest rank; nil when nothing was measured).
type Percentiles struct {
	P50, P90 *float64
}

// Doctor is a doctor's own statistics.
type Doctor struct {
	Range
	// Reviewed and InReview count the screenings created in the range
	// that the doctor reviewed, and holds now.
	Reviewed, InReview int64
	// MedianReviewMinutes: from the doctor's claim to the review, of the
	// reviewed ones (nil when none).
	MedianReviewMinutes *float64
	// ByRiskLevel counts the doctor's reviews by the level given, every
	// level present (0 when none).
	ByRiskLevel map[string]int64
	// Agreement is the share of the doctor's reviews of a rated analysis
	// whose level equals the analysis's (nil when there is none).
	Agreement *float64
}

// Clinic is the statistics of a clinic, or of all clinics.
type Clinic struct {
	Range
	Screenings int64
	// ByStatus counts the screenings by status, every status present.
	ByStatus map[string]int64
	// ByRiskLevel counts them by level (the review's when reviewed, else
	// the analysis's), every level present; screenings with neither are
	// not counted here.
	ByRiskLevel map[string]int64
	// Patients is the number of distinct patients of the screenings.
	Patients int64
	// Turnaround is the minutes from the upload to the review, of the
	// reviewed screenings.
	Turnaround Percentiles
	// AnalysesUsed counts the screenings whose analysis was recorded.
	AnalysesUsed int64
	// OpenAlerts counts the clinic's alerts not resolved yet (open or
	// acknowledged), now: whatever the range.
	OpenAlerts int64
}

// ClinicLine is one clinic's line of the admin's statistics.
type ClinicLine struct {
	ClinicID, Name string
	Screenings     int64
	ByStatus       map[string]int64
	ByRiskLevel    map[string]int64
	Patients       int64
	AnalysesUsed   int64
}

// All is the admin's statistics: the clinics' together, then each.
type All struct {
	Clinic
	PerClinic []ClinicLine
	// FailureRate is the share of the finished analyses (recorded or
	// failed) that failed; nil when none finished.
	FailureRate *float64
	// AnalyzerVersions counts the recorded analyses by analyzer version.
	AnalyzerVersions []repositories.AnalyzerUse
}

func zeroes(keys []string) map[string]int64 {
	m := make(map[string]int64, len(keys))
	for _, k := range keys {
		m[k] = 0
	}
	return m
}

// round1 keeps a tenth of a minute: the engines' clocks agree to that.
func round1(v *float64) *float64 {
	if v == nil {
		return nil
	}
	r := math.Round(*v*10) / 10
	return &r
}

// DoctorMe is the calling doctor's statistics over the range.
func (s *Service) DoctorMe(ctx context.Context, st *repositories.Store, a models.Actor, q RangeQuery) (*Doctor, error) {
	if err := policy.Can(a, policy.PermStatsOwn); err != nil {
		return nil, err
	}
	r, err := ParseRange(q, s.Clock.Now())
	if err != nil {
		return nil, err
	}
	f := repositories.StatsFilter{ReviewerID: a.UserID, From: r.From, To: r.To}
	groups, err := st.StatsGroups(f)
	if err != nil {
		return nil, err
	}
	out := &Doctor{Range: r, ByRiskLevel: zeroes(models.RiskLevels)}
	var agreed, rated int64
	for _, g := range groups {
		switch g.Status {
		case models.StatusReviewed:
			out.Reviewed += g.N
			if g.Level != nil {
				out.ByRiskLevel[*g.Level] += g.N
			}
			agreed += g.Agreed
			rated += g.Rated
		case models.StatusInReview:
			out.InReview += g.N
		}
	}
	if rated > 0 {
		v := float64(agreed) / float64(rated)
		out.Agreement = &v
	}
	ps, err := st.StatsPercentiles(f, "claimed_at", "reviewed_at", 50)
	if err != nil {
		return nil, err
	}
	out.MedianReviewMinutes = round1(ps[0])
	return out, nil
}

// clinicFigures fills the figures of the screenings f picks.
func clinicFigures(st *repositories.Store, f repositories.StatsFilter, r Range, groups []repositories.StatsGroup) (Clinic, error) {
	c := Clinic{Range: r, ByStatus: zeroes(models.Statuses), ByRiskLevel: zeroes(models.RiskLevels)}
	for _, g := range groups {
		c.Screenings += g.N
		c.ByStatus[g.Status] += g.N
		if g.Level != nil {
			c.ByRiskLevel[*g.Level] += g.N
		}
		c.AnalysesUsed += g.Analysed
	}
	ps, err := st.StatsPercentiles(f, "created_at", "reviewed_at", 50, 90)
	if err != nil {
		return c, err
	}
	c.Turnaround = Percentiles{P50: round1(ps[0]), P90: round1(ps[1])}
	return c, nil
}

// ClinicOf is the statistics of clinicID over the range: its CLINIC_ADMIN
// or ADMIN (another clinic's staff: NOT_FOUND, as an unknown clinic).
func (s *Service) ClinicOf(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, q RangeQuery) (*Clinic, error) {
	c, _, err := s.Campaign(ctx, st, a, clinicID, q)
	return c, err
}

// Campaign is ClinicOf with the clinic itself, for the campaign report.
func (s *Service) Campaign(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, q RangeQuery) (*Clinic, *models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsAdminister); err != nil {
		return nil, nil, err
	}
	r, err := ParseRange(q, s.Clock.Now())
	if err != nil {
		return nil, nil, err
	}
	if _, err := uuid.Parse(clinicID); err != nil {
		return nil, nil, models.ErrNotFound
	}
	if err := policy.CanIn(st, a, clinicID, policy.PermClinicsAdminister); err != nil {
		return nil, nil, err
	}
	clinic, err := st.Clinics.ByID(clinicID)
	if err != nil {
		return nil, nil, err
	}
	f := repositories.StatsFilter{ClinicID: clinicID, From: r.From, To: r.To}
	groups, err := st.StatsGroups(f)
	if err != nil {
		return nil, nil, err
	}
	c, err := clinicFigures(st, f, r, groups)
	if err != nil {
		return nil, nil, err
	}
	if c.Patients, _, err = st.StatsPatients(f); err != nil {
		return nil, nil, err
	}
	if c.OpenAlerts, err = st.Alerts.OpenCount(clinicID); err != nil {
		return nil, nil, err
	}
	return &c, clinic, nil
}

// Everything is the statistics of all clinics over the range (ADMIN).
func (s *Service) Everything(ctx context.Context, st *repositories.Store, a models.Actor, q RangeQuery) (*All, error) {
	if err := policy.Can(a, policy.PermStatsAll); err != nil {
		return nil, err
	}
	r, err := ParseRange(q, s.Clock.Now())
	if err != nil {
		return nil, err
	}
	f := repositories.StatsFilter{From: r.From, To: r.To}
	groups, err := st.StatsGroups(f)
	if err != nil {
		return nil, err
	}
	c, err := clinicFigures(st, f, r, groups)
	if err != nil {
		return nil, err
	}
	if c.OpenAlerts, err = st.Alerts.OpenCount(""); err != nil {
		return nil, err
	}
	out := &All{Clinic: c}
	total, per, err := st.StatsPatients(f)
	if err != nil {
		return nil, err
	}
	out.Patients = total
	lines := map[string]*ClinicLine{}
	for _, g := range groups {
		l := lines[g.ClinicID]
		if l == nil {
			l = &ClinicLine{ClinicID: g.ClinicID, ByStatus: zeroes(models.Statuses), ByRiskLevel: zeroes(models.RiskLevels)}
			lines[g.ClinicID] = l
		}
		l.Screenings += g.N
		l.ByStatus[g.Status] += g.N
		if g.Level != nil {
			l.ByRiskLevel[*g.Level] += g.N
		}
		l.AnalysesUsed += g.Analysed
	}
	for _, p := range per {
		if l := lines[p.ClinicID]; l != nil {
			l.Patients = p.N
		}
	}
	if len(lines) > 0 {
		ids := make([]string, 0, len(lines))
		for id := range lines {
			ids = append(ids, id)
		}
		names, err := st.Clinics.Names(ids)
		if err != nil {
			return nil, err
		}
		for id, l := range lines {
			l.Name = names[id]
			out.PerClinic = append(out.PerClinic, *l)
		}
	}
	sort.Slice(out.PerClinic, func(i, j int) bool {
		a, b := out.PerClinic[i], out.PerClinic[j]
		if a.Screenings != b.Screenings {
			return a.Screenings > b.Screenings
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ClinicID < b.ClinicID
	})
	if finished := c.AnalysesUsed + c.ByStatus[models.StatusFailed]; finished > 0 {
		v := float64(c.ByStatus[models.StatusFailed]) / float64(finished)
		out.FailureRate = &v
	}
	if out.AnalyzerVersions, err = st.AnalyzerUsesIn(f); err != nil {
		return nil, err
	}
	out.PerClinic = slices.Clip(out.PerClinic)
	return out, nil
}
