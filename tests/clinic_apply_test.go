package tests

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/database"
	"aura/internal/testenv"
	"aura/mail/mailtest"
	"aura/models"
	"aura/repositories"
)

// clinicOut is the Clinic object as the tests read it.
type clinicOut struct {
	ID, Name, Status, CreatedAt                         string
	Address, Phone, LicenseNo, StatusReason, ApprovedAt *string
	MyRoles                                             []string
	// The admins' view.
	Note      *string
	Applicant *struct{ UserID, Email, FullName string }
}

// verifiedUser registers an account writing in lang and marks its email
// verified in the database (as the link in its mail would).
func verifiedUser(t *testing.T, s *testenv.Server, email, lang string) person {
	t.Helper()
	var reg session
	s.DoHeaders(t, "POST", "/api/auth/register", map[string]any{"email": email, "password": goodPassword},
		map[string]string{"Accept-Language": lang}).Expect(t, http.StatusCreated, "").Data(t, &reg)
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Exec("UPDATE users SET email_verified = ? WHERE id = ?", true, reg.User.ID).Error, "verify")
	return person{ID: reg.User.ID, Email: email, Token: reg.AccessToken}
}

func application(name, license string) map[string]any {
	return map[string]any{"name": name, "address": "45 Trần Hưng Đạo, Huế", "phone": "+84 234 382 1234", "licenseNo": license}
}

func apply(t *testing.T, s *testenv.Server, token string, body map[string]any) *testenv.Response {
	t.Helper()
	return s.Do(t, "POST", "/api/clinics/registrations", body, token)
}

func clinicsOf(t *testing.T, s *testenv.Server, token, path string) []clinicOut {
	t.Helper()
	var page struct{ Items []clinicOut }
	s.Do(t, "GET", path, nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	return page.Items
}

func mine(t *testing.T, s *testenv.Server, token string) []clinicOut {
	t.Helper()
	var out []clinicOut
	s.Do(t, "GET", "/api/clinics/mine", nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	return out
}

func names(cs []clinicOut) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// mailWith waits for the message to addr with subject and returns it.
func mailWith(t *testing.T, smtp *mailtest.Server, addr, subject string) mailtest.Message {
	t.Helper()
	var out mailtest.Message
	smtp.Wait(t, 20*time.Second, subject, func([]mailtest.Message) bool {
		for _, m := range smtp.To(addr) {
			if m.Subject == subject {
				out = m
				return true
			}
		}
		return false
	})
	return out
}

type noticeOut struct{ Type, Title, Body string }

func inbox(t *testing.T, s *testenv.Server, token string) []noticeOut {
	t.Helper()
	var page struct{ Items []noticeOut }
	s.Do(t, "GET", "/api/notifications", nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	return page.Items
}

// TestClinicApplications: a verified account applies, an admin lists the
// applications and approves, rejects, suspends and reactivates; every
// transition that does not apply is INVALID_STATE; the applicant becomes
// CLINIC_ADMIN; each decision is told in the app and by mail in the
// recipient's language, and audited.
func TestClinicApplications(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_I18N_DEFAULT_LANGUAGE": "vi"})
		adm := makeAdmin(t, s, "admin@aura.example")
		existing := createClinic(t, s, adm, "Phòng khám Cũ")
		owner := verifiedUser(t, s, "owner@clinic.example", "en")
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Lê Văn Chủ"}, owner.Token).Expect(t, http.StatusOK, "")
		other := verifiedUser(t, s, "other@clinic.example", "vi")
		unverified := signUp(t, s, "fresh@clinic.example")

		// Who may apply, and with what.
		r := apply(t, s, unverified.Token, application("Mắt Xanh", "GP-001")).Expect(t, http.StatusForbidden, "FORBIDDEN")
		if !strings.Contains(r.Env.Error, "email") {
			t.Errorf("unverified: %q", r.Env.Error)
		}
		apply(t, s, "", application("Mắt Xanh", "GP-001")).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		r = s.Do(t, "POST", "/api/clinics/registrations", testenv.Invalid(map[string]any{"note": 5}), owner.Token)
		if r.Status != http.StatusBadRequest {
			t.Fatalf("wrong type: %d %s", r.Status, r.Body)
		}
		r = s.Do(t, "POST", "/api/clinics/registrations", testenv.Invalid(map[string]any{}), owner.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		for _, f := range []string{"name", "address", "phone", "licenseNo"} {
			if r.Env.Details[f] == "" {
				t.Errorf("empty application: no detail for %s: %v", f, r.Env.Details)
			}
		}
		bad := application("Mắt Xanh", "GP-001")
		bad["phone"], bad["note"], bad["name"] = "call me", strings.Repeat("n", 1001), "A\u202eB"
		r = s.Do(t, "POST", "/api/clinics/registrations", testenv.Invalid(bad), owner.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if len(r.Env.Details) != 3 || r.Env.Details["phone"] == "" || r.Env.Details["note"] == "" || r.Env.Details["name"] == "" {
			t.Errorf("bad application: %v", r.Env.Details)
		}

		// Applying: a pending clinic, not listed to patients.
		body := application("Phòng khám Mắt Xanh", "GP-001/HUE")
		body["note"] = "Giấy phép số GP-001 do Sở Y tế cấp"
		var c clinicOut
		apply(t, s, owner.Token, body).Expect(t, http.StatusCreated, "").Data(t, &c)
		if c.Status != "pending" || c.StatusReason != nil || c.ApprovedAt != nil || *c.Phone != "+84 234 382 1234" ||
			*c.LicenseNo != "GP-001/HUE" || *c.Address != "45 Trần Hưng Đạo, Huế" {
			t.Fatalf("application %+v", c)
		}
		r = apply(t, s, owner.Token, application("Another One", "GP-777")).Expect(t, http.StatusConflict, "CONFLICT")
		if !strings.Contains(r.Env.Error, "chờ duyệt") {
			t.Errorf("second pending: %q", r.Env.Error)
		}
		r = apply(t, s, other.Token, application("PHÒNG KHÁM MẮT XANH", "GP-002")).Expect(t, http.StatusConflict, "CONFLICT")
		if !strings.Contains(r.Env.Error, "tên") {
			t.Errorf("same name (vi): %q", r.Env.Error)
		}
		apply(t, s, other.Token, application("Phòng khám Cũ", "GP-003")).Expect(t, http.StatusConflict, "CONFLICT")
		r = apply(t, s, other.Token, application("Mắt Đỏ", " gp-001/hue ")).Expect(t, http.StatusConflict, "CONFLICT")
		if !strings.Contains(r.Env.Error, "giấy phép") {
			t.Errorf("same licence (vi): %q", r.Env.Error)
		}
		if got := names(clinicsOf(t, s, other.Token, "/api/clinics")); !slices.Equal(got, []string{"Phòng khám Cũ"}) {
			t.Errorf("GET /api/clinics lists %v", got)
		}
		if m := mine(t, s, owner.Token); len(m) != 1 || m[0].ID != c.ID || m[0].Status != "pending" || m[0].MyRoles == nil || len(m[0].MyRoles) != 0 {
			t.Errorf("owner's clinics %+v", m)
		}
		if m := mine(t, s, other.Token); len(m) != 0 {
			t.Errorf("other's clinics %+v", m)
		}

		// The admin's list: status (a list), q, paging; admins only.
		var page struct {
			Items                 []clinicOut
			Total, Page, PageSize int
		}
		s.Do(t, "GET", "/api/admin/clinics?status=pending", nil, adm).Expect(t, http.StatusOK, "").Data(t, &page)
		if page.Total != 1 || page.Items[0].ID != c.ID || page.PageSize != 20 {
			t.Fatalf("pending %+v", page)
		}
		if a := page.Items[0].Applicant; a == nil || a.UserID != owner.ID || a.Email != owner.Email || a.FullName != "Lê Văn Chủ" ||
			page.Items[0].Note == nil || *page.Items[0].Note != "Giấy phép số GP-001 do Sở Y tế cấp" {
			t.Errorf("the application as reviewed: %+v", page.Items[0])
		}
		if got := clinicsOf(t, s, adm, "/api/admin/clinics"); len(got) != 2 || got[0].ID != existing || got[1].ID != c.ID || got[0].Applicant != nil {
			t.Errorf("every clinic, oldest first: %+v", got)
		}
		if got := clinicsOf(t, s, adm, "/api/admin/clinics?status=active,pending&q=gp-001"); len(got) != 1 || got[0].ID != c.ID {
			t.Errorf("q by licence %+v", got)
		}
		if got := clinicsOf(t, s, adm, "/api/admin/clinics?q=M%E1%BA%AET%20XANH"); len(got) != 1 || got[0].ID != c.ID {
			t.Errorf("q by name %+v", got)
		}
		if got := clinicsOf(t, s, adm, "/api/admin/clinics?q=%25"); len(got) != 0 {
			t.Errorf("q %% is literal: %+v", got)
		}
		s.Do(t, "GET", "/api/admin/clinics?page=2&pageSize=1", nil, adm).Expect(t, http.StatusOK, "").Data(t, &page)
		if page.Total != 2 || len(page.Items) != 1 || page.Items[0].ID != c.ID {
			t.Errorf("page 2 %+v", page)
		}
		r = s.Do(t, "GET", "/api/admin/clinics?status=open", testenv.Invalid(nil), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["status"] == "" {
			t.Errorf("bad status %v", r.Env.Details)
		}
		s.Do(t, "GET", "/api/admin/clinics", nil, owner.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/admin/clinics/"+c.ID+"/approve", nil, owner.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		// Transitions that do not apply to a pending clinic.
		base := "/api/admin/clinics/" + c.ID
		s.Do(t, "POST", base+"/reactivate", nil, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", base+"/suspend", map[string]any{"reason": "x"}, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", "/api/admin/clinics/11111111-1111-4111-8111-111111111111/approve", nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/admin/clinics/nope/approve", nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")

		// Approve: active, the applicant its CLINIC_ADMIN, told in English.
		s.Do(t, "POST", base+"/approve", nil, adm).Expect(t, http.StatusOK, "").Data(t, &c)
		if c.Status != "active" || c.ApprovedAt == nil {
			t.Fatalf("approved %+v", c)
		}
		s.Do(t, "POST", base+"/approve", nil, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", base+"/reject", map[string]any{"reason": "late"}, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", base+"/reactivate", nil, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		if m := mine(t, s, owner.Token); len(m) != 1 || m[0].Status != "active" || !slices.Equal(m[0].MyRoles, []string{"CLINIC_ADMIN"}) {
			t.Errorf("owner's clinics after approval %+v", m)
		}
		// The account holds CLINIC_ADMIN from its next request on.
		held := false
		for _, r := range login(t, s, owner.Email, goodPassword).Roles {
			held = held || r.Name == "CLINIC_ADMIN"
		}
		if !held {
			t.Errorf("the owner does not hold CLINIC_ADMIN")
		}
		if n := inbox(t, s, owner.Token); len(n) != 1 || n[0].Type != "CLINIC_APPROVED" || n[0].Title != "Your clinic has been approved" ||
			!strings.Contains(n[0].Body, "Phòng khám Mắt Xanh") {
			t.Errorf("owner's inbox %+v", n)
		}
		m := mailWith(t, smtp, owner.Email, "Your clinic has been approved on AURA")
		if m.Subject != "Your clinic has been approved on AURA" || !strings.Contains(m.Text, "Lê Văn Chủ") ||
			!strings.Contains(m.Text, "Phòng khám Mắt Xanh") || !strings.Contains(m.Text, "/clinics/"+c.ID) {
			t.Errorf("approval mail %q\n%s", m.Subject, m.Text)
		}
		if got := names(clinicsOf(t, s, other.Token, "/api/clinics")); !slices.Equal(got, []string{"Phòng khám Cũ", "Phòng khám Mắt Xanh"}) {
			t.Errorf("GET /api/clinics lists %v", got)
		}

		// Reject, with a reason, told in Vietnamese; the name is free again.
		var rej clinicOut
		apply(t, s, other.Token, application("Mắt Đỏ", "GP-009")).Expect(t, http.StatusCreated, "").Data(t, &rej)
		rbase := "/api/admin/clinics/" + rej.ID
		for _, b := range []map[string]any{{}, {"reason": " "}, {"reason": strings.Repeat("r", 501)}} {
			if r := s.Do(t, "POST", rbase+"/reject", testenv.Invalid(b), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED"); r.Env.Details["reason"] == "" {
				t.Errorf("reason %v: %v", b, r.Env.Details)
			}
		}
		reason := "Giấy phép hoạt động đã hết hạn.\nVui lòng bổ sung bản mới."
		s.Do(t, "POST", rbase+"/reject", map[string]any{"reason": reason}, adm).Expect(t, http.StatusOK, "").Data(t, &rej)
		if rej.Status != "rejected" || rej.StatusReason == nil || *rej.StatusReason != reason || rej.ApprovedAt != nil {
			t.Fatalf("rejected %+v", rej)
		}
		for _, step := range []string{"/approve", "/reactivate"} {
			s.Do(t, "POST", rbase+step, nil, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		}
		s.Do(t, "POST", rbase+"/suspend", map[string]any{"reason": "x"}, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", rbase+"/reject", map[string]any{"reason": "x"}, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		if n := inbox(t, s, other.Token); len(n) != 1 || n[0].Type != "CLINIC_REJECTED" || n[0].Title != "Đơn đăng ký phòng khám bị từ chối" ||
			!strings.Contains(n[0].Body, "Giấy phép hoạt động đã hết hạn") {
			t.Errorf("other's inbox %+v", n)
		}
		m = mailWith(t, smtp, other.Email, "Đơn đăng ký phòng khám trên AURA bị từ chối")
		if m.Subject != "Đơn đăng ký phòng khám trên AURA bị từ chối" || !strings.Contains(m.Text, "Vui lòng bổ sung bản mới.") ||
			!strings.Contains(m.Text, "Mắt Đỏ") {
			t.Errorf("rejection mail %q\n%s", m.Subject, m.Text)
		}
		if mm := mine(t, s, other.Token); len(mm) != 1 || mm[0].Status != "rejected" || len(mm[0].MyRoles) != 0 {
			t.Errorf("other's clinics %+v", mm)
		}
		var again clinicOut
		apply(t, s, other.Token, application("mắt đỏ", "GP-009")).Expect(t, http.StatusCreated, "").Data(t, &again)
		if again.ID == rej.ID || again.Status != "pending" {
			t.Errorf("applied again %+v", again)
		}
		// An admin's correction of the rejected record reserves nothing.
		s.Do(t, "PATCH", rbase, map[string]any{"name": "Mắt Đỏ (hồ sơ cũ)", "licenseNo": "GP-OLD"}, adm).Expect(t, http.StatusOK, "")
		third := verifiedUser(t, s, "third@clinic.example", "vi")
		apply(t, s, third.Token, application("mắt đỏ (HỒ SƠ CŨ)", "gp-old")).Expect(t, http.StatusCreated, "")

		// Suspend: the clinic's admins are told; reactivate clears the reason.
		s.Do(t, "POST", base+"/suspend", testenv.Invalid(map[string]any{}), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "POST", base+"/suspend", map[string]any{"reason": "Unpaid licence renewal"}, adm).Expect(t, http.StatusOK, "").Data(t, &c)
		if c.Status != "suspended" || *c.StatusReason != "Unpaid licence renewal" || c.ApprovedAt == nil {
			t.Fatalf("suspended %+v", c)
		}
		s.Do(t, "POST", base+"/suspend", map[string]any{"reason": "again"}, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", base+"/approve", nil, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		if n := inbox(t, s, owner.Token); len(n) != 2 || n[0].Type != "CLINIC_SUSPENDED" || !strings.Contains(n[0].Body, "Unpaid licence renewal") {
			t.Errorf("owner's inbox %+v", n)
		}
		m = mailWith(t, smtp, owner.Email, "Your clinic on AURA has been suspended")
		if m.Subject != "Your clinic on AURA has been suspended" || !strings.Contains(m.Text, "Unpaid licence renewal") {
			t.Errorf("suspension mail %q\n%s", m.Subject, m.Text)
		}
		if got := names(clinicsOf(t, s, other.Token, "/api/clinics")); !slices.Equal(got, []string{"Phòng khám Cũ"}) {
			t.Errorf("GET /api/clinics lists %v", got)
		}
		if mm := mine(t, s, owner.Token); len(mm) != 1 || mm[0].Status != "suspended" || !slices.Equal(mm[0].MyRoles, []string{"CLINIC_ADMIN"}) {
			t.Errorf("owner's clinics while suspended %+v", mm)
		}
		approvedAt := *c.ApprovedAt
		s.Do(t, "POST", base+"/reactivate", nil, adm).Expect(t, http.StatusOK, "").Data(t, &c)
		if c.Status != "active" || c.StatusReason != nil || c.ApprovedAt == nil || *c.ApprovedAt != approvedAt {
			t.Fatalf("reactivated %+v", c)
		}

		// An admin's clinic: active at once, phone and licence unique too.
		var made clinicOut
		s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": "Trạm Y tế Phường", "phone": "0234 111 222", "licenseNo": "TYT-01"}, adm).
			Expect(t, http.StatusCreated, "").Data(t, &made)
		if made.Status != "active" || made.ApprovedAt == nil || *made.Phone != "0234 111 222" || *made.LicenseNo != "TYT-01" {
			t.Fatalf("admin's clinic %+v", made)
		}
		s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": "Khác", "licenseNo": "gp-001/hue"}, adm).Expect(t, http.StatusConflict, "CONFLICT")
		s.Do(t, "PATCH", "/api/admin/clinics/"+made.ID, map[string]any{"licenseNo": "GP-001/HUE"}, adm).Expect(t, http.StatusConflict, "CONFLICT")
		s.Do(t, "POST", "/api/admin/clinics", testenv.Invalid(map[string]any{"name": "Khác", "phone": "abc"}), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "PATCH", "/api/admin/clinics/"+made.ID, map[string]any{"phone": nil, "licenseNo": "TYT-02"}, adm).Expect(t, http.StatusOK, "").Data(t, &made)
		if made.Phone != nil || *made.LicenseNo != "TYT-02" {
			t.Errorf("patched %+v", made)
		}
		apply(t, s, owner.Token, application("Chi nhánh hai", "TYT-01")).Expect(t, http.StatusCreated, "")

		// Every decision is audited.
		for action, id := range map[string]string{"clinic.apply": rej.ID, "clinic.approve": c.ID, "clinic.reject": rej.ID,
			"clinic.suspend": c.ID, "clinic.reactivate": c.ID, "clinic.create": made.ID, "clinic.update": made.ID} {
			if rows := auditLogs(t, s, adm, "action="+action+"&entityId="+id); len(rows) != 1 {
				t.Errorf("%s of %s: %d audit rows", action, id, len(rows))
			}
		}
	})
}

// TestInactiveClinic: a suspended clinic takes no uploads, and its doctors
// neither claim nor review (giving a claim back is allowed); its patient
// still reads the screening, its images and, once reviewed, the report.
// Reactivated, the work goes on.
func TestInactiveClinic(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newReviewWorld(t, e.URI(t))
		s, adm := w.s, w.adm
		base := "/api/screenings/" + w.id
		rv := map[string]any{"riskLevel": "low", "recommendation": "Tái khám sau 12 tháng"}
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/admin/clinics/"+w.clinic+"/suspend", map[string]any{"reason": "Kiểm tra định kỳ"}, adm).Expect(t, http.StatusOK, "")

		s.Do(t, "POST", base+"/review", rv, w.d1.Token).Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		s.Do(t, "POST", base+"/claim", nil, w.d2.Token).Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		s.Do(t, "POST", base+"/release", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		s.Do(t, "POST", base+"/claim", nil, w.out.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		jpg, _ := fundus(t)
		upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": w.clinic}}, nil).
			Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).
			Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		if sc := getScreening(t, s, w.p.Token, w.id); sc.Status != "awaiting_review" || sc.Analysis == nil {
			t.Fatalf("the patient's screening %+v", sc)
		}
		if status, _, _ := rawGet(t, s, base+"/vessels", w.p.Token, nil); status != http.StatusOK {
			t.Errorf("vessels %d", status)
		}
		var list struct{ Total int }
		s.Do(t, "GET", "/api/screenings", nil, w.p.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if list.Total != 1 {
			t.Errorf("the patient's list %+v", list)
		}
		if m := mine(t, s, w.d1.Token); len(m) != 1 || m[0].ID != w.clinic || m[0].Status != "suspended" ||
			!slices.Equal(m[0].MyRoles, []string{"DOCTOR"}) || *m[0].StatusReason != "Kiểm tra định kỳ" {
			t.Errorf("the doctor's clinics %+v", m)
		}
		if m := mine(t, s, w.p.Token); len(m) != 0 {
			t.Errorf("a patient is no member: %+v", m)
		}
		// Its doctors are no CLINIC_ADMINs: not told.
		for _, n := range inbox(t, s, w.d1.Token) {
			if n.Type == "CLINIC_SUSPENDED" {
				t.Errorf("a doctor was told %+v", n)
			}
		}
		// A pending clinic takes nothing either.
		owner := verifiedUser(t, s, "owner@new.example", "vi")
		var pending clinicOut
		apply(t, s, owner.Token, application("Phòng khám Mới", "GP-NEW")).Expect(t, http.StatusCreated, "").Data(t, &pending)
		upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": pending.ID}}, nil).
			Expect(t, http.StatusConflict, "CLINIC_INACTIVE")

		s.Do(t, "POST", "/api/admin/clinics/"+w.clinic+"/reactivate", nil, adm).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", base+"/review", rv, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/admin/clinics/"+w.clinic+"/suspend", map[string]any{"reason": "Lần hai"}, adm).Expect(t, http.StatusOK, "")
		status, h, pdf := rawGet(t, s, base+"/report", w.p.Token, nil)
		if status != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF") {
			t.Fatalf("report while suspended: %d %s", status, h.Get("Content-Type"))
		}
		// With one active clinic among others, clinicId may still be left out.
		s.Do(t, "POST", "/api/admin/clinics/"+w.clinic+"/reactivate", nil, adm).Expect(t, http.StatusOK, "")
		upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "")
	})
}

// TestClinicApplicationRaces: two applications of one name (in any case)
// at once: one 201, the other 409; one account's applications at once:
// one pending; two admins deciding at once: one wins, the other is
// INVALID_STATE, and the applicant is told once.
func TestClinicApplicationRaces(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@aura.example")
		var people []person
		for i := range 8 {
			people = append(people, verifiedUser(t, s, "applicant"+string(rune('a'+i))+"@clinic.example", "vi"))
		}
		spellings := []string{"Mắt Sáng", "MẮT SÁNG"}
		counts := burst(2, func(i int) *testenv.Response {
			return apply(t, s, people[i].Token, application(spellings[i], "GP-R"+string(rune('0'+i))))
		})
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 1 {
			t.Fatalf("same name: %v", counts)
		}
		counts = burst(6, func(i int) *testenv.Response {
			return apply(t, s, people[2].Token, application("Chi nhánh "+string(rune('A'+i)), "GP-S"+string(rune('0'+i))))
		})
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 5 {
			t.Fatalf("one account: %v", counts)
		}
		counts = burst(4, func(i int) *testenv.Response {
			return apply(t, s, people[4+i].Token, application("Tên "+string(rune('A'+i)), "gp-same"))
		})
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 3 {
			t.Fatalf("one licence: %v", counts)
		}
		pending := clinicsOf(t, s, adm, "/api/admin/clinics?status=pending")
		if len(pending) != 3 {
			t.Fatalf("pending %+v", pending)
		}
		id := pending[0].ID
		// The rule is the database's own: a second pending row of one
		// applicant is refused however it is written.
		dup := models.Clinic{ID: uuid.NewString(), Name: "Direct", NameKey: "direct", Status: models.ClinicPending,
			ApplicantID: &people[2].ID, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := s.App.DB.WithContext(testenv.Ctx(t)).Create(&dup).Error; err == nil {
			t.Fatal("a second pending application of one account was stored")
		}
		counts = burst(6, func(i int) *testenv.Response {
			return s.Do(t, "POST", "/api/admin/clinics/"+id+"/approve", nil, adm)
		})
		if counts[http.StatusOK] != 1 || counts[http.StatusConflict] != 5 {
			t.Fatalf("approvals: %v", counts)
		}
		var n int64
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Raw("SELECT count(*) FROM notifications WHERE type = ?", "CLINIC_APPROVED").Scan(&n).Error, "count")
		if n != 1 {
			t.Errorf("%d approval notices", n)
		}
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Raw("SELECT count(*) FROM clinic_members WHERE clinic_id = ? AND role = ?", id, "CLINIC_ADMIN").Scan(&n).Error, "count")
		if n != 1 {
			t.Errorf("%d clinic admins", n)
		}
	})
}

// TestPendingApplicationIndex: the one-pending-application index is made
// by the migration and survives running it again (a restart), on every
// engine; other statuses of one applicant are not limited.
func TestPendingApplicationIndex(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db := testenv.OpenDB(t, e)
		ctx := testenv.Ctx(t)
		testenv.Must(t, database.Migrate(ctx, db, testenv.Logger(t)), "migrate again")
		u, _ := testenv.Account(t, repositories.New(db.WithContext(ctx)), "applicant@clinic.example")
		row := func(name, status string) error {
			now := time.Now().UTC()
			return db.WithContext(ctx).Create(&models.Clinic{ID: uuid.NewString(), Name: name, NameKey: models.FoldKey(name),
				Status: status, ApplicantID: &u.ID, CreatedAt: now, UpdatedAt: now}).Error
		}
		testenv.Must(t, row("One", models.ClinicPending), "first pending")
		testenv.Must(t, row("Two", models.ClinicRejected), "a rejected one")
		testenv.Must(t, row("Three", models.ClinicActive), "an active one")
		if err := row("Four", models.ClinicPending); err == nil {
			t.Fatal("a second pending application was stored")
		}
	})
}
