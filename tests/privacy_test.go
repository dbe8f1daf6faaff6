package tests

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/app"
	"aura/internal/testenv"
	"aura/models"
	"aura/security"
)

// privacyWorld is a clinic with a doctor, and two patients who each sent
// one photograph there; the first's is analysed, reviewed and its report
// made.
type privacyWorld struct {
	s        *testenv.Server
	adm      string
	clinic   string
	doc      person
	p1, p2   person
	sc1, sc2 string
	// conv1 and conv2 are p1's and p2's conversations with the clinic.
	conv1, conv2 string
	jpg          []byte
}

func newPrivacyWorld(t *testing.T, uri string, env map[string]string) *privacyWorld {
	t.Helper()
	vals := map[string]string{"AURA_HOUSEKEEPING_ENABLED": "false"}
	for k, v := range env {
		vals[k] = v
	}
	s := testenv.Start(t, testenv.Config(t, uri, vals))
	w := &privacyWorld{s: s}
	w.adm = makeAdmin(t, s, "admin@privacy.example")
	w.clinic = createClinic(t, s, w.adm, "Phòng khám Mắt Hà Nội")
	w.doc = makeDoctor(t, s, w.adm, "bs.binh@privacy.example")
	attach(t, s, w.adm, w.clinic, w.doc.ID, "0011111/HN-CCHN").Expect(t, http.StatusOK, "")
	w.p1 = signUp(t, s, "thilan.nguyen@privacy.example")
	w.p2 = signUp(t, s, "hung@privacy.example")
	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Lan", "phone": "+84 912 345 678", "language": "vi"}, w.p1.Token).
		Expect(t, http.StatusOK, "")
	s.Do(t, "PATCH", "/api/patients/me", map[string]any{"dateOfBirth": "1962-07-09", "sex": "female",
		"medicalHistory": map[string]any{"diabetes": true, "notes": "Tiểu đường type 2 từ 2015"}}, w.p1.Token).Expect(t, http.StatusOK, "")
	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Trần Văn Hùng"}, w.p2.Token).Expect(t, http.StatusOK, "")
	w.jpg, _ = fundus(t)
	var sc screening
	upload(t, s, w.p1.Token, form{image: w.jpg, fields: map[string]string{"eye": "right", "clinicId": w.clinic, "note": "Mờ mắt phải"}}, nil).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)
	w.sc1 = sc.ID
	upload(t, s, w.p2.Token, form{image: w.jpg, fields: map[string]string{"eye": "left", "clinicId": w.clinic}}, nil).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)
	w.sc2 = sc.ID
	analyse(t, s)
	s.Do(t, "POST", "/api/screenings/"+w.sc1+"/claim", nil, w.doc.Token).Expect(t, http.StatusOK, "")
	s.Do(t, "POST", "/api/screenings/"+w.sc1+"/review", map[string]any{"riskLevel": "medium",
		"notes": "Mạch hơi xoắn", "recommendation": "Tái khám sau 6 tháng"}, w.doc.Token).Expect(t, http.StatusOK, "")
	if st, _, body := rawGet(t, s, "/api/screenings/"+w.sc1+"/report", w.p1.Token, nil); st != http.StatusOK || !bytes.HasPrefix(body, []byte("%PDF")) {
		t.Fatalf("report: %d", st)
	}
	// Each patient asks the clinic something; the doctor answers the first.
	var conv struct{ ID string }
	s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.clinic}, w.p1.Token).Expect(t, http.StatusCreated, "").Data(t, &conv)
	w.conv1 = conv.ID
	s.Do(t, "POST", "/api/conversations/"+conv.ID+"/messages", map[string]any{"body": "Mắt phải tôi vẫn mờ, có sao không?", "screeningId": w.sc1}, w.p1.Token).
		Expect(t, http.StatusCreated, "")
	s.Do(t, "POST", "/api/conversations/"+conv.ID+"/messages", map[string]any{"body": "Chị nên tái khám sau 6 tháng."}, w.doc.Token).
		Expect(t, http.StatusCreated, "")
	s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.clinic}, w.p2.Token).Expect(t, http.StatusCreated, "").Data(t, &conv)
	w.conv2 = conv.ID
	s.Do(t, "POST", "/api/conversations/"+conv.ID+"/messages", map[string]any{"body": "Khi nào có kết quả?"}, w.p2.Token).
		Expect(t, http.StatusCreated, "")
	// An alert on p1's result, resolved with a note (the generated
	// photograph rates low, so it is written as the alerts service would).
	note, at := "Đã gọi điện cho chị Lan", time.Now().UTC()
	testenv.Must(t, s.App.DB.Create(&models.Alert{ID: uuid.NewString(), ClinicID: w.clinic, PatientID: w.p1.ID, ScreeningID: w.sc1,
		Kind: models.AlertHighRisk, Level: "high", Status: models.AlertResolved, CreatedAt: at,
		ResolvedBy: &w.doc.ID, ResolvedAt: &at, Note: &note}).Error, "alert")
	return w
}

// export downloads the caller's archive and opens it: file name to content.
func export(t *testing.T, s *testenv.Server, token string) (http.Header, map[string][]byte) {
	t.Helper()
	st, h, body := rawGet(t, s, "/api/patients/me/export", token, map[string]string{"Accept-Language": "en"})
	if st != http.StatusOK {
		t.Fatalf("export: %d %s", st, body)
	}
	z, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("export is not a ZIP: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		testenv.Must(t, err, "open %s", f.Name)
		b, err := io.ReadAll(rc)
		testenv.Must(t, err, "read %s", f.Name)
		rc.Close()
		files[f.Name] = b
	}
	return h, files
}

// TestPrivacyExport: the archive holds the account, profile, screening
// with its analysis and review, the photograph byte for byte, the maps,
// overlay and report, notifications, audit rows and a README in the
// account's language; nothing of another patient; the export is audited,
// limited (429 with Retry-After), refused to staff, and a client that goes
// away mid-download breaks nothing.
func TestPrivacyExport(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newPrivacyWorld(t, e.URI(t), map[string]string{"AURA_LIMITS_EXPORT_MAX": "2"})
		s := w.s
		h, files := export(t, s, w.p1.Token)
		if ct := h.Get("Content-Type"); ct != "application/zip" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="aura-export-`) {
			t.Errorf("Content-Disposition %q", cd)
		}
		readme := string(files["README.txt"])
		if !strings.Contains(readme, "AURA không chẩn đoán") || !strings.Contains(readme, "account.json") {
			t.Errorf("README (the account's language, vi) %q", readme)
		}
		var acct map[string]any
		testenv.Must(t, json.Unmarshal(files["account.json"], &acct), "account.json")
		if acct["email"] != "thilan.nguyen@privacy.example" || acct["fullName"] != "Nguyễn Thị Lan" || acct["phone"] != "+84 912 345 678" {
			t.Errorf("account.json %v", acct)
		}
		if strings.Contains(strings.ToLower(string(files["account.json"])), "password") {
			t.Errorf("account.json names the password: %s", files["account.json"])
		}
		var pat struct {
			DateOfBirth    string
			MedicalHistory struct{ Notes string }
		}
		testenv.Must(t, json.Unmarshal(files["patient.json"], &pat), "patient.json")
		if pat.DateOfBirth != "1962-07-09" || pat.MedicalHistory.Notes != "Tiểu đường type 2 từ 2015" {
			t.Errorf("patient.json %s", files["patient.json"])
		}
		var scs []screening
		testenv.Must(t, json.Unmarshal(files["screenings.json"], &scs), "screenings.json")
		if len(scs) != 1 || scs[0].ID != w.sc1 || scs[0].Analysis == nil || scs[0].Review == nil ||
			scs[0].Review.Notes == nil || *scs[0].Review.Notes != "Mạch hơi xoắn" || scs[0].Note == nil {
			t.Fatalf("screenings.json %s", files["screenings.json"])
		}
		// The same shape as GET /api/screenings/{id}.
		api := getScreening(t, s, w.p1.Token, w.sc1)
		if api.Image.SHA256 != scs[0].Image.SHA256 || *api.Analysis.RiskLevel != *scs[0].Analysis.RiskLevel {
			t.Errorf("export %+v vs API %+v", scs[0], api)
		}
		dir := "screenings/" + w.sc1 + "/"
		if !bytes.Equal(files[dir+"image.jpg"], w.jpg) {
			t.Errorf("image: %d bytes, uploaded %d", len(files[dir+"image.jpg"]), len(w.jpg))
		}
		for _, name := range []string{"screening.json", "vessels.png", "report.pdf"} {
			if len(files[dir+name]) == 0 {
				t.Errorf("no %s in the archive", name)
			}
		}
		if !bytes.HasPrefix(files[dir+"report.pdf"], []byte("%PDF")) {
			t.Errorf("report.pdf is no PDF")
		}
		var notes []struct{ ScreeningID *string }
		testenv.Must(t, json.Unmarshal(files["notifications.json"], &notes), "notifications.json")
		if len(notes) == 0 {
			t.Errorf("no notifications: %s", files["notifications.json"])
		}
		var convs []struct {
			ID       string
			Clinic   struct{ ID, Name string }
			Messages []struct {
				SenderRole, Body string
				ScreeningID      *string
			}
		}
		testenv.Must(t, json.Unmarshal(files["conversations.json"], &convs), "conversations.json")
		if len(convs) != 1 || convs[0].ID != w.conv1 || convs[0].Clinic.ID != w.clinic || len(convs[0].Messages) != 2 ||
			convs[0].Messages[0].Body != "Mắt phải tôi vẫn mờ, có sao không?" || convs[0].Messages[0].SenderRole != "PATIENT" ||
			convs[0].Messages[0].ScreeningID == nil || *convs[0].Messages[0].ScreeningID != w.sc1 ||
			convs[0].Messages[1].SenderRole != "DOCTOR" || strings.Contains(string(files["conversations.json"]), "Khi nào có kết quả?") {
			t.Errorf("conversations.json: %s", files["conversations.json"])
		}
		var alerts []struct {
			ScreeningID, Kind, Status string
			Note                      *string
		}
		testenv.Must(t, json.Unmarshal(files["alerts.json"], &alerts), "alerts.json")
		if len(alerts) != 1 || alerts[0].ScreeningID != w.sc1 || alerts[0].Kind != "HIGH_RISK" || alerts[0].Status != "resolved" ||
			alerts[0].Note == nil || *alerts[0].Note != "Đã gọi điện cho chị Lan" {
			t.Errorf("alerts.json: %s", files["alerts.json"])
		}
		var rows []auditRow
		testenv.Must(t, json.Unmarshal(files["audit.json"], &rows), "audit.json")
		if len(rows) == 0 {
			t.Errorf("no audit rows")
		}
		// Nothing of the other patient.
		for name, b := range files {
			if bytes.Contains(b, []byte(w.p2.ID)) || bytes.Contains(b, []byte(w.sc2)) || bytes.Contains(b, []byte("hung@privacy.example")) ||
				bytes.Contains(b, []byte("Trần Văn Hùng")) {
				t.Errorf("%s holds the other patient's data", name)
			}
		}
		if got := auditLogs(t, s, w.adm, "action=patient.export&entityId="+w.p1.ID); len(got) != 1 || *got[0].ActorID != w.p1.ID {
			t.Errorf("export audited %+v", got)
		}

		// A client that goes away mid-download: the next request is served.
		req, _ := http.NewRequestWithContext(context.Background(), "GET", s.URL+"/api/patients/me/export", nil)
		req.Header.Set("Authorization", "Bearer "+w.p2.Token)
		res, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "export p2")
		if _, err := io.ReadFull(res.Body, make([]byte, 64)); err != nil {
			t.Fatalf("read the start: %v", err)
		}
		res.Body.Close()
		s.Do(t, "GET", "/api/patients/me", nil, w.p2.Token).Expect(t, http.StatusOK, "")
		_, files2 := export(t, s, w.p2.Token)
		if files2["README.txt"] == nil || !strings.Contains(string(files2["README.txt"]), "AURA measures") {
			t.Errorf("p2's README (the request's language, en): %q", files2["README.txt"])
		}
		// The limit: two per window.
		export(t, s, w.p1.Token)
		r := s.Do(t, "GET", "/api/patients/me/export", nil, w.p1.Token).Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		// Staff have no export here.
		s.Do(t, "GET", "/api/patients/me/export", nil, w.doc.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/patients/me/export", nil, "").Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
}

// TestPrivacyDelete: deletion checks the password, deactivates the account
// at once (login refused, tokens dead), is audited; after the grace period
// one housekeeping run of two erases the personal data (account, profile,
// stored objects, notifications) while the screenings stay in the staff's
// listings without identity and the audit rows keep their ids; an admin's
// reactivation within the grace period cancels the erasure; an account
// without a password confirms with its email.
func TestPrivacyDelete(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newPrivacyWorld(t, e.URI(t), nil)
		s, db := w.s, w.s.App.DB.WithContext(testenv.Ctx(t))
		p1 := login(t, s, w.p1.Email, goodPassword) // a second session
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{}, w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"password": "not-the-password-at-all"}, w.p1.Token).
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"password": goodPassword}, w.doc.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"password": goodPassword}, w.adm).Expect(t, http.StatusForbidden, "FORBIDDEN")
		var out struct{ EraseAfter time.Time }
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"password": goodPassword}, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &out)
		if d := time.Until(out.EraseAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
			t.Errorf("eraseAfter %s", out.EraseAfter)
		}
		// At once: every token dead, login refused.
		s.Do(t, "GET", "/api/auth/me", nil, w.p1.Token).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		s.Do(t, "GET", "/api/auth/me", nil, p1.AccessToken).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": p1.RefreshToken}, "").Expect(t, http.StatusUnauthorized, "")
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": w.p1.Email, "password": goodPassword}, "").
			Expect(t, http.StatusForbidden, "ACCOUNT_DISABLED")
		if rows := auditLogs(t, s, w.adm, "action=patient.delete&entityId="+w.p1.ID); len(rows) != 1 {
			t.Errorf("deletion audited %d times", len(rows))
		}
		// A third patient deletes, and an admin reactivates: cancelled.
		p3 := signUp(t, s, "mai@privacy.example")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"password": goodPassword}, p3.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "PATCH", "/api/admin/users/"+p3.ID, map[string]any{"isActive": true}, w.adm).Expect(t, http.StatusOK, "")
		// A fourth, signed in without a password (Google), confirms with the email.
		p4 := signUp(t, s, "google.user@privacy.example")
		testenv.Must(t, db.Model(&models.User{}).Where("id = ?", p4.ID).Update("password_hash", security.NoPassword).Error, "no password")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"password": "anything"}, p4.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"confirm": "someone@else.example"}, p4.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "DELETE", "/api/patients/me", map[string]any{"confirm": "Google.User@privacy.example"}, p4.Token).Expect(t, http.StatusOK, "")

		var auditBefore int64
		testenv.Must(t, db.Model(&models.AuditLog{}).Where("entity_id = ? OR actor_id = ?", w.p1.ID, w.p1.ID).Count(&auditBefore).Error, "count audit")
		objects := func(screeningID string) []string {
			keys, err := s.App.Blobs.List(testenv.Ctx(t), "screenings/"+screeningID[:2]+"/"+screeningID+"/")
			testenv.Must(t, err, "list")
			return keys
		}
		if len(objects(w.sc1)) < 3 {
			t.Fatalf("before: objects %v", objects(w.sc1))
		}
		housekeeper := func(at time.Time) *app.Housekeeper {
			h := app.NewHousekeeper(s.App.DB, s.App.Cfg.Housekeeping, testenv.Logger(t))
			h.Blobs, h.Clock = s.App.Blobs, func() time.Time { return at }
			return h
		}
		// Within the grace period nothing is erased.
		if swept, ran, err := housekeeper(time.Now().Add(24 * time.Hour)).RunOnce(testenv.Ctx(t)); err != nil || !ran || swept.ErasedAccounts != 0 {
			t.Fatalf("within the grace: %+v %v %v", swept, ran, err)
		}
		// After it, two instances at once: one erases, without errors.
		later := time.Now().Add(32 * 24 * time.Hour)
		erased := make([]int64, 2)
		errs := testenv.Race(2, func(i int) error {
			swept, _, err := housekeeper(later).RunOnce(testenv.Ctx(t))
			erased[i] = swept.ErasedAccounts
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("housekeeping: %v", err)
			}
		}
		if erased[0]+erased[1] != 2 {
			t.Fatalf("erased %v accounts, want 2 (p1 and p4) once", erased)
		}
		// The account: no name, email, phone, password.
		var u struct {
			Email        string
			FullName     *string
			Phone        *string
			PasswordHash string
			IsActive     bool
			ErasedAt     *time.Time
		}
		testenv.Must(t, db.Model(&models.User{}).Where("id = ?", w.p1.ID).Take(&u).Error, "user row")
		if u.Email != models.ErasedEmail(w.p1.ID) || u.FullName != nil || u.Phone != nil || u.PasswordHash != security.NoPassword ||
			u.IsActive || u.ErasedAt == nil {
			t.Errorf("erased user row %+v", u)
		}
		var p models.Patient
		testenv.Must(t, db.Where("user_id = ?", w.p1.ID).Take(&p).Error, "patient row")
		if p.DateOfBirth != nil || p.Sex != nil || p.Diabetes != nil || p.HistoryNotes != nil || !strings.HasPrefix(p.PatientCode, "X-") {
			t.Errorf("erased patient row %+v", p)
		}
		if keys := objects(w.sc1); len(keys) != 0 {
			t.Errorf("objects left: %v", keys)
		}
		if len(objects(w.sc2)) == 0 {
			t.Errorf("the other patient's objects went too")
		}
		var n int64
		testenv.Must(t, db.Model(&models.Notification{}).Where("user_id = ?", w.p1.ID).Count(&n).Error, "notifications")
		if n != 0 {
			t.Errorf("%d notifications left", n)
		}
		// The alert stays, without its note.
		var al models.Alert
		testenv.Must(t, db.Where("screening_id = ?", w.sc1).Take(&al).Error, "alert")
		if al.Note != nil || al.Kind != models.AlertHighRisk {
			t.Errorf("erased alert %+v", al)
		}
		// The conversation goes whole; the other patient's stays.
		for conv, want := range map[string]int64{w.conv1: 0, w.conv2: 1} {
			var convs, msgs int64
			testenv.Must(t, db.Model(&models.Conversation{}).Where("id = ?", conv).Count(&convs).Error, "conversations")
			testenv.Must(t, db.Model(&models.Message{}).Where("conversation_id = ?", conv).Count(&msgs).Error, "messages")
			if convs != want || msgs != want {
				t.Errorf("conversation %s: %d rows, %d messages, want %d", conv, convs, msgs, want)
			}
		}
		var auditAfter int64
		testenv.Must(t, db.Model(&models.AuditLog{}).Where("entity_id = ? OR actor_id = ?", w.p1.ID, w.p1.ID).Count(&auditAfter).Error, "count audit")
		if auditAfter != auditBefore+1 {
			t.Errorf("audit rows about the account: %d before, %d after (want one more: patient.erase)", auditBefore, auditAfter)
		}
		// The screening stays for the staff, measured and rated, without identity.
		var list struct{ Items []screening }
		s.Do(t, "GET", "/api/screenings?clinicId="+w.clinic, nil, w.adm).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("listing after erasure: %d items", len(list.Items))
		}
		sc := getScreening(t, s, w.doc.Token, w.sc1)
		if sc.Analysis == nil || sc.Analysis.RiskLevel == nil || sc.Review == nil || sc.Review.RiskLevel == nil ||
			strings.Contains(sc.Patient.FullName, "Lan") || sc.Note != nil || sc.Review.Notes != nil {
			t.Errorf("erased screening %+v %+v", sc, sc.Patient)
		}
		s.Do(t, "GET", "/api/screenings/"+w.sc1+"/image", nil, w.doc.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/screenings/"+w.sc1+"/report", nil, w.doc.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		// Gone for good: no login, no reactivation; the cancelled one signs in.
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": w.p1.Email, "password": goodPassword}, "").
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		s.Do(t, "PATCH", "/api/admin/users/"+w.p1.ID, map[string]any{"isActive": true}, w.adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		login(t, s, p3.Email, goodPassword)
		if rows := auditLogs(t, s, w.adm, "action=patient.erase&entityId="+w.p1.ID); len(rows) != 1 || rows[0].ActorID != nil {
			t.Errorf("erasure audited %+v", rows)
		}
	})
}
