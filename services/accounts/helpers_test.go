package accounts_test

import (
	"errors"
	"maps"
	"regexp"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/security"
	"aura/services/accounts"
)

// Passwords the policy accepts.
const (
	password    = "violet tractor amuses 19 owls"
	newPassword = "quiet harbour lantern 84 kites"
)

// clock is the service's clock; tests move it.
type clock = testenv.Clock

// env is a Service on a fresh database of one engine.
type env struct {
	db    *gorm.DB
	st    *repositories.Store
	svc   *accounts.Service
	clock *clock
}

// newEnv opens a fresh database of e and builds the Service on it with the
// test settings (tune may change them) and a clock that starts now: access
// tokens are verified against the real time, so it starts there.
func newEnv(t *testing.T, e testenv.Engine, tune func(s *accounts.Settings)) *env {
	t.Helper()
	db := testenv.OpenDB(t, e)
	set := accounts.Settings{
		RefreshTTL:        7 * 24 * time.Hour,
		VerificationTTL:   24 * time.Hour,
		ResetTTL:          time.Hour,
		PasswordMinLength: 12,
		LoginMaxFailures:  3,
		LoginWindow:       15 * time.Minute,
		RegisterMax:       1000,
		RegisterWindow:    time.Hour,
		FrontendURL:       "http://localhost:3000",
	}
	if tune != nil {
		tune(&set)
	}
	c := testenv.NewClock()
	return &env{
		db: db,
		st: repositories.New(db.WithContext(testenv.Ctx(t))),
		svc: &accounts.Service{
			Settings: set,
			Hasher:   security.NewHasher(security.Argon2Params{Memory: 64, Time: 1, Threads: 1}, 0),
			JWT:      security.NewJWT("test-secret-test-secret-test-secret-0123", 15*time.Minute),
			Clock:    c.Now,
		},
		clock: c,
	}
}

// account creates a verified account with password and roles (PATIENT
// when none), as an operator would.
func (v *env) account(t *testing.T, email string, roles ...string) *models.User {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{models.RolePatient}
	}
	u, err := v.svc.Create(testenv.Ctx(t), v.st, accounts.NewAccount{Email: email, Password: password, Roles: roles, Verified: true})
	testenv.Must(t, err, "create %s", email)
	return u
}

// login signs email in with pw.
func (v *env) login(t *testing.T, email, pw string) *accounts.Session {
	t.Helper()
	s, err := v.svc.Login(testenv.Ctx(t), v.st, accounts.LoginInput{Email: email, Password: pw}, accounts.Client{IP: "192.0.2.1"})
	testenv.Must(t, err, "login %s", email)
	return s
}

// refresh rotates a refresh token.
func (v *env) refresh(t *testing.T, token string) (*accounts.Session, error) {
	t.Helper()
	return v.svc.Refresh(testenv.Ctx(t), v.st, token)
}

// mails returns the queued messages of kind to recipient, oldest first.
func (v *env) mails(t *testing.T, kind, recipient string) []models.OutboxMessage {
	t.Helper()
	var rows []models.OutboxMessage
	testenv.Must(t, v.db.Where("kind = ? AND recipient = ?", kind, recipient).Order("id").Find(&rows).Error, "read outbox")
	return rows
}

var tokenInLink = regexp.MustCompile(`\?token=([A-Za-z0-9_-]{43})`)

// mailedToken is the token of the latest link of kind mailed to recipient.
func (v *env) mailedToken(t *testing.T, kind, recipient string) string {
	t.Helper()
	rows := v.mails(t, kind, recipient)
	if len(rows) == 0 {
		t.Fatalf("no %s mail to %s", kind, recipient)
	}
	m := tokenInLink.FindStringSubmatch(rows[len(rows)-1].TextBody)
	if m == nil {
		t.Fatalf("no token link in %q", rows[len(rows)-1].TextBody)
	}
	return m[1]
}

// sessions counts the user's live sessions.
func (v *env) sessions(t *testing.T, userID string) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, v.db.Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", userID).Count(&n).Error, "count sessions")
	return n
}

// checkErr fails t unless err is want (by errors.Is and its code), or nil
// when want is nil; for VALIDATION_FAILED, details (when not nil) must be
// exactly the fields and messages given.
func checkErr(t *testing.T, err error, want *models.Error, details map[string]string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) || models.CodeOf(err) != want.Code {
		t.Fatalf("error %v (code %q), want %s", err, models.CodeOf(err), want.Code)
	}
	if details != nil {
		var e *models.Error
		errors.As(err, &e)
		if !maps.Equal(e.Details, details) {
			t.Fatalf("details %v, want %v", e.Details, details)
		}
	}
}

// retryAfter is the wait of a RATE_LIMITED error, or 0.
func retryAfter(err error) time.Duration {
	var e *models.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

func ptr[T any](v T) *T { return &v }
