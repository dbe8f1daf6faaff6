package policy_test

import (
	"errors"
	"testing"

	"aura/models"
	"aura/repositories"
	"aura/services/policy"
)

func actor(id string, roles ...string) models.Actor { return models.Actor{UserID: id, Roles: roles} }

// TestScope: an admin sees everything, a patient their own data, a doctor
// their clinics' screenings, and one holding both roles both parts.
func TestScope(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		a    models.Actor
		want repositories.Scope
	}{
		"admin":          {actor("a", models.RoleAdmin, models.RoleDoctor), repositories.Scope{All: true}},
		"patient":        {actor("p", models.RolePatient), repositories.Scope{PatientID: "p"}},
		"doctor":         {actor("d", models.RoleDoctor), repositories.Scope{DoctorID: "d"}},
		"doctor+patient": {actor("x", models.RoleDoctor, models.RolePatient), repositories.Scope{PatientID: "x", DoctorID: "x"}},
		"no role":        {actor("n"), repositories.Scope{}},
	} {
		if got := policy.Scope(c.a); got != c.want {
			t.Errorf("%s: Scope = %+v, want %+v", name, got, c.want)
		}
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	if err := policy.Require(actor("d", models.RoleDoctor), models.RoleDoctor, models.RoleAdmin); err != nil {
		t.Errorf("doctor refused: %v", err)
	}
	if err := policy.Require(actor("p", models.RolePatient), models.RoleDoctor, models.RoleAdmin); !errors.Is(err, models.ErrForbidden) {
		t.Errorf("patient let in: %v", err)
	}
	if err := policy.Require(actor("n")); !errors.Is(err, models.ErrForbidden) {
		t.Errorf("no roles asked, none held: %v", err)
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
		{actor("q", models.RolePatient), models.RolePatient},
	} {
		if got := policy.AuditRole(c.a, "p"); got != c.want {
			t.Errorf("AuditRole(%v, p) = %q, want %q", c.a, got, c.want)
		}
	}
}
