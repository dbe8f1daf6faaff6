package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/app"
	"aura/internal/testenv"
	"aura/mail"
	"aura/mail/mailtest"
	"aura/models"
	"aura/repositories"
)

// rig is a migrated database, an SMTP server and a sender on a fake clock.
type rig struct {
	db     *gorm.DB
	smtp   *mailtest.Server
	sender *mail.Sender
	clock  time.Time
}

func newRig(t *testing.T, e testenv.Engine, opts mailtest.Options, maxBackoff time.Duration) *rig {
	t.Helper()
	smtp := mailtest.Start(t, opts)
	cfg := testenv.Config(t, e.URI(t), smtp.Env())
	a, err := app.New(testenv.Ctx(t), cfg, testenv.Logger(t))
	testenv.Must(t, err, "app")
	t.Cleanup(a.Close)
	driver, err := mail.NewSMTPDriver(mail.SMTPConfig{Host: smtp.Host, Port: smtp.Port, Timeout: 5 * time.Second})
	testenv.Must(t, err, "driver")
	r := &rig{db: a.DB, smtp: smtp, clock: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.sender, err = mail.NewSender(mail.SenderConfig{
		From: "AURA <no-reply@aura.test>", PollInterval: time.Second, Lease: time.Minute,
		RetryMaxBackoff: maxBackoff, SendTimeout: 5 * time.Second,
	}, driver, r.outboxOn, testenv.Logger(t))
	testenv.Must(t, err, "sender")
	r.sender.Clock = func() time.Time { return r.clock }
	return r
}

func (r *rig) outboxOn(ctx context.Context) *repositories.Outbox {
	return repositories.New(r.db.WithContext(ctx)).Outbox
}

func (r *rig) enqueue(t *testing.T, to string, validFor time.Duration) uint64 {
	t.Helper()
	m, err := mail.Compose(models.MailResetPassword, to, mail.Data{Name: "Ann", Link: mail.Link("https://app.test", "/reset-password", "tok123"), ValidFor: validFor}, r.clock)
	testenv.Must(t, err, "compose")
	testenv.Must(t, r.outboxOn(testenv.Ctx(t)).Enqueue(m), "enqueue")
	return m.ID
}

func (r *rig) row(t *testing.T, id uint64) models.OutboxMessage {
	t.Helper()
	var m models.OutboxMessage
	testenv.Must(t, r.db.Where("id = ?", id).Take(&m).Error, "row %d", id)
	return m
}

func (r *rig) flush(t *testing.T) int {
	t.Helper()
	n, err := r.sender.Flush(testenv.Ctx(t))
	testenv.Must(t, err, "flush")
	return n
}

// TestLeaseReclaimed: a row claimed by a sender that died mid-send stays
// reserved for its lease, then is claimed and sent once.
func TestLeaseReclaimed(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		r := newRig(t, e, mailtest.Options{}, time.Minute)
		id := r.enqueue(t, "ann@example.com", 0)
		claimed, err := r.outboxOn(testenv.Ctx(t)).Claim("crashed/1", r.clock, time.Minute, 10)
		testenv.Must(t, err, "claim")
		if len(claimed) != 1 || claimed[0].ID != id || claimed[0].Attempts != 1 {
			t.Fatalf("claimed %+v", claimed)
		}
		r.clock = r.clock.Add(59 * time.Second)
		if n := r.flush(t); n != 0 || len(r.smtp.Messages()) != 0 {
			t.Fatalf("sent %d during the lease", n)
		}
		r.clock = r.clock.Add(2 * time.Second)
		if n := r.flush(t); n != 1 {
			t.Fatalf("sent %d after the lease, want 1", n)
		}
		row := r.row(t, id)
		if row.SentAt == nil || row.TextBody != "" || row.HTMLBody != "" || row.Attempts != 2 || row.LockedUntil != nil {
			t.Fatalf("row after send: %+v", row)
		}
		if n := r.flush(t); n != 0 || len(r.smtp.Messages()) != 1 {
			t.Fatalf("sent again: %d, received %d", n, len(r.smtp.Messages()))
		}
	})
}

// TestRetryBackoff: failures are recorded with their error and retried after
// a doubling wait capped by retry_max_backoff; the message leaves once the
// server is back.
func TestRetryBackoff(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		const maxBackoff = 4 * time.Second
		r := newRig(t, e, mailtest.Options{}, maxBackoff)
		r.smtp.Stop()
		id := r.enqueue(t, "ann@example.com", 0)
		var waits []time.Duration
		for attempt := 1; attempt <= 6; attempt++ {
			r.flush(t)
			row := r.row(t, id)
			if row.Attempts != attempt || row.LastError == "" || row.SentAt != nil || row.LockedUntil != nil {
				t.Fatalf("attempt %d: %+v", attempt, row)
			}
			wait := row.NextAttemptAt.Sub(r.clock)
			waits = append(waits, wait)
			r.flush(t) // not due yet: nothing happens
			if again := r.row(t, id); again.Attempts != attempt {
				t.Fatalf("retried before its time")
			}
			r.clock = row.NextAttemptAt
		}
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
		for i, w := range waits {
			if w > want[i] || w < want[i]*4/5 {
				t.Fatalf("waits %v, want about %v (less up to a fifth)", waits, want)
			}
		}
		r.smtp.Restart(t)
		if n := r.flush(t); n != 1 {
			t.Fatalf("sent %d once the server was back", n)
		}
		if row := r.row(t, id); row.SentAt == nil || row.LastError != "" || row.Attempts != 7 {
			t.Fatalf("row after send: %+v", row)
		}
	})
}

// TestPermanentRefusalDropped: a recipient the server refuses for good (550)
// is dropped with its error, not retried forever; others still leave.
func TestPermanentRefusalDropped(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		r := newRig(t, e, mailtest.Options{RejectRcpt: func(a string) bool { return strings.HasPrefix(a, "gone@") }}, time.Minute)
		gone := r.enqueue(t, "gone@example.com", 0)
		ok := r.enqueue(t, "here@example.com", 0)
		if n := r.flush(t); n != 1 {
			t.Fatalf("sent %d, want 1", n)
		}
		row := r.row(t, gone)
		if row.DroppedAt == nil || !strings.Contains(row.LastError, "550") || row.TextBody != "" {
			t.Fatalf("refused row: %+v", row)
		}
		if r.row(t, ok).SentAt == nil {
			t.Fatal("the good message did not leave")
		}
	})
}

// TestExpiredDropped: a message whose link expired before it could be sent
// is dropped and its bodies blanked.
func TestExpiredDropped(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		r := newRig(t, e, mailtest.Options{}, time.Minute)
		r.smtp.Stop()
		id := r.enqueue(t, "ann@example.com", time.Hour)
		r.flush(t)
		r.smtp.Restart(t)
		r.clock = r.clock.Add(time.Hour)
		if n := r.flush(t); n != 0 || len(r.smtp.Messages()) != 0 {
			t.Fatalf("stale mail sent")
		}
		if row := r.row(t, id); row.DroppedAt == nil || row.TextBody != "" || row.HTMLBody != "" || row.LastError == "" {
			t.Fatalf("row: %+v", row)
		}
	})
}

// TestLogDriverNeverSaysSent: with the log driver the message, link included,
// is written to the log as not sent, the outbox row is done with, and no line
// claims the mail was sent.
func TestLogDriverNeverSaysSent(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		a, err := app.New(testenv.Ctx(t), testenv.Config(t, e.URI(t), nil), testenv.Logger(t))
		testenv.Must(t, err, "app")
		t.Cleanup(a.Close)
		r := &rig{db: a.DB, clock: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		r.sender, err = mail.NewSender(mail.SenderConfig{
			From: "AURA <no-reply@aura.test>", PollInterval: time.Second, Lease: time.Minute, RetryMaxBackoff: time.Minute,
		}, mail.LogDriver{Log: log}, r.outboxOn, log)
		testenv.Must(t, err, "sender")
		r.sender.Clock = func() time.Time { return r.clock }
		id := r.enqueue(t, "ann@example.com", time.Hour)
		if n := r.flush(t); n != 1 {
			t.Fatalf("handled %d, want 1", n)
		}
		if row := r.row(t, id); row.SentAt == nil {
			t.Fatalf("row not done with, it would be logged again: %+v", row)
		}
		out := logs.String()
		if !strings.Contains(out, `msg="mail not sent: log driver"`) || !strings.Contains(out, "tok123") {
			t.Fatalf("the message and its link should be logged as not sent:\n%s", out)
		}
		if strings.Contains(out, `msg="mail sent`) {
			t.Fatalf("the log driver's mail was called sent:\n%s", out)
		}
	})
}
