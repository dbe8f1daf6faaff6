// Package policy decides who may see the clinic's data, in one place, for
// every patient-data endpoint:
//
//   - PATIENT: their own profile and screenings;
//   - DOCTOR: screenings sent to a clinic they belong to now, and the
//     profiles of those screenings' patients;
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
	return s
}

// AuditRole is the role an access to data of patientID is recorded under:
// ADMIN when the actor holds it, else DOCTOR, else PATIENT; "" when the
// patient reads their own data, which is not audited.
func AuditRole(a models.Actor, patientID string) string {
	switch {
	case a.UserID == patientID:
		return ""
	case a.Has(models.RoleAdmin):
		return models.RoleAdmin
	case a.Has(models.RoleDoctor):
		return models.RoleDoctor
	}
	return models.RolePatient
}
