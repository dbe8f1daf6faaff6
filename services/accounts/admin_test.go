package accounts_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/internal/testenv"
	"aura/models"
	"aura/services/accounts"
)

const lastAdmin = "at least one active ADMIN must remain"

// TestUpdateUser runs an admin's changes in order on one clinic of two
// admins (ada, bea) and a patient (pat): refused changes name their field
// and change nothing; roles are replaced; deactivation ends the sessions;
// and once bea is demoted, her (stale) demotion or deactivation of the last
// admin, ada, is refused.
func TestUpdateUser(t *testing.T) {
	patient, doctor, admin := models.RolePatient, models.RoleDoctor, models.RoleAdmin
	steps := []struct {
		name, by, target string // by: ada or bea; target: ada, bea, pat or unknown
		ch               accounts.UserChange
		wantErr          *models.Error
		wantDetails      map[string]string
		wantRoles        []string // of the target afterwards
		wantActive       bool     // of the target afterwards
		wantAdmins       int64
		// sessionEnded: the target's session no longer refreshes.
		sessionEnded bool
	}{
		{name: "unknown role", by: "ada", target: "pat", ch: accounts.UserChange{Roles: &[]string{"ROOT"}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": "each role must be one of PATIENT, DOCTOR, ADMIN"},
			wantRoles: []string{patient}, wantActive: true, wantAdmins: 2},
		{name: "no roles", by: "ada", target: "pat", ch: accounts.UserChange{Roles: &[]string{}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": "must name at least one role"},
			wantRoles: []string{patient}, wantActive: true, wantAdmins: 2},
		{name: "an admin cannot remove their own ADMIN role", by: "ada", target: "ada", ch: accounts.UserChange{Roles: &[]string{patient}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": "you cannot remove your own ADMIN role"},
			wantRoles: []string{admin}, wantActive: true, wantAdmins: 2},
		{name: "an admin cannot deactivate themselves", by: "ada", target: "ada", ch: accounts.UserChange{IsActive: ptr(false)},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"isActive": "you cannot deactivate your own account"},
			wantRoles: []string{admin}, wantActive: true, wantAdmins: 2},
		{name: "unknown account", by: "ada", target: "unknown", ch: accounts.UserChange{Roles: &[]string{doctor}},
			wantErr: models.ErrNotFound, wantAdmins: 2},
		{name: "roles are replaced, without duplicates", by: "ada", target: "pat", ch: accounts.UserChange{Roles: &[]string{doctor, patient, doctor}},
			wantRoles: []string{patient, doctor}, wantActive: true, wantAdmins: 2},
		{name: "deactivation ends the account's sessions", by: "ada", target: "pat", ch: accounts.UserChange{IsActive: ptr(false)},
			wantRoles: []string{patient, doctor}, wantActive: false, wantAdmins: 2, sessionEnded: true},
		{name: "an admin demotes another while one remains", by: "ada", target: "bea", ch: accounts.UserChange{Roles: &[]string{doctor}},
			wantRoles: []string{doctor}, wantActive: true, wantAdmins: 1},
		{name: "the last admin cannot be demoted", by: "bea", target: "ada", ch: accounts.UserChange{Roles: &[]string{patient}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": lastAdmin},
			wantRoles: []string{admin}, wantActive: true, wantAdmins: 1},
		{name: "the last admin cannot be deactivated", by: "bea", target: "ada", ch: accounts.UserChange{IsActive: ptr(false)},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"isActive": lastAdmin},
			wantRoles: []string{admin}, wantActive: true, wantAdmins: 1},
		{name: "reactivation lets the account sign in, the ended session stays ended", by: "ada", target: "pat",
			ch:        accounts.UserChange{IsActive: ptr(true)},
			wantRoles: []string{patient, doctor}, wantActive: true, wantAdmins: 1, sessionEnded: true},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		users := map[string]*models.User{
			"ada": v.account(t, "ada@example.com", admin),
			"bea": v.account(t, "bea@example.com", admin),
			"pat": v.account(t, "pat@example.com"),
		}
		refresh := map[string]string{}
		for name := range users {
			refresh[name] = v.login(t, name+"@example.com", password).RefreshToken
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				id := uuid.NewString()
				if u := users[s.target]; u != nil {
					id = u.ID
				}
				got, updErr := v.svc.UpdateUser(testenv.Ctx(t), v.st, actorOf(users[s.by]), id, s.ch)
				checkErr(t, updErr, s.wantErr, s.wantDetails)
				if n, err := v.st.Users.CountActiveAdmins(); err != nil || n != s.wantAdmins {
					t.Fatalf("%d active admins (%v), want %d", n, err, s.wantAdmins)
				}
				if s.target == "unknown" {
					return
				}
				stored, err := v.st.Users.ByID(id)
				testenv.Must(t, err, "ByID")
				if !slices.Equal(stored.RoleNames(), s.wantRoles) || stored.IsActive != s.wantActive {
					t.Fatalf("%s has roles %v, active %v; want %v, %v", s.target, stored.RoleNames(), stored.IsActive, s.wantRoles, s.wantActive)
				}
				if updErr == nil && (!slices.Equal(got.RoleNames(), s.wantRoles) || got.IsActive != s.wantActive) {
					t.Errorf("UpdateUser returned roles %v, active %v", got.RoleNames(), got.IsActive)
				}
				// A session survives unless its account was deactivated.
				next, err := v.refresh(t, refresh[s.target])
				if !s.sessionEnded {
					testenv.Must(t, err, "refresh %s's session", s.target)
					refresh[s.target] = next.RefreshToken
				} else if models.CodeOf(err) != models.CodeUnauthorized {
					t.Errorf("%s's session: %v, want UNAUTHORIZED (revoked at deactivation)", s.target, err)
				}
				if s.wantActive {
					v.login(t, s.target+"@example.com", password)
				}
			})
		}
	})
}

// TestUpdateUserConcurrentDemotions: two admins remove each other at the
// same moment, by demotion or deactivation: exactly one change wins, the
// other is refused as leaving no admin, and one active admin remains. Each
// round pits the survivor against a new admin.
func TestUpdateUserConcurrentDemotions(t *testing.T) {
	demote := accounts.UserChange{Roles: &[]string{models.RolePatient}}
	deactivate := accounts.UserChange{IsActive: ptr(false)}
	rounds := []struct {
		name   string
		change [2]accounts.UserChange
	}{
		{name: "both demote", change: [2]accounts.UserChange{demote, demote}},
		{name: "both deactivate", change: [2]accounts.UserChange{deactivate, deactivate}},
		{name: "one demotes, one deactivates", change: [2]accounts.UserChange{demote, deactivate}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		survivor := v.account(t, "admin0@example.com", models.RoleAdmin)
		for r, round := range rounds {
			t.Run(round.name, func(t *testing.T) {
				pair := [2]*models.User{survivor, v.account(t, fmt.Sprintf("admin%d@example.com", r+1), models.RoleAdmin)}
				errs := testenv.Race(2, func(i int) error {
					_, err := v.svc.UpdateUser(testenv.Ctx(t), v.st, actorOf(pair[i]), pair[1-i].ID, round.change[i])
					return err
				})
				winners := 0
				for i, err := range errs {
					if err == nil {
						winners++
						survivor = pair[i]
						continue
					}
					var de *models.Error
					if !errors.As(err, &de) || de.Code != models.CodeValidation || !slices.Contains(mapsValues(de.Details), lastAdmin) {
						t.Fatalf("admin %d: %v (details %v), want VALIDATION_FAILED: %s", i, err, de, lastAdmin)
					}
				}
				if winners != 1 {
					t.Fatalf("%d of the two changes won, want 1", winners)
				}
				if n, err := v.st.Users.CountActiveAdmins(); err != nil || n != 1 {
					t.Fatalf("%d active admins remain (%v), want 1", n, err)
				}
				u, err := v.st.Users.ByID(survivor.ID)
				testenv.Must(t, err, "ByID")
				if !u.IsActive || !u.HasRole(models.RoleAdmin) {
					t.Fatalf("the winner is no longer an active admin")
				}
			})
		}
	})
}

func mapsValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestListUsers: the admin listing refuses a q that is too long or holds
// invisible characters, and pages what it finds.
func TestListUsers(t *testing.T) {
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'a'
	}
	cases := []struct {
		name        string
		q           string
		wantErr     *models.Error
		wantTotal   int64
		wantEmails  []string
		page, pages int
	}{
		{name: "everyone", q: "", wantTotal: 3, wantEmails: []string{"ada@example.com", "bea@example.com"}, page: 1, pages: 2},
		{name: "by name fragment", q: "BEA", wantTotal: 1, wantEmails: []string{"bea@example.com"}, page: 1, pages: 10},
		{name: "q too long", q: string(long), wantErr: models.ErrInvalid},
		{name: "q with a control character", q: "ada\x00", wantErr: models.ErrInvalid},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for _, email := range []string{"ada@example.com", "bea@example.com", "cy@example.com"} {
			v.account(t, email)
			v.clock.Add(time.Second)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, err := v.svc.ListUsers(testenv.Ctx(t), v.st, c.q, c.page, c.pages)
				var details map[string]string
				if c.wantErr != nil {
					details = map[string]string{"q": "must be text of at most 255 characters"}
				}
				checkErr(t, err, c.wantErr, details)
				if err != nil {
					return
				}
				var emails []string
				for _, u := range p.Items {
					emails = append(emails, u.Email)
				}
				if p.Total != c.wantTotal || !slices.Equal(emails, c.wantEmails) {
					t.Fatalf("total %d, %v; want %d, %v", p.Total, emails, c.wantTotal, c.wantEmails)
				}
			})
		}
	})
}

// actorOf is the admin u acting from the tests.
func actorOf(u *models.User) models.Actor {
	return models.Actor{UserID: u.ID, Roles: u.RoleNames(), IP: "127.0.0.1", RequestID: "test"}
}
