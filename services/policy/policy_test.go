package policy_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"aura/models"
	"aura/repositories"
	"aura/services/policy"
)

func actor(id string, roles ...string) models.Actor { return models.Actor{UserID: id, Roles: roles} }

// TestScope: an admin sees everything, a patient their own data, clinic
// staff their clinics' screenings (the patients too, except a TECHNICIAN),
// and one holding several roles every part.
func TestScope(t *testing.T) {
	t.Parallel()
	staff := func(id string, screenings, patients []string) repositories.Scope {
		return repositories.Scope{StaffID: id, ScreeningRoles: screenings, PatientRoles: patients}
	}
	d, ca, tech := models.RoleDoctor, models.RoleClinicAdmin, models.RoleTechnician
	for name, c := range map[string]struct {
		a       models.Actor
		want    repositories.Scope
		results repositories.Scope
	}{
		"admin":   {actor("a", models.RoleAdmin, d), repositories.Scope{All: true}, repositories.Scope{All: true}},
		"patient": {actor("p", models.RolePatient), repositories.Scope{PatientID: "p"}, repositories.Scope{PatientID: "p"}},
		"doctor":  {actor("d", d), staff("d", []string{d}, []string{d}), staff("d", []string{d}, nil)},
		"doctor+patient": {actor("x", d, models.RolePatient),
			repositories.Scope{PatientID: "x", StaffID: "x", ScreeningRoles: []string{d}, PatientRoles: []string{d}},
			repositories.Scope{PatientID: "x", StaffID: "x", ScreeningRoles: []string{d}}},
		"clinic admin": {actor("c", ca), staff("c", []string{ca}, []string{ca}), staff("c", []string{ca}, nil)},
		"technician":   {actor("t", tech), staff("t", []string{tech}, nil), repositories.Scope{}},
		"all three": {actor("y", tech, d, ca), staff("y", []string{ca, d, tech}, []string{ca, d}),
			staff("y", []string{ca, d}, nil)},
		"no role": {actor("n"), repositories.Scope{}, repositories.Scope{}},
	} {
		if got := policy.Scope(c.a); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Scope = %+v, want %+v", name, got, c.want)
		}
		if got := policy.ResultsScope(c.a); !reflect.DeepEqual(got, c.results) {
			t.Errorf("%s: ResultsScope = %+v, want %+v", name, got, c.results)
		}
	}
	if got := policy.ReviewScope(actor("y", tech, d, ca)); !reflect.DeepEqual(got, staff("y", []string{d}, nil)) {
		t.Errorf("ReviewScope = %+v", got)
	}
	if got := policy.ReviewScope(actor("a", models.RoleAdmin, ca)); !reflect.DeepEqual(got, repositories.Scope{}) {
		t.Errorf("ReviewScope of an admin = %+v", got)
	}
}

// TestCan: a role reaches what the table gives it and nothing else; a
// clinic role reaches its clinic permissions; no role reaches nothing.
func TestCan(t *testing.T) {
	t.Parallel()
	if err := policy.Can(actor("d", models.RoleDoctor), policy.PermScreeningsReview); err != nil {
		t.Errorf("doctor refused review: %v", err)
	}
	if err := policy.Can(actor("p", models.RolePatient), policy.PermScreeningsReview); !errors.Is(err, models.ErrForbidden) {
		t.Errorf("patient let in to review: %v", err)
	}
	if err := policy.Can(actor("t", models.RoleTechnician), policy.PermScreeningsResults); !errors.Is(err, models.ErrForbidden) {
		t.Errorf("technician let in to results: %v", err)
	}
	if err := policy.Can(actor("c", models.RoleClinicAdmin), policy.PermStaffInvite); err != nil {
		t.Errorf("clinic admin refused invite: %v", err)
	}
	if err := policy.Can(actor("n"), policy.PermClinicsApply); !errors.Is(err, models.ErrForbidden) {
		t.Errorf("no role let in: %v", err)
	}
	// Every role of the table is a role AURA knows, and whatever a clinic
	// admin may do in a clinic an ADMIN may do in every clinic, but for
	// taking part in the clinic's conversations with its patients (those
	// are the clinic's own staff's, not a power over the clinic).
	for _, r := range policy.Table() {
		if !slices.ContainsFunc(models.SeedRoles, func(s models.Role) bool { return s.Name == r.Role }) {
			t.Errorf("table role %q is not seeded", r.Role)
		}
		for _, p := range r.Permissions {
			if r.Role == models.RoleClinicAdmin && p != policy.PermConversations && !policy.Allows(models.RoleAdmin, p) {
				t.Errorf("clinic admin's permission %q not carried by ADMIN", p)
			}
		}
	}
}

// TestAuditRole: reading one's own data is not audited; another's is
// recorded under the strongest role held.
func TestAuditRole(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a    models.Actor
		want string
	}{
		{actor("p", models.RolePatient), ""},
		{actor("a", models.RoleAdmin, models.RoleDoctor), models.RoleAdmin},
		{actor("d", models.RoleDoctor, models.RolePatient), models.RoleDoctor},
		{actor("c", models.RoleClinicAdmin, models.RoleTechnician, models.RolePatient), models.RoleClinicAdmin},
		{actor("t", models.RoleTechnician, models.RolePatient), models.RoleTechnician},
		{actor("q", models.RolePatient), models.RolePatient},
	} {
		if got := policy.AuditRole(c.a, "p"); got != c.want {
			t.Errorf("AuditRole(%v, p) = %q, want %q", c.a, got, c.want)
		}
	}
}

// TestAuditRoleIn: without a store the first role of the order the actor
// holds, else the fallback (the clinic membership side is exercised by the
// clinic and invitation HTTP tests).
func TestAuditRoleIn(t *testing.T) {
	t.Parallel()
	order := []string{models.RoleAdmin, models.RoleClinicAdmin, models.RoleDoctor, models.RoleTechnician}
	for _, c := range []struct {
		a    models.Actor
		want string
	}{
		{actor("a", models.RoleDoctor, models.RoleAdmin), models.RoleAdmin},
		{actor("c", models.RoleTechnician, models.RoleClinicAdmin), models.RoleClinicAdmin},
		{actor("t", models.RoleTechnician), models.RoleTechnician},
		{actor("p", models.RolePatient), "fallback"},
	} {
		if got := policy.AuditRoleIn(nil, c.a, "", "fallback", order...); got != c.want {
			t.Errorf("AuditRoleIn(%v) = %q, want %q", c.a, got, c.want)
		}
	}
}
