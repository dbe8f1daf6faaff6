// Package patients holds the rules of patient profiles: a profile per
// PATIENT account, made on first use with an AURA-given patient code, the
// patient's own changes, and the reads of doctors and admins, which the
// visibility policy scopes and the audit trail records.
package patients

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// Service applies the patient rules.
type Service struct{ Clock models.Clock }

// codeAlphabet has no letters that read like digits or each other aloud
// (no I, L, O, U, 0, 1): 30 symbols, 8 drawn at random = 39 bits.
const codeAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"

// NewCode draws a patient code such as "AU-7K3M-9QX2": short, readable aloud
// and on paper, and random, so codes are not guessable in sequence.
func NewCode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	out := []byte("AU-....-....")
	j := 3
	for i := range b {
		if j == 7 {
			j++
		}
		out[j] = codeAlphabet[int(b[i])%len(codeAlphabet)]
		j++
	}
	return string(out)
}

// Ensure makes the profile of userID if it has none yet.
func (s *Service) Ensure(st *repositories.Store, userID string) error {
	var err error
	for range 5 { // a code drawn twice among 30^8: draw again
		if err = st.Patients.Ensure(userID, NewCode(), s.Clock.Now()); !errors.Is(err, models.ErrConflict) {
			return err
		}
	}
	return err
}

// Me is the caller's own profile (PATIENT), made on first use.
func (s *Service) Me(ctx context.Context, st *repositories.Store, a models.Actor) (*models.Patient, error) {
	if err := policy.Can(a, policy.PermOwnProfile); err != nil {
		return nil, err
	}
	if err := s.Ensure(st, a.UserID); err != nil {
		return nil, err
	}
	return st.Patients.ByUser(a.UserID)
}

// Get is a patient's profile as a doctor of one of the clinics the patient
// sent a screening to, or an admin, sees it (the read is audited); not
// visible: NOT_FOUND, as for an unknown id. Patients use Me.
func (s *Service) Get(ctx context.Context, st *repositories.Store, a models.Actor, userID string) (*models.Patient, error) {
	if err := policy.Can(a, policy.PermPatientsRead); err != nil {
		return nil, err
	}
	var p *models.Patient
	err := st.Tx(func(tx *repositories.Store) error {
		scope := policy.Scope(a)
		var err error
		p, err = tx.Patients.Get(userID, scope)
		if errors.Is(err, models.ErrNotFound) && scope.All {
			// An admin may look at a PATIENT account that has not used its
			// profile yet: it is made now, as on the patient's first use.
			if u, uerr := tx.Users.ByID(userID); uerr == nil && u.HasRole(models.RolePatient) {
				if err = s.Ensure(tx, userID); err == nil {
					p, err = tx.Patients.Get(userID, scope)
				}
			}
		}
		if err != nil {
			return err
		}
		if role := policy.AuditRole(a, userID); role != "" {
			return audit.Record(tx, a, role, models.AuditPatientRead, models.EntityPatient, userID, s.Clock.Now())
		}
		return nil
	})
	return p, err
}

// History is the medical-history part of a change; unset fields stay.
type History struct {
	Diabetes          models.Opt[bool]
	DiabetesSinceYear models.Opt[int]
	Hypertension      models.Opt[bool]
	Notes             models.Opt[string]
}

// Change is a patient's change of their own profile.
type Change struct {
	DateOfBirth    models.Opt[string]
	Sex            models.Opt[string]
	MedicalHistory History
	// ResearchConsent is the patient's consent to the research export
	// (true or false; null is refused).
	ResearchConsent models.Opt[bool]
}

// UpdateMe validates ch and applies it to the caller's profile (PATIENT).
func (s *Service) UpdateMe(ctx context.Context, st *repositories.Store, a models.Actor, ch Change) (*models.Patient, error) {
	if err := policy.Can(a, policy.PermOwnProfile); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	upd, err := s.check(ch, now)
	if err != nil {
		return nil, err
	}
	if err := s.Ensure(st, a.UserID); err != nil {
		return nil, err
	}
	var p *models.Patient
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Patients.Update(a.UserID, upd, now); err != nil {
			return err
		}
		if err := audit.Record(tx, a, models.RolePatient, models.AuditPatientUpdate, models.EntityPatient, a.UserID, now); err != nil {
			return err
		}
		p, err = tx.Patients.ByUser(a.UserID)
		return err
	})
	return p, err
}

func (s *Service) check(ch Change, now time.Time) (repositories.PatientChanges, error) {
	details := map[string]string{}
	upd := repositories.PatientChanges{Diabetes: ch.MedicalHistory.Diabetes, Hypertension: ch.MedicalHistory.Hypertension}
	if o := ch.DateOfBirth; o.Set {
		upd.DateOfBirth = o
		if !o.Null {
			d, err := time.Parse(time.DateOnly, o.Value)
			switch {
			case err != nil || d.Format(time.DateOnly) != o.Value:
				details["dateOfBirth"] = "must be a real day written YYYY-MM-DD"
			case d.Year() < 1900:
				details["dateOfBirth"] = "must not be before 1900"
			case d.After(now):
				details["dateOfBirth"] = "must not be in the future"
			}
		}
	}
	if o := ch.Sex; o.Set {
		upd.Sex = o
		if !o.Null && o.Value != "female" && o.Value != "male" && o.Value != "other" {
			details["sex"] = "must be female, male or other"
		}
	}
	if o := ch.MedicalHistory.DiabetesSinceYear; o.Set {
		upd.DiabetesSinceYear = o
		if !o.Null && (o.Value < 1900 || o.Value > now.Year()) {
			details["medicalHistory.diabetesSinceYear"] = "must be a year from 1900 to this year"
		}
	}
	if o := ch.MedicalHistory.Notes; o.Set {
		upd.HistoryNotes = o
		if !o.Null {
			v := strings.TrimSpace(o.Value)
			upd.HistoryNotes.Value = v
			if msg := models.CheckText(v, 0, 2000, true); msg != "" {
				details["medicalHistory.notes"] = msg
			} else if v == "" {
				upd.HistoryNotes = models.Opt[string]{Set: true, Null: true}
			}
		}
	}
	if o := ch.ResearchConsent; o.Set {
		upd.ResearchConsent = o
		if o.Null {
			details["researchConsent"] = "must be true or false"
		}
	}
	if len(details) > 0 {
		return upd, models.Invalid(details)
	}
	return upd, nil
}
