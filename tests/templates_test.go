package tests

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"aura/internal/testenv"
	"aura/mail/mailtest"
	"aura/texts"
)

type templateOut struct {
	Kind, Channel, Lang, Subject, Body string
	UpdatedAt                          *string
	Variables                          []string
}

func templatesOf(t *testing.T, s *testenv.Server, token string) map[string]templateOut {
	t.Helper()
	var page struct{ Items []templateOut }
	s.Do(t, "GET", "/api/admin/templates", nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	out := map[string]templateOut{}
	for _, it := range page.Items {
		out[it.Kind+"/"+it.Channel+"/"+it.Lang] = it
	}
	if len(out) != len(page.Items) {
		t.Fatalf("templates repeat: %d items, %d distinct", len(page.Items), len(out))
	}
	return out
}

// TestTemplates: the admins' list covers every kind of mail and notice in
// every language; a bad template is 400 and changes nothing; an edited
// template is used by the next real mail and notice (its HTML part escaping
// the values), is audited, previewed, and restored by DELETE; a template
// that fails when a mail is written leaves the built-in text, never losing
// the mail; only admins may touch them.
func TestTemplates(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		adm := makeAdmin(t, s, "tina.templates@example.com")
		patient := verifiedUser(t, s, "pat.templates@example.com", "en")

		// Every kind x channel x language, built-in.
		all := templatesOf(t, s, adm)
		kinds := texts.Kinds()
		if len(kinds) < 14 || len(all) != len(kinds)*2 {
			t.Fatalf("%d kinds, %d templates", len(kinds), len(all))
		}
		for _, k := range kinds {
			for _, lang := range []string{"vi", "en"} {
				it, ok := all[k.Kind+"/"+k.Channel+"/"+lang]
				if !ok || it.Subject == "" || it.Body == "" || it.UpdatedAt != nil || len(it.Variables) == 0 {
					t.Errorf("%s %s %s: %+v", k.Kind, k.Channel, lang, it)
				}
			}
		}
		if v := all["verify_email/email/en"].Variables; !slices.Equal(v, []string{"Email", "Link", "Name", "ValidFor"}) {
			t.Errorf("verify_email variables %v", v)
		}
		if v := all["CLINIC_REJECTED/notice/vi"].Variables; !slices.Equal(v, []string{"Clinic", "Reason"}) {
			t.Errorf("CLINIC_REJECTED variables %v", v)
		}

		// Only admins.
		s.Do(t, "GET", "/api/admin/templates", nil, patient.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "PUT", "/api/admin/templates/verify_email/email/en", map[string]any{"subject": "x", "body": "y"}, patient.Token).
			Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "DELETE", "/api/admin/templates/verify_email/email/en", nil, patient.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/admin/templates/verify_email/email/en/preview", nil, patient.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		// Bad templates: 400 with the field's reason, nothing changed.
		const path = "/api/admin/templates/reset_password/email/en"
		for name, c := range map[string]struct {
			body  map[string]any
			field string
			has   string
		}{
			"syntax":        {map[string]any{"subject": "Reset", "body": "Hello {{.Name"}, "body", "not a valid template: line 1"},
			"unknown var":   {map[string]any{"subject": "Reset {{.Clinic}}", "body": "Hello"}, "subject", "{{.Clinic}}, which is not a variable of reset_password"},
			"empty subject": {map[string]any{"subject": " ", "body": "Hello"}, "subject", "must not be empty"},
			"define":        {map[string]any{"subject": "Reset", "body": `{{define "x"}}y{{end}}`}, "body", "must not define templates"},
			"exec error":    {map[string]any{"subject": "Reset", "body": "{{.Name.First}}"}, "body", "does not render with sample values"},
		} {
			r := s.Do(t, "PUT", path, c.body, adm)
			if r.Status != http.StatusBadRequest || r.Env.Code != "VALIDATION_FAILED" || !strings.Contains(r.Env.Details[c.field], c.has) {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		s.Do(t, "PUT", path, testenv.Invalid(map[string]any{"subject": "Reset"}), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "PUT", path, testenv.Invalid(map[string]any{"subject": "x", "body": "y", "html": "z"}), adm).Expect(t, http.StatusBadRequest, "")
		for _, p := range []string{"/api/admin/templates/no_such_kind/email/en", "/api/admin/templates/verify_email/sms/en",
			"/api/admin/templates/verify_email/email/fr", "/api/admin/templates/verify_email/notice/en", "/api/admin/templates/CLINIC_APPROVED/email/en"} {
			s.Do(t, "PUT", p, map[string]any{"subject": "x", "body": "y"}, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "DELETE", p, nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "POST", p+"/preview", nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		}
		if got := templatesOf(t, s, adm)["reset_password/email/en"]; got.UpdatedAt != nil || got.Body != all["reset_password/email/en"].Body {
			t.Fatalf("a refused template changed the text: %+v", got)
		}
		// A Vietnamese reader gets the reason in Vietnamese.
		r := s.DoHeaders(t, "PUT", path, map[string]any{"subject": "Reset {{.Clinic}}", "body": "x"},
			map[string]string{"Authorization": "Bearer " + adm, "Accept-Language": "vi"}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if !strings.Contains(r.Env.Details["subject"], "không phải biến của reset_password") {
			t.Errorf("vi detail %v", r.Env.Details)
		}

		// An edited mail: the next real mail uses it, values escaped in HTML.
		var saved templateOut
		s.Do(t, "PUT", path, map[string]any{
			"subject": "New password for {{.Name}}",
			"body":    "Dear {{.Name}} <3,\n\nChoose a new password here: {{.Link}}\nIt works for {{.ValidFor}}.\n",
		}, adm).Expect(t, http.StatusOK, "").Data(t, &saved)
		if saved.UpdatedAt == nil || saved.Subject != "New password for {{.Name}}" || !slices.Contains(saved.Variables, "Link") {
			t.Fatalf("saved %+v", saved)
		}
		testenv.Must(t, s.App.DB.Exec("UPDATE users SET full_name = ? WHERE id = ?", "Pat <b>Bold</b>", patient.ID).Error, "name")
		s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": patient.Email}, "").Expect(t, http.StatusOK, "")
		m := mailWith(t, smtp, patient.Email, "New password for Pat <b>Bold</b>")
		if !strings.Contains(m.Text, "Dear Pat <b>Bold</b> <3,") || !strings.Contains(m.Text, "/reset-password?token=") || !strings.Contains(m.Text, "It works for ") {
			t.Errorf("edited mail text:\n%s", m.Text)
		}
		if !strings.Contains(m.HTML, "Dear Pat &lt;b&gt;Bold&lt;/b&gt; &lt;3,") || strings.Contains(m.HTML, "<b>Bold") ||
			!strings.Contains(m.HTML, `<a href="https://app.aura.test/reset-password?token=`) {
			t.Errorf("edited mail HTML:\n%s", m.HTML)
		}
		var logs struct {
			Items []struct{ Action, EntityType, EntityID string }
		}
		s.Do(t, "GET", "/api/admin/audit-logs?action=template.update", nil, adm).Expect(t, http.StatusOK, "").Data(t, &logs)
		if len(logs.Items) != 1 || logs.Items[0].EntityType != "template" || logs.Items[0].EntityID != "reset_password/email/en" {
			t.Errorf("audit %+v", logs.Items)
		}

		// Preview: the text in force, with the data given and samples.
		var pv struct {
			Subject, Body string
			HTML          *string
		}
		s.Do(t, "POST", path+"/preview", map[string]any{"data": map[string]any{"Name": "<i>Ana</i>"}}, adm).Expect(t, http.StatusOK, "").Data(t, &pv)
		if pv.Subject != "New password for <i>Ana</i>" || !strings.Contains(pv.Body, "It works for 24 hours.") ||
			pv.HTML == nil || !strings.Contains(*pv.HTML, "&lt;i&gt;Ana&lt;/i&gt;") {
			t.Errorf("preview %+v", pv)
		}
		s.Do(t, "POST", "/api/admin/templates/verify_email/email/vi/preview", nil, adm).Expect(t, http.StatusOK, "").Data(t, &pv)
		if !strings.Contains(pv.Body, "Nguyễn Văn An") || pv.HTML == nil || !strings.Contains(*pv.HTML, "Nguyễn Văn An") {
			t.Errorf("built-in preview %+v", pv)
		}
		pv.HTML = nil
		s.Do(t, "POST", "/api/admin/templates/CLINIC_REJECTED/notice/en/preview", map[string]any{"data": map[string]any{"Reason": "Expired"}}, adm).
			Expect(t, http.StatusOK, "").Data(t, &pv)
		if pv.HTML != nil || !strings.Contains(pv.Body, "Saigon Eye Clinic") || !strings.Contains(pv.Body, "Reason: Expired") {
			t.Errorf("notice preview %+v", pv)
		}
		r = s.Do(t, "POST", path+"/preview", map[string]any{"data": map[string]any{"Clinic": "x"}}, adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if !strings.Contains(r.Env.Details["data"], "Clinic is not a variable of reset_password") {
			t.Errorf("preview unknown variable %v", r.Env.Details)
		}
		s.Do(t, "POST", path+"/preview", testenv.Invalid(map[string]any{"data": map[string]any{"Name": 3}}), adm).Expect(t, http.StatusBadRequest, "")

		// DELETE restores the built-in text, used by the next mail.
		var back templateOut
		s.Do(t, "DELETE", path, nil, adm).Expect(t, http.StatusOK, "").Data(t, &back)
		if back.UpdatedAt != nil || back.Body != all["reset_password/email/en"].Body {
			t.Errorf("restored %+v", back)
		}
		s.Do(t, "DELETE", path, nil, adm).Expect(t, http.StatusOK, "")
		if got := templatesOf(t, s, adm)["reset_password/email/en"]; got.UpdatedAt != nil {
			t.Errorf("after DELETE %+v", got)
		}
		s.Do(t, "GET", "/api/admin/audit-logs?action=template.reset", nil, adm).Expect(t, http.StatusOK, "").Data(t, &logs)
		if len(logs.Items) != 1 {
			t.Errorf("reset audited %d times", len(logs.Items))
		}
		s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": patient.Email}, "").Expect(t, http.StatusOK, "")
		mailWith(t, smtp, patient.Email, "Reset your AURA password")

		// A stored template that fails when a mail is written (here one
		// put in the database past the checks) leaves the built-in text.
		testenv.Must(t, s.App.DB.Exec("INSERT INTO message_templates (kind, channel, lang, subject, body, updated_at) VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
			"reset_password", "email", "en", "Broken", "{{.Name.First}}").Error, "insert broken")
		n := len(smtp.To(patient.Email))
		s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": patient.Email}, "").Expect(t, http.StatusOK, "")
		if got := smtp.WaitTo(t, patient.Email, n+1)[n]; got.Subject != "Reset your AURA password" {
			t.Errorf("a broken template's mail: %q", got.Subject)
		}

		// An edited notice: the next real notice (and its mail) use it.
		s.Do(t, "PUT", "/api/admin/templates/CLINIC_APPROVED/notice/en", map[string]any{
			"subject": "{{.Clinic}} is live", "body": "Welcome aboard, {{.Clinic}}.",
		}, adm).Expect(t, http.StatusOK, "")
		s.Do(t, "PUT", "/api/admin/templates/clinic_approved/email/en", map[string]any{
			"subject": "Approved: {{.Clinic}}", "body": "Hi {{.Name}}, {{.Clinic}} was approved on {{.When}}.",
		}, adm).Expect(t, http.StatusOK, "")
		var c clinicOut
		apply(t, s, patient.Token, application("Phòng khám Mẫu", "TPL-001")).Expect(t, http.StatusCreated, "").Data(t, &c)
		s.Do(t, "POST", "/api/admin/clinics/"+c.ID+"/approve", nil, adm).Expect(t, http.StatusOK, "")
		if got := inbox(t, s, patient.Token); len(got) != 1 || got[0].Title != "Phòng khám Mẫu is live" || got[0].Body != "Welcome aboard, Phòng khám Mẫu." {
			t.Errorf("edited notice %+v", got)
		}
		if m := mailWith(t, smtp, patient.Email, "Approved: Phòng khám Mẫu"); !strings.Contains(m.Text, "was approved on ") {
			t.Errorf("edited clinic mail %s", m.Text)
		}
	})
}
