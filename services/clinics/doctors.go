package clinics

import (
	"context"
	"errors"
	"strings"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// DoctorInput is what an admin gives when attaching a doctor.
type DoctorInput struct {
	LicenseNo      string
	Specialization *string
}

// DoctorView is a doctor profile with the account's name and email.
type DoctorView struct {
	Doctor   *models.Doctor
	FullName string
	Email    string
}

// Attach makes the DOCTOR account userID a doctor of the clinic with the
// license number and specialization given (ADMIN); repeating it updates the
// fields. Unknown clinic: NOT_FOUND; an account that does not hold DOCTOR:
// VALIDATION_FAILED on userId; a license number another doctor has: CONFLICT.
func (s *Service) Attach(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, userID string, in DoctorInput) (*DoctorView, error) {
	if err := policy.Can(a, policy.PermDoctorsAttach); err != nil {
		return nil, err
	}
	details := map[string]string{}
	license := strings.TrimSpace(in.LicenseNo)
	if msg := models.CheckText(license, 1, 100, false); msg != "" {
		details["licenseNo"] = msg
	}
	var spec *string
	if in.Specialization != nil {
		v := strings.TrimSpace(*in.Specialization)
		if msg := models.CheckText(v, 0, 200, false); msg != "" {
			details["specialization"] = msg
		} else if v != "" {
			spec = &v
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	now := s.Clock.Now()
	var out *DoctorView
	err := st.Tx(func(tx *repositories.Store) error {
		if _, err := tx.Clinics.ByID(clinicID); err != nil {
			return err
		}
		u, err := tx.Users.ByID(userID)
		if errors.Is(err, models.ErrNotFound) || (err == nil && !u.HasRole(models.RoleDoctor)) {
			return models.Invalid(map[string]string{"userId": "must be an account that holds the DOCTOR role"})
		}
		if err != nil {
			return err
		}
		d := &models.Doctor{UserID: userID, LicenseNo: license, LicenseKey: models.FoldKey(license),
			Specialization: spec, CreatedAt: now, UpdatedAt: now}
		if err := tx.Doctors.Upsert(d); err != nil {
			return err
		}
		if err := tx.Members.Add(clinicID, userID, models.RoleDoctor, now); err != nil {
			return err
		}
		if err := audit.Record(tx, a, models.RoleAdmin, models.AuditDoctorAttach, models.EntityClinic, clinicID, now); err != nil {
			return err
		}
		out, err = view(tx, u)
		return err
	})
	return out, conflict(err, "Another doctor has this license number")
}

// Detach ends the doctor's membership of the clinic (ADMIN): the cases the
// doctor had claimed there go back to awaiting_review. Not a member:
// NOT_FOUND.
func (s *Service) Detach(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, userID string) error {
	if err := policy.Can(a, policy.PermDoctorsAttach); err != nil {
		return err
	}
	now := s.Clock.Now()
	return st.Tx(func(tx *repositories.Store) error {
		if err := tx.Members.Remove(clinicID, userID, models.RoleDoctor); err != nil {
			return err
		}
		released, err := tx.Screenings.ReleaseClaims(clinicID, userID, now)
		if err != nil {
			return err
		}
		for _, id := range released {
			if err := audit.Record(tx, a, models.RoleAdmin, models.AuditRelease, models.EntityScreening, id, now); err != nil {
				return err
			}
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditDoctorDetach, models.EntityClinic, clinicID, now)
	})
}

// Me is the caller's own doctor profile (DOCTOR). A DOCTOR account not yet
// attached to any clinic has an empty profile: no license, no clinics.
func (s *Service) Me(ctx context.Context, st *repositories.Store, a models.Actor) (*DoctorView, error) {
	if err := policy.Can(a, policy.PermDoctorProfile); err != nil {
		return nil, err
	}
	u, err := st.Users.ByID(a.UserID)
	if err != nil {
		return nil, err
	}
	return view(st, u)
}

func view(st *repositories.Store, u *models.User) (*DoctorView, error) {
	d, err := st.Doctors.ByUserID(u.ID)
	if errors.Is(err, models.ErrNotFound) {
		d, err = &models.Doctor{UserID: u.ID, Clinics: []models.Clinic{}}, nil
	}
	if err != nil {
		return nil, err
	}
	name := u.Email
	if u.FullName != nil && *u.FullName != "" {
		name = *u.FullName
	} else if i := strings.IndexByte(u.Email, '@'); i > 0 {
		name = u.Email[:i]
	}
	return &DoctorView{Doctor: d, FullName: name, Email: u.Email}, nil
}
