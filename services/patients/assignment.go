package patients

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// Assign makes doctorID the doctor who follows record patientID in
// clinicID (CLINIC_ADMIN of it, ADMIN), or, with doctorID "", clears the
// assignment (unassign). The doctor must be a DOCTOR member of the clinic
// (an active account holding DOCTOR): else VALIDATION_FAILED naming
// doctorId; a record not enrolled in the clinic is NOT_FOUND. A clinic that
// is not active may still assign: it is its own bookkeeping, and takes no
// screening. The change is audited (patient.assign, patient.unassign) and
// the record returned as the clinic's list shows it.
func (s *Service) Assign(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, patientID, doctorID string, unassign bool) (*repositories.ClinicPatientRow, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermPatientsAssign); err != nil {
		return nil, err
	}
	if _, err := st.Clinics.ByID(clinicID); err != nil {
		return nil, err
	}
	var doctor *string
	if !unassign {
		if _, err := uuid.Parse(doctorID); err != nil || len(doctorID) != 36 {
			return nil, models.Invalid(map[string]string{"doctorId": "must be the user id of a DOCTOR of the clinic"})
		}
		d := strings.ToLower(doctorID)
		doctor = &d
	}
	staff := a.UserID
	if a.Has(models.RoleAdmin) {
		staff = ""
	}
	var out *repositories.ClinicPatientRow
	err := st.Tx(func(tx *repositories.Store) error {
		enrolled, err := tx.Patients.Enrolled(clinicID, patientID)
		if err != nil {
			return err
		}
		if !enrolled {
			return models.ErrNotFound
		}
		action := models.AuditPatientUnassign
		if doctor != nil {
			ok, err := tx.Members.IsDoctorOf(clinicID, *doctor)
			if err != nil {
				return err
			}
			if !ok {
				return models.Invalid(map[string]string{"doctorId": "must be the user id of a DOCTOR of the clinic"})
			}
			action = models.AuditPatientAssign
		}
		if ok, err := tx.Patients.Assign(clinicID, patientID, doctor); err != nil {
			return err
		} else if !ok {
			return models.ErrNotFound
		}
		if out, err = tx.Patients.InClinicOne(clinicID, patientID, staff); err != nil {
			return err
		}
		return audit.Record(tx, a, staffRole(a), action, models.EntityPatient, patientID, s.Clock.Now())
	})
	return out, err
}

// DoctorQuery is a doctor's patient list filter as typed: RiskLevel a
// comma-separated list.
type DoctorQuery struct {
	Q, RiskLevel   string
	Page, PageSize int
}

// OfDoctor is a page of the caller's patients (DOCTOR): those assigned to
// them, or with a screening they reviewed, in the clinics where they are a
// DOCTOR member now (a doctor who left a clinic no longer sees its
// patients), each once, with the latest risk level and assigned doctor of
// its enrolment (the one assigned to the caller if any, else the newest).
// Q and RiskLevel filter as on a clinic's list. The read is audited (one
// patient.list row naming the doctor's account).
func (s *Service) OfDoctor(ctx context.Context, st *repositories.Store, a models.Actor, q DoctorQuery) (repositories.ClinicPatientPage, error) {
	var out repositories.ClinicPatientPage
	if err := policy.Can(a, policy.PermDoctorsPatients); err != nil {
		return out, err
	}
	details := map[string]string{}
	sf := searchFilter(q.Q, q.RiskLevel, details)
	f := repositories.DoctorPatientFilter{NameKey: sf.NameKey, Code: sf.Code, ExternalKey: sf.ExternalKey, RiskLevels: sf.RiskLevels}
	if len(details) > 0 {
		return out, models.Invalid(details)
	}
	err := st.Tx(func(tx *repositories.Store) error {
		var err error
		if out, err = tx.Patients.OfDoctor(a.UserID, f, q.Page, q.PageSize); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleDoctor, models.AuditPatientList, models.EntityUser, a.UserID, s.Clock.Now())
	})
	return out, err
}
