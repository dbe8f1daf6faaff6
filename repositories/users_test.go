package repositories_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

func ptr[T any](v T) *T { return &v }

// TestUsersCreate: an account lands with its roles; an email taken in any
// case is EMAIL_TAKEN; an unknown role rolls the account back.
func TestUsersCreate(t *testing.T) {
	cases := []struct {
		name      string
		email     string
		roles     []string
		wantErr   error
		wantRoles []string
	}{
		{name: "with roles, loaded in role order", email: "Ada@Example.com", roles: []string{models.RoleAdmin, models.RoleDoctor},
			wantRoles: []string{models.RoleDoctor, models.RoleAdmin}},
		{name: "email taken in another case", email: "ada@EXAMPLE.com", roles: []string{models.RolePatient}, wantErr: models.ErrEmailTaken},
		{name: "email taken as typed", email: "Ada@Example.com", roles: []string{models.RolePatient}, wantErr: models.ErrEmailTaken},
		{name: "unknown role", email: "bea@example.com", roles: []string{models.RolePatient, "ROOT"}, wantErr: models.ErrNotFound},
		{name: "patient", email: "cy@example.com", roles: []string{models.RolePatient}, wantRoles: []string{models.RolePatient}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				key := strings.ToLower(c.email)
				u := &models.User{ID: uuid.NewString(), Email: c.email, EmailNormalized: &key, PasswordHash: "hash", IsActive: true, CreatedAt: t0}
				err := st.Tx(func(tx *repositories.Store) error { return tx.Users.Create(u, c.roles...) })
				if c.wantErr != nil {
					if !errors.Is(err, c.wantErr) || models.CodeOf(err) != c.wantErr.(*models.Error).Code {
						t.Fatalf("Create: %v, want %v", err, c.wantErr)
					}
					if _, err := st.Users.ByID(u.ID); !errors.Is(err, models.ErrNotFound) {
						t.Fatalf("the refused account exists: %v", err)
					}
					return
				}
				testenv.Must(t, err, "Create")
				got, err := st.Users.ByEmailKey(key)
				testenv.Must(t, err, "ByEmailKey")
				if got.ID != u.ID || got.Email != c.email || !got.IsActive || !slices.Equal(got.RoleNames(), c.wantRoles) {
					t.Fatalf("stored %s %q active=%v roles %v; want %s %q true %v", got.ID, got.Email, got.IsActive, got.RoleNames(), u.ID, c.email, c.wantRoles)
				}
				if !slices.Equal(u.RoleNames(), c.wantRoles) {
					t.Errorf("Create loaded roles %v, want %v", u.RoleNames(), c.wantRoles)
				}
			})
		}
	})
}

// TestUsersUpdate: typed changes set, clear (a null Opt) or leave columns;
// updated_at is the clock passed in; an unknown id is NOT_FOUND.
func TestUsersUpdate(t *testing.T) {
	at := t0.Add(3 * time.Hour)
	cases := []struct {
		name    string
		unknown bool
		ch      repositories.Changes
		wantErr error
		check   func(t *testing.T, u *models.User)
	}{
		{name: "sets name, phone and avatar", ch: repositories.Changes{FullName: ptr("Ada L."),
			Phone: models.Opt[string]{Set: true, Value: "+44 20 7946 0000"}, AvatarURL: models.Opt[string]{Set: true, Value: "https://a.example/x.png"}},
			check: func(t *testing.T, u *models.User) {
				if *u.FullName != "Ada L." || *u.Phone != "+44 20 7946 0000" || *u.AvatarURL != "https://a.example/x.png" {
					t.Errorf("got name %q, phone %q, avatar %q", *u.FullName, *u.Phone, *u.AvatarURL)
				}
			}},
		{name: "a null Opt clears, an unset one leaves", ch: repositories.Changes{Phone: models.Opt[string]{Set: true, Null: true}},
			check: func(t *testing.T, u *models.User) {
				if u.Phone != nil || u.AvatarURL == nil || *u.AvatarURL != "https://old.example/a.png" || *u.FullName != "Old Name" {
					t.Errorf("got phone %v, avatar %v, name %v; want phone cleared, the rest as it was", u.Phone, u.AvatarURL, u.FullName)
				}
			}},
		{name: "deactivates and replaces the password hash", ch: repositories.Changes{IsActive: ptr(false), PasswordHash: ptr("new-hash")},
			check: func(t *testing.T, u *models.User) {
				if u.IsActive || u.PasswordHash != "new-hash" {
					t.Errorf("active %v, hash %q", u.IsActive, u.PasswordHash)
				}
			}},
		{name: "marks the email verified at the time given", ch: repositories.Changes{EmailVerifiedAt: ptr(t0.Add(time.Hour))},
			check: func(t *testing.T, u *models.User) {
				if !u.EmailVerified || u.EmailVerifiedAt == nil || !u.EmailVerifiedAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("verified %v at %v", u.EmailVerified, u.EmailVerifiedAt)
				}
			}},
		{name: "unknown id", unknown: true, ch: repositories.Changes{FullName: ptr("x")}, wantErr: models.ErrNotFound},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				u := newUser(t, st, fmt.Sprintf("upd%d@example.com", i), models.RolePatient)
				testenv.Must(t, st.Users.Update(u.ID, repositories.Changes{FullName: ptr("Old Name"),
					Phone: models.Opt[string]{Set: true, Value: "555 0100"}, AvatarURL: models.Opt[string]{Set: true, Value: "https://old.example/a.png"}},
					t0), "set up")
				id := u.ID
				if c.unknown {
					id = uuid.NewString()
				}
				err := st.Users.Update(id, c.ch, at)
				if c.wantErr != nil {
					if !errors.Is(err, c.wantErr) {
						t.Fatalf("Update: %v, want %v", err, c.wantErr)
					}
					return
				}
				testenv.Must(t, err, "Update")
				got, err := st.Users.ByID(u.ID)
				testenv.Must(t, err, "ByID")
				if got.UpdatedAt == nil || !got.UpdatedAt.Equal(at) {
					t.Errorf("updated_at %v, want the clock's %v", got.UpdatedAt, at)
				}
				c.check(t, got)
			})
		}
	})
}

// TestUsersRolesAndAdmins: SetRoles replaces the roles (an unknown one
// changes nothing); CountActiveAdmins counts active holders of ADMIN only.
func TestUsersRolesAndAdmins(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		ada := newUser(t, st, "ada@example.com", models.RoleAdmin)
		bea := newUser(t, st, "bea@example.com", models.RolePatient)
		cy := newUser(t, st, "cy@example.com", models.RoleDoctor)
		steps := []struct {
			name      string
			do        func() error
			wantErr   error
			user      *models.User
			wantRoles []string
			wantCount int64
		}{
			{name: "one admin to start", do: func() error { return nil }, user: ada, wantRoles: []string{models.RoleAdmin}, wantCount: 1},
			{name: "granting ADMIN counts", do: func() error {
				return st.Users.SetRoles(bea, []string{models.RoleAdmin, models.RolePatient}, t0)
			}, user: bea, wantRoles: []string{models.RolePatient, models.RoleAdmin}, wantCount: 2},
			{name: "an unknown role changes nothing", do: func() error {
				return st.Users.SetRoles(bea, []string{models.RoleDoctor, "ROOT"}, t0)
			}, wantErr: models.ErrNotFound, user: bea, wantRoles: []string{models.RolePatient, models.RoleAdmin}, wantCount: 2},
			{name: "an inactive admin does not count", do: func() error {
				return st.Users.Update(ada.ID, repositories.Changes{IsActive: ptr(false)}, t0)
			}, user: ada, wantRoles: []string{models.RoleAdmin}, wantCount: 1},
			{name: "a doctor does not count", do: func() error { return nil }, user: cy, wantRoles: []string{models.RoleDoctor}, wantCount: 1},
			{name: "replacing the roles drops ADMIN", do: func() error {
				return st.Users.SetRoles(bea, []string{models.RoleDoctor}, t0)
			}, user: bea, wantRoles: []string{models.RoleDoctor}, wantCount: 0},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				if err := s.do(); !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
					t.Fatalf("got %v, want %v", err, s.wantErr)
				}
				got, err := st.Users.ByID(s.user.ID)
				testenv.Must(t, err, "ByID")
				if !slices.Equal(got.RoleNames(), s.wantRoles) {
					t.Errorf("roles %v, want %v", got.RoleNames(), s.wantRoles)
				}
				if n, err := st.Users.CountActiveAdmins(); err != nil || n != s.wantCount {
					t.Errorf("CountActiveAdmins = %d, %v; want %d", n, err, s.wantCount)
				}
			})
		}
	})
}

// TestUsersList: pages oldest first with the total; q matches email or name
// case-insensitively, its LIKE metacharacters (% _ \) literally.
func TestUsersList(t *testing.T) {
	people := []struct{ email, name string }{
		{"ann@example.com", "Ann 100% Sure"},
		{"bob@example.com", "Bob 1000 Sure"},
		{"cat_dog@example.com", "Cat"},
		{"catxdog@example.com", "Catx"},
		{"dan@example.org", `Dan \ Backslash`},
	}
	cases := []struct {
		name       string
		q          string
		page, size int
		want       []int // indexes into people
		wantTotal  int64
	}{
		{name: "first page", page: 1, size: 2, want: []int{0, 1}, wantTotal: 5},
		{name: "last page", page: 3, size: 2, want: []int{4}, wantTotal: 5},
		{name: "past the end", page: 4, size: 2, want: []int{}, wantTotal: 5},
		{name: "percent matched literally", q: "100%", page: 1, size: 10, want: []int{0}, wantTotal: 1},
		{name: "lone percent", q: "%", page: 1, size: 10, want: []int{0}, wantTotal: 1},
		{name: "underscore matched literally", q: "cat_dog", page: 1, size: 10, want: []int{2}, wantTotal: 1},
		{name: "lone underscore", q: "_", page: 1, size: 10, want: []int{2}, wantTotal: 1},
		{name: "backslash matched literally", q: `\`, page: 1, size: 10, want: []int{4}, wantTotal: 1},
		{name: "case-insensitive name", q: "ANN 100", page: 1, size: 10, want: []int{0}, wantTotal: 1},
		{name: "email, trimmed", q: "  example.org ", page: 1, size: 10, want: []int{4}, wantTotal: 1},
		{name: "paged search", q: "example.com", page: 2, size: 3, want: []int{3}, wantTotal: 4},
		{name: "no match", q: "nobody", page: 1, size: 10, want: []int{}, wantTotal: 0},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		var ids []string
		for i, p := range people {
			key := p.email
			u := &models.User{ID: uuid.NewString(), Email: p.email, EmailNormalized: &key, FullName: ptr(p.name),
				PasswordHash: "hash", IsActive: true, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
			testenv.Must(t, st.Tx(func(tx *repositories.Store) error { return tx.Users.Create(u, models.RolePatient) }), "create")
			ids = append(ids, u.ID)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, err := st.Users.List(c.q, c.page, c.size)
				testenv.Must(t, err, "List")
				want := make([]string, len(c.want))
				for i, w := range c.want {
					want[i] = ids[w]
				}
				got := make([]string, len(p.Items))
				for i, u := range p.Items {
					got[i] = u.ID
					if !slices.Equal(u.RoleNames(), []string{models.RolePatient}) {
						t.Errorf("%s listed with roles %v", u.Email, u.RoleNames())
					}
				}
				if p.Total != c.wantTotal || !slices.Equal(got, want) || p.Items == nil {
					t.Fatalf("List(%q, %d, %d): total %d, items %v; want %d, %v (never nil)", c.q, c.page, c.size, p.Total, got, c.wantTotal, want)
				}
			})
		}
	})
}
