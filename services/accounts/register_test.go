package accounts_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/services/accounts"
)

// TestRegister: refused forms name each field at fault and create nothing;
// a sign-up creates a PATIENT with a working session and a queued
// verification link; an email taken in any case is EMAIL_TAKEN.
func TestRegister(t *testing.T) {
	const tooCommon = "is too common or easy to guess; try a longer phrase of unrelated words"
	cases := []struct {
		name        string
		in          accounts.RegisterInput
		wantErr     *models.Error
		wantDetails map[string]string
		wantName    string
	}{
		{name: "empty form", in: accounts.RegisterInput{},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"email": "must be a valid email address", "password": "is required"}},
		{name: "malformed email", in: accounts.RegisterInput{Email: "ann at example.com", Password: password},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"email": "must be a valid email address"}},
		{name: "short password", in: accounts.RegisterInput{Email: "ann@example.com", Password: "Tr0ub4dor&3"},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"password": "must be at least 12 characters"}},
		{name: "common password", in: accounts.RegisterInput{Email: "ann@example.com", Password: "password1234"},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"password": tooCommon}},
		{name: "password containing the email", in: accounts.RegisterInput{Email: "rosalind@example.com", Password: "Rosalind violet tractor 19"},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"password": "must not contain your email address"}},
		{name: "name with a bidi override", in: accounts.RegisterInput{Email: "eve@example.com", Password: password, FullName: ptr("Eve\u202emailliW")},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"fullName": "must not contain control, bidi or invisible characters"}},
		{name: "sign-up without a name", in: accounts.RegisterInput{Email: " Ann.Lee@Example.com ", Password: password}, wantName: "Ann.Lee"},
		{name: "sign-up with a name", in: accounts.RegisterInput{Email: "bo@example.com", Password: password, FullName: ptr("  Bo Diddley ")}, wantName: "Bo Diddley"},
		{name: "email taken in another case", in: accounts.RegisterInput{Email: "ann.lee@EXAMPLE.com", Password: password}, wantErr: models.ErrEmailTaken},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, key, _ := models.NormalizeEmail(c.in.Email)
				var before *models.User
				if key != "" {
					before, _ = v.st.Users.ByEmailKey(key)
				}
				sess, err := v.svc.Register(testenv.Ctx(t), v.st, c.in, accounts.Client{IP: "192.0.2.1", UserAgent: "test"})
				checkErr(t, err, c.wantErr, c.wantDetails)
				if c.wantErr != nil {
					if key != "" {
						after, err := v.st.Users.ByEmailKey(key)
						if before == nil && !errors.Is(err, models.ErrNotFound) || before != nil && after.ID != before.ID {
							t.Fatalf("a refused sign-up changed the account of %s: %v", key, err)
						}
					}
					return
				}
				u := sess.User
				stored, err := v.st.Users.ByID(u.ID)
				testenv.Must(t, err, "ByID")
				email := strings.TrimSpace(c.in.Email)
				if stored.Email != email || *stored.FullName != c.wantName || stored.EmailVerified || !stored.IsActive ||
					!slices.Equal(stored.RoleNames(), []string{models.RolePatient}) {
					t.Fatalf("stored %q %q verified=%v active=%v roles %v; want %q %q, unverified, active, PATIENT",
						stored.Email, *stored.FullName, stored.EmailVerified, stored.IsActive, stored.RoleNames(), email, c.wantName)
				}
				if got, _, err := v.svc.Authenticate(v.st, sess.AccessToken); err != nil || got.ID != u.ID {
					t.Fatalf("the new session's access token does not authenticate: %v", err)
				}
				if _, err := v.refresh(t, sess.RefreshToken); err != nil {
					t.Fatalf("the new session's refresh token does not refresh: %v", err)
				}
				tok := v.mailedToken(t, models.MailVerifyEmail, email)
				if n := len(v.mails(t, models.MailVerifyEmail, email)); n != 1 {
					t.Fatalf("%d verification mails queued, want 1", n)
				}
				testenv.Must(t, v.svc.VerifyEmail(testenv.Ctx(t), v.st, tok), "verify with the mailed link")
			})
		}
	})
}

// TestRegisterLimit: sign-ups per client address are limited to
// RegisterMax a window (refused forms take no slot); the answer is
// RATE_LIMITED with the wait; another address is not affected; a new
// window allows sign-ups again.
func TestRegisterLimit(t *testing.T) {
	const a, b = "198.51.100.7", "203.0.113.9"
	steps := []struct {
		name      string
		ip        string
		advance   time.Duration
		bad       bool // a form the validation refuses
		wantErr   *models.Error
		wantRetry time.Duration
	}{
		{name: "refused form takes no slot", ip: a, bad: true, wantErr: models.ErrInvalid},
		{name: "first sign-up", ip: a},
		{name: "second sign-up", ip: a, advance: 10 * time.Minute},
		{name: "third is limited", ip: a, advance: 5 * time.Minute, wantErr: models.ErrRateLimited, wantRetry: 45 * time.Minute},
		{name: "another address signs up", ip: b},
		{name: "still limited near the end of the window", ip: a, advance: 44 * time.Minute, wantErr: models.ErrRateLimited, wantRetry: time.Minute},
		{name: "a new window allows it again", ip: a, advance: time.Minute},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, func(s *accounts.Settings) { s.RegisterMax, s.RegisterWindow = 2, time.Hour })
		for i, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				v.clock.Add(s.advance)
				in := accounts.RegisterInput{Email: fmt.Sprintf("user%d@example.com", i), Password: password}
				if s.bad {
					in.Password = "short"
				}
				_, err := v.svc.Register(testenv.Ctx(t), v.st, in, accounts.Client{IP: s.ip})
				checkErr(t, err, s.wantErr, nil)
				if got := retryAfter(err); got != s.wantRetry {
					t.Fatalf("retry after %v, want %v", got, s.wantRetry)
				}
				_, err = v.st.Users.ByEmailKey(in.Email)
				if created := err == nil; created != (s.wantErr == nil) {
					t.Fatalf("account created = %v, want %v", created, s.wantErr == nil)
				}
			})
		}
	})
}

// TestCreate: an operator's account (the CLI path) gets exactly the roles
// named (validated, duplicates dropped), a verified email, and no session
// or mail; the sign-up rules for email, name and password apply.
func TestCreate(t *testing.T) {
	const roleMsg = "each role must be one of PATIENT, DOCTOR, ADMIN"
	cases := []struct {
		name        string
		in          accounts.NewAccount
		wantErr     *models.Error
		wantDetails map[string]string
		wantRoles   []string
		wantName    string
	}{
		{name: "admin and doctor", in: accounts.NewAccount{Email: "Grace@Example.com", Password: password, FullName: ptr("Grace Hopper"),
			Roles: []string{models.RoleAdmin, models.RoleDoctor}, Verified: true},
			wantRoles: []string{models.RoleDoctor, models.RoleAdmin}, wantName: "Grace Hopper"},
		{name: "duplicate roles collapse, the name defaults to the local part", in: accounts.NewAccount{Email: "alan@example.com", Password: password,
			Roles: []string{models.RoleDoctor, models.RoleDoctor}, Verified: true},
			wantRoles: []string{models.RoleDoctor}, wantName: "alan"},
		{name: "unknown role", in: accounts.NewAccount{Email: "root@example.com", Password: password, Roles: []string{"ROOT"}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": roleMsg}},
		{name: "role names are exact", in: accounts.NewAccount{Email: "root@example.com", Password: password, Roles: []string{"admin"}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": roleMsg}},
		{name: "no roles", in: accounts.NewAccount{Email: "root@example.com", Password: password},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"roles": "must name at least one role"}},
		{name: "every bad field is named", in: accounts.NewAccount{Email: "x", Password: "", Roles: []string{"ROOT"}},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"email": "must be a valid email address", "password": "is required", "roles": roleMsg}},
		{name: "email taken in another case", in: accounts.NewAccount{Email: "grace@EXAMPLE.com", Password: password, Roles: []string{models.RolePatient}},
			wantErr: models.ErrEmailTaken},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				u, err := v.svc.Create(testenv.Ctx(t), v.st, c.in)
				checkErr(t, err, c.wantErr, c.wantDetails)
				if err != nil {
					if _, err := v.st.Users.ByEmailKey("root@example.com"); !errors.Is(err, models.ErrNotFound) {
						t.Fatalf("a refused account was created: %v", err)
					}
					return
				}
				stored, err := v.st.Users.ByID(u.ID)
				testenv.Must(t, err, "ByID")
				if !slices.Equal(stored.RoleNames(), c.wantRoles) || *stored.FullName != c.wantName || !stored.EmailVerified ||
					stored.EmailVerifiedAt == nil || !stored.EmailVerifiedAt.Equal(v.clock.Now()) || !stored.IsActive {
					t.Fatalf("stored roles %v, name %q, verified %v at %v, active %v; want %v, %q, verified now, active",
						stored.RoleNames(), *stored.FullName, stored.EmailVerified, stored.EmailVerifiedAt, stored.IsActive, c.wantRoles, c.wantName)
				}
				if n := v.sessions(t, u.ID); n != 0 {
					t.Errorf("%d sessions started", n)
				}
				var mails int64
				testenv.Must(t, v.db.Model(&models.OutboxMessage{}).Where("recipient = ?", c.in.Email).Count(&mails).Error, "count mail")
				if mails != 0 {
					t.Errorf("%d mails queued", mails)
				}
				v.login(t, c.in.Email, c.in.Password)
			})
		}
	})
}
