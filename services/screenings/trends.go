package screenings

import (
	"context"
	"time"

	"aura/analysis"
	"aura/analysis/risk"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/patients"
	"aura/services/policy"
)

// TrendPoint is one gradable result of a patient's eye.
type TrendPoint struct {
	ScreeningID string
	// TakenAt is when the photograph was taken: the DICOM acquisition time
	// when the upload carried one, else the upload time.
	TakenAt time.Time
	// Metrics are the measured metrics (a doctor's corrections are not
	// used: a trend compares measurements).
	Metrics *analysis.Metrics
	// RiskLevel is the reviewing doctor's level once reviewed, else the
	// analysis's.
	RiskLevel *string
}

// Trends is one eye of a patient over time.
type Trends struct {
	Eye    string
	Points []TrendPoint
	// Changes are the metrics of the profile's trend thresholds that moved
	// from the first point to the latest by more than the threshold.
	Changes []risk.Change
}

// checkEye is the eye of a trend query: left or right.
func checkEye(eye string) error {
	switch eye {
	case "left", "right":
		return nil
	case "":
		return models.Invalid(map[string]string{"eye": "is required (left or right)"})
	}
	return models.Invalid(map[string]string{"eye": "must be left or right"})
}

// PatientTrends is the trend of one eye of the patient record id, for the
// staff and admins who may see the patient (as GET /api/patients/{id};
// audited); its points are the gradable results the caller may read the
// results of (the screenings of the clinics where they read results),
// oldest first. Not visible: NOT_FOUND.
func (s *Service) PatientTrends(ctx context.Context, st *repositories.Store, a models.Actor, id, eye string) (Trends, error) {
	if err := policy.Can(a, policy.PermPatientsRead); err != nil {
		return Trends{}, err
	}
	if err := checkEye(eye); err != nil {
		return Trends{}, err
	}
	var out Trends
	err := st.Tx(func(tx *repositories.Store) error {
		p, err := tx.Patients.Get(id, policy.Scope(a))
		if err != nil {
			return err
		}
		if out, err = s.trends(tx, a, p.ID, eye); err != nil {
			return err
		}
		if role := policy.AuditRole(a, models.Deref(p.UserID)); role != "" {
			return audit.Record(tx, a, role, models.AuditTrendsRead, models.EntityPatient, p.ID, s.Clock.Now())
		}
		return nil
	})
	return out, err
}

// MyTrends is the trend of one eye of the caller's own record (PATIENT).
func (s *Service) MyTrends(ctx context.Context, st *repositories.Store, a models.Actor, eye string) (Trends, error) {
	if err := policy.Can(a, policy.PermOwnProfile); err != nil {
		return Trends{}, err
	}
	if err := checkEye(eye); err != nil {
		return Trends{}, err
	}
	if err := (&patients.Service{Clock: s.Clock}).Ensure(st, a.UserID); err != nil {
		return Trends{}, err
	}
	p, err := st.Patients.ByUser(a.UserID)
	if err != nil {
		return Trends{}, err
	}
	return s.trends(st, a, p.ID, eye)
}

// trends reads the points and compares the first with the latest.
func (s *Service) trends(st *repositories.Store, a models.Actor, patientID, eye string) (Trends, error) {
	out := Trends{Eye: eye, Points: []TrendPoint{}, Changes: []risk.Change{}}
	rows, err := st.Screenings.Gradable(patientID, eye, policy.ResultsScope(a), "")
	if err != nil {
		return out, err
	}
	for i := range rows {
		v := ViewOf(rows[i].Analysis)
		if v == nil || v.Metrics == nil {
			continue
		}
		level := v.RiskLevel
		if rows[i].ReviewRiskLevel != nil {
			level = rows[i].ReviewRiskLevel
		}
		out.Points = append(out.Points, TrendPoint{ScreeningID: rows[i].ID, TakenAt: repositories.TakenAt(&rows[i]),
			Metrics: v.Metrics, RiskLevel: level})
	}
	if len(out.Points) < 2 {
		return out, nil
	}
	profile, err := CurrentProfile(st)
	if err != nil {
		return out, err
	}
	out.Changes = risk.Changes(profile.Trends, *out.Points[0].Metrics, *out.Points[len(out.Points)-1].Metrics)
	return out, nil
}
