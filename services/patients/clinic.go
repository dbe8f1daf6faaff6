package patients

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
	"aura/services/audit"
	"aura/services/policy"
)

// Enrolment is a clinic's enrolment of a person who need not have an
// account, as typed.
type Enrolment struct {
	FullName    string
	DateOfBirth models.Opt[string]
	Sex         models.Opt[string]
	ExternalID  *string
	Email       *string
	Phone       *string
}

// Enrol records a patient of clinicID (staff of it, TECHNICIAN too, or
// ADMIN): a new record without an account, enrolled in the clinic. An
// external number already used in the clinic is CONFLICT; a clinic that is
// not active takes no new patients (CLINIC_INACTIVE).
func (s *Service) Enrol(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, in Enrolment) (*models.Patient, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermPatientsEnrol); err != nil {
		return nil, err
	}
	c, err := st.Clinics.ByID(clinicID)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	details := map[string]string{}
	name := strings.TrimSpace(in.FullName)
	if msg := models.CheckText(name, 1, 255, false); msg != "" {
		details["fullName"] = msg
	}
	ch, err := s.check(Change{DateOfBirth: in.DateOfBirth, Sex: in.Sex}, now)
	var inv *models.Error
	if errors.As(err, &inv) {
		for k, v := range inv.Details {
			details[k] = v
		}
	}
	var ext, extKey, email, phone *string
	if in.ExternalID != nil {
		v := strings.TrimSpace(*in.ExternalID)
		if msg := models.CheckText(v, 1, 100, false); msg != "" {
			details["externalId"] = msg
		} else {
			k := models.FoldKey(v)
			ext, extKey = &v, &k
		}
	}
	if in.Email != nil && strings.TrimSpace(*in.Email) != "" {
		if stored, _, err := models.NormalizeEmail(*in.Email); err != nil {
			details["email"] = "must be an email address"
		} else {
			email = &stored
		}
	}
	if in.Phone != nil && strings.TrimSpace(*in.Phone) != "" {
		v := strings.TrimSpace(*in.Phone)
		if !accounts.ValidPhone(v) {
			details["phone"] = "must be a phone number: at most 32 characters, at least 3 digits, only digits, spaces and + - ( ) ."
		} else {
			phone = &v
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	if !c.Active() {
		return nil, models.ErrClinicInactive
	}
	p := &models.Patient{ID: uuid.NewString(), RecordName: &name, RecordEmail: email, RecordPhone: phone,
		NameKey: models.SearchKey(name), DateOfBirth: optValue(ch.DateOfBirth), Sex: optValue(ch.Sex), CreatedAt: now, UpdatedAt: now}
	err = st.Tx(func(tx *repositories.Store) error {
		if extKey != nil {
			taken, err := tx.Patients.ExternalTaken(clinicID, *extKey)
			if err != nil {
				return err
			}
			if taken {
				return externalTaken()
			}
		}
		for attempt := 0; ; attempt++ {
			p.PatientCode = NewCode()
			err := tx.Tx(func(sp *repositories.Store) error {
				if err := sp.Patients.Create(p); err != nil {
					return err
				}
				return sp.Patients.Enrol(&models.ClinicPatient{ClinicID: clinicID, PatientID: p.ID, ExternalID: ext, ExternalKey: extKey, CreatedAt: now})
			})
			if !errors.Is(err, models.ErrConflict) || attempt == 4 {
				if err != nil && errors.Is(err, models.ErrConflict) && extKey != nil {
					// Two enrolments of one number at once: one wins.
					return externalTaken()
				}
				if err != nil {
					return err
				}
				break
			}
		}
		return audit.Record(tx, a, staffRole(a), models.AuditPatientEnrol, models.EntityPatient, p.ID, now)
	})
	if err != nil {
		return nil, err
	}
	p.FullName, p.ExternalID = name, ext
	p.Clinics = []models.ClinicRef{{ID: c.ID, Name: c.Name}}
	return p, nil
}

func externalTaken() error {
	return models.WithMessage(models.ErrConflict, "This clinic already has a patient with this external id")
}

func optValue[T any](o models.Opt[T]) *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// staffRole is the role a clinic's patient data is reached under: ADMIN
// when held, else the strongest clinic role.
func staffRole(a models.Actor) string {
	return policy.AuditRoleIn(nil, a, "", "", models.RoleAdmin, models.RoleClinicAdmin, models.RoleDoctor, models.RoleTechnician)
}

// ListQuery is a clinic patient list's filter as typed: RiskLevel a
// comma-separated list.
type ListQuery struct {
	Q, RiskLevel, AssignedDoctorID string
	Page, PageSize                 int
}

// List is a page of a clinic's patients (DOCTOR, CLINIC_ADMIN of it,
// ADMIN), newest enrolment first, with their latest risk level and assigned
// doctor. Q matches the patient code, the clinic's external number, or a
// part of the name without regard to case or diacritics. The listing is
// audited (one row naming the clinic).
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, q ListQuery) (repositories.ClinicPatientPage, error) {
	var out repositories.ClinicPatientPage
	if err := policy.CanIn(st, a, clinicID, policy.PermPatientsList); err != nil {
		return out, err
	}
	if _, err := st.Clinics.ByID(clinicID); err != nil {
		return out, err
	}
	details := map[string]string{}
	f := searchFilter(q.Q, q.RiskLevel, details)
	if q.AssignedDoctorID != "" {
		if _, err := uuid.Parse(q.AssignedDoctorID); err != nil || len(q.AssignedDoctorID) != 36 {
			details["assignedDoctorId"] = "must be a user id (UUID)"
		} else {
			f.AssignedDoctorID = strings.ToLower(q.AssignedDoctorID)
		}
	}
	if len(details) > 0 {
		return out, models.Invalid(details)
	}
	staff := a.UserID
	if a.Has(models.RoleAdmin) {
		staff = ""
	}
	err := st.Tx(func(tx *repositories.Store) error {
		var err error
		if out, err = tx.Patients.InClinic(clinicID, f, q.Page, q.PageSize, staff); err != nil {
			return err
		}
		return audit.Record(tx, a, staffRole(a), models.AuditPatientList, models.EntityClinic, clinicID, s.Clock.Now())
	})
	return out, err
}

// searchFilter reads a patient search as typed: q (a patient code, a
// clinic's record number, or a part of a name) and riskLevel (a
// comma-separated list), naming a wrong one in details.
func searchFilter(q, riskLevel string, details map[string]string) repositories.ClinicPatientFilter {
	var f repositories.ClinicPatientFilter
	term := strings.TrimSpace(q)
	if msg := models.CheckText(term, 0, 200, false); msg != "" {
		details["q"] = msg
	} else if term != "" {
		f.NameKey, f.Code, f.ExternalKey = models.SearchKey(term), strings.ToUpper(term), models.FoldKey(term)
	}
	if riskLevel != "" {
		for v := range strings.SplitSeq(riskLevel, ",") {
			v = strings.TrimSpace(v)
			if !slices.Contains(models.RiskLevels, v) {
				details["riskLevel"] = "each must be one of " + strings.Join(models.RiskLevels, ", ")
			} else if !slices.Contains(f.RiskLevels, v) {
				f.RiskLevels = append(f.RiskLevels, v)
			}
		}
	}
	return f
}
