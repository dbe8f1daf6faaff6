package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// startWithMail runs an AURA server on uri whose mail goes to smtp, with
// extra settings on top.
func startWithMail(t *testing.T, uri string, smtp *mailtest.Server, extra map[string]string) *testenv.Server {
	t.Helper()
	env := smtp.Env()
	for k, v := range extra {
		env[k] = v
	}
	return testenv.Start(t, testenv.Config(t, uri, env))
}

// waitDrained waits until the outbox has nothing left to send (every row
// sent or dropped), so a test can assert what did not arrive.
func waitDrained(t *testing.T, db *gorm.DB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int64
		testenv.Must(t, db.Raw("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL").Scan(&n).Error, "count outbox")
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d unsent row(s)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNotStored fails t when s appears in any row of any AURA table.
func assertNotStored(t *testing.T, db *gorm.DB, s string) {
	t.Helper()
	for _, table := range []string{"users", "sessions", "refresh_tokens", "action_tokens", "outbox", "rate_limits"} {
		var rows []map[string]any
		testenv.Must(t, db.Raw("SELECT * FROM "+table).Scan(&rows).Error, "read %s", table)
		if strings.Contains(fmt.Sprint(rows), s) {
			t.Fatalf("raw token found in table %s", table)
		}
	}
}

// countTo counts the messages smtp received for each address.
func countTo(msgs []mailtest.Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		for _, r := range m.To {
			out[strings.ToLower(r)]++
		}
	}
	return out
}
