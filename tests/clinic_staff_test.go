package tests

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/database"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
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

// addMember makes userID a member of clinicID in role straight in the
// database, as an accepted invitation will (CLINIC_ADMIN and TECHNICIAN
// are granted to the account with the membership). Hook: once invitations
// exist, the tests may reach the same state through them.
func addMember(t *testing.T, s *testenv.Server, clinicID, userID, role string) {
	t.Helper()
	st := repositories.New(s.App.DB.WithContext(testenv.Ctx(t)))
	testenv.Must(t, st.Tx(func(tx *repositories.Store) error {
		return tx.Members.Add(clinicID, userID, role, time.Now().UTC())
	}), "add member")
}

type staffOut struct {
	UserID, FullName, Email, Role string
	LicenseNo                     *string
}

func staffOf(t *testing.T, s *testenv.Server, token, clinicID string) []staffOut {
	t.Helper()
	var out []staffOut
	s.Do(t, "GET", "/api/clinics/"+clinicID+"/staff", nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	return out
}

func staffRows(list []staffOut) []string {
	out := []string{}
	for _, m := range list {
		out = append(out, m.Role+" "+m.Email)
	}
	return out
}

// staffWorld is the clinic world with a CLINIC_ADMIN and a TECHNICIAN in
// each clinic.
type staffWorld struct {
	*clinicWorld
	ca1, ca2, t1, t2 person
}

func newStaffWorld(t *testing.T, uri string) *staffWorld {
	t.Helper()
	w := &staffWorld{clinicWorld: newClinicWorld(t, uri)}
	s := w.s
	w.ca1 = signUp(t, s, "manager.one@clinic.example")
	w.ca2 = signUp(t, s, "manager.two@clinic.example")
	w.t1 = signUp(t, s, "tech.one@clinic.example")
	w.t2 = signUp(t, s, "tech.two@clinic.example")
	addMember(t, s, w.c1, w.ca1.ID, "CLINIC_ADMIN")
	addMember(t, s, w.c2, w.ca2.ID, "CLINIC_ADMIN")
	addMember(t, s, w.c1, w.t1.ID, "TECHNICIAN")
	addMember(t, s, w.c2, w.t2.ID, "TECHNICIAN")
	return w
}

// TestClinicStaff: the staff list (members of the clinic and ADMIN; one
// row per membership role, stable order) and removing a member (its
// CLINIC_ADMIN or ADMIN): the claims the doctor held go back to the queue,
// the person loses the clinic on their next request, the last CLINIC_ADMIN
// stays, and every removal is audited.
func TestClinicStaff(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		const unknown = "22222222-2222-4222-8222-222222222222"
		want := []string{"CLINIC_ADMIN manager.one@clinic.example", "DOCTOR doctor.one@clinic.example", "TECHNICIAN tech.one@clinic.example"}
		for name, p := range map[string]person{"admin": w.admin, "ca1": w.ca1, "d1": w.d1, "t1": w.t1} {
			if got := staffOf(t, s, p.Token, w.c1); !slices.Equal(staffRows(got), want) {
				t.Errorf("%s reads %v", name, staffRows(got))
			}
		}
		list := staffOf(t, s, w.ca1.Token, w.c1)
		if list[1].UserID != w.d1.ID || list[1].LicenseNo == nil || *list[1].LicenseNo != "BS-001" ||
			list[0].LicenseNo != nil || list[2].LicenseNo != nil || list[0].FullName != "manager.one" || list[0].UserID != w.ca1.ID {
			t.Errorf("rows %+v", list)
		}
		// Not a member: 404 as an unknown clinic; a role that never reads
		// staff: 403; anonymous: 401.
		notFound := string(s.Do(t, "GET", "/api/clinics/"+unknown+"/staff", nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND").Body)
		for _, p := range []person{w.d2, w.ca2, w.t2} {
			if r := s.Do(t, "GET", "/api/clinics/"+w.c1+"/staff", nil, p.Token).Expect(t, http.StatusNotFound, "NOT_FOUND"); string(r.Body) != notFound {
				t.Errorf("hidden clinic %s differs from unknown %s", r.Body, notFound)
			}
		}
		s.Do(t, "GET", "/api/clinics/nope/staff", nil, w.ca1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/staff", nil, w.p1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/staff", nil, "").Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")

		// Who may remove: the clinic's CLINIC_ADMIN and ADMIN only.
		del := func(token, clinicID, userID, query string) *testenv.Response {
			return s.Do(t, "DELETE", "/api/clinics/"+clinicID+"/staff/"+userID+query, nil, token)
		}
		del(w.d1.Token, w.c1, w.t1.ID, "").Expect(t, http.StatusForbidden, "FORBIDDEN")
		del(w.t1.Token, w.c1, w.d1.ID, "").Expect(t, http.StatusForbidden, "FORBIDDEN")
		del(w.p1.Token, w.c1, w.d1.ID, "").Expect(t, http.StatusForbidden, "FORBIDDEN")
		del(w.ca2.Token, w.c1, w.d1.ID, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		del(w.ca1.Token, w.c1, w.d2.ID, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		del(w.ca1.Token, w.c1, unknown, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		del(w.admin.Token, unknown, w.d1.ID, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "DELETE", "/api/clinics/"+w.c1+"/staff/"+w.d1.ID+"?role=NURSE", testenv.Invalid(nil), w.ca1.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		del(w.ca1.Token, w.c1, w.d1.ID, "?role=TECHNICIAN").Expect(t, http.StatusNotFound, "NOT_FOUND")

		// The doctor holds a case; removing them returns it to the queue
		// and their next request no longer sees the clinic.
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		del(w.ca1.Token, w.c1, w.d1.ID, "").Expect(t, http.StatusOK, "")
		var sc struct {
			Status string
			Review *struct{}
		}
		s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.admin.Token).Expect(t, http.StatusOK, "").Data(t, &sc)
		if sc.Status != "awaiting_review" || sc.Review != nil {
			t.Errorf("claimed case after removal: %+v", sc)
		}
		s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.d1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/staff", nil, w.d1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		del(w.ca1.Token, w.c1, w.d1.ID, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		// A TECHNICIAN removed loses the role with their last membership.
		del(w.admin.Token, w.c1, w.t1.ID, "").Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/staff", nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		if got := staffRows(staffOf(t, s, w.ca1.Token, w.c1)); !slices.Equal(got, want[:1]) {
			t.Errorf("after removals: %v", got)
		}

		// The last CLINIC_ADMIN stays, whoever asks.
		del(w.ca1.Token, w.c1, w.ca1.ID, "").Expect(t, http.StatusConflict, "CONFLICT")
		del(w.admin.Token, w.c1, w.ca1.ID, "?role=CLINIC_ADMIN").Expect(t, http.StatusConflict, "CONFLICT")
		// With a second one (also a TECHNICIAN there), role narrows.
		both := signUp(t, s, "both@clinic.example")
		addMember(t, s, w.c1, both.ID, "CLINIC_ADMIN")
		addMember(t, s, w.c1, both.ID, "TECHNICIAN")
		del(w.ca1.Token, w.c1, both.ID, "?role=TECHNICIAN").Expect(t, http.StatusOK, "")
		if got := staffRows(staffOf(t, s, both.Token, w.c1)); !slices.Equal(got, []string{"CLINIC_ADMIN both@clinic.example", "CLINIC_ADMIN manager.one@clinic.example"}) {
			t.Errorf("after narrowing: %v", got)
		}
		del(w.ca1.Token, w.c1, w.ca1.ID, "").Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/staff", nil, w.ca1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		del(both.Token, w.c1, both.ID, "").Expect(t, http.StatusConflict, "CONFLICT")

		rows := auditLogs(t, s, w.admin.Token, "action=staff.remove&pageSize=100")
		byEntity := map[string]int{}
		roles := map[string]int{}
		for _, r := range rows {
			byEntity[r.EntityType+" "+r.EntityID]++
			roles[*r.ActorRole]++
		}
		if len(rows) != 8 || byEntity["clinic "+w.c1] != 4 || byEntity["user "+w.d1.ID] != 1 || byEntity["user "+w.t1.ID] != 1 ||
			roles["ADMIN"] != 2 || roles["CLINIC_ADMIN"] != 6 {
			t.Errorf("audit %v %v", byEntity, roles)
		}
		if rows := auditLogs(t, s, w.admin.Token, "action=screening.release&entityId="+w.screen1); len(rows) != 1 || *rows[0].ActorRole != "CLINIC_ADMIN" {
			t.Errorf("release audit %+v", rows)
		}
	})
}

// TestClinicStaffRemovalRaces: the last CLINIC_ADMIN rule holds under
// concurrency: two admins removing each other at once, or an ADMIN
// removing both at once: exactly one removal succeeds, one CLINIC_ADMIN
// is left.
func TestClinicStaffRemovalRaces(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@race.example")
		for round := range 4 {
			clinic := createClinic(t, s, adm, "Race "+string(rune('A'+round)))
			a := signUp(t, s, "a"+string(rune('0'+round))+"@race.example")
			b := signUp(t, s, "b"+string(rune('0'+round))+"@race.example")
			addMember(t, s, clinic, a.ID, "CLINIC_ADMIN")
			addMember(t, s, clinic, b.ID, "CLINIC_ADMIN")
			var counts map[int]int
			if round%2 == 0 {
				pairs := [][2]person{{a, b}, {b, a}}
				counts = burst(2, func(i int) *testenv.Response {
					return s.Do(t, "DELETE", "/api/clinics/"+clinic+"/staff/"+pairs[i][1].ID, nil, pairs[i][0].Token)
				})
				// The loser met the rule (409), or had already lost the role
				// (403: it was their last membership in it) or the clinic (404).
				if counts[http.StatusOK] != 1 || counts[http.StatusConflict]+counts[http.StatusNotFound]+counts[http.StatusForbidden] != 1 {
					t.Fatalf("round %d, each other: %v", round, counts)
				}
			} else {
				ids := []string{a.ID, b.ID}
				counts = burst(2, func(i int) *testenv.Response {
					return s.Do(t, "DELETE", "/api/clinics/"+clinic+"/staff/"+ids[i], nil, adm)
				})
				if counts[http.StatusOK] != 1 || counts[http.StatusConflict] != 1 {
					t.Fatalf("round %d, by ADMIN: %v", round, counts)
				}
			}
			var n int64
			testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Raw("SELECT count(*) FROM clinic_members WHERE clinic_id = ? AND role = ?",
				clinic, "CLINIC_ADMIN").Scan(&n).Error, "count")
			if n != 1 {
				t.Fatalf("round %d: %d clinic admins left", round, n)
			}
		}
	})
}

// TestMigrateClinicDoctors: a database from before clinic roles keeps its
// doctors' clinics in clinic_doctors; migrating moves each row to
// clinic_members as a DOCTOR membership (one already there is not doubled,
// its first date stays), drops the old table, and a second migration
// changes nothing. The doctor then finds the clinic in the staff list.
func TestMigrateClinicDoctors(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db := testenv.OpenDB(t, e)
		ctx := testenv.Ctx(t)
		log := testenv.Logger(t)
		testenv.Must(t, database.Migrate(ctx, db, log), "migrate")
		st := repositories.New(db.WithContext(ctx))
		d1, _ := testenv.Account(t, st, "old.doctor.one@clinic.example", models.RoleDoctor)
		d2, _ := testenv.Account(t, st, "old.doctor.two@clinic.example", models.RoleDoctor)
		old := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		newer := old.Add(48 * time.Hour)
		c := models.Clinic{ID: uuid.NewString(), Name: "Phòng khám Cũ", NameKey: models.FoldKey("Phòng khám Cũ"), Status: models.ClinicActive,
			CreatedAt: old, UpdatedAt: old}
		testenv.Must(t, db.WithContext(ctx).Create(&c).Error, "clinic")
		// The old table, as the first clinic release made it.
		testenv.Must(t, db.WithContext(ctx).Exec(`CREATE TABLE clinic_doctors (clinic_id varchar(36) NOT NULL, user_id varchar(36) NOT NULL,
			created_at timestamp NOT NULL, PRIMARY KEY (clinic_id, user_id))`).Error, "old table")
		for _, id := range []string{d1.ID, d2.ID} {
			testenv.Must(t, db.WithContext(ctx).Exec("INSERT INTO clinic_doctors (clinic_id, user_id, created_at) VALUES (?, ?, ?)", c.ID, id, old).Error, "old row")
		}
		// d2's membership is already in the new table (a half-finished start).
		testenv.Must(t, db.WithContext(ctx).Create(&models.ClinicMember{ClinicID: c.ID, UserID: d2.ID, Role: models.RoleDoctor, CreatedAt: newer}).Error, "member")

		for range 2 {
			testenv.Must(t, database.Migrate(ctx, db, log), "migrate the old database")
			if db.Migrator().HasTable("clinic_doctors") {
				t.Fatal("clinic_doctors survived the migration")
			}
			var rows []models.ClinicMember
			testenv.Must(t, db.WithContext(ctx).Where("clinic_id = ?", c.ID).Order("user_id").Find(&rows).Error, "members")
			got := map[string]models.ClinicMember{}
			for _, r := range rows {
				got[r.UserID] = r
			}
			if len(rows) != 2 || got[d1.ID].Role != models.RoleDoctor || got[d2.ID].Role != models.RoleDoctor ||
				!got[d1.ID].CreatedAt.Equal(old) || !got[d2.ID].CreatedAt.Equal(newer) {
				t.Fatalf("memberships after migration: %+v", rows)
			}
		}
		for _, id := range []string{d1.ID, d2.ID} {
			if roles, err := st.Members.RolesIn(c.ID, id); err != nil || !slices.Equal(roles, []string{models.RoleDoctor}) {
				t.Errorf("%s holds %v (%v)", id, roles, err)
			}
		}
		list, err := st.Members.Staff(c.ID)
		testenv.Must(t, err, "staff")
		if len(list) != 2 || list[0].Role != models.RoleDoctor || list[1].Role != models.RoleDoctor {
			t.Errorf("staff %+v", list)
		}
	})
}

// TestDocsListEveryPermission: the permission table in docs/clinic.md is
// the code's: every permission once, a mark exactly where the role carries
// it, "clinic" exactly for the clinic permissions.
func TestDocsListEveryPermission(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docs/clinic.md")
	testenv.Must(t, err, "read docs")
	doc := string(raw)
	start := strings.Index(doc, "### Roles, memberships and the permission table")
	if start < 0 {
		t.Fatal("no section on roles")
	}
	section := doc[start:]
	if end := strings.Index(section[4:], "\n### "); end >= 0 {
		section = section[:end+4]
	}
	var header []string
	seen := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "permission" {
			header = cells
			continue
		}
		if header == nil || !strings.HasPrefix(cells[0], "`") || len(cells) != len(header) {
			continue
		}
		perm := strings.Trim(cells[0], "`")
		if seen[perm] {
			t.Errorf("%s listed twice", perm)
		}
		seen[perm] = true
		for i, col := range header {
			switch {
			case col == "clinic":
				if (cells[i] == "yes") != policy.Clinic(perm) {
					t.Errorf("%s: clinic column %q", perm, cells[i])
				}
			case slices.Contains(models.ClinicRoles, col) || col == models.RolePatient || col == models.RoleAdmin:
				if (cells[i] == "✓") != policy.Allows(col, perm) {
					t.Errorf("%s for %s: docs %q, code %v", perm, col, cells[i], policy.Allows(col, perm))
				}
			}
		}
	}
	if len(header) != 8 {
		t.Fatalf("table header %v", header)
	}
	for _, r := range policy.Table() {
		for _, p := range r.Permissions {
			if !seen[p] {
				t.Errorf("%s (held by %s) is not in the docs' table", p, r.Role)
			}
		}
	}
}
