package tests

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"aura/internal/testenv"
)

// TestClinicsAndDoctors: admins create, rename and staff clinics; names and
// license numbers are unique (with Unicode case folding); everyone signed in
// lists clinics; a doctor reads their own profile.
func TestClinicsAndDoctors(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newClinicWorld(t, e.URI(t))
		s, adm := w.s, w.admin.Token

		s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": "  PHÒNG KHÁM AN BÌNH "}, adm).Expect(t, http.StatusConflict, "CONFLICT")
		for name, body := range map[string]map[string]any{
			"empty": {"name": " "}, "missing": {}, "long": {"name": strings.Repeat("x", 201)}, "bidi": {"name": "A\u202EB"},
		} {
			r := s.Do(t, "POST", "/api/admin/clinics", body, adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details["name"] == "" {
				t.Errorf("%s: details %v", name, r.Env.Details)
			}
		}
		s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": "X"}, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": "X"}, w.p1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		var renamed struct{ Name, Address string }
		s.Do(t, "PATCH", "/api/admin/clinics/"+w.c2, map[string]any{"name": "Phòng khám Hai", "address": "12 Lê Lợi, Huế"}, adm).
			Expect(t, http.StatusOK, "").Data(t, &renamed)
		if renamed.Name != "Phòng khám Hai" || renamed.Address != "12 Lê Lợi, Huế" {
			t.Fatalf("renamed %+v", renamed)
		}
		s.Do(t, "PATCH", "/api/admin/clinics/"+w.c2, map[string]any{"name": "phòng khám an bình"}, adm).Expect(t, http.StatusConflict, "CONFLICT")
		s.Do(t, "PATCH", "/api/admin/clinics/not-a-uuid", map[string]any{"name": "Y"}, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "PATCH", "/api/admin/clinics/"+w.p1.ID, map[string]any{"name": "Y"}, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")

		var list struct{ Items []struct{ ID, Name string } }
		s.Do(t, "GET", "/api/clinics", nil, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 2 || list.Items[0].Name != "Phòng khám An Bình" || list.Items[1].Name != "Phòng khám Hai" {
			t.Fatalf("clinics %+v", list.Items)
		}
		s.Do(t, "GET", "/api/clinics", nil, "").Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		// A page, as every list: items, total, page, pageSize, and the same
		// query parameters.
		var page struct {
			Items                 []struct{ Name string }
			Total, Page, PageSize int
		}
		s.Do(t, "GET", "/api/clinics?page=2&pageSize=1", nil, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &page)
		if page.Total != 2 || page.Page != 2 || page.PageSize != 1 || len(page.Items) != 1 || page.Items[0].Name != "Phòng khám Hai" {
			t.Fatalf("clinics page 2 %+v", page)
		}
		s.Do(t, "GET", "/api/clinics", nil, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &page)
		if page.Total != 2 || page.Page != 1 || page.PageSize != 20 || len(page.Items) != 2 {
			t.Fatalf("clinics default page %+v", page)
		}
		r0 := s.Do(t, "GET", "/api/clinics?pageSize=1000", testenv.Invalid(nil), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r0.Env.Details["pageSize"] == "" {
			t.Fatalf("details %v", r0.Env.Details)
		}

		// Attaching: only DOCTOR accounts, unique license numbers, repeat updates.
		r := attach(t, s, adm, w.c1, w.p1.ID, "BS-009").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["userId"] == "" {
			t.Fatalf("details %v", r.Env.Details)
		}
		attach(t, s, adm, w.c1, w.d2.ID, " bs-001 ").Expect(t, http.StatusConflict, "CONFLICT")
		attachInvalid(t, s, adm, w.c1, w.d2.ID, "").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		attach(t, s, adm, "11111111-1111-4111-8111-111111111111", w.d2.ID, "BS-002").Expect(t, http.StatusNotFound, "NOT_FOUND")
		var doc struct {
			UserID, FullName, Email, LicenseNo, Specialization string
			Clinics                                            []struct{ ID string }
		}
		s.Do(t, "PUT", "/api/admin/clinics/"+w.c1+"/doctors/"+w.d2.ID, map[string]any{"licenseNo": "BS-002", "specialization": "Nhãn khoa"}, adm).
			Expect(t, http.StatusOK, "").Data(t, &doc)
		if doc.UserID != w.d2.ID || doc.LicenseNo != "BS-002" || doc.Specialization != "Nhãn khoa" || len(doc.Clinics) != 2 || doc.Email != w.d2.Email {
			t.Fatalf("doctor %+v", doc)
		}
		s.Do(t, "GET", "/api/doctors/me", nil, w.d2.Token).Expect(t, http.StatusOK, "").Data(t, &doc)
		if len(doc.Clinics) != 2 || doc.FullName != "doctor.two" {
			t.Fatalf("doctors/me %+v", doc)
		}
		s.Do(t, "GET", "/api/doctors/me", nil, w.p1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		s.Do(t, "DELETE", "/api/admin/clinics/"+w.c1+"/doctors/"+w.d2.ID, nil, adm).Expect(t, http.StatusOK, "")
		s.Do(t, "DELETE", "/api/admin/clinics/"+w.c1+"/doctors/"+w.d2.ID, nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/doctors/me", nil, w.d2.Token).Expect(t, http.StatusOK, "").Data(t, &doc)
		if len(doc.Clinics) != 1 {
			t.Fatalf("after detach %+v", doc)
		}
	})
}

// TestConcurrentUniqueClinicWrites: parallel creates of one name (in any
// case) and parallel attaches with one license number: exactly one wins.
func TestConcurrentUniqueClinicWrites(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newClinicWorld(t, e.URI(t))
		names := []string{"Mắt Sáng", "MẮT SÁNG", "mắt sáng", "Mắt sáng"}
		counts := burst(12, func(i int) *testenv.Response {
			return w.s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": names[i%len(names)]}, w.admin.Token)
		})
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 11 {
			t.Fatalf("creates: %v", counts)
		}
		var docs []person
		for i := range 6 {
			docs = append(docs, makeDoctor(t, w.s, w.admin.Token, "race"+string(rune('a'+i))+"@clinic.example"))
		}
		counts = burst(6, func(i int) *testenv.Response {
			return attach(t, w.s, w.admin.Token, w.c1, docs[i].ID, "BS-RACE")
		})
		if counts[http.StatusOK] != 1 || counts[http.StatusConflict] != 5 {
			t.Fatalf("attaches: %v", counts)
		}
	})
}

// TestPatientProfile: made on first use with a readable random code, the
// patient's changes validated field by field.
func TestPatientProfile(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newClinicWorld(t, e.URI(t))
		s := w.s
		fresh := signUp(t, s, "first.use@patient.example")
		codes := map[string]int{}
		var mu sync.Mutex
		burst(6, func(int) *testenv.Response {
			r := s.Do(t, "GET", "/api/patients/me", nil, fresh.Token)
			var p struct{ PatientCode string }
			if r.Status == http.StatusOK {
				r.Data(t, &p)
			}
			mu.Lock()
			codes[p.PatientCode]++
			mu.Unlock()
			return r
		})
		if len(codes) != 1 {
			t.Fatalf("first uses gave codes %v", codes)
		}
		code := regexp.MustCompile(`^AU-[A-HJKMNP-TV-Z2-9]{4}-[A-HJKMNP-TV-Z2-9]{4}$`)
		var p1, p2 struct{ PatientCode string }
		s.Do(t, "GET", "/api/patients/me", nil, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &p1)
		s.Do(t, "GET", "/api/patients/me", nil, w.p2.Token).Expect(t, http.StatusOK, "").Data(t, &p2)
		for c := range codes {
			if !code.MatchString(c) || !code.MatchString(p1.PatientCode) || c == p1.PatientCode || p1.PatientCode == p2.PatientCode {
				t.Fatalf("codes %q %q %q", c, p1.PatientCode, p2.PatientCode)
			}
		}

		for name, tc := range map[string]struct {
			body  map[string]any
			field string
		}{
			"not a day":      {map[string]any{"dateOfBirth": "2001-02-30"}, "dateOfBirth"},
			"not iso":        {map[string]any{"dateOfBirth": "30/01/2001"}, "dateOfBirth"},
			"future":         {map[string]any{"dateOfBirth": "2999-01-01"}, "dateOfBirth"},
			"before 1900":    {map[string]any{"dateOfBirth": "1899-12-31"}, "dateOfBirth"},
			"sex":            {map[string]any{"sex": "unknown"}, "sex"},
			"since year":     {map[string]any{"medicalHistory": map[string]any{"diabetesSinceYear": 1899}}, "medicalHistory.diabetesSinceYear"},
			"since future":   {map[string]any{"medicalHistory": map[string]any{"diabetesSinceYear": 3000}}, "medicalHistory.diabetesSinceYear"},
			"notes too long": {map[string]any{"medicalHistory": map[string]any{"notes": strings.Repeat("ả", 2001)}}, "medicalHistory.notes"},
		} {
			r := s.Do(t, "PATCH", "/api/patients/me", testenv.Invalid(tc.body), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details[tc.field] == "" {
				t.Errorf("%s: details %v", name, r.Env.Details)
			}
		}
		s.Do(t, "PATCH", "/api/patients/me", testenv.Invalid(map[string]any{"medicalHistory": map[string]any{"diabetes": "yes"}}), w.p1.Token).
			Expect(t, http.StatusBadRequest, "INVALID_JSON")
		var got struct {
			PatientCode, FullName, DateOfBirth, Sex string
			MedicalHistory                          struct {
				Diabetes          *bool
				DiabetesSinceYear *int
				Hypertension      *bool
				Notes             *string
			}
		}
		s.Do(t, "PATCH", "/api/patients/me", map[string]any{"dateOfBirth": "1958-03-14", "sex": "female",
			"medicalHistory": map[string]any{"diabetes": true, "diabetesSinceYear": 2009, "notes": "Tiểu đường type 2"}}, w.p1.Token).
			Expect(t, http.StatusOK, "").Data(t, &got)
		if got.DateOfBirth != "1958-03-14" || got.Sex != "female" || got.MedicalHistory.Diabetes == nil || !*got.MedicalHistory.Diabetes ||
			*got.MedicalHistory.DiabetesSinceYear != 2009 || got.MedicalHistory.Hypertension != nil || *got.MedicalHistory.Notes != "Tiểu đường type 2" ||
			got.PatientCode != p1.PatientCode || got.FullName != "ngoc" {
			t.Fatalf("profile %+v", got)
		}
		got.Sex, got.DateOfBirth, got.MedicalHistory.Notes = "", "", nil
		s.Do(t, "PATCH", "/api/patients/me", map[string]any{"sex": nil, "medicalHistory": map[string]any{"notes": nil}}, w.p1.Token).
			Expect(t, http.StatusOK, "").Data(t, &got)
		if got.Sex != "" || got.MedicalHistory.Notes != nil || got.DateOfBirth != "1958-03-14" {
			t.Fatalf("cleared %+v", got)
		}
		s.Do(t, "GET", "/api/patients/me", nil, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
	})
}
