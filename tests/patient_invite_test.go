package tests

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"aura/internal/testenv"
	"aura/mail/mailtest"
	"aura/models"
)

// TestPatientInvitations: the staff of a clinic (a technician too) invite
// the person of a patient record without an account; the mail goes to the
// record's email; accepting makes a new account that owns the record and its
// screenings, or joins the record into an existing account's own record
// (which must sign in); a record with an account, without an email, of
// another clinic, and callers who may not invite are refused; a used link
// answers like any bad link.
func TestPatientInvitations(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_I18N_DEFAULT_LANGUAGE": "en"})
		adm := makeAdmin(t, s, "admin@aura.example")
		c := createClinic(t, s, adm, "Phòng khám Hòa Bình")
		other := createClinic(t, s, adm, "Clinic Elsewhere")
		tech := staffMember(t, s, c, "tech@hoabinh.example", models.RoleTechnician)
		outsider := staffMember(t, s, other, "tech@elsewhere.example", models.RoleTechnician)
		path := func(clinic, patient string) string {
			return "/api/clinics/" + clinic + "/patients/" + patient + "/invite"
		}

		// A record without an email cannot be invited.
		noMail := enrol(t, s, tech.Token, c, map[string]any{"fullName": "Phạm Văn Không"})
		r := s.Do(t, "POST", path(c, noMail.ID), nil, tech.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["email"] == "" {
			t.Errorf("no email: %s", r.Body)
		}

		// A record with an email and a screening taken by the technician.
		lan := enrol(t, s, tech.Token, c, map[string]any{"fullName": "Đỗ Thị Lan", "email": "DoThiLan@Example.com", "externalId": "HB-7"})
		var taken struct{ ID string }
		staffUpload(t, s, tech.Token, c, lan.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &taken)

		// Who may not invite: another clinic's staff (404), a patient (403),
		// an unknown or malformed record (404).
		s.Do(t, "POST", path(c, lan.ID), nil, outsider.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		pat := signUp(t, s, "someone@patient.example")
		s.Do(t, "POST", path(c, lan.ID), nil, pat.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", path(other, lan.ID), nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", path(c, "00000000-0000-4000-8000-000000000009"), nil, tech.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", path(c, "not-a-uuid"), nil, tech.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")

		var inv invitationOut
		s.Do(t, "POST", path(c, lan.ID), nil, tech.Token).Expect(t, http.StatusCreated, "").Data(t, &inv)
		if inv.Role != "PATIENT" || inv.Status != "pending" || inv.Email != "DoThiLan@Example.com" {
			t.Fatalf("invitation %+v", inv)
		}
		tok, m := linkOf(t, smtp, "dothilan@example.com", subjectInviteEN)
		if !strings.Contains(m.Text, "Phòng khám Hòa Bình") || !strings.Contains(m.Text, "eye screenings") ||
			!strings.Contains(m.Text, "Đỗ Thị Lan") {
			t.Errorf("patient invitation mail %q", m.Text)
		}
		if got := invitationsOf(t, s, adm, c, "?status=pending"); len(got) != 1 || got[0].Role != "PATIENT" {
			t.Errorf("the clinic's pending invitations %+v", got)
		}

		// Accepting makes an account that owns the record and its screening.
		var lanSess session
		accept(t, s, "", map[string]any{"token": tok, "password": goodPassword, "fullName": "Đỗ Thị Lan"}).
			Expect(t, http.StatusOK, "").Data(t, &lanSess)
		if !slices.Contains(roleNames(lanSess), "PATIENT") || !lanSess.User.EmailVerified {
			t.Fatalf("the new patient's session %+v", lanSess)
		}
		var me clinicPatient
		s.Do(t, "GET", "/api/patients/me", nil, lanSess.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.ID != lan.ID || me.UserID == nil || *me.UserID != lanSess.User.ID || me.PatientCode != lan.PatientCode {
			t.Fatalf("the joined record %+v, enrolled as %+v", me, lan)
		}
		s.Do(t, "GET", "/api/screenings/"+taken.ID, nil, lanSess.AccessToken).Expect(t, http.StatusOK, "")
		accept(t, s, "", map[string]any{"token": tok, "password": goodPassword, "fullName": "X"}).
			Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
		// Joined: no second invitation.
		s.Do(t, "POST", path(c, lan.ID), nil, tech.Token).Expect(t, http.StatusConflict, "CONFLICT")

		// An existing account with its own record: the clinic's record is
		// merged into it, and only that account may accept.
		minh := signUp(t, s, "minh@patient.example")
		s.Do(t, "GET", "/api/patients/me", nil, minh.Token).Expect(t, http.StatusOK, "")
		rec := enrol(t, s, tech.Token, c, map[string]any{"fullName": "Minh (hồ sơ)", "email": "minh@patient.example", "externalId": "HB-9"})
		var recShot struct{ ID string }
		staffUpload(t, s, tech.Token, c, rec.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &recShot)
		s.Do(t, "POST", path(c, rec.ID), nil, adm).Expect(t, http.StatusCreated, "")
		minhTok := anyLink(t, smtp, "minh@patient.example")
		accept(t, s, "", map[string]any{"token": minhTok, "password": goodPassword, "fullName": "X"}).
			Expect(t, http.StatusUnauthorized, "")
		accept(t, s, lanSess.AccessToken, map[string]any{"token": minhTok}).Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
		accept(t, s, minh.Token, map[string]any{"token": minhTok}).Expect(t, http.StatusOK, "")
		var minhMe clinicPatient
		s.Do(t, "GET", "/api/patients/me", nil, minh.Token).Expect(t, http.StatusOK, "").Data(t, &minhMe)
		if minhMe.ID != minh.ID || len(minhMe.Clinics) != 1 || minhMe.Clinics[0].ID != c {
			t.Fatalf("minh's record after the merge %+v", minhMe)
		}
		var shot struct {
			Patient struct{ ID string }
		}
		s.Do(t, "GET", "/api/screenings/"+recShot.ID, nil, minh.Token).Expect(t, http.StatusOK, "").Data(t, &shot)
		if shot.Patient.ID != minh.ID {
			t.Errorf("the merged screening's patient %+v", shot.Patient)
		}
		s.Do(t, "GET", "/api/patients/"+rec.ID, nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		pg := listPatients(t, s, adm, c, url.Values{"q": {"HB-9"}})
		if len(pg.Items) != 1 || pg.Items[0].ID != minh.ID || models.Deref(pg.Items[0].ExternalID) != "HB-9" {
			t.Errorf("the clinic's record number follows the merge: %+v", pg.Items)
		}
		if n := countWhere(t, s, "SELECT count(*) FROM audit_logs WHERE action = ?", "invitation.create"); n != 2 {
			t.Errorf("%d invitation.create audit rows, want 2", n)
		}
	})
}
