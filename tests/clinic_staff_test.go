package tests

import (
	"net/http"
	"slices"
	"testing"

	"aura/internal/testenv"
	"aura/services/policy"
)

// TestRolesTable: GET /api/roles serves, to anyone signed in, every role
// and the permissions it carries, exactly as the code's table decides; an
// anonymous caller gets 401.
func TestRolesTable(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		p := signUp(t, s, "reader@roles.example")
		var got []struct {
			Role        string
			Permissions []string
		}
		s.Do(t, "GET", "/api/roles", nil, p.Token).Expect(t, http.StatusOK, "").Data(t, &got)
		roles := []string{}
		for _, r := range got {
			roles = append(roles, r.Role)
		}
		if !slices.Equal(roles, []string{"PATIENT", "DOCTOR", "CLINIC_ADMIN", "TECHNICIAN", "ADMIN"}) {
			t.Fatalf("roles %v", roles)
		}
		want := policy.Table()
		for i, r := range got {
			if !slices.Equal(r.Permissions, want[i].Permissions) || len(r.Permissions) == 0 {
				t.Errorf("%s: %v, want %v", r.Role, r.Permissions, want[i].Permissions)
			}
		}
		// What a user would check: the screening roles differ where the
		// contract says they do.
		has := func(role, perm string) bool {
			for _, r := range got {
				if r.Role == role {
					return slices.Contains(r.Permissions, perm)
				}
			}
			return false
		}
		for _, c := range []struct {
			role, perm string
			want       bool
		}{
			{"DOCTOR", "screenings.review", true}, {"CLINIC_ADMIN", "screenings.review", false},
			{"CLINIC_ADMIN", "staff.remove", true}, {"DOCTOR", "staff.remove", false},
			{"TECHNICIAN", "screenings.upload", true}, {"TECHNICIAN", "screenings.results", false},
			{"TECHNICIAN", "staff.read", true}, {"PATIENT", "staff.read", false}, {"ADMIN", "staff.remove", true},
		} {
			if has(c.role, c.perm) != c.want {
				t.Errorf("%s %s: %v", c.role, c.perm, !c.want)
			}
		}
		s.Do(t, "GET", "/api/roles", nil, "").Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
}
