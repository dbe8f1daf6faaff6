package tests

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"aura/dbcopy"
	"aura/internal/testenv"
	"aura/models"
)

// copyEngines are the engines a copy is tested into: a SQLite file always,
// PostgreSQL when AURA_TEST_POSTGRES_URI is set.
func copyEngines() []testenv.Engine {
	var out []testenv.Engine
	for _, e := range testenv.Engines() {
		if e.Name != "sqlite-memory" {
			out = append(out, e)
		}
	}
	return out
}

// runCopy runs dbcopy from one URI to another and returns its output.
func runCopy(t *testing.T, from, to string, edit func(*dbcopy.Options)) (*dbcopy.Report, string, error) {
	t.Helper()
	var out, prog bytes.Buffer
	o := dbcopy.Options{From: mustDSN(t, from), To: mustDSN(t, to), Out: &out, Progress: &prog, Log: testenv.Logger(t)}
	if edit != nil {
		edit(&o)
	}
	rep, err := dbcopy.Run(testenv.Ctx(t), o)
	return rep, out.String() + prog.String(), err
}

func mustCopy(t *testing.T, from, to string, edit func(*dbcopy.Options)) *dbcopy.Report {
	t.Helper()
	rep, out, err := runCopy(t, from, to, edit)
	if err != nil {
		t.Fatalf("copy %s -> %s: %v\n%s", from, to, err, out)
	}
	return rep
}

type cpSession struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID        string `json:"id"`
		CreatedAt string `json:"createdAt"`
	} `json:"user"`
}

const cpPassword = "copper-meadow-falcon-27"

func cpLogin(t *testing.T, s *testenv.Server, email, password string) cpSession {
	t.Helper()
	var out cpSession
	s.Do(t, "POST", "/api/auth/login", map[string]any{"email": email, "password": password}, "").
		Expect(t, http.StatusOK, "").Data(t, &out)
	return out
}

// populate fills the database at uri through a real server (accounts,
// sessions, a rotated refresh token, a logout, verification tokens, queued
// mail, a login failure), then behind its back with what HTTP cannot make
// (a doctor, NULLs, nanosecond times, non-ASCII text, an outbox id far ahead).
// It returns a refresh token that is still valid, by email.
func populate(t *testing.T, uri string, users int) map[string]string {
	t.Helper()
	s := testenv.Start(t, testenv.Config(t, uri, nil))
	valid := map[string]string{}
	var first cpSession
	for i := 0; i < users; i++ {
		email := "Patient." + string(rune('a'+i)) + "@Clinic.example"
		var reg cpSession
		s.Do(t, "POST", "/api/auth/register", map[string]any{"email": email, "password": cpPassword}, "").
			Expect(t, http.StatusCreated, "").Data(t, &reg)
		valid[email] = reg.RefreshToken
		if i == 0 {
			first = reg
		}
	}
	if users > 0 {
		email := "Patient.a@Clinic.example"
		var pair cpSession
		s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": first.RefreshToken}, "").
			Expect(t, http.StatusOK, "").Data(t, &pair)
		valid[email] = pair.RefreshToken
		second := cpLogin(t, s, email, cpPassword)
		s.Do(t, "POST", "/api/auth/logout", map[string]any{"refreshToken": second.RefreshToken}, second.AccessToken).
			Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": email, "password": "not-the-password-1"}, "").
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	s.Stop(t)

	db := openRaw(t, uri)
	defer closeRaw(db)
	ns := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	name, phone, avatar := "Nguyễn Văn Bình", "+84 90 000 0000", "https://img.example/b.png"
	key := "binh@bệnhviện.example"
	u := models.User{ID: "00000000-0000-4000-8000-000000000001", Email: "Binh@bệnhviện.example", EmailNormalized: &key,
		PasswordHash: "$2b$12$654sK4y67xYBhyVDACbCXeeURQUz4xdY7u436243Zr435yfEAqHte", FullName: &name, Phone: &phone,
		AvatarURL: &avatar, EmailVerified: true, EmailVerifiedAt: &ns, IsActive: false, CreatedAt: ns,
		EraseAfter: &ns} // deleted by its owner: the erasure is carried over
	testenv.Must(t, db.Create(&u).Error, "insert user")
	testenv.Must(t, db.Create(&models.UserRole{UserID: u.ID, RoleID: 2, CreatedAt: ns}).Error, "insert doctor role")
	// A clinic and the account's memberships of it (clinic_members).
	clinic := models.Clinic{ID: "00000000-0000-4000-8000-000000000003", Name: "Phòng khám Bình An", NameKey: models.FoldKey("Phòng khám Bình An"),
		Status: models.ClinicActive, ApprovedAt: &ns, CreatedAt: ns, UpdatedAt: ns}
	testenv.Must(t, db.Create(&clinic).Error, "insert clinic")
	for _, role := range []string{models.RoleDoctor, models.RoleClinicAdmin} {
		testenv.Must(t, db.Create(&models.ClinicMember{ClinicID: clinic.ID, UserID: u.ID, Role: role, CreatedAt: ns}).Error, "insert member")
	}
	testenv.Must(t, db.Create(&models.ActionToken{ID: "00000000-0000-4000-8000-000000000002", UserID: u.ID,
		Purpose: models.PurposeResetPassword, TokenHash: strings.Repeat("ab", 32), CreatedAt: ns, ExpiresAt: ns.Add(time.Hour),
		UsedAt: &ns}).Error, "insert action token")
	testenv.Must(t, db.Create(&models.Invitation{ID: "00000000-0000-4000-8000-000000000003", Email: "Mời@bệnhviện.example",
		EmailKey: "mời@bệnhviện.example", TokenHash: strings.Repeat("cd", 32), Status: models.InvitationAccepted,
		ExpiresAt: ns.Add(72 * time.Hour), InvitedBy: &u.ID, AcceptedBy: &u.ID, AcceptedAt: &ns, CreatedAt: ns}).Error, "insert invitation")
	testenv.Must(t, db.Create(&models.OutboxMessage{ID: 1000, Kind: "notice", Recipient: u.Email, Subject: "Mật khẩu đã đổi",
		TextBody: strings.Repeat("dòng\n", 200), HTMLBody: "<p>☂</p>", CreatedAt: ns, NextAttemptAt: ns, Attempts: 3,
		LastError: "451 try later"}).Error, "insert outbox")
	return valid
}

func TestCopySQLiteToPostgresAndBack(t *testing.T) {
	t.Parallel()
	pg := testenv.PostgresURI(t)
	a, b := sqliteURI(t, "a.db"), sqliteURI(t, "b.db")
	valid := populate(t, a, 4)

	start := time.Now()
	rep := mustCopy(t, a, pg, nil)
	t.Logf("sqlite -> postgres: %d rows in %s", rep.Rows(), time.Since(start))
	mustCopy(t, pg, b, nil)

	dbA, dbPG, dbB := openRaw(t, a), openRaw(t, pg), openRaw(t, b)
	dumpA := dump(t, dbA)
	for _, table := range []string{"users", "roles", "user_roles", "sessions", "refresh_tokens", "action_tokens", "outbox", "rate_limits", "clinics", "clinic_members", "invitations"} {
		if len(dumpA[table]) == 0 {
			t.Errorf("populated source has no %s rows: the round trip would prove little", table)
		}
	}
	sameDump(t, "sqlite vs postgres", dumpA, dump(t, dbPG))
	sameDump(t, "sqlite vs sqlite after the round trip", dumpA, dump(t, dbB))
	closeRaw(dbA)
	closeRaw(dbB)

	// AURA runs on the copy: passwords, refresh-token hashes and the outbox
	// sequence all came along.
	s := testenv.Start(t, testenv.Config(t, pg, nil))
	for email, refresh := range valid {
		cpLogin(t, s, strings.ToUpper(email), cpPassword)
		s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": refresh}, "").Expect(t, http.StatusOK, "")
	}
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "new.after.copy@clinic.example", "password": cpPassword}, "").
		Expect(t, http.StatusCreated, "")
	var maxID int64
	testenv.Must(t, dbPG.Raw("SELECT COALESCE(MAX(id), 0) FROM outbox").Row().Scan(&maxID), "max outbox id")
	if countRows(t, dbPG, "outbox") > int64(len(dumpA["outbox"])) && maxID <= 1000 {
		t.Errorf("new outbox rows got ids below the copied 1000: sequence not reset (max %d)", maxID)
	}
	s.Stop(t)

	s = testenv.Start(t, testenv.Config(t, b, nil))
	for email := range valid {
		cpLogin(t, s, email, cpPassword)
	}
}

func TestCopySQLiteFileToSQLiteFile(t *testing.T) {
	t.Parallel()
	a, b := sqliteURI(t, "a.db"), sqliteURI(t, "sub/dir/b.db")
	valid := populate(t, a, 3)
	rep := mustCopy(t, a, b, func(o *dbcopy.Options) { o.BatchSize = 2 })
	if rep.Adopted {
		t.Errorf("an AURA source reported as first-generation")
	}
	sameDump(t, "sqlite file copy", dump(t, openRaw(t, a)), dump(t, openRaw(t, b)))
	s := testenv.Start(t, testenv.Config(t, b, nil))
	for email := range valid {
		cpLogin(t, s, email, cpPassword)
	}
}

func TestCopyRefusesTargetWithDataUnlessForced(t *testing.T) {
	t.Parallel()
	for _, e := range copyEngines() {
		t.Run(e.Name, func(t *testing.T) {
			src, tgt := sqliteURI(t, "src.db"), e.URI(t)
			populate(t, src, 2)
			populate(t, tgt, 1)
			tdb := openRaw(t, tgt)
			before := dump(t, tdb)

			_, out, err := runCopy(t, src, tgt, nil)
			if !errors.Is(err, dbcopy.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "--force") {
				t.Fatalf("want a refusal naming --force, got %v\n%s", err, out)
			}
			sameDump(t, "refused target", before, dump(t, tdb))

			mustCopy(t, src, tgt, func(o *dbcopy.Options) { o.Force = true })
			sameDump(t, "forced copy", dump(t, openRaw(t, src)), dump(t, tdb))
		})
	}
}

func TestCopyIntoFreshlyMigratedTarget(t *testing.T) {
	t.Parallel()
	for _, e := range copyEngines() {
		t.Run(e.Name, func(t *testing.T) {
			src, tgt := sqliteURI(t, "src.db"), e.URI(t)
			populate(t, src, 1)
			testenv.Start(t, testenv.Config(t, tgt, nil)).Stop(t) // migrated: the seeded roles only
			mustCopy(t, src, tgt, nil)
			sameDump(t, "copy into a migrated target", dump(t, openRaw(t, src)), dump(t, openRaw(t, tgt)))
		})
	}
}

func TestCopyInterruptedLeavesTargetUnchanged(t *testing.T) {
	t.Parallel()
	boom := errors.New("forced failure")
	failMidway := func(o *dbcopy.Options) {
		o.Force, o.BatchSize = true, 1
		o.AfterBatch = func(table string, copied int64) error {
			if table == "sessions" && copied >= 1 {
				return boom
			}
			return nil
		}
	}
	for _, e := range copyEngines() {
		for _, prefilled := range []bool{false, true} {
			name := e.Name + "/empty"
			if prefilled {
				name = e.Name + "/with-data"
			}
			t.Run(name, func(t *testing.T) {
				src, tgt := sqliteURI(t, "src.db"), e.URI(t)
				populate(t, src, 3)
				if prefilled {
					populate(t, tgt, 1)
				}
				var before map[string][]string
				if prefilled || e.Name == "postgres" {
					before = dump(t, openRaw(t, tgt))
				}
				_, out, err := runCopy(t, src, tgt, failMidway)
				if !errors.Is(err, boom) || !strings.Contains(err.Error(), "target left unchanged") {
					t.Fatalf("want the forced failure, got %v\n%s", err, out)
				}
				assertUnchanged(t, tgt, before)
			})
		}
	}
}

// assertUnchanged checks a target after a failed copy: a SQLite file that did
// not exist is gone again; any other target holds exactly what it held (a
// fresh PostgreSQL schema: no tables at all).
func assertUnchanged(t *testing.T, tgt string, before map[string][]string) {
	t.Helper()
	d := mustDSN(t, tgt)
	if before == nil {
		if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
			t.Fatalf("the copy left a target file behind: %v", err)
		}
		return
	}
	db := openRaw(t, tgt)
	defer closeRaw(db)
	sameDump(t, "target after a failed copy", before, dump(t, db))
	if len(before) == 0 {
		tables, err := db.Migrator().GetTables()
		testenv.Must(t, err, "list tables")
		if len(tables) != 0 {
			t.Fatalf("the failed copy left tables behind: %v", tables)
		}
	}
}

// TestCopyTargetKilled terminates the target's PostgreSQL backend midway, as
// a crash or restart of the server would.
func TestCopyTargetKilled(t *testing.T) {
	t.Parallel()
	plain := testenv.PostgresURI(t)
	u, err := url.Parse(plain)
	testenv.Must(t, err, "parse")
	q := u.Query()
	q.Set("application_name", "aura-copy-killed")
	u.RawQuery = q.Encode()
	tgt := u.String()
	admin := openRaw(t, plain)

	src := sqliteURI(t, "src.db")
	populate(t, src, 3)
	_, out, err := runCopy(t, src, tgt, func(o *dbcopy.Options) {
		o.BatchSize = 1
		o.AfterBatch = func(table string, copied int64) error {
			if table == "user_roles" {
				return admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()",
					"aura-copy-killed").Error
			}
			return nil
		}
	})
	if err == nil {
		t.Fatalf("a copy whose target was killed succeeded:\n%s", out)
	}
	t.Logf("copy failed as it should: %v", err)
	assertUnchanged(t, tgt, map[string][]string{})
}

func TestCopyDryRun(t *testing.T) {
	t.Parallel()
	for _, e := range copyEngines() {
		t.Run(e.Name, func(t *testing.T) {
			src, tgt := sqliteURI(t, "src.db"), e.URI(t)
			populate(t, src, 2)
			var before map[string][]string
			if e.Name == "postgres" {
				before = map[string][]string{}
			}
			_, out, err := runCopy(t, src, tgt, func(o *dbcopy.Options) { o.DryRun = true })
			testenv.Must(t, err, "dry run")
			for _, want := range []string{"dry run", "users", "outbox", "would proceed"} {
				if !strings.Contains(out, want) {
					t.Errorf("dry-run output lacks %q:\n%s", want, out)
				}
			}
			assertUnchanged(t, tgt, before)

			populate(t, tgt, 1)
			before = dump(t, openRaw(t, tgt))
			_, out, err = runCopy(t, src, tgt, func(o *dbcopy.Options) { o.DryRun = true })
			if !errors.Is(err, dbcopy.ErrTargetNotEmpty) || !strings.Contains(out, "refused without --force") {
				t.Fatalf("dry run onto data: want the refusal, got %v\n%s", err, out)
			}
			_, out, err = runCopy(t, src, tgt, func(o *dbcopy.Options) { o.DryRun, o.Force = true, true })
			if err != nil || !strings.Contains(out, "would be replaced") {
				t.Fatalf("dry run --force: %v\n%s", err, out)
			}
			assertUnchanged(t, tgt, before)
		})
	}
}

func TestCopyRefusesSameDatabaseAndMissingSource(t *testing.T) {
	t.Parallel()
	a := sqliteURI(t, "a.db")
	populate(t, a, 1)
	if _, _, err := runCopy(t, a, a, nil); err == nil || !strings.Contains(err.Error(), "same database") {
		t.Errorf("copy onto itself: %v", err)
	}
	if _, _, err := runCopy(t, a, "sqlite://", nil); err == nil || !strings.Contains(err.Error(), "in-memory") {
		t.Errorf("copy into memory: %v", err)
	}
	missing := sqliteURI(t, "missing.db")
	if _, _, err := runCopy(t, missing, sqliteURI(t, "b.db"), nil); err == nil || !strings.Contains(err.Error(), "no such SQLite file") {
		t.Errorf("missing source: %v", err)
	}
	if _, err := os.Stat(mustDSN(t, missing).Path); !os.IsNotExist(err) {
		t.Errorf("a missing source was created")
	}
	empty := sqliteURI(t, "empty.db")
	db := openRaw(t, empty)
	testenv.Must(t, db.Exec("CREATE TABLE unrelated (id INTEGER)").Error, "create")
	if _, _, err := runCopy(t, empty, sqliteURI(t, "c.db"), nil); err == nil || !strings.Contains(err.Error(), "no AURA database") {
		t.Errorf("non-AURA source: %v", err)
	}
}

// TestCopyVerificationCatchesAlteredRows plants a trigger in the target that
// changes every copied user: the checksum must catch it and roll back.
func TestCopyVerificationCatchesAlteredRows(t *testing.T) {
	t.Parallel()
	for _, e := range copyEngines() {
		t.Run(e.Name, func(t *testing.T) {
			src, tgt := sqliteURI(t, "src.db"), e.URI(t)
			populate(t, src, 2)
			testenv.Start(t, testenv.Config(t, tgt, nil)).Stop(t)
			db := openRaw(t, tgt)
			if e.Name == "postgres" {
				testenv.Must(t, db.Exec(`CREATE FUNCTION mangle() RETURNS trigger AS $$
					BEGIN NEW.full_name := 'mangled'; RETURN NEW; END $$ LANGUAGE plpgsql`).Error, "function")
				testenv.Must(t, db.Exec("CREATE TRIGGER mangle BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION mangle()").Error, "trigger")
			} else {
				testenv.Must(t, db.Exec("CREATE TRIGGER mangle AFTER INSERT ON users BEGIN "+
					"UPDATE users SET full_name = 'mangled' WHERE id = NEW.id; END").Error, "trigger")
			}
			before := dump(t, db)
			_, out, err := runCopy(t, src, tgt, nil)
			if err == nil || !strings.Contains(err.Error(), "verify users: checksum mismatch") {
				t.Fatalf("want a checksum mismatch on users, got %v\n%s", err, out)
			}
			sameDump(t, "target after a failed verification", before, dump(t, db))
		})
	}
}
