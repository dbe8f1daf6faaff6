package tests

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// clinicPatient is the part of a Patient (and of a clinic's list item) the
// tests read.
type clinicPatient struct {
	ID              string
	UserID          *string
	PatientCode     string
	FullName        string
	DateOfBirth     *string
	Sex             *string
	ExternalID      *string
	Clinics         []struct{ ID, Name string }
	LatestRiskLevel *string
	AssignedDoctor  *struct{ UserID, FullName string }
}

type clinicPatientPage struct {
	Items          []clinicPatient
	Total          int
	TotalExact     bool
	Page, PageSize int
}

// memberOf makes a new account a member of clinicID in role (granting the
// role, straight in the database as an accepted invitation would) and signs it in again so its token carries the role.
func memberOf(t *testing.T, s *testenv.Server, clinicID, email, role string) person {
	t.Helper()
	p := signUp(t, s, email)
	db := s.App.DB.WithContext(testenv.Ctx(t))
	var roleID uint
	for _, r := range models.SeedRoles {
		if r.Name == role {
			roleID = r.ID
		}
	}
	testenv.Must(t, db.Create(&models.UserRole{UserID: p.ID, RoleID: roleID, CreatedAt: time.Now().UTC()}).Error, "role")
	testenv.Must(t, db.Create(&models.ClinicMember{ClinicID: clinicID, UserID: p.ID, Role: role,
		CreatedAt: time.Now().UTC()}).Error, "membership")
	p.Token = login(t, s, email, goodPassword).AccessToken
	return p
}

func enrol(t *testing.T, s *testenv.Server, token, clinicID string, body map[string]any) clinicPatient {
	t.Helper()
	var p clinicPatient
	s.Do(t, "POST", "/api/clinics/"+clinicID+"/patients", body, token).Expect(t, http.StatusCreated, "").Data(t, &p)
	return p
}

func listPatients(t *testing.T, s *testenv.Server, token, clinicID string, q url.Values) clinicPatientPage {
	t.Helper()
	var pg clinicPatientPage
	s.Do(t, "GET", "/api/clinics/"+clinicID+"/patients?"+q.Encode(), nil, token).Expect(t, http.StatusOK, "").Data(t, &pg)
	return pg
}

func patientNames(pg clinicPatientPage) []string {
	out := make([]string, len(pg.Items))
	for i, p := range pg.Items {
		out[i] = p.FullName
	}
	return out
}

// TestClinicPatients: staff (a technician too) enrol patients without
// accounts; the external id is unique within a clinic; doctors and clinic
// admins list them with search (code, external id, name without case or
// diacritics), risk and doctor filters and pages; the latest risk level
// follows analyses and reviews; the record reads by its id for the staff of
// its clinics; reads and lists are audited.
func TestClinicPatients(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newClinicWorld(t, e.URI(t))
		s := w.s
		ca1 := memberOf(t, s, w.c1, "admin.one@clinic.example", models.RoleClinicAdmin)
		tech1 := memberOf(t, s, w.c1, "tech.one@clinic.example", models.RoleTechnician)
		var users0 int64
		testenv.Must(t, s.App.DB.Model(&models.User{}).Count(&users0).Error, "count users")

		// Enrolment: a technician may; no account is made.
		an := enrol(t, s, tech1.Token, w.c1, map[string]any{"fullName": "  Nguyễn Văn An ", "dateOfBirth": "1960-05-01",
			"sex": "male", "externalId": "HS-0001", "email": "an@example.com", "phone": "+84 90 000 0001"})
		if an.ID == "" || an.UserID != nil || an.FullName != "Nguyễn Văn An" || models.Deref(an.ExternalID) != "HS-0001" ||
			models.Deref(an.DateOfBirth) != "1960-05-01" || len(an.Clinics) != 1 || an.Clinics[0].ID != w.c1 ||
			!regexp.MustCompile(`^AU-[A-Z0-9]{4}-[A-Z0-9]{4}$`).MatchString(an.PatientCode) {
			t.Fatalf("enrolled: %+v", an)
		}
		binh := enrol(t, s, w.d1.Token, w.c1, map[string]any{"fullName": "Trần Thị Bình", "externalId": "hs-0002"})
		cuong := enrol(t, s, ca1.Token, w.c1, map[string]any{"fullName": "Lê Văn Cường"})
		var users1 int64
		testenv.Must(t, s.App.DB.Model(&models.User{}).Count(&users1).Error, "count users")
		if users1 != users0 {
			t.Fatalf("enrolment made accounts: %d -> %d", users0, users1)
		}
		// The external id is unique within the clinic, whatever the case;
		// another clinic may use it.
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/patients", map[string]any{"fullName": "X", "externalId": "hs-0001"}, w.d1.Token).
			Expect(t, http.StatusConflict, "CONFLICT")
		enrol(t, s, w.d2.Token, w.c2, map[string]any{"fullName": "Nguyễn Văn An", "externalId": "HS-0001"})
		// Bad input names the field.
		for field, body := range map[string]map[string]any{
			"fullName":    {"fullName": "  "},
			"dateOfBirth": {"fullName": "A", "dateOfBirth": "1960-02-30"},
			"email":       {"fullName": "A", "email": "not an email"},
			"phone":       {"fullName": "A", "phone": "call me"},
			"externalId":  {"fullName": "A", "externalId": "a\u200bb"},
		} {
			r := s.Do(t, "POST", "/api/clinics/"+w.c1+"/patients", testenv.Invalid(body), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if !regexp.MustCompile(`"` + field + `"`).Match(r.Body) {
				t.Errorf("%s: details do not name it: %s", field, r.Body)
			}
		}
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/patients", testenv.Invalid(map[string]any{"fullName": "A", "sex": "x"}), w.d1.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		// Who may enrol where.
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/patients", map[string]any{"fullName": "A"}, w.p1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/patients", map[string]any{"fullName": "A"}, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/clinics/00000000-0000-4000-8000-000000000000/patients", map[string]any{"fullName": "A"}, w.admin.Token).
			Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/admin/clinics/"+w.c2+"/suspend", map[string]any{"reason": "Licence lapsed"}, w.admin.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/clinics/"+w.c2+"/patients", map[string]any{"fullName": "A"}, w.d2.Token).Expect(t, http.StatusConflict, "CLINIC_INACTIVE")

		// The patient's own upload enrols them; the analysis and then the
		// review set their latest risk level.
		jpg, _ := fundus(t)
		var up struct{ ID string }
		upload(t, s, w.p1.Token, form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": w.c1}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &up)
		analyse(t, s)
		analysed := getScreening(t, s, w.p1.Token, up.ID)
		if analysed.Analysis == nil || analysed.Analysis.RiskLevel == nil {
			t.Fatalf("not analysed: %+v", analysed)
		}
		all := listPatients(t, s, w.d1.Token, w.c1, nil)
		if all.Total != 4 || all.Items[0].ID != w.p1.ID || models.Deref(all.Items[0].LatestRiskLevel) != *analysed.Analysis.RiskLevel ||
			all.Items[0].UserID == nil || *all.Items[0].UserID != w.p1.ID {
			t.Fatalf("after the analysis: %+v", all)
		}
		if !slices.Equal(patientNames(all)[1:], []string{"Lê Văn Cường", "Trần Thị Bình", "Nguyễn Văn An"}) {
			t.Fatalf("not newest first: %v", patientNames(all))
		}
		if models.Deref(all.Items[3].ExternalID) != "HS-0001" || all.Items[3].LatestRiskLevel != nil || all.Items[3].AssignedDoctor != nil {
			t.Fatalf("An in the list: %+v", all.Items[3])
		}
		s.Do(t, "POST", "/api/screenings/"+up.ID+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/screenings/"+up.ID+"/review", map[string]any{"riskLevel": "critical", "recommendation": "Khám ngay."}, w.d1.Token).
			Expect(t, http.StatusOK, "")
		crit := listPatients(t, s, w.d1.Token, w.c1, url.Values{"riskLevel": {"critical"}})
		if crit.Total != 1 || crit.Items[0].ID != w.p1.ID {
			t.Fatalf("riskLevel=critical: %+v", crit)
		}
		if pg := listPatients(t, s, w.d1.Token, w.c1, url.Values{"riskLevel": {"low,medium"}}); pg.Total != 0 {
			t.Fatalf("riskLevel=low,medium: %+v", pg)
		}
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/patients?riskLevel=severe", testenv.Invalid(nil), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		// Search.
		for q, want := range map[string][]string{
			"nguyen van an":  {"Nguyễn Văn An"},
			"NGUYỄN  VĂN":    {"Nguyễn Văn An"},
			"van":            {"Lê Văn Cường", "Nguyễn Văn An"},
			"cuong":          {"Lê Văn Cường"},
			"hs-0002":        {"Trần Thị Bình"},
			"HS-0001":        {"Nguyễn Văn An"},
			binh.PatientCode: {"Trần Thị Bình"},
			"100%":           {},
			"zzz":            {},
		} {
			if got := patientNames(listPatients(t, s, ca1.Token, w.c1, url.Values{"q": {q}})); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("q=%q: %v, want %v", q, got, want)
			}
		}
		// An account holder's rename is searchable at once.
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Phạm Thị Ngọc"}, w.p1.Token).Expect(t, http.StatusOK, "")
		if got := patientNames(listPatients(t, s, w.d1.Token, w.c1, url.Values{"q": {"pham thi ngoc"}})); !slices.Equal(got, []string{"Phạm Thị Ngọc"}) {
			t.Errorf("after the rename: %v", got)
		}

		// The assigned doctor filter (the assignment itself is made elsewhere).
		testenv.Must(t, s.App.DB.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND patient_id = ?", w.c1, cuong.ID).
			Update("assigned_doctor_id", w.d1.ID).Error, "assign")
		mine := listPatients(t, s, w.d1.Token, w.c1, url.Values{"assignedDoctorId": {w.d1.ID}})
		if mine.Total != 1 || mine.Items[0].ID != cuong.ID || mine.Items[0].AssignedDoctor == nil || mine.Items[0].AssignedDoctor.UserID != w.d1.ID ||
			mine.Items[0].AssignedDoctor.FullName == "" {
			t.Fatalf("assignedDoctorId: %+v", mine)
		}
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/patients?assignedDoctorId=nobody", testenv.Invalid(nil), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		// Pages.
		p1 := listPatients(t, s, w.admin.Token, w.c1, url.Values{"pageSize": {"3"}})
		p2 := listPatients(t, s, w.admin.Token, w.c1, url.Values{"pageSize": {"3"}, "page": {"2"}})
		if p1.Total != 4 || !p1.TotalExact || len(p1.Items) != 3 || len(p2.Items) != 1 || p2.Items[0].ID != an.ID || p1.PageSize != 3 || p2.Page != 2 {
			t.Fatalf("pages: %+v / %+v", p1, p2)
		}

		// Who may list where.
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/patients", nil, tech1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/patients", nil, w.p2.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/patients", nil, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/00000000-0000-4000-8000-000000000000/patients", nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")

		// The record by its id: the staff of its clinic who read patients,
		// and admins; a user id keeps working for an account's record.
		for _, who := range []person{w.d1, ca1, w.admin} {
			var got clinicPatient
			s.Do(t, "GET", "/api/patients/"+an.ID, nil, who.Token).Expect(t, http.StatusOK, "").Data(t, &got)
			if got.ID != an.ID || got.UserID != nil || got.ExternalID != nil || got.FullName != "Nguyễn Văn An" ||
				len(got.Clinics) != 1 || got.Clinics[0].ID != w.c1 {
				t.Fatalf("record read by %s: %+v", who.Email, got)
			}
		}
		s.Do(t, "GET", "/api/patients/"+an.ID, nil, tech1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/patients/"+an.ID, nil, w.p1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/patients/"+an.ID, nil, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		var acc clinicPatient
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, ca1.Token).Expect(t, http.StatusOK, "").Data(t, &acc)
		if acc.ID != w.p1.ID || acc.UserID == nil || *acc.UserID != w.p1.ID || acc.FullName != "Phạm Thị Ngọc" {
			t.Fatalf("account's record by the user id: %+v", acc)
		}
		var me clinicPatient
		s.Do(t, "GET", "/api/patients/me", nil, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.ID != w.p1.ID || len(me.Clinics) != 1 || me.Clinics[0].ID != w.c1 {
			t.Fatalf("the patient's own record: %+v", me)
		}

		// Audit: enrolments, lists and reads by staff.
		for _, c := range []struct{ action, entity, actor string }{
			{models.AuditPatientEnrol, an.ID, tech1.ID},
			{models.AuditPatientList, w.c1, w.d1.ID},
			{models.AuditPatientList, w.c1, ca1.ID},
			{models.AuditPatientRead, an.ID, w.d1.ID},
			{models.AuditPatientRead, w.p1.ID, ca1.ID},
		} {
			var n int64
			testenv.Must(t, s.App.DB.Model(&models.AuditLog{}).Where("action = ? AND entity_id = ? AND actor_id = ?", c.action, c.entity, c.actor).
				Count(&n).Error, "audit")
			if n == 0 {
				t.Errorf("no audit row %+v", c)
			}
		}
	})
}
