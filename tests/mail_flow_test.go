package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/mail/mailtest"
	"aura/repositories"
)

// TestMailVerifyEmailFlow: register queues a verification mail that arrives
// as multipart text+HTML with proper headers; its link verifies the address
// once; the raw token is nowhere in the database after sending.
func TestMailVerifyEmailFlow(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		reg := register(t, s, "Vera.Verify@Example.com")

		m := smtp.WaitTo(t, "Vera.Verify@Example.com", 1)[0]
		if m.Header.Get("From") != `"AURA Clinic" <no-reply@aura.test>` || m.From != "no-reply@aura.test" {
			t.Errorf("From header %q, envelope %q", m.Header.Get("From"), m.From)
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("Date: %v", err)
		}
		if !strings.HasPrefix(m.MessageID, "<") || !strings.HasSuffix(m.MessageID, "@aura.test>") {
			t.Errorf("Message-ID %q", m.MessageID)
		}
		if !strings.HasPrefix(m.Header.Get("Content-Type"), "multipart/alternative") || m.Text == "" || m.HTML == "" {
			t.Errorf("not multipart text+HTML: %q", m.Header.Get("Content-Type"))
		}
		if !strings.Contains(m.Text, "https://app.aura.test/verify-email?token=") || !strings.Contains(m.Text, "Vera.Verify") {
			t.Errorf("text body: %s", m.Text)
		}
		tok := mailtest.Token(t, m, "/verify-email")
		if len(tok) < 22 {
			t.Fatalf("token %q carries under 128 bits", tok)
		}
		waitDrained(t, s.App.DB)
		assertNotStored(t, s.App.DB, tok)

		// A mail scanner's GET of the link burns nothing.
		s.Do(t, "GET", "/api/auth/verify-email?token="+tok, nil, "").Expect(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		s.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": tok}, "").Expect(t, http.StatusOK, "")
		var me struct {
			EmailVerified bool `json:"emailVerified"`
		}
		s.Do(t, "GET", "/api/auth/me", nil, reg.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if !me.EmailVerified {
			t.Fatal("email not verified")
		}
		s.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": tok}, "").Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
		s.Do(t, "POST", "/api/auth/send-verification-email", nil, reg.AccessToken).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		for name, body := range map[string]any{
			"malformed":  map[string]any{"token": "not a token"},
			"unknown":    map[string]any{"token": strings.Repeat("A", len(tok))},
			"too long":   map[string]any{"token": tok + "A"},
			"reset kind": map[string]any{"token": tok[:len(tok)-1] + "B"},
		} {
			if r := s.Do(t, "POST", "/api/auth/verify-email", body, ""); r.Status != 400 || r.Env.Code != "TOKEN_INVALID" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		s.Do(t, "POST", "/api/auth/verify-email", testenv.Invalid(map[string]any{}), "").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
	})
}

// TestMailSupersession: each new verification link (resend by address, send
// when signed in) supersedes the previous one.
func TestMailSupersession(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		const addr = "sam.super@example.com"
		reg := register(t, s, addr)
		t1 := mailtest.Token(t, smtp.WaitTo(t, addr, 1)[0], "/verify-email")
		s.Do(t, "POST", "/api/auth/resend-verification-email", map[string]any{"email": "SAM.super@example.com"}, "").Expect(t, http.StatusOK, "")
		t2 := mailtest.Token(t, smtp.WaitTo(t, addr, 2)[1], "/verify-email")
		s.Do(t, "POST", "/api/auth/send-verification-email", nil, reg.AccessToken).Expect(t, http.StatusOK, "")
		t3 := mailtest.Token(t, smtp.WaitTo(t, addr, 3)[2], "/verify-email")
		if t1 == t2 || t2 == t3 {
			t.Fatal("tokens repeat")
		}
		for _, old := range []string{t1, t2} {
			s.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": old}, "").Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
		}
		s.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": t3}, "").Expect(t, http.StatusOK, "")
	})
}

// TestMailAnswersIdentical: resend-verification-email and forgot-password
// answer the same for unknown, verified and unverified addresses, and mail
// only the accounts that need it.
func TestMailAnswersIdentical(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		register(t, s, "unverified@example.com")
		register(t, s, "verified@example.com")
		tok := mailtest.Token(t, smtp.WaitTo(t, "verified@example.com", 1)[0], "/verify-email")
		s.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": tok}, "").Expect(t, http.StatusOK, "")
		smtp.WaitTo(t, "unverified@example.com", 1)
		waitDrained(t, s.App.DB)

		for _, path := range []string{"/api/auth/resend-verification-email", "/api/auth/forgot-password"} {
			var first []byte
			for _, addr := range []string{"unverified@example.com", "verified@example.com", "nobody@example.com"} {
				r := s.Do(t, "POST", path, map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
				if first == nil {
					first = r.Body
				} else if !bytes.Equal(first, r.Body) {
					t.Errorf("%s: answers differ: %s vs %s", path, first, r.Body)
				}
			}
			s.Do(t, "POST", path, map[string]any{"email": "not-an-address"}, "").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		}
		waitDrained(t, s.App.DB)
		got := countTo(smtp.Messages())
		// register x2, resend to the unverified one, resets to both accounts.
		want := map[string]int{"unverified@example.com": 3, "verified@example.com": 2}
		if len(got) != len(want) || got["unverified@example.com"] != 3 || got["verified@example.com"] != 2 {
			t.Fatalf("mail received %v, want %v", got, want)
		}
	})
}

// TestMailPasswordReset: forgot-password mails a link; reset-password
// applies the sign-up policy and refuses the current password (a refused
// password leaves the link usable),
// revokes every session, lifts the login block, mails a notice, and works
// once. The old token-less reset is refused.
func TestMailPasswordReset(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "3"})
		const addr = "rita.reset@example.com"
		reg := register(t, s, addr)
		other := login(t, s, addr, goodPassword)
		// Someone guessed at the account from elsewhere: it is blocked.
		limits := repositories.New(s.App.DB.WithContext(testenv.Ctx(t))).Limits
		for range 3 {
			testenv.Must(t, limits.Hit("login:acct:"+addr, time.Hour, time.Now().UTC()), "hit")
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": addr, "password": goodPassword}, "").Expect(t, 429, "RATE_LIMITED")

		// The first backend's reset by email alone.
		s.Do(t, "POST", "/api/auth/reset-password", testenv.Invalid(map[string]any{"email": addr, "newPassword": "another-long-phrase-77"}), "").
			Expect(t, http.StatusBadRequest, "INVALID_JSON")

		s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": " Rita.Reset@EXAMPLE.com "}, "").Expect(t, http.StatusOK, "")
		msgs := smtp.WaitTo(t, addr, 2)
		m := msgs[1]
		if !strings.Contains(m.Subject, "Reset") || !strings.Contains(m.Text, "https://app.aura.test/reset-password?token=") {
			t.Fatalf("reset mail: %q %s", m.Subject, m.Text)
		}
		tok := mailtest.Token(t, m, "/reset-password")
		waitDrained(t, s.App.DB)
		assertNotStored(t, s.App.DB, tok)

		const newPassword = "copper-meadow-whistle-48"
		reset := func(pw, confirm string) *testenv.Response {
			return s.Do(t, "POST", "/api/auth/reset-password", map[string]any{"token": tok, "newPassword": pw, "confirmPassword": confirm}, "")
		}
		reset("password1234", "password1234").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		reset("rita.reset-is-my-name", "rita.reset-is-my-name").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		reset(newPassword, newPassword+"x").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		// The current password is refused as in change-password, and the
		// link stays usable (the successful reset below uses it).
		if r := reset(goodPassword, goodPassword).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED"); r.Env.Details["newPassword"] == "" {
			t.Fatalf("same password: details %v", r.Env.Details)
		}
		s.Do(t, "POST", "/api/auth/reset-password", testenv.Invalid(map[string]any{"token": tok}), "").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		reset(newPassword, newPassword).Expect(t, http.StatusOK, "")
		reset(newPassword, newPassword).Expect(t, http.StatusBadRequest, "TOKEN_INVALID")

		for _, sess := range []session{reg, other} {
			s.Do(t, "GET", "/api/auth/me", nil, sess.AccessToken).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
			s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": sess.RefreshToken}, "").Expect(t, http.StatusUnauthorized, "")
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": addr, "password": goodPassword}, "").Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		login(t, s, addr, newPassword)

		notice := smtp.WaitTo(t, addr, 3)[2]
		if !strings.Contains(notice.Subject, "password was changed") || strings.Contains(notice.Text, "token=") {
			t.Fatalf("notice: %q %s", notice.Subject, notice.Text)
		}
	})
}

// TestMailResetExpiry: a reset link stops working when auth.reset_ttl has
// passed.
func TestMailResetExpiry(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		const ttl = 2 * time.Second
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_AUTH_RESET_TTL": ttl.String()})
		const addr = "eve.expiry@example.com"
		register(t, s, addr)
		asked := time.Now()
		s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
		tok := mailtest.Token(t, smtp.WaitTo(t, addr, 2)[1], "/reset-password")
		if !strings.Contains(smtp.To(addr)[1].Text, "expires in 2 seconds") {
			t.Errorf("lifetime not in the mail: %s", smtp.To(addr)[1].Text)
		}
		time.Sleep(time.Until(asked.Add(ttl + 100*time.Millisecond))) // let the link expire
		s.Do(t, "POST", "/api/auth/reset-password", map[string]any{"token": tok, "newPassword": "copper-meadow-whistle-48",
			"confirmPassword": "copper-meadow-whistle-48"}, "").Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
	})
}

// TestMailConcurrentResets: ten concurrent resets with one token give
// exactly one success.
func TestMailConcurrentResets(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		const addr = "connie.current@example.com"
		register(t, s, addr)
		s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
		tok := mailtest.Token(t, smtp.WaitTo(t, addr, 2)[1], "/reset-password")

		body, _ := json.Marshal(map[string]any{"token": tok, "newPassword": "copper-meadow-whistle-48", "confirmPassword": "copper-meadow-whistle-48"})
		var wg sync.WaitGroup
		var mu sync.Mutex
		outcomes := map[int]int{}
		start := make(chan struct{})
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := s.Client.Post(s.URL+"/api/auth/reset-password", "application/json", bytes.NewReader(body))
				status := -1
				if err == nil {
					status = res.StatusCode
					res.Body.Close()
				}
				mu.Lock()
				outcomes[status]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if outcomes[200] != 1 || outcomes[400] != 9 {
			t.Fatalf("outcomes by status: %v", outcomes)
		}
		// One success, one notice.
		waitDrained(t, s.App.DB)
		if n := len(smtp.To(addr)); n != 3 {
			t.Fatalf("%d mails, want 3 (verification, reset, one notice)", n)
		}
	})
}

// TestMailLimit: mail to one typed address is limited whether or not it has
// an account (same answer either way), the limit ignores case, and notices
// are never suppressed by it.
func TestMailLimit(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_LIMITS_EMAIL_INTERVAL": "1h"})
		const addr = "lim.it@example.com"
		reg := register(t, s, addr) // takes the address's slot

		s.Do(t, "POST", "/api/auth/send-verification-email", nil, reg.AccessToken).Expect(t, 429, "RATE_LIMITED")
		// By address, the limited answer is the 200 of every address: nothing
		// tells a watcher that this one asked recently. Only the mail is held back.
		free := s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": "nobody@example.com"}, "").Expect(t, http.StatusOK, "")
		known := s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": "LIM.IT@example.com"}, "").Expect(t, http.StatusOK, "")
		unknown := s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": "Nobody@Example.com"}, "").Expect(t, http.StatusOK, "")
		if !bytes.Equal(known.Body, unknown.Body) || !bytes.Equal(known.Body, free.Body) {
			t.Errorf("answers differ: %s / %s / %s", free.Body, known.Body, unknown.Body)
		}
		s.Do(t, "POST", "/api/auth/resend-verification-email", map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/auth/resend-verification-email", map[string]any{"email": "other@example.com"}, "").Expect(t, http.StatusOK, "")

		// The password-changed notice goes out although the slot is taken.
		s.Do(t, "POST", "/api/auth/change-password", map[string]any{"currentPassword": goodPassword,
			"newPassword": "copper-meadow-whistle-48", "confirmPassword": "copper-meadow-whistle-48"}, reg.AccessToken).Expect(t, http.StatusOK, "")
		msgs := smtp.WaitTo(t, addr, 2)
		if !strings.Contains(msgs[1].Subject, "password was changed") {
			t.Fatalf("second mail %q", msgs[1].Subject)
		}
		waitDrained(t, s.App.DB)
		if n := len(smtp.To(addr)); n != 2 {
			t.Fatalf("%d mails to %s, want 2", n, addr)
		}
	})
}
