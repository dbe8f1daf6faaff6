package tests

import (
	"bytes"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/internal/testenv"
)

// flaskFixture is a database written by the first AURA backend (Flask +
// SQLAlchemy) through its own sign-up: a copy of
// ../shared/fixtures/aura-flask-v1.sqlite, kept here so CI needs nothing else.
const flaskFixture = "testdata/aura-flask-v1.sqlite"

// flaskUser is one account of the fixture, as its README describes it.
type flaskUser struct {
	id, email, password, name, phone, createdAt string
	verified                                    bool
}

var flaskUsers = []flaskUser{
	{"1fc2f389-2ce0-47de-bcdc-679e1fad576d", "lan.nguyen@example.com", "Lan-Retina-2024", "Nguyễn Thị Lan", "+84 90 123 4567", "2026-11-26T07:01:50.980731Z", true},
	{"7cb8ff32-c8e5-4b81-81e2-92c68c3b3e01", "Minh.Tran@Example.com", "MinhPass12345", "Trần Văn Minh", "", "2026-11-26T07:01:51.264165Z", false},
	{"3552ae87-531c-4769-811c-c8f9067be274", "doctor.hoa@aura.vn", "Doctor#Hoa2024", "BS. Lê Thị Hoa", "", "2026-11-26T07:01:51.551285Z", false},
}

// legacyUsersSQL and legacyTokensSQL are the fixture's DDL translated for
// PostgreSQL the way SQLAlchemy would have created it there.
const legacyUsersSQL = `CREATE TABLE users (
	id VARCHAR(36) NOT NULL, email VARCHAR(255) NOT NULL, password_hash VARCHAR(255) NOT NULL,
	full_name VARCHAR(255), phone VARCHAR(100), avatar_url VARCHAR(255),
	email_verified BOOLEAN, email_verified_at TIMESTAMP WITHOUT TIME ZONE, is_active BOOLEAN,
	created_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id), UNIQUE (email))`

const legacyTokensSQL = `CREATE TABLE email_verification_tokens (
	id VARCHAR(36) NOT NULL, user_id VARCHAR(36) NOT NULL, token VARCHAR(255) NOT NULL,
	expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, is_used BOOLEAN, used_at TIMESTAMP WITHOUT TIME ZONE,
	created_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id), UNIQUE (token))`

// legacyToken is a pending verification token of the old backend, added to
// the fixture so the test can see that AURA leaves the old table alone.
const legacyToken = `INSERT INTO email_verification_tokens (id, user_id, token, expires_at, is_used, used_at, created_at)
	VALUES ('9b1c4a52-0d1e-4f7a-9a55-3c1f0e2b7d10', '7cb8ff32-c8e5-4b81-81e2-92c68c3b3e01', 'legacy-token-value',
	'2026-11-27 07:01:51.264165', ?, NULL, '2026-11-26 07:01:51.264165')`

// fixtureCopy copies the fixture into a temporary directory (it is read-only).
func fixtureCopy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(flaskFixture)
	testenv.Must(t, err, "read fixture")
	p := filepath.Join(t.TempDir(), "aura-flask-v1.sqlite")
	testenv.Must(t, os.WriteFile(p, b, 0o600), "copy fixture")
	return p
}

// legacySnapshot reads every legacy column and row as text, as the engine
// itself prints them, so any rewrite of a value or a type would show.
func legacySnapshot(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		"SELECT id, email, password_hash, full_name, phone, avatar_url, CAST(email_verified AS TEXT), " +
			"CAST(email_verified_at AS TEXT), CAST(is_active AS TEXT), CAST(created_at AS TEXT) FROM users ORDER BY id",
		"SELECT id, user_id, token, CAST(expires_at AS TEXT), CAST(is_used AS TEXT), CAST(used_at AS TEXT), " +
			"CAST(created_at AS TEXT) FROM email_verification_tokens ORDER BY id",
	} {
		rows, err := db.Raw(q).Rows()
		testenv.Must(t, err, "legacy snapshot")
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			testenv.Must(t, rows.Scan(ptrs...), "scan legacy row")
			var line []string
			for _, v := range vals {
				if v.Valid {
					line = append(line, v.String)
				} else {
					line = append(line, "NULL")
				}
			}
			out = append(out, strings.Join(line, "|"))
		}
		rows.Close()
	}
	return out
}

// withoutHashes drops the password_hash field (third) of the users lines:
// the one legacy value a login is meant to change.
func withoutHashes(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, "|")
		if len(f) == 10 {
			f[2] = "-"
		}
		out[i] = strings.Join(f, "|")
	}
	return out
}

// checkFlaskLogins logs each fixture user in over HTTP with the old password
// and checks the account came through whole, as a PATIENT.
func checkFlaskLogins(t *testing.T, s *testenv.Server) {
	t.Helper()
	for _, fu := range flaskUsers {
		var sess session
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": " " + strings.ToUpper(fu.email) + " ", "password": fu.password}, "").
			Expect(t, http.StatusOK, "").Data(t, &sess)
		u := sess.User
		phone := ""
		if u.Phone != nil {
			phone = *u.Phone
		}
		created, err := time.Parse(time.RFC3339Nano, u.CreatedAt)
		want, _ := time.Parse(time.RFC3339Nano, fu.createdAt)
		// Answers give instants to the millisecond (the store keeps more).
		want = want.Truncate(time.Millisecond)
		if u.ID != fu.id || u.Email != fu.email || u.FullName != fu.name || phone != fu.phone ||
			u.EmailVerified != fu.verified || !u.IsActive || err != nil || !created.Equal(want) ||
			u.Avatar != "/api/users/"+fu.id+"/avatar.svg" {
			t.Errorf("%s after adoption: %+v (createdAt want %s)", fu.email, u, fu.createdAt)
		}
		if len(sess.Roles) != 1 || sess.Roles[0].Name != "PATIENT" {
			t.Errorf("%s roles: %+v", fu.email, sess.Roles)
		}
		var me struct {
			ID        string `json:"id"`
			CreatedAt string `json:"createdAt"`
		}
		s.Do(t, "GET", "/api/auth/me", nil, sess.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.ID != fu.id || me.CreatedAt != u.CreatedAt {
			t.Errorf("%s me: %+v", fu.email, me)
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": fu.email, "password": fu.password + "x"}, "").
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
}

// checkUpgradedHashes fails t unless every fixture user's bcrypt hash was
// replaced by an argon2id one.
func checkUpgradedHashes(t *testing.T, db *gorm.DB) {
	t.Helper()
	for _, fu := range flaskUsers {
		var h string
		testenv.Must(t, db.Raw("SELECT password_hash FROM users WHERE id = ?", fu.id).Row().Scan(&h), "hash of %s", fu.email)
		if !strings.HasPrefix(h, "$argon2id$") {
			t.Errorf("%s: hash not upgraded at login: %.8s...", fu.email, h)
		}
	}
}

func sqliteSchema(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var ddl []string
	testenv.Must(t, db.Raw("SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name").
		Scan(&ddl).Error, "schema")
	return ddl
}

// addedColumn matches a column AutoMigrate appended to a legacy CREATE TABLE
// (SQLite keeps the text of ALTER TABLE ADD COLUMN there, backquoted).
var addedColumn = regexp.MustCompile(", `[^`]+`[^,\n]*")

func TestAdoptFlaskDatabaseSQLite(t *testing.T) {
	t.Parallel()
	path := fixtureCopy(t)
	uri := "sqlite:///" + path
	raw := openRaw(t, uri)
	testenv.Must(t, raw.Exec(legacyToken, false).Error, "add a legacy token")
	before := legacySnapshot(t, raw)
	var legacyDDL []string
	testenv.Must(t, raw.Raw("SELECT sql FROM sqlite_master WHERE name IN ('users', 'email_verification_tokens') ORDER BY name").
		Scan(&legacyDDL).Error, "legacy DDL")
	closeRaw(raw)

	s := testenv.Start(t, testenv.Config(t, uri, nil))
	checkFlaskLogins(t, s)
	s.Stop(t)

	raw = openRaw(t, uri)
	after := legacySnapshot(t, raw)
	if strings.Join(withoutHashes(before), "\n") != strings.Join(withoutHashes(after), "\n") {
		t.Errorf("legacy rows changed:\nbefore %q\nafter  %q", before, after)
	}
	checkUpgradedHashes(t, raw)
	var ddl []string
	testenv.Must(t, raw.Raw("SELECT sql FROM sqlite_master WHERE name IN ('users', 'email_verification_tokens') ORDER BY name").
		Scan(&ddl).Error, "DDL")
	// The users table only gained (backquoted) columns; the old table is as it was.
	if len(ddl) != 2 || ddl[0] != legacyDDL[0] || addedColumn.ReplaceAllString(ddl[1], "") != legacyDDL[1] {
		t.Errorf("legacy DDL rewritten:\nbefore %q\nafter  %q", legacyDDL, ddl)
	}
	schema1 := sqliteSchema(t, raw)
	closeRaw(raw)

	// A second start migrates nothing more and the upgraded passwords work.
	s = testenv.Start(t, testenv.Config(t, uri, nil))
	checkFlaskLogins(t, s)
	s.Stop(t)
	raw = openRaw(t, uri)
	if a, b := strings.Join(schema1, "\n"), strings.Join(sqliteSchema(t, raw), "\n"); a != b {
		t.Errorf("second migration changed the schema:\n%s\n---\n%s", a, b)
	}
}

// loadFlaskIntoPostgres creates the first backend's schema in the test's
// PostgreSQL schema and loads the fixture's rows, values as SQLAlchemy wrote
// them (naive UTC timestamps).
func loadFlaskIntoPostgres(t *testing.T, uri string) *gorm.DB {
	t.Helper()
	pg := openRaw(t, uri)
	testenv.Must(t, pg.Exec(legacyUsersSQL).Error, "legacy users table")
	testenv.Must(t, pg.Exec(legacyTokensSQL).Error, "legacy tokens table")
	src := openRaw(t, "sqlite:///"+fixtureCopy(t))
	defer closeRaw(src)
	rows, err := src.Raw("SELECT id, email, password_hash, full_name, phone, avatar_url, email_verified, " +
		"CAST(email_verified_at AS TEXT), is_active, CAST(created_at AS TEXT) FROM users").Rows()
	testenv.Must(t, err, "read fixture")
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, email, hash string
		var name, phone, avatar, verifiedAt, createdAt sql.NullString
		var verified, active sql.NullBool
		testenv.Must(t, rows.Scan(&id, &email, &hash, &name, &phone, &avatar, &verified, &verifiedAt, &active, &createdAt), "scan fixture")
		testenv.Must(t, pg.Exec("INSERT INTO users (id, email, password_hash, full_name, phone, avatar_url, email_verified, "+
			"email_verified_at, is_active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), ?, CAST(? AS TIMESTAMP))",
			id, email, hash, name, phone, avatar, verified, verifiedAt, active, createdAt).Error, "load %s", email)
		n++
	}
	if n != len(flaskUsers) {
		t.Fatalf("fixture has %d users, want %d", n, len(flaskUsers))
	}
	testenv.Must(t, pg.Exec(legacyToken, false).Error, "add a legacy token")
	return pg
}

func TestAdoptFlaskDatabasePostgres(t *testing.T) {
	t.Parallel()
	uri := testenv.PostgresURI(t)
	pg := loadFlaskIntoPostgres(t, uri)
	before := legacySnapshot(t, pg)
	legacyCols := func() []string {
		var cols []string
		testenv.Must(t, pg.Raw("SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable "+
			"FROM information_schema.columns WHERE table_schema = current_schema() "+
			"AND table_name IN ('users', 'email_verification_tokens') ORDER BY table_name, ordinal_position").
			Scan(&cols).Error, "columns")
		return cols
	}
	colsBefore := legacyCols()

	s := testenv.Start(t, testenv.Config(t, uri, nil))
	checkFlaskLogins(t, s)
	s.Stop(t)

	after := legacySnapshot(t, pg)
	if strings.Join(withoutHashes(before), "\n") != strings.Join(withoutHashes(after), "\n") {
		t.Errorf("legacy rows changed:\nbefore %q\nafter  %q", before, after)
	}
	checkUpgradedHashes(t, pg)
	colsAfter := legacyCols()
	if len(colsAfter) < len(colsBefore) || strings.Join(colsAfter[:len(colsBefore)], "\n") != strings.Join(colsBefore, "\n") {
		// information_schema lists email_verification_tokens first, then
		// users; users may only have gained columns at its end.
		t.Errorf("legacy columns changed:\nbefore %q\nafter  %q", colsBefore, colsAfter)
	}
	var uniq int64
	testenv.Must(t, pg.Raw("SELECT COUNT(*) FROM pg_constraint WHERE conname = 'users_email_key' AND connamespace = "+
		"(SELECT oid FROM pg_namespace WHERE nspname = current_schema())").Row().Scan(&uniq), "constraint")
	if uniq != 1 {
		t.Errorf("the old unique constraint on users.email is gone")
	}

	s = testenv.Start(t, testenv.Config(t, uri, nil))
	checkFlaskLogins(t, s)
	s.Stop(t)

	// The adopted database, naive timestamp columns and all, copies out.
	out := sqliteURI(t, "from-adopted-postgres.db")
	rep := mustCopy(t, uri, out, nil)
	if rep.Adopted || strings.Join(rep.Ignored, ",") != "email_verification_tokens" {
		t.Errorf("report: %+v", rep)
	}
	checkFlaskLogins(t, testenv.Start(t, testenv.Config(t, out, nil)))
}

// TestCopyFromFlaskFixture copies a first-generation database straight into
// a new one: the users come along, the new database has roles, and the
// source file is not modified by a single byte.
func TestCopyFromFlaskFixture(t *testing.T) {
	t.Parallel()
	for _, e := range copyEngines() {
		t.Run(e.Name, func(t *testing.T) {
			path := fixtureCopy(t)
			orig, err := os.ReadFile(path)
			testenv.Must(t, err, "read")
			tgt := e.URI(t)
			rep := mustCopy(t, "sqlite:///"+path, tgt, nil)
			if !rep.Adopted || rep.Rows() != int64(len(flaskUsers)) || strings.Join(rep.Ignored, ",") != "email_verification_tokens" {
				t.Errorf("report: %+v", rep)
			}
			now, err := os.ReadFile(path)
			testenv.Must(t, err, "read")
			if !bytes.Equal(orig, now) {
				t.Errorf("the copy modified its source")
			}
			s := testenv.Start(t, testenv.Config(t, tgt, nil))
			checkFlaskLogins(t, s)
		})
	}
}

// TestAdoptCaseDuplicates: the first backend compared emails case-sensitively,
// so its database may hold two accounts that differ only in case. AURA still
// starts; the older account keeps the address and logs in, the newer one is
// left for an admin (it cannot log in, and nobody can take the address).
func TestAdoptCaseDuplicates(t *testing.T) {
	t.Parallel()
	path := fixtureCopy(t)
	uri := "sqlite:///" + path
	raw := openRaw(t, uri)
	testenv.Must(t, raw.Exec("INSERT INTO users (id, email, password_hash, full_name, email_verified, is_active, created_at) "+
		"SELECT 'ffffffff-0000-4000-8000-000000000001', UPPER(email), password_hash, 'Twin', 0, 1, '2099-01-01 00:00:00' "+
		"FROM users WHERE email = 'lan.nguyen@example.com'").Error, "add a case twin")
	closeRaw(raw)

	s := testenv.Start(t, testenv.Config(t, uri, nil))
	var sess session
	s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "LAN.NGUYEN@example.com", "password": "Lan-Retina-2024"}, "").
		Expect(t, http.StatusOK, "").Data(t, &sess)
	if sess.User.FullName != "Nguyễn Thị Lan" {
		t.Fatalf("the older account should keep the address, got %q", sess.User.FullName)
	}
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "Lan.Nguyen@Example.com", "password": goodPassword}, "").
		Expect(t, http.StatusConflict, "EMAIL_TAKEN")
}
