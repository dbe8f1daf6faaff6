package repositories_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// t0 is the moment the repository tests start from; every time they pass is
// t0 plus an offset, in UTC and whole seconds, as the services pass them.
var t0 = time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)

// open returns a fresh migrated database of engine e and a Store on it.
func open(t *testing.T, e testenv.Engine) (*gorm.DB, *repositories.Store) {
	t.Helper()
	db := testenv.OpenDB(t, e)
	return db, repositories.New(db.WithContext(testenv.Ctx(t)))
}

// newUser creates an active account with email (its key lower-cased) and roles.
func newUser(t *testing.T, st *repositories.Store, email string, roles ...string) *models.User {
	t.Helper()
	key := strings.ToLower(email)
	u := &models.User{ID: uuid.NewString(), Email: email, EmailNormalized: &key, PasswordHash: "hash", IsActive: true, CreatedAt: t0}
	testenv.Must(t, st.Tx(func(tx *repositories.Store) error { return tx.Users.Create(u, roles...) }), "create %s", email)
	return u
}

// count counts the rows of model matching where.
func count(t *testing.T, db *gorm.DB, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, db.Model(model).Where(where, args...).Count(&n).Error, "count")
	return n
}

// tally counts nil errors and errors matching want; anything else fails t.
func tally(t *testing.T, errs []error, want error) (ok, matched int) {
	t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	return ok, matched
}
