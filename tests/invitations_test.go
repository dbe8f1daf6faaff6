package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/mail/mailtest"
	"aura/security"
)

// invitationOut is the Invitation object as the tests read it.
type invitationOut struct {
	ID, Email, Role, Status, ExpiresAt, CreatedAt string
	LicenseNo, Specialization                     *string
}

const (
	subjectInviteEN  = "You are invited to join a clinic on AURA"
	subjectInviteVI  = "Bạn được mời tham gia một phòng khám trên AURA"
	subjectAccountEN = "An AURA account was made for you: set your password"
	subjectAccountVI = "Tài khoản AURA đã được tạo cho bạn: hãy đặt mật khẩu"
)

func invite(t *testing.T, s *testenv.Server, token, clinicID string, body any) *testenv.Response {
	t.Helper()
	return s.Do(t, "POST", "/api/clinics/"+clinicID+"/invitations", body, token)
}

func invited(t *testing.T, s *testenv.Server, token, clinicID string, body map[string]any) invitationOut {
	t.Helper()
	var out invitationOut
	invite(t, s, token, clinicID, body).Expect(t, http.StatusCreated, "").Data(t, &out)
	return out
}

func accept(t *testing.T, s *testenv.Server, bearer string, body any) *testenv.Response {
	t.Helper()
	return s.Do(t, "POST", "/api/invitations/accept", body, bearer)
}

func invitationsOf(t *testing.T, s *testenv.Server, token, clinicID, query string) []invitationOut {
	t.Helper()
	var page struct{ Items []invitationOut }
	s.Do(t, "GET", "/api/clinics/"+clinicID+"/invitations"+query, nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	return page.Items
}

// linkOf waits for the mail to addr with subject and returns the token of
// its invitation link.
func linkOf(t *testing.T, smtp *mailtest.Server, addr, subject string) (string, mailtest.Message) {
	t.Helper()
	m := mailWith(t, smtp, addr, subject)
	return mailtest.Token(t, m, "/invitations/accept"), m
}

// anyLink waits for the first mail to addr and returns the token of its
// invitation link (whatever its language).
func anyLink(t *testing.T, smtp *mailtest.Server, addr string) string {
	t.Helper()
	var out mailtest.Message
	smtp.Wait(t, 20*time.Second, "an invitation to "+addr, func([]mailtest.Message) bool {
		for _, m := range smtp.To(addr) {
			if strings.Contains(m.Text, "/invitations/accept?token=") {
				out = m
				return true
			}
		}
		return false
	})
	return mailtest.Token(t, out, "/invitations/accept")
}

func roleNames(ss session) []string {
	out := []string{}
	for _, r := range ss.Roles {
		out = append(out, r.Name)
	}
	return out
}

func countWhere(t *testing.T, s *testenv.Server, query string, args ...any) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Raw(query, args...).Scan(&n).Error, "count")
	return n
}

func adminID(t *testing.T, s *testenv.Server, tok string) string {
	t.Helper()
	var me struct{ ID string }
	s.Do(t, "GET", "/api/auth/me", nil, tok).Expect(t, http.StatusOK, "").Data(t, &me)
	return me.ID
}

// TestStaffInvitations: an admin invites a clinic's first CLINIC_ADMIN, who
// invites a doctor (an existing account) and technicians; each gets a mail
// in their language with a single-use link stored only hashed; acceptance
// makes a new account or asks the existing one to sign in, and grants the
// membership (and the doctor profile); every bad link answers alike; lists,
// revocations, superseded and expired invitations, an inactive clinic, and
// the audit trail.
func TestStaffInvitations(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_I18N_DEFAULT_LANGUAGE": "vi"})
		adm := makeAdmin(t, s, "admin@aura.example")
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": "en"}, adm).Expect(t, http.StatusOK, "")
		c := createClinic(t, s, adm, "Phòng khám Sáng")
		other := createClinic(t, s, adm, "Clinic Other")

		// The admin invites the clinic's administrator, who has no account:
		// the mail is in the inviter's language.
		start := time.Now()
		inv := invited(t, s, adm, c, map[string]any{"email": "Boss@Clinic.example", "role": "CLINIC_ADMIN"})
		exp, err := time.Parse(time.RFC3339, inv.ExpiresAt)
		testenv.Must(t, err, "expiresAt")
		if inv.Status != "pending" || inv.Role != "CLINIC_ADMIN" || inv.Email != "Boss@Clinic.example" || inv.LicenseNo != nil ||
			exp.Before(start.Add(72*time.Hour-time.Minute)) || exp.After(time.Now().Add(72*time.Hour+time.Minute)) {
			t.Fatalf("invitation %+v", inv)
		}
		bossTok, m := linkOf(t, smtp, "boss@clinic.example", subjectInviteEN)
		if !strings.Contains(m.Text, "Phòng khám Sáng") || !strings.Contains(m.Text, "a clinic administrator") ||
			!strings.Contains(m.Text, "3 days") || !strings.Contains(m.Text, "http") {
			t.Errorf("invitation mail %q", m.Text)
		}
		sum := sha256.Sum256([]byte(bossTok))
		if n := countWhere(t, s, "SELECT count(*) FROM invitations WHERE token_hash = ?", hex.EncodeToString(sum[:])); n != 1 {
			t.Errorf("the token's hash is stored %d times", n)
		}
		if n := countWhere(t, s, "SELECT count(*) FROM invitations WHERE token_hash = ? OR email LIKE ?", bossTok, "%"+bossTok+"%"); n != 0 {
			t.Error("the raw token is stored")
		}

		// A new account needs a name and a password of the sign-up policy.
		r := accept(t, s, "", testenv.Invalid(map[string]any{"token": bossTok})).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["password"] == "" || r.Env.Details["fullName"] == "" {
			t.Errorf("missing fields %v", r.Env.Details)
		}
		r = accept(t, s, "", map[string]any{"token": bossTok, "password": "short", "fullName": "Trần Văn Chủ"}).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["password"] == "" {
			t.Errorf("weak password %v", r.Env.Details)
		}
		accept(t, s, "", testenv.Invalid(map[string]any{})).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		var boss session
		accept(t, s, "", map[string]any{"token": bossTok, "password": goodPassword, "fullName": "Trần Văn Chủ"}).
			Expect(t, http.StatusOK, "").Data(t, &boss)
		if !boss.User.EmailVerified || boss.User.FullName != "Trần Văn Chủ" || boss.User.Email != "Boss@Clinic.example" ||
			!slices.Equal(roleNames(boss), []string{"CLINIC_ADMIN"}) || boss.AccessToken == "" {
			t.Fatalf("the new administrator %+v", boss)
		}
		if my := mine(t, s, boss.AccessToken); len(my) != 1 || my[0].ID != c || !slices.Equal(my[0].MyRoles, []string{"CLINIC_ADMIN"}) {
			t.Errorf("boss's clinics %+v", my)
		}
		login(t, s, "boss@clinic.example", goodPassword)

		// One answer for every link that does not work: used, unknown,
		// malformed (and below: revoked, expired, another account's).
		bad := accept(t, s, "", map[string]any{"token": bossTok, "password": goodPassword, "fullName": "X"}).
			Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
		same := func(what string, r *testenv.Response) {
			t.Helper()
			if r.Status != bad.Status || r.Env.Code != bad.Env.Code || r.Env.Error != bad.Env.Error || len(r.Env.Details) != 0 {
				t.Errorf("%s: %d %s, not the answer of a used link", what, r.Status, r.Body)
			}
		}
		same("unknown", accept(t, s, "", map[string]any{"token": security.NewOpaqueToken(32), "password": goodPassword, "fullName": "X"}))
		same("malformed", accept(t, s, "", map[string]any{"token": "not-a-token", "password": goodPassword, "fullName": "X"}))

		// The clinic's administrator invites a doctor who has an account
		// (in Vietnamese): DOCTOR needs a licence number, unique across doctors.
		doc := verifiedUser(t, s, "bac.si@clinic.example", "vi")
		r = invite(t, s, boss.AccessToken, c, testenv.Invalid(map[string]any{"email": "bac.si@clinic.example", "role": "DOCTOR"})).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["licenseNo"] == "" {
			t.Errorf("doctor without licence %v", r.Env.Details)
		}
		holder := makeDoctor(t, s, adm, "holder@clinic.example")
		attach(t, s, adm, other, holder.ID, "BS-200").Expect(t, http.StatusOK, "")
		invite(t, s, boss.AccessToken, c, map[string]any{"email": "bac.si@clinic.example", "role": "DOCTOR", "licenseNo": " bs-200 "}).
			Expect(t, http.StatusConflict, "CONFLICT")
		docInv := invited(t, s, boss.AccessToken, c, map[string]any{"email": "BAC.SI@clinic.example", "role": "DOCTOR",
			"licenseNo": "BS-100", "specialization": "Nhãn khoa"})
		if docInv.LicenseNo == nil || *docInv.LicenseNo != "BS-100" || *docInv.Specialization != "Nhãn khoa" {
			t.Errorf("doctor invitation %+v", docInv)
		}
		docTok, m := linkOf(t, smtp, "bac.si@clinic.example", subjectInviteVI)
		if !strings.Contains(m.Text, "bác sĩ") || !strings.Contains(m.Text, "Phòng khám Sáng") || !strings.Contains(m.Text, "3 ngày") {
			t.Errorf("Vietnamese invitation %q", m.Text)
		}
		// Bad invitations.
		r = invite(t, s, boss.AccessToken, c, testenv.Invalid(map[string]any{"email": "no", "role": "PATIENT"})).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["email"] == "" || r.Env.Details["role"] == "" {
			t.Errorf("bad invitation %v", r.Env.Details)
		}
		r = invite(t, s, boss.AccessToken, c, map[string]any{"email": "t@clinic.example", "role": "TECHNICIAN", "licenseNo": "X"}).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["licenseNo"] == "" {
			t.Errorf("licence of a technician %v", r.Env.Details)
		}
		// Who may invite: not another clinic's admin (404), not a patient (403).
		invite(t, s, boss.AccessToken, other, map[string]any{"email": "t@clinic.example", "role": "TECHNICIAN"}).
			Expect(t, http.StatusNotFound, "NOT_FOUND")
		invite(t, s, doc.Token, c, map[string]any{"email": "t@clinic.example", "role": "TECHNICIAN"}).
			Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+c+"/invitations", nil, doc.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+other+"/invitations", nil, boss.AccessToken).Expect(t, http.StatusNotFound, "NOT_FOUND")
		invite(t, s, "", c, map[string]any{"email": "t@clinic.example", "role": "TECHNICIAN"}).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")

		// An existing account must be the caller.
		accept(t, s, "", map[string]any{"token": docTok}).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		same("another account's bearer", accept(t, s, boss.AccessToken, map[string]any{"token": docTok}))
		var docSess session
		accept(t, s, doc.Token, map[string]any{"token": docTok}).Expect(t, http.StatusOK, "").Data(t, &docSess)
		if !slices.Contains(roleNames(docSess), "DOCTOR") || !slices.Contains(roleNames(docSess), "PATIENT") {
			t.Errorf("doctor's roles %v", roleNames(docSess))
		}
		var prof struct {
			LicenseNo, Specialization *string
			Clinics                   []struct{ ID string }
		}
		s.Do(t, "GET", "/api/doctors/me", nil, docSess.AccessToken).Expect(t, http.StatusOK, "").Data(t, &prof)
		if prof.LicenseNo == nil || *prof.LicenseNo != "BS-100" || prof.Specialization == nil || len(prof.Clinics) != 1 || prof.Clinics[0].ID != c {
			t.Errorf("doctor profile %+v", prof)
		}
		invite(t, s, boss.AccessToken, c, map[string]any{"email": "bac.si@clinic.example", "role": "DOCTOR", "licenseNo": "BS-100"}).
			Expect(t, http.StatusConflict, "CONFLICT")

		// Technicians (the mail in the inviter's language, the account's
		// from the Accept-Language of its acceptance): a newer invitation
		// revokes the older one.
		first := invited(t, s, boss.AccessToken, c, map[string]any{"email": "tech@clinic.example", "role": "TECHNICIAN"})
		firstTok, _ := linkOf(t, smtp, "tech@clinic.example", subjectInviteVI)
		second := invited(t, s, adm, c, map[string]any{"email": "tech@clinic.example", "role": "TECHNICIAN"})
		var secondTok string
		smtp.Wait(t, 20*time.Second, "second technician mail", func([]mailtest.Message) bool { return len(smtp.To("tech@clinic.example")) >= 2 })
		for _, msg := range smtp.To("tech@clinic.example") {
			if tk := mailtest.Token(t, msg, "/invitations/accept"); tk != firstTok {
				secondTok = tk
			}
		}
		same("superseded", accept(t, s, "", map[string]any{"token": firstTok, "password": goodPassword, "fullName": "Kỹ Thuật"}))
		later := invited(t, s, boss.AccessToken, c, map[string]any{"email": "late@clinic.example", "role": "TECHNICIAN"})
		lateTok, _ := linkOf(t, smtp, "late@clinic.example", subjectInviteVI)
		gone := invited(t, s, boss.AccessToken, c, map[string]any{"email": "gone@clinic.example", "role": "TECHNICIAN"})
		goneTok, _ := linkOf(t, smtp, "gone@clinic.example", subjectInviteVI)

		// Revocation.
		var rv invitationOut
		s.Do(t, "DELETE", "/api/clinics/"+c+"/invitations/"+gone.ID, nil, boss.AccessToken).Expect(t, http.StatusOK, "").Data(t, &rv)
		if rv.Status != "revoked" || rv.ID != gone.ID {
			t.Errorf("revoked %+v", rv)
		}
		s.Do(t, "DELETE", "/api/clinics/"+c+"/invitations/"+gone.ID, nil, boss.AccessToken).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "DELETE", "/api/clinics/"+c+"/invitations/"+docInv.ID, nil, adm).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "DELETE", "/api/clinics/"+other+"/invitations/"+later.ID, nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "DELETE", "/api/clinics/"+c+"/invitations/nope", nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "DELETE", "/api/clinics/"+c+"/invitations/"+later.ID, nil, doc.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		same("revoked", accept(t, s, "", map[string]any{"token": goneTok, "password": goodPassword, "fullName": "Đã Thu Hồi"}))

		// Expiry: 72 hours, computed from expires_at.
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Exec("UPDATE invitations SET expires_at = ? WHERE id = ?",
			time.Now().Add(-time.Minute).UTC(), later.ID).Error, "expire")
		same("expired", accept(t, s, "", map[string]any{"token": lateTok, "password": goodPassword, "fullName": "Trễ Hạn"}))
		s.Do(t, "DELETE", "/api/clinics/"+c+"/invitations/"+later.ID, nil, boss.AccessToken).Expect(t, http.StatusConflict, "INVALID_STATE")

		// The list, newest first, by status as of now.
		ids := func(list []invitationOut) []string {
			out := []string{}
			for _, i := range list {
				out = append(out, i.ID+":"+i.Status)
			}
			return out
		}
		all := invitationsOf(t, s, boss.AccessToken, c, "")
		want := []string{gone.ID + ":revoked", later.ID + ":expired", second.ID + ":pending", first.ID + ":revoked",
			docInv.ID + ":accepted", inv.ID + ":accepted"}
		if !slices.Equal(ids(all), want) {
			t.Errorf("all invitations %v, want %v", ids(all), want)
		}
		if got := ids(invitationsOf(t, s, adm, c, "?status=pending")); !slices.Equal(got, []string{second.ID + ":pending"}) {
			t.Errorf("pending %v", got)
		}
		if got := ids(invitationsOf(t, s, boss.AccessToken, c, "?status=expired,accepted")); !slices.Equal(got, want[1:2:2]) &&
			!slices.Equal(got, []string{later.ID + ":expired", docInv.ID + ":accepted", inv.ID + ":accepted"}) {
			t.Errorf("expired and accepted %v", got)
		}
		var page struct{ Total, Page, PageSize int }
		s.Do(t, "GET", "/api/clinics/"+c+"/invitations?page=2&pageSize=4", nil, boss.AccessToken).Expect(t, http.StatusOK, "").Data(t, &page)
		if page.Total != 6 || page.Page != 2 || page.PageSize != 4 {
			t.Errorf("page %+v", page)
		}
		r = s.Do(t, "GET", "/api/clinics/"+c+"/invitations?status=open", testenv.Invalid(nil), boss.AccessToken).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["status"] == "" {
			t.Errorf("bad status %v", r.Env.Details)
		}

		// An inactive clinic invites no one, and its invitations wait.
		s.Do(t, "POST", "/api/admin/clinics/"+c+"/suspend", map[string]any{"reason": "Kiểm tra"}, adm).Expect(t, http.StatusOK, "")
		invite(t, s, boss.AccessToken, c, map[string]any{"email": "new@clinic.example", "role": "TECHNICIAN"}).
			Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		accept(t, s, "", map[string]any{"token": secondTok, "password": goodPassword, "fullName": "Kỹ Thuật"}).
			Expect(t, http.StatusConflict, "CLINIC_INACTIVE")
		s.Do(t, "POST", "/api/admin/clinics/"+c+"/reactivate", nil, adm).Expect(t, http.StatusOK, "")
		var tech session
		accept(t, s, "", map[string]any{"token": secondTok, "password": goodPassword, "fullName": "Kỹ Thuật"}).
			Expect(t, http.StatusOK, "").Data(t, &tech)
		if !slices.Equal(roleNames(tech), []string{"TECHNICIAN"}) {
			t.Errorf("technician's roles %v", roleNames(tech))
		}

		// The trail.
		for action, n := range map[string]int{"invitation.create": 6, "invitation.revoke": 1, "invitation.accept": 3} {
			rows := auditLogs(t, s, adm, "action="+action)
			if len(rows) != n {
				t.Errorf("%s: %d rows, want %d", action, len(rows), n)
			}
			for _, row := range rows {
				if row.EntityType != "invitation" || row.ActorID == nil {
					t.Errorf("%s row %+v", action, row)
				}
			}
		}
		if rows := auditLogs(t, s, adm, "action=invitation.revoke"); len(rows) == 1 && (rows[0].ActorRole == nil || *rows[0].ActorRole != "CLINIC_ADMIN" || rows[0].EntityID != gone.ID) {
			t.Errorf("revoke row %+v", rows[0])
		}
		waitDrained(t, s.App.DB.WithContext(testenv.Ctx(t)))
	})
}

// TestAdminCreatesUser: POST /api/admin/users makes an account without a
// password whose owner sets one with the mailed link (no Bearer), which
// verifies the email; clinic roles, duplicates and non-admins are refused.
// An account in that state also accepts a clinic invitation without a
// Bearer; once it has a password, it must sign in.
func TestAdminCreatesUser(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		adm := makeAdmin(t, s, "admin@aura.example")
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": "vi"}, adm).Expect(t, http.StatusOK, "")
		pat := signUp(t, s, "patient@aura.example")

		var u struct {
			ID, Email, FullName, Language string
			EmailVerified, IsActive       bool
			Roles                         []struct{ Name string }
		}
		s.Do(t, "POST", "/api/admin/users", map[string]any{"email": "Y.Ta@Clinic.example", "fullName": "Lê Thị Y Tá", "roles": []string{"DOCTOR"}}, adm).
			Expect(t, http.StatusCreated, "").Data(t, &u)
		if u.Email != "Y.Ta@Clinic.example" || u.FullName != "Lê Thị Y Tá" || u.EmailVerified || !u.IsActive || len(u.Roles) != 1 ||
			u.Roles[0].Name != "DOCTOR" || u.Language != "vi" {
			t.Fatalf("made %+v", u)
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "y.ta@clinic.example", "password": goodPassword}, "").
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		s.Do(t, "POST", "/api/admin/users", map[string]any{"email": "y.ta@CLINIC.example", "fullName": "Again", "roles": []string{"PATIENT"}}, adm).
			Expect(t, http.StatusConflict, "CONFLICT")
		for _, roles := range [][]string{{"TECHNICIAN"}, {"CLINIC_ADMIN", "DOCTOR"}} {
			r := s.Do(t, "POST", "/api/admin/users", testenv.Invalid(map[string]any{"email": "x@clinic.example", "fullName": "X", "roles": roles}), adm).
				Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if !strings.Contains(r.Env.Details["roles"], "invitation") {
				t.Errorf("clinic roles %v: %v", roles, r.Env.Details)
			}
		}
		r := s.Do(t, "POST", "/api/admin/users", testenv.Invalid(map[string]any{"email": "x", "fullName": "", "roles": []string{}}), adm).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["email"] == "" || r.Env.Details["fullName"] == "" || r.Env.Details["roles"] == "" {
			t.Errorf("bad account %v", r.Env.Details)
		}
		s.Do(t, "POST", "/api/admin/users", map[string]any{"email": "x@clinic.example", "fullName": "X", "roles": []string{"PATIENT"}}, pat.Token).
			Expect(t, http.StatusForbidden, "FORBIDDEN")

		// The mail, in the admin's language, and the password set with it.
		tok, m := linkOf(t, smtp, "y.ta@clinic.example", subjectAccountVI)
		if !strings.Contains(m.Text, "Lê Thị Y Tá") || !strings.Contains(m.Text, "Y.Ta@Clinic.example") || !strings.Contains(m.Text, "3 ngày") {
			t.Errorf("account mail %q", m.Text)
		}
		r = accept(t, s, "", map[string]any{"token": tok}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["password"] == "" || r.Env.Details["fullName"] != "" {
			t.Errorf("no password %v", r.Env.Details)
		}
		var ss session
		accept(t, s, "", map[string]any{"token": tok, "password": goodPassword}).Expect(t, http.StatusOK, "").Data(t, &ss)
		if ss.User.ID != u.ID || !ss.User.EmailVerified || ss.User.FullName != "Lê Thị Y Tá" || !slices.Equal(roleNames(ss), []string{"DOCTOR"}) {
			t.Errorf("set password %+v", ss)
		}
		login(t, s, "y.ta@clinic.example", goodPassword)
		accept(t, s, "", map[string]any{"token": tok, "password": goodPassword}).Expect(t, http.StatusBadRequest, "TOKEN_INVALID")

		// An account made by an admin accepts a clinic invitation without a
		// Bearer too, setting its password; its own link then needs a sign-in.
		s.Do(t, "POST", "/api/admin/users", map[string]any{"email": "waiting@clinic.example", "fullName": "Chờ", "roles": []string{"PATIENT"}}, adm).
			Expect(t, http.StatusCreated, "")
		acctTok, _ := linkOf(t, smtp, "waiting@clinic.example", subjectAccountVI)
		c := createClinic(t, s, adm, "Phòng khám Chờ")
		invited(t, s, adm, c, map[string]any{"email": "waiting@clinic.example", "role": "TECHNICIAN"})
		// The account's language (vi) is the mail's.
		clinicTok, _ := linkOf(t, smtp, "waiting@clinic.example", subjectInviteVI)
		var w session
		accept(t, s, "", map[string]any{"token": clinicTok, "password": goodPassword, "fullName": "Nguyễn Chờ"}).
			Expect(t, http.StatusOK, "").Data(t, &w)
		if w.User.FullName != "Nguyễn Chờ" || !w.User.EmailVerified || !slices.Equal(roleNames(w), []string{"PATIENT", "TECHNICIAN"}) {
			t.Errorf("accepted by the made account %+v", w)
		}
		accept(t, s, "", map[string]any{"token": acctTok, "password": goodPassword}).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		accept(t, s, w.AccessToken, map[string]any{"token": acctTok}).Expect(t, http.StatusOK, "")

		rows := auditLogs(t, s, adm, "action=user.create")
		if len(rows) != 2 || rows[0].EntityType != "user" || rows[0].ActorRole == nil || *rows[0].ActorRole != "ADMIN" {
			t.Errorf("user.create rows %+v", rows)
		}
	})
}

// TestInvitationRaces: ten acceptances of one invitation at once, by its
// account signed in and by strangers making a new account: exactly one
// wins, the others answer TOKEN_INVALID, and one membership results.
func TestInvitationRaces(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		adm := makeAdmin(t, s, "admin@aura.example")
		c := createClinic(t, s, adm, "Race Clinic")

		member := signUp(t, s, "member@race.example")
		invited(t, s, adm, c, map[string]any{"email": "member@race.example", "role": "DOCTOR", "licenseNo": "R-1"})
		tok := anyLink(t, smtp, "member@race.example")
		invited(t, s, adm, c, map[string]any{"email": "fresh@race.example", "role": "TECHNICIAN"})
		freshTok := anyLink(t, smtp, "fresh@race.example")

		for _, tc := range []struct {
			name, bearer string
			body         map[string]any
			email        string
		}{
			{"signed in", member.Token, map[string]any{"token": tok}, "member@race.example"},
			{"new account", "", map[string]any{"token": freshTok, "password": goodPassword, "fullName": "Người Mới"}, "fresh@race.example"},
		} {
			statuses := make([]string, 10)
			testenv.Race(10, func(i int) error {
				r := s.Do(t, "POST", "/api/invitations/accept", tc.body, tc.bearer)
				statuses[i] = fmt.Sprintf("%d %s", r.Status, r.Env.Code)
				return nil
			})
			won := 0
			for _, st := range statuses {
				switch st {
				case "200 ":
					won++
				case "400 TOKEN_INVALID":
				default:
					t.Errorf("%s: unexpected answer %q", tc.name, st)
				}
			}
			if won != 1 {
				t.Errorf("%s: %d acceptances won: %v", tc.name, won, statuses)
			}
			if n := countWhere(t, s, "SELECT count(*) FROM clinic_members cm JOIN users u ON u.id = cm.user_id WHERE cm.clinic_id = ? AND u.email = ?",
				c, tc.email); n != 1 {
				t.Errorf("%s: %d memberships", tc.name, n)
			}
		}
		if n := countWhere(t, s, "SELECT count(*) FROM users WHERE email = ?", "fresh@race.example"); n != 1 {
			t.Errorf("%d accounts made", n)
		}
		if n := countWhere(t, s, "SELECT count(*) FROM invitations WHERE status = 'accepted'"); n != 2 {
			t.Errorf("%d invitations accepted", n)
		}
	})
}
