package screenings

import (
	"context"
	"slices"
	"strings"

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
func doctorScope(a models.Actor) repositories.Scope { return repositories.Scope{DoctorID: a.UserID} }

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
	if len(details) > 0 {
		return v, models.Invalid(details)
	}
	return v, nil
}

// Review records the verdict of the doctor holding the claim; the review is
// final. The patient is told in the app and by email (through the outbox,
// in the same transaction). Not held by the caller: NOT_CLAIMED; already
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
			if err := tx.Notifications.Add(notifications.New(models.NoticeReviewed, row.PatientID, id, row.ClinicName, row.Lang, s.Clock)); err != nil {
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
