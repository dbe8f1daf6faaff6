// Package policy decides who may see the clinic's data, in one place, for
// every patient-data endpoint:
//
//   - PATIENT: their own profile and screenings, with their results;
//   - DOCTOR: screenings sent to a clinic they belong to now, with their
//     results, and the profiles of those screenings' patients;
//   - CLINIC_ADMIN: as a DOCTOR of their clinics (screenings with results,
//     patients), but reviews nothing (the review permission is a DOCTOR's);
//   - TECHNICIAN: the screenings sent to their clinics for intake only:
//     status, eye, image, timestamps, failure and the patient's identity;
//     never the analysis, the review, the vessel maps, the overlay or the
//     report (those answer FORBIDDEN, the Screening comes without them),
//     and no patient profiles;
//   - ADMIN: everything.
//
// Which clinic role shows what is read from the permission table: a
// membership shows its clinic's screenings when its role carries
// PermScreeningsIntake, their results when it carries
// PermScreeningsResults, and the patients when it carries PermPatientsRead.
//
// A caller's roles and memberships are read fresh on every request (the
// session check loads the roles; memberships are joined in SQL), so losing
// a role or a membership, or deactivation, takes effect on the next request.
// A membership in a role the account no longer holds shows nothing.
// What a caller may not see answers NOT_FOUND, exactly as a missing id does:
// lists and single reads apply the same Scope inside the query, so a hidden
// and a missing row take the same path. A role that may never call an
// endpoint gets FORBIDDEN, before any lookup.
package policy

import (
	"aura/models"
	"aura/repositories"
)

// heldCarrying lists the clinic roles the actor holds whose rows of the
// table carry p.
func heldCarrying(a models.Actor, p Permission) []string {
	var out []string
	for _, r := range models.ClinicRoles {
		if a.Has(r) && Allows(r, p) {
			out = append(out, r)
		}
	}
	return out
}

// Scope is the part of the clinic's data actor may see.
func Scope(a models.Actor) repositories.Scope {
	if a.Has(models.RoleAdmin) {
		return repositories.Scope{All: true}
	}
	var s repositories.Scope
	if a.Has(models.RolePatient) {
		s.PatientID = a.UserID
	}
	s.ScreeningRoles = heldCarrying(a, PermScreeningsIntake)
	s.PatientRoles = heldCarrying(a, PermPatientsRead)
	if len(s.ScreeningRoles) > 0 || len(s.PatientRoles) > 0 {
		s.StaffID = a.UserID
	}
	return s
}

// ResultsScope is the part of the screenings whose results (analysis,
// review, maps, report) actor may read: a filter on results (the risk
// level) is applied within it, so it reveals nothing of the others.
func ResultsScope(a models.Actor) repositories.Scope {
	if a.Has(models.RoleAdmin) {
		return repositories.Scope{All: true}
	}
	var s repositories.Scope
	if a.Has(models.RolePatient) {
		s.PatientID = a.UserID
	}
	if s.ScreeningRoles = heldCarrying(a, PermScreeningsResults); len(s.ScreeningRoles) > 0 {
		s.StaffID = a.UserID
	}
	return s
}

// ReviewScope is what a reviewer acts on: the screenings of the clinics
// where the actor is a member in a role that reviews (DOCTOR). An admin's
// wider view does not make them a reviewer.
func ReviewScope(a models.Actor) repositories.Scope {
	roles := heldCarrying(a, PermScreeningsReview)
	if len(roles) == 0 {
		return repositories.Scope{}
	}
	return repositories.Scope{StaffID: a.UserID, ScreeningRoles: roles}
}

// Access is what one actor may do with the screenings they see, per
// clinic: loaded once per request (one query), asked per row.
type Access struct {
	a     models.Actor
	roles map[string][]string // clinic id -> clinic roles held there (and by the account)
}

// Load reads the actor's memberships.
func Load(st *repositories.Store, a models.Actor) (*Access, error) {
	x := &Access{a: a, roles: map[string][]string{}}
	if a.Has(models.RoleAdmin) {
		return x, nil
	}
	ms, err := st.Members.Of(a.UserID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if a.Has(m.Role) {
			x.roles[m.ClinicID] = append(x.roles[m.ClinicID], m.Role)
		}
	}
	return x, nil
}

// Results reports whether the actor may read the results of a screening
// of patientID sent to clinicID: ADMIN, the patient, or a member of the
// clinic in a role carrying PermScreeningsResults.
func (x *Access) Results(clinicID, patientID string) bool {
	if x.a.Has(models.RoleAdmin) || (patientID == x.a.UserID && x.a.Has(models.RolePatient)) {
		return true
	}
	for _, r := range x.roles[clinicID] {
		if Allows(r, PermScreeningsResults) {
			return true
		}
	}
	return false
}

// AuditRole is the role a read of a screening of patientID sent to
// clinicID is recorded under: ADMIN, else the role the actor holds in that
// clinic (DOCTOR before CLINIC_ADMIN before TECHNICIAN), else as
// AuditRole; "" when the patient reads their own.
func (x *Access) AuditRole(clinicID, patientID string) string {
	if x.a.UserID == patientID || x.a.Has(models.RoleAdmin) {
		return AuditRole(x.a, patientID)
	}
	for _, r := range []string{models.RoleDoctor, models.RoleClinicAdmin, models.RoleTechnician} {
		for _, h := range x.roles[clinicID] {
			if h == r {
				return r
			}
		}
	}
	return AuditRole(x.a, patientID)
}

// AuditRole is the role an access to data of patientID is recorded under:
// ADMIN when the actor holds it, else DOCTOR, else CLINIC_ADMIN, else
// TECHNICIAN, else PATIENT; "" when the patient reads their own data,
// which is not audited. Where the clinic is known, Access.AuditRole
// names the role held in it.
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

// AuditRoleIn is the role an act of a within clinicID is recorded under in
// the audit trail: the first role of order that a holds and, for a clinic
// role (not ADMIN), holds as a member of that clinic (st nil: holding it
// on the account is enough); fallback when none. Every "which role does
// this actor act in here" of the services is one call of it, with its own
// order: e.g. ADMIN first for staff acts, CLINIC_ADMIN first for the acts
// of a clinic's administration.
func AuditRoleIn(st *repositories.Store, a models.Actor, clinicID, fallback string, order ...string) string {
	for _, r := range order {
		if !a.Has(r) {
			continue
		}
		if r == models.RoleAdmin || st == nil {
			return r
		}
		if ok, err := st.Members.Has(clinicID, a.UserID, r); err == nil && ok {
			return r
		}
	}
	return fallback
}
