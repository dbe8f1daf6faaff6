package tests

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"aura/internal/testenv"
)

// staffUpload posts a fundus photograph for patientID to clinicID as token.
func staffUpload(t *testing.T, s *testenv.Server, token, clinicID, patientID string, headers map[string]string) *testenv.Response {
	t.Helper()
	jpg, _ := fundus(t)
	fields := map[string]string{"eye": "left"}
	if clinicID != "" {
		fields["clinicId"] = clinicID
	}
	if patientID != "" {
		fields["patientId"] = patientID
	}
	return upload(t, s, token, form{image: jpg, fields: fields}, headers)
}

func staffUploadInvalid(t *testing.T, s *testenv.Server, token string, fields map[string]string) *testenv.Response {
	t.Helper()
	jpg, _ := fundus(t)
	return upload(t, s, token, form{image: jpg, fields: fields, invalid: true}, nil)
}

type notice struct {
	Type        string
	ScreeningID *string
}

func noticesOf(t *testing.T, s *testenv.Server, token string) []notice {
	t.Helper()
	var page struct{ Items []notice }
	s.Do(t, "GET", "/api/notifications?pageSize=100", nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	return page.Items
}

// waiting counts the CASE_WAITING notices of screening id in token's inbox.
func waiting(t *testing.T, s *testenv.Server, token, id string) int {
	t.Helper()
	n := 0
	for _, m := range noticesOf(t, s, token) {
		if m.Type == "CASE_WAITING" && m.ScreeningID != nil && *m.ScreeningID == id {
			n++
		}
	}
	return n
}

func doctorPatients(t *testing.T, s *testenv.Server, token string, q url.Values) clinicPatientPage {
	t.Helper()
	var pg clinicPatientPage
	s.Do(t, "GET", "/api/doctors/me/patients?"+q.Encode(), nil, token).Expect(t, http.StatusOK, "").Data(t, &pg)
	return pg
}

// TestClinicAssign: a clinic's CLINIC_ADMIN assigns a DOCTOR of the clinic
// to an enrolled patient (a non-doctor 400, another clinic's patient 404,
// a technician or doctor 403); staff of each role upload for a patient
// without an account; the assigned doctor gets the analysed case straight
// in review (only they are told), an unassigned patient's case waits for
// every doctor; the accountless patient's screening is reviewed end to end
// without notices; the doctor's own patient list pages and filters; a
// doctor removed from the clinic gets no more cases.
func TestClinicAssign(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		d3 := makeDoctor(t, s, w.admin.Token, "doctor.three@clinic.example")
		addMember(t, s, w.c1, d3.ID, "DOCTOR")
		an := enrol(t, s, w.t1.Token, w.c1, map[string]any{"fullName": "Nguyễn Văn An", "externalId": "HS-1"})
		binh := enrol(t, s, w.t1.Token, w.c1, map[string]any{"fullName": "Trần Thị Bình"})
		other := enrol(t, s, w.t2.Token, w.c2, map[string]any{"fullName": "Lê Văn Cường"})
		path := func(clinic, patient string) string {
			return "/api/clinics/" + clinic + "/patients/" + patient + "/doctor"
		}

		// The rules of assignment.
		r := s.Do(t, "PUT", path(w.c1, an.ID), testenv.Invalid(map[string]any{"doctorId": w.ca1.ID}), w.ca1.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["doctorId"]; !ok {
			t.Errorf("non-doctor: %s", r.Body)
		}
		s.Do(t, "PUT", path(w.c1, an.ID), testenv.Invalid(map[string]any{"doctorId": w.d2.ID}), w.ca1.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "PUT", path(w.c1, an.ID), testenv.Invalid(map[string]any{"doctorId": "nope"}), w.ca1.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "PUT", path(w.c1, other.ID), map[string]any{"doctorId": w.d1.ID}, w.ca1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "PUT", path(w.c1, an.ID), map[string]any{"doctorId": w.d1.ID}, w.ca2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "PUT", path(w.c1, an.ID), map[string]any{"doctorId": w.d1.ID}, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "PUT", path(w.c1, an.ID), map[string]any{"doctorId": w.d1.ID}, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "DELETE", path(w.c1, an.ID), nil, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "PUT", path(w.c1, an.ID), map[string]any{"doctorId": w.d1.ID}, w.p1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		var got clinicPatient
		s.Do(t, "PUT", path(w.c1, an.ID), map[string]any{"doctorId": d3.ID}, w.admin.Token).Expect(t, http.StatusOK, "").Data(t, &got)
		s.Do(t, "DELETE", path(w.c1, an.ID), nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &got)
		if got.AssignedDoctor != nil {
			t.Errorf("unassigned: %+v", got.AssignedDoctor)
		}
		s.Do(t, "PUT", path(w.c1, an.ID), map[string]any{"doctorId": w.d1.ID}, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &got)
		if got.ID != an.ID || got.AssignedDoctor == nil || got.AssignedDoctor.UserID != w.d1.ID || got.UserID != nil ||
			got.ExternalID == nil || *got.ExternalID != "HS-1" || got.LatestRiskLevel != nil {
			t.Fatalf("assigned %+v", got)
		}
		if pg := listPatients(t, s, w.ca1.Token, w.c1, url.Values{"assignedDoctorId": {w.d1.ID}}); !slices.Equal(patientNames(pg), []string{"Nguyễn Văn An"}) {
			t.Errorf("list by doctor %v", patientNames(pg))
		}
		for action, n := range map[string]int{"patient.assign": 2, "patient.unassign": 1} {
			if rows := auditLogs(t, s, w.admin.Token, "action="+action+"&entityId="+an.ID); len(rows) != n {
				t.Errorf("%s audited %d times", action, len(rows))
			}
		}

		// Staff uploads: refusals first. Staff who are not patients name
		// the patient (a staff account that is also a PATIENT uploads for
		// itself without one).
		r = staffUploadInvalid(t, s, w.d1.Token, map[string]string{"eye": "left", "clinicId": w.c1}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["patientId"]; !ok {
			t.Errorf("no patientId: %s", r.Body)
		}
		r = staffUploadInvalid(t, s, w.t1.Token, map[string]string{"eye": "left", "patientId": an.ID}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["clinicId"]; !ok {
			t.Errorf("no clinicId: %s", r.Body)
		}
		r = staffUploadInvalid(t, s, w.t1.Token, map[string]string{"eye": "left", "clinicId": w.c1, "patientId": other.ID}).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["patientId"]; !ok {
			t.Errorf("not enrolled: %s", r.Body)
		}
		staffUpload(t, s, w.t1.Token, w.c2, other.ID, nil).Expect(t, http.StatusNotFound, "NOT_FOUND")
		staffUpload(t, s, w.p1.Token, w.c1, an.ID, nil).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/admin/clinics/"+w.c1+"/suspend", map[string]any{"reason": "Kiểm tra"}, w.admin.Token).Expect(t, http.StatusOK, "")
		staffUpload(t, s, w.t1.Token, w.c1, an.ID, nil).Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		s.Do(t, "PUT", path(w.c1, binh.ID), map[string]any{"doctorId": d3.ID}, w.ca1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "DELETE", path(w.c1, binh.ID), nil, w.ca1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/admin/clinics/"+w.c1+"/reactivate", nil, w.admin.Token).Expect(t, http.StatusOK, "")

		// Each staff role uploads for the accountless patient; a key replays.
		ids := map[string]string{}
		for name, p := range map[string]person{"TECHNICIAN": w.t1, "CLINIC_ADMIN": w.ca1, "DOCTOR": d3} {
			var sc screening
			staffUpload(t, s, p.Token, w.c1, an.ID, map[string]string{"Idempotency-Key": "intake-1"}).Expect(t, http.StatusAccepted, "").Data(t, &sc)
			if sc.Status != "queued" || sc.Patient.PatientCode != an.PatientCode || sc.Patient.FullName != "Nguyễn Văn An" || sc.Patient.UserID != "" {
				t.Errorf("%s upload %+v", name, sc)
			}
			var again screening
			staffUpload(t, s, p.Token, w.c1, an.ID, map[string]string{"Idempotency-Key": "intake-1"}).Expect(t, http.StatusAccepted, "").Data(t, &again)
			if again.ID != sc.ID {
				t.Errorf("%s replay: %s, first %s", name, again.ID, sc.ID)
			}
			ids[name] = sc.ID
			rows := auditLogs(t, s, w.admin.Token, "action=screening.create&entityId="+sc.ID)
			if len(rows) != 1 || *rows[0].ActorRole != name || *rows[0].ActorID != p.ID {
				t.Errorf("%s upload audited %+v", name, rows)
			}
		}
		var unassigned screening
		staffUpload(t, s, w.t1.Token, w.c1, binh.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &unassigned)
		analyse(t, s)

		// The assigned doctor holds each case of An; only they are told.
		for name, id := range ids {
			sc := getScreening(t, s, w.admin.Token, id)
			if sc.Status != "in_review" || sc.Review == nil || sc.Review.Reviewer.UserID != w.d1.ID || sc.Review.ClaimedAt == nil || sc.Analysis == nil {
				t.Errorf("%s's upload after analysis: %+v %+v", name, sc.Status, sc.Review)
			}
			if waiting(t, s, w.d1.Token, id) != 1 || waiting(t, s, d3.Token, id) != 0 {
				t.Errorf("%s's upload: CASE_WAITING d1 %d, d3 %d", name, waiting(t, s, w.d1.Token, id), waiting(t, s, d3.Token, id))
			}
		}
		s.Do(t, "POST", "/api/screenings/"+ids["TECHNICIAN"]+"/claim", nil, d3.Token).Expect(t, http.StatusConflict, "ALREADY_CLAIMED")
		// Binh has no doctor: the case waits and every doctor is told.
		if sc := getScreening(t, s, w.admin.Token, unassigned.ID); sc.Status != "awaiting_review" || sc.Review != nil {
			t.Errorf("unassigned after analysis: %s %+v", sc.Status, sc.Review)
		}
		if waiting(t, s, w.d1.Token, unassigned.ID) != 1 || waiting(t, s, d3.Token, unassigned.ID) != 1 {
			t.Errorf("unassigned: not every doctor told")
		}
		// The technician follows the intake only.
		if sc := getScreening(t, s, w.t1.Token, ids["TECHNICIAN"]); sc.Status != "in_review" || sc.Analysis != nil || sc.Review != nil {
			t.Errorf("technician's view %+v", sc)
		}
		s.Do(t, "GET", "/api/screenings/"+ids["TECHNICIAN"]+"/report", nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		// Reviewed end to end; the patient has no inbox, nothing fails.
		rv := map[string]any{"riskLevel": "high", "recommendation": "Khám lại sau 3 tháng"}
		for _, id := range ids {
			s.Do(t, "POST", "/api/screenings/"+id+"/review", rv, w.d1.Token).Expect(t, http.StatusOK, "")
		}
		s.Do(t, "POST", "/api/screenings/"+unassigned.ID+"/claim", nil, d3.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/screenings/"+unassigned.ID+"/review", map[string]any{"riskLevel": "low", "recommendation": "Tái khám sau 1 năm"}, d3.Token).
			Expect(t, http.StatusOK, "")
		status, _, pdf := rawGet(t, s, "/api/screenings/"+ids["TECHNICIAN"]+"/report", w.ca1.Token, nil)
		if status != http.StatusOK || len(pdf) < 100 {
			t.Errorf("report of the accountless patient: %d", status)
		}
		var n int64
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Raw("SELECT COUNT(*) FROM notifications WHERE screening_id IN ? AND type IN ?",
			[]string{ids["TECHNICIAN"], ids["DOCTOR"], unassigned.ID}, []string{"SCREENING_ANALYZED", "SCREENING_REVIEWED"}).Scan(&n).Error, "count")
		if n != 0 {
			t.Errorf("%d notices for patients without an account", n)
		}
		if pg := listPatients(t, s, w.ca1.Token, w.c1, url.Values{"riskLevel": {"high"}}); !slices.Equal(patientNames(pg), []string{"Nguyễn Văn An"}) {
			t.Errorf("latest risk after review: %v", patientNames(pg))
		}

		// The doctors' own lists: assigned (d1: An), reviewed (d3: Binh).
		pg := doctorPatients(t, s, w.d1.Token, nil)
		if !slices.Equal(patientNames(pg), []string{"Nguyễn Văn An"}) || pg.Items[0].LatestRiskLevel == nil || *pg.Items[0].LatestRiskLevel != "high" ||
			pg.Items[0].AssignedDoctor == nil || pg.Items[0].AssignedDoctor.UserID != w.d1.ID || len(pg.Items[0].Clinics) != 1 {
			t.Errorf("d1's patients %+v", pg)
		}
		pg = doctorPatients(t, s, d3.Token, nil)
		if !slices.Equal(patientNames(pg), []string{"Trần Thị Bình"}) || pg.Items[0].AssignedDoctor != nil || *pg.Items[0].LatestRiskLevel != "low" {
			t.Errorf("d3's patients %+v", pg)
		}
		if pg = doctorPatients(t, s, w.d2.Token, nil); pg.Total != 0 {
			t.Errorf("d2's patients %+v", pg)
		}
		// Paging, search and the risk filter, in SQL.
		for i, name := range []string{"Phạm Minh Đức", "Hoàng Thu Hà", "Võ Thanh Hải"} {
			p := enrol(t, s, w.ca1.Token, w.c1, map[string]any{"fullName": name, "externalId": "HS-" + string(rune('2'+i))})
			s.Do(t, "PUT", path(w.c1, p.ID), map[string]any{"doctorId": w.d1.ID}, w.ca1.Token).Expect(t, http.StatusOK, "")
		}
		var seen []string
		for page := 1; page <= 2; page++ {
			pg = doctorPatients(t, s, w.d1.Token, url.Values{"pageSize": {"2"}, "page": {string(rune('0' + page))}})
			if pg.Total != 4 || pg.Page != page || pg.PageSize != 2 || len(pg.Items) != 2 {
				t.Fatalf("page %d: %+v", page, pg)
			}
			seen = append(seen, patientNames(pg)...)
		}
		if !slices.Equal(seen, []string{"Võ Thanh Hải", "Hoàng Thu Hà", "Phạm Minh Đức", "Nguyễn Văn An"}) {
			t.Errorf("pages %v", seen)
		}
		for q, want := range map[string][]string{"nguyen van an": {"Nguyễn Văn An"}, "hs-3": {"Hoàng Thu Hà"}, an.PatientCode: {"Nguyễn Văn An"}, "duc": {"Phạm Minh Đức"}} {
			if got := patientNames(doctorPatients(t, s, w.d1.Token, url.Values{"q": {q}})); !slices.Equal(got, want) {
				t.Errorf("q=%s: %v", q, got)
			}
		}
		if got := patientNames(doctorPatients(t, s, w.d1.Token, url.Values{"riskLevel": {"high,critical"}})); !slices.Equal(got, []string{"Nguyễn Văn An"}) {
			t.Errorf("riskLevel: %v", got)
		}
		s.Do(t, "GET", "/api/doctors/me/patients?riskLevel=severe", testenv.Invalid(nil), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "GET", "/api/doctors/me/patients", nil, w.ca1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/doctors/me/patients", nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		if rows := auditLogs(t, s, w.admin.Token, "action=patient.list&entityId="+w.d1.ID); len(rows) == 0 || *rows[0].ActorRole != "DOCTOR" {
			t.Errorf("doctor's list audited %+v", rows)
		}

		// The doctor leaves the clinic: no assignment, no list, no cases.
		s.Do(t, "DELETE", "/api/clinics/"+w.c1+"/staff/"+w.d1.ID, nil, w.ca1.Token).Expect(t, http.StatusOK, "")
		if pg = doctorPatients(t, s, w.d1.Token, nil); pg.Total != 0 {
			t.Errorf("removed doctor's patients %+v", pg)
		}
		if pg := listPatients(t, s, w.ca1.Token, w.c1, url.Values{"assignedDoctorId": {w.d1.ID}}); pg.Total != 0 {
			t.Errorf("assignments kept after removal: %v", patientNames(pg))
		}
		var late screening
		staffUpload(t, s, w.t1.Token, w.c1, an.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &late)
		analyse(t, s)
		if sc := getScreening(t, s, w.admin.Token, late.ID); sc.Status != "awaiting_review" || sc.Review != nil {
			t.Errorf("after the doctor left: %s %+v", sc.Status, sc.Review)
		}
		if waiting(t, s, w.d1.Token, late.ID) != 0 || waiting(t, s, d3.Token, late.ID) != 1 {
			t.Errorf("after the doctor left: told d1 %d, d3 %d", waiting(t, s, w.d1.Token, late.ID), waiting(t, s, d3.Token, late.ID))
		}
		// A patient uploading for themselves works as before, naming their own record too.
		var own screening
		staffUpload(t, s, w.p1.Token, w.c1, w.p1.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &own)
		if own.Patient.UserID != w.p1.ID {
			t.Errorf("own upload %+v", own.Patient)
		}
	})
}
