package tests

import (
	"database/sql"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

func openRawSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000&_txlock=immediate")
	testenv.Must(t, err, "open sqlite")
	t.Cleanup(func() { db.Close() })
	return db
}

// makeAdmin registers an account, grants it ADMIN directly in the database
// (as `aura users create` would) and logs it in again so its token is fresh.
func makeAdmin(t testing.TB, s *testenv.Server, email string) string {
	t.Helper()
	reg := register(t, s, email)
	st := repositories.New(s.App.DB.WithContext(testenv.Ctx(t)))
	u, err := st.Users.ByID(reg.User.ID)
	testenv.Must(t, err, "load admin")
	testenv.Must(t, st.Users.SetRoles(u, []string{models.RolePatient, models.RoleAdmin}, time.Now().UTC()), "grant admin")
	return reg.AccessToken
}
