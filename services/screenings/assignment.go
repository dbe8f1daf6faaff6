package screenings

import (
	"time"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
)

// caseFor decides, in the transaction that records the analysis of row,
// who is told the case waits: when the patient has a doctor assigned in
// the screening's clinic who may still take its cases (an active account
// holding DOCTOR, still a DOCTOR member there), the screening goes straight
// to in_review held by that doctor (reviewer and claim time set, audited as
// their claim, by the system) and only they are told; otherwise it waits
// in awaiting_review for any doctor of the clinic, and all are told.
func (s *Service) caseFor(tx *repositories.Store, row *repositories.ScreeningRow, now time.Time) ([]repositories.Member, error) {
	d, err := tx.Patients.AssignedDoctor(row.ClinicID, row.PatientID)
	if err != nil {
		return nil, err
	}
	if d != nil {
		ok, err := tx.Screenings.Claim(row.ID, d.UserID, now)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := audit.Record(tx, models.Actor{}, "", models.AuditClaim, models.EntityScreening, row.ID, now); err != nil {
				return nil, err
			}
			return []repositories.Member{*d}, nil
		}
	}
	return tx.Clinics.MembersOf(row.ClinicID)
}
