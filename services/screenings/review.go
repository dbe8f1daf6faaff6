package screenings

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"aura/analysis"

	"github.com/google/uuid"

	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/notifications"
	"aura/services/policy"
)

// doctorScope is what a doctor may act on: the screenings of their clinics
// (an admin's wider view does not make them a reviewer).
func doctorScope(a models.Actor) repositories.Scope { return policy.ReviewScope(a) }

// step runs a review step (claim, release, review) for a doctor of the
// screening's clinic: the conditional update change decides; when it did not
// apply, the screening as it is now says which 409 it is (why). The step is
// audited in its transaction.
func (s *Service) step(st *repositories.Store, a models.Actor, id, action string,
	change func(tx *repositories.Store) (bool, error),
	why func(row *repositories.ScreeningRow) error,
	after func(tx *repositories.Store, row *repositories.ScreeningRow) error) (*repositories.ScreeningRow, error) {
	if err := policy.Can(a, policy.PermScreeningsReview); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, models.ErrNotFound
	}
	var out *repositories.ScreeningRow
	err := st.Tx(func(tx *repositories.Store) error {
		row, err := tx.Screenings.Get(id, doctorScope(a))
		if err != nil {
			return err
		}
		// The staff of a clinic that is not active claim and review nothing
		// (giving a claim back is still allowed).
		if action != models.AuditRelease {
			if err := activeClinic(tx, row.ClinicID); err != nil {
				return err
			}
		}
		ok, err := change(tx)
		if err != nil {
			return err
		}
		if !ok {
			if now, err := tx.Screenings.Get(id, doctorScope(a)); err == nil {
				row = now
			}
			if err := why(row); err != nil {
				return err
			}
		}
		if out, err = tx.Screenings.Get(id, doctorScope(a)); err != nil {
			return err
		}
		if ok {
			if err := audit.Record(tx, a, models.RoleDoctor, action, models.EntityScreening, id, s.Clock.Now()); err != nil {
				return err
			}
			if after != nil {
				return after(tx, out)
			}
		}
		return nil
	})
	return out, err
}

// activeClinic is CLINIC_INACTIVE unless the clinic is active.
func activeClinic(tx *repositories.Store, clinicID string) error {
	c, err := tx.Clinics.ByID(clinicID)
	if err != nil {
		return err
	}
	if !c.Active() {
		return models.ErrClinicInactive
	}
	return nil
}

// Claim takes a screening awaiting review for the calling doctor of its
// clinic. Claiming one's own claim again is a success; one held by another
// doctor is ALREADY_CLAIMED; any other status is INVALID_STATE.
func (s *Service) Claim(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*repositories.ScreeningRow, error) {
	return s.step(st, a, id, models.AuditClaim,
		func(tx *repositories.Store) (bool, error) { return tx.Screenings.Claim(id, a.UserID, s.Clock.Now()) },
		func(row *repositories.ScreeningRow) error {
			switch {
			case row.Status == models.StatusInReview && row.ReviewerID != nil && *row.ReviewerID == a.UserID:
				return nil
			case row.Status == models.StatusInReview:
				return models.ErrAlreadyClaimed
			}
			return models.ErrInvalidState
		}, nil)
}

// Release gives the caller's claim back (awaiting_review again); a screening
// the caller does not hold is NOT_CLAIMED, a reviewed one INVALID_STATE.
func (s *Service) Release(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*repositories.ScreeningRow, error) {
	return s.step(st, a, id, models.AuditRelease,
		func(tx *repositories.Store) (bool, error) { return tx.Screenings.Release(id, a.UserID, s.Clock.Now()) },
		func(row *repositories.ScreeningRow) error {
			if row.Status == models.StatusReviewed {
				return models.ErrInvalidState
			}
			return models.ErrNotClaimed
		}, nil)
}

// ReviewInput is a doctor's verdict as typed.
type ReviewInput struct {
	RiskLevel      string
	Notes          *string
	Recommendation string
	// AnalysisAgreement (agree, partial, disagree) and CorrectedMetrics
	// (metric name -> the doctor's value) are optional.
	AnalysisAgreement *string
	CorrectedMetrics  map[string]*float64
	// Feedback is the doctor's free text on the analysis (at most 2000
	// characters; new lines allowed, other control characters not).
	Feedback *string
}

// CorrectedMetrics reads the stored corrections; nil when there are none.
func CorrectedMetrics(js *string) map[string]float64 {
	if js == nil {
		return nil
	}
	var m map[string]float64
	if err := json.Unmarshal([]byte(*js), &m); err != nil || len(m) == 0 {
		return nil
	}
	return m
}

// checkMetric says what is wrong with v as a value of metric name ("" when
// nothing): a fraction is in 0..1, a fractal dimension in 1..2, tortuosity
// at least 1, the widths and calibres positive, AVR positive.
func checkMetric(name string, v *float64) string {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return "must be a finite number"
	}
	x := *v
	switch name {
	case analysis.MetricVesselDensity, analysis.MetricArteryDensity, analysis.MetricVeinDensity:
		if x < 0 || x > 1 {
			return "must be between 0 and 1"
		}
	case analysis.MetricFractalDimension:
		if x < 1 || x > 2 {
			return "must be between 1 and 2"
		}
	case analysis.MetricTortuosity:
		if x < 1 {
			return "must be at least 1"
		}
	default:
		if x <= 0 {
			return "must be greater than 0"
		}
	}
	return ""
}

func (in ReviewInput) check() (repositories.Verdict, error) {
	details := map[string]string{}
	v := repositories.Verdict{RiskLevel: in.RiskLevel, Recommendation: strings.TrimSpace(in.Recommendation)}
	if !slices.Contains(models.RiskLevels, in.RiskLevel) {
		details["riskLevel"] = "must be one of " + strings.Join(models.RiskLevels, ", ")
	}
	if msg := models.CheckText(v.Recommendation, 1, 2000, true); msg != "" {
		details["recommendation"] = msg
	}
	if in.Notes != nil {
		n := strings.TrimSpace(*in.Notes)
		if msg := models.CheckText(n, 0, 4000, true); msg != "" {
			details["notes"] = msg
		} else if n != "" {
			v.Notes = &n
		}
	}
	if in.Feedback != nil {
		fb := strings.TrimSpace(*in.Feedback)
		if msg := models.CheckText(fb, 0, 2000, true); msg != "" {
			details["feedback"] = msg
		} else if strings.ContainsRune(fb, '\t') {
			details["feedback"] = "must not contain control, bidi or invisible characters"
		} else if fb != "" {
			v.Feedback = &fb
		}
	}
	if in.AnalysisAgreement != nil {
		if !slices.Contains(models.Agreements, *in.AnalysisAgreement) {
			details["analysisAgreement"] = "must be one of " + strings.Join(models.Agreements, ", ")
		} else {
			v.AnalysisAgreement = in.AnalysisAgreement
		}
	}
	if len(in.CorrectedMetrics) > len(analysis.MetricNames()) {
		details["correctedMetrics"] = "has more entries than there are metrics"
	} else if len(in.CorrectedMetrics) > 0 {
		out := map[string]float64{}
		for name, val := range in.CorrectedMetrics {
			shown := name
			if r := []rune(shown); len(r) > 40 {
				shown = string(r[:40])
			}
			field := "correctedMetrics." + shown
			if !analysis.IsMetric(name) {
				details[field] = fmt.Sprintf("unknown metric %q; one of %s", shown, strings.Join(analysis.MetricNames(), ", "))
				continue
			}
			if msg := checkMetric(name, val); msg != "" {
				details[field] = msg
				continue
			}
			out[name] = *val
		}
		b, _ := json.Marshal(out)
		js := string(b)
		v.CorrectedMetrics = &js
	}
	if len(details) > 0 {
		return v, models.Invalid(details)
	}
	return v, nil
}

// Review records the verdict of the doctor holding the claim; the review is
// final. The patient is told in the app and by email (through the outbox,
// in the same transaction) when their record has an account. Not held by the caller: NOT_CLAIMED; already
// reviewed: INVALID_STATE.
func (s *Service) Review(ctx context.Context, st *repositories.Store, a models.Actor, id string, in ReviewInput) (*repositories.ScreeningRow, error) {
	if err := policy.Can(a, policy.PermScreeningsReview); err != nil {
		return nil, err
	}
	v, err := in.check()
	if err != nil {
		return nil, err
	}
	return s.step(st, a, id, models.AuditReview,
		func(tx *repositories.Store) (bool, error) {
			return tx.Screenings.Review(id, a.UserID, v, s.Clock.Now())
		},
		func(row *repositories.ScreeningRow) error {
			if row.Status == models.StatusReviewed {
				return models.ErrInvalidState
			}
			return models.ErrNotClaimed
		},
		func(tx *repositories.Store, row *repositories.ScreeningRow) error {
			if row.PatientUserID == nil {
				// A record without an account: no inbox, and no email
				// (the link needs a sign-in; the clinic tells the patient).
				return nil
			}
			if err := tx.Notifications.Add(notifications.New(models.NoticeReviewed, *row.PatientUserID, id, row.ClinicName, row.Lang, s.Clock)); err != nil {
				return err
			}
			name := row.PatientEmail
			if row.PatientName != nil && *row.PatientName != "" {
				name = *row.PatientName
			}
			msg, err := mail.Compose(models.MailScreeningReviewed, row.PatientEmail, mail.Data{
				Name: name, Link: strings.TrimRight(s.Settings.FrontendURL, "/") + "/screenings/" + id, Lang: row.Lang,
			}, s.Clock.Now())
			if err != nil {
				return err
			}
			return tx.Outbox.Enqueue(msg)
		})
}
