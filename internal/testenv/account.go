package testenv

import (
	"testing"
	"time"

	"aura/models"
	"aura/repositories"
	"aura/security"
	"aura/services/accounts"
)

// Accounts are account rules with cheap hashing, for tests that need
// accounts in a database of their own (OpenDB).
func Accounts() *accounts.Service {
	return &accounts.Service{
		Settings: accounts.Settings{PasswordMinLength: 12, RegisterMax: 1000, RegisterWindow: time.Hour,
			LoginMaxFailures: 10, LoginWindow: time.Minute, RefreshTTL: time.Hour},
		Hasher: security.NewHasher(security.Argon2Params{Memory: 64, Time: 1, Threads: 1}, 0),
		JWT:    security.NewJWT("test-secret-test-secret-test-secret-0123", 15*time.Minute),
	}
}

// Account creates a verified account of email holding roles (PATIENT when
// none) and returns it with the Actor it acts as.
func Account(t testing.TB, st *repositories.Store, email string, roles ...string) (*models.User, models.Actor) {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{models.RolePatient}
	}
	u, err := Accounts().Create(Ctx(t), st, accounts.NewAccount{Email: email, Password: "correct horse battery staple", Roles: roles, Verified: true})
	Must(t, err, "create account %s", email)
	return u, models.Actor{UserID: u.ID, Roles: roles}
}
