package tests

import (
	"net/http"
	"strings"
	"testing"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// TestLanguages: with the shipped default (vi), answers follow
// Accept-Language (vi or en), an unknown language gets Vietnamese; codes and
// field names never change; mail follows the account's language and notices
// the patient's.
func TestLanguages(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_I18N_DEFAULT_LANGUAGE": "vi"})
		hdr := func(lang string) map[string]string { return map[string]string{"Accept-Language": lang} }
		bad := map[string]any{"email": "not-an-email", "password": goodPassword}
		for lang, want := range map[string]struct{ msg, detail string }{
			"vi":           {"Một số trường không hợp lệ", "phải là địa chỉ email hợp lệ"},
			"en-GB,en;q=1": {"Some fields are invalid", "must be a valid email address"},
			"fr-FR":        {"Một số trường không hợp lệ", "phải là địa chỉ email hợp lệ"},
			"":             {"Một số trường không hợp lệ", "phải là địa chỉ email hợp lệ"},
		} {
			r := s.DoHeaders(t, "POST", "/api/auth/register", bad, hdr(lang)).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Error != want.msg || r.Env.Details["email"] != want.detail {
				t.Errorf("%q: %q %v", lang, r.Env.Error, r.Env.Details)
			}
		}
		// A success message, and the account keeps the language it signed up in.
		var en, vi struct {
			User struct{ Language string } `json:"user"`
		}
		r := s.DoHeaders(t, "POST", "/api/auth/register", map[string]any{"email": "john@example.com", "password": goodPassword}, hdr("en"))
		r.Expect(t, http.StatusCreated, "").Data(t, &en)
		if r.Env.Message != "Account created; check your email to verify it" || en.User.Language != "en" {
			t.Fatalf("en register: %q %+v", r.Env.Message, en)
		}
		r = s.DoHeaders(t, "POST", "/api/auth/register", map[string]any{"email": "hoa@example.com", "password": goodPassword}, hdr("vi-VN"))
		r.Expect(t, http.StatusCreated, "").Data(t, &vi)
		if r.Env.Message != "Đã tạo tài khoản; hãy kiểm tra email để xác minh" || vi.User.Language != "vi" {
			t.Fatalf("vi register: %q %+v", r.Env.Message, vi)
		}
		if m := smtp.WaitTo(t, "john@example.com", 1)[0]; m.Subject != "Confirm your email address for AURA" || !strings.Contains(m.Text, "expires in 1 day") && !strings.Contains(m.Text, "expires in 24 hours") {
			t.Errorf("en mail %q %s", m.Subject, m.Text)
		}
		if m := smtp.WaitTo(t, "hoa@example.com", 1)[0]; m.Subject != "Xác minh địa chỉ email của bạn cho AURA" || !strings.Contains(m.Text, "hết hạn sau 24 giờ") {
			t.Errorf("vi mail %q %s", m.Subject, m.Text)
		}
		// The 404 of an unknown path, in both.
		if r := s.DoHeaders(t, "GET", "/api/nowhere", nil, hdr("en")); r.Env.Error != "No such endpoint" || r.Env.Code != "NOT_FOUND" {
			t.Errorf("en 404 %s", r.Body)
		}
		if r := s.DoHeaders(t, "GET", "/api/nowhere", nil, hdr("vi")); r.Env.Error != "Không có địa chỉ này" || r.Env.Code != "NOT_FOUND" {
			t.Errorf("vi 404 %s", r.Body)
		}
		// Notices follow the patient's account language (set here after
		// sign-up), not the upload's Accept-Language.
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Clinic")
		for _, c := range []struct{ email, lang, title string }{
			{"anh@patient.example", "en", "Your retinal image has been analysed"},
			{"bao@patient.example", "vi", "Ảnh võng mạc đã được phân tích"},
		} {
			p := signUp(t, s, c.email)
			s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": c.lang}, p.Token).Expect(t, http.StatusOK, "")
			other := map[string]string{"en": "vi", "vi": "en"}[c.lang]
			upload(t, s, p.Token, form{image: encodeJPEG(t, 512, 512, 80), fields: map[string]string{"eye": "left"}}, hdr(other)).
				Expect(t, http.StatusAccepted, "")
			analyse(t, s)
			var inbox struct{ Items []struct{ Title string } }
			s.Do(t, "GET", "/api/notifications", nil, p.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
			if len(inbox.Items) != 1 || inbox.Items[0].Title != c.title {
				t.Errorf("%s notice %+v", c.lang, inbox.Items)
			}
		}
		// The account's language can be changed.
		var me struct{ Language string }
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": "vi"}, r.Header.Get("X-Unused")).Expect(t, http.StatusUnauthorized, "")
		tok := login(t, s, "john@example.com", goodPassword).AccessToken
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": "vi"}, tok).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.Language != "vi" {
			t.Fatalf("language %q", me.Language)
		}
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": "fr"}, tok).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
	})
}
