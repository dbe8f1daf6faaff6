package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// waitAttempted waits until every queued row has failed at least once (the
// sender tried while the mail server was down).
func waitAttempted(t *testing.T, db *gorm.DB, rows int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int64
		testenv.Must(t, db.Raw("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND attempts >= 1 AND last_error <> ''").Scan(&n).Error, "count")
		if n >= int64(rows) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d rows were attempted", n, rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMailSMTPDownThenUp: users register while the mail server is down;
// sign-up still succeeds, the sender records its failures and retries, and
// once the server is back every mail arrives exactly once.
func TestMailSMTPDownThenUp(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		smtp.Stop()
		s := startWithMail(t, e.URI(t), smtp, nil)
		const n = 5
		for i := range n {
			register(t, s, fmt.Sprintf("down%d@example.com", i))
		}
		waitAttempted(t, s.App.DB, n)
		if len(smtp.Messages()) != 0 {
			t.Fatal("mail arrived while the server was down")
		}
		smtp.Restart(t)
		smtp.Wait(t, 20*time.Second, "every mail", func(m []mailtest.Message) bool { return len(m) >= n })
		waitDrained(t, s.App.DB)
		got := countTo(smtp.Messages())
		for i := range n {
			if c := got[fmt.Sprintf("down%d@example.com", i)]; c != 1 {
				t.Errorf("down%d got %d mails", i, c)
			}
		}
		if len(smtp.Messages()) != n {
			t.Fatalf("%d mails for %d sign-ups", len(smtp.Messages()), n)
		}
	})
}

// TestMailSurvivesRestart: the server stops with mail still queued; the next
// start sends it.
func TestMailSurvivesRestart(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		if e.Name == "sqlite-memory" {
			t.Skip("an in-memory database does not outlive its server")
		}
		uri := e.URI(t)
		smtp := mailtest.Start(t, mailtest.Options{})
		smtp.Stop()
		s1 := startWithMail(t, uri, smtp, nil)
		reg := register(t, s1, "patient.restart@example.com")
		s1.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": "patient.restart@example.com"}, "").Expect(t, http.StatusOK, "")
		waitAttempted(t, s1.App.DB, 2)
		s1.Stop(t)

		smtp.Restart(t)
		s2 := startWithMail(t, uri, smtp, nil)
		msgs := smtp.WaitTo(t, reg.User.Email, 2)
		waitDrained(t, s2.App.DB)
		if len(smtp.Messages()) != 2 {
			t.Fatalf("%d mails, want 2", len(smtp.Messages()))
		}
		verify := msgs[0]
		if !strings.Contains(verify.Text, "/verify-email?token=") {
			verify = msgs[1]
		}
		tok := mailtest.Token(t, verify, "/verify-email")
		s2.Do(t, "POST", "/api/auth/verify-email", map[string]any{"token": tok}, "").Expect(t, http.StatusOK, "")
	})
}

// TestMailTwoSenders: two server instances on one database, each running a
// sender, work off one backlog without sending any row twice.
func TestMailTwoSenders(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		if e.Name == "sqlite-memory" {
			t.Skip("an in-memory database cannot be shared by two servers")
		}
		uri := e.URI(t)
		smtp := mailtest.Start(t, mailtest.Options{})
		smtp.Stop()
		fast := map[string]string{"AURA_MAIL_RETRY_MAX_BACKOFF": "50ms", "AURA_MAIL_POLL_INTERVAL": "10ms"}
		a := startWithMail(t, uri, smtp, fast)
		b := startWithMail(t, uri, smtp, fast)
		const n = 40
		for i := range n {
			s := a
			if i%2 == 1 {
				s = b
			}
			register(t, s, fmt.Sprintf("twin%02d@example.com", i))
		}
		waitAttempted(t, a.App.DB, n)
		smtp.Restart(t) // both senders now race for the same backlog
		smtp.Wait(t, 30*time.Second, "every mail", func(m []mailtest.Message) bool { return len(m) >= n })
		waitDrained(t, a.App.DB)
		got := countTo(smtp.Messages())
		if len(smtp.Messages()) != n || len(got) != n {
			t.Fatalf("%d mails to %d addresses for %d sign-ups: %v", len(smtp.Messages()), len(got), n, got)
		}
		var claims []string
		testenv.Must(t, a.App.DB.Raw("SELECT locked_by FROM outbox").Scan(&claims).Error, "claims")
		senders := map[string]int{}
		for _, c := range claims {
			senders[c[:strings.LastIndex(c, "/")]]++
		}
		t.Logf("rows sent per sender: %v", senders)
	})
}

// TestMailDroppedWhenLinkExpires: mail that could not be sent before its
// link expired is dropped (bodies blanked), not sent stale.
func TestMailDroppedWhenLinkExpires(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		smtp.Stop()
		s := startWithMail(t, e.URI(t), smtp, map[string]string{"AURA_AUTH_VERIFICATION_TTL": "1s"})
		register(t, s, "late@example.com")
		waitDrained(t, s.App.DB) // returns once the row is dropped
		var row struct {
			TextBody, HTMLBody string
			Dropped            bool
		}
		testenv.Must(t, s.App.DB.Raw("SELECT text_body, html_body, dropped_at IS NOT NULL AS dropped FROM outbox").Scan(&row).Error, "row")
		if !row.Dropped || row.TextBody != "" || row.HTMLBody != "" {
			t.Fatalf("row not dropped and blanked: %+v", row)
		}
		smtp.Restart(t)
		s.Do(t, "POST", "/api/auth/resend-verification-email", map[string]any{"email": "late@example.com"}, "").Expect(t, http.StatusOK, "")
		msgs := smtp.WaitTo(t, "late@example.com", 1)
		waitDrained(t, s.App.DB)
		if len(smtp.Messages()) != 1 || !strings.Contains(msgs[0].Text, "/verify-email?token=") {
			t.Fatalf("want exactly the fresh link, got %d mail(s)", len(smtp.Messages()))
		}
	})
}
