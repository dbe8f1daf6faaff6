// Package policy decides who may see the clinic's data, in one place, for
// every patient-data endpoint:
//
//   - PATIENT: their own profile and screenings;
//   - DOCTOR: screenings sent to a clinic they belong to now, and the
//     profiles of those screenings' patients;
//   - DOCTOR, CLINIC_ADMIN (the clinic roles that carry patients.read in the
//     permission table): the patient records enrolled in a clinic where
//     they hold that role;
//   - ADMIN: everything.
//
// A caller's roles and memberships are read fresh on every request (the
// session check loads the roles; memberships are joined in SQL), so losing
// a role or a membership, or deactivation, takes effect on the next request.
// What a caller may not see answers NOT_FOUND, exactly as a missing id does:
// lists and single reads apply the same Scope inside the query, so a hidden
// and a missing row take the same path. A role that may never call an
// endpoint gets FORBIDDEN, before any lookup.
package policy

import (
	"strings"

	"aura/models"
	"aura/repositories"
)

// Scope is the part of the clinic's data actor may see.
func Scope(a models.Actor) repositories.Scope {
	if a.Has(models.RoleAdmin) {
		return repositories.Scope{All: true}
	}
	var s repositories.Scope
	if a.Has(models.RolePatient) {
		s.PatientID = a.UserID
	}
	if a.Has(models.RoleDoctor) {
		s.DoctorID = a.UserID
	}
	var readers []string
	for _, r := range models.ClinicRoles {
		if a.Has(r) && Allows(r, PermPatientsRead) {
			readers = append(readers, r)
		}
	}
	if len(readers) > 0 {
		s.ReaderID, s.ReaderRoles = a.UserID, strings.Join(readers, ",")
	}
	return s
}

// AuditRole is the role an access to data of patientID is recorded under:
// ADMIN when the actor holds it, else DOCTOR, else CLINIC_ADMIN, else
// TECHNICIAN, else PATIENT; "" when the patient reads their own data, which
// is not audited.
func AuditRole(a models.Actor, patientID string) string {
	if a.UserID == patientID {
		return ""
	}
	for _, r := range []string{models.RoleAdmin, models.RoleDoctor, models.RoleClinicAdmin, models.RoleTechnician} {
		if a.Has(r) {
			return r
		}
	}
	return models.RolePatient
}
