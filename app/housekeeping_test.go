package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/app"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

const password = "copper meadow whistle"

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newApp(t *testing.T, uri string, env map[string]string) *app.App {
	t.Helper()
	a, err := app.New(testenv.Ctx(t), testenv.Config(t, uri, env), testenv.Logger(t))
	testenv.Must(t, err, "app")
	t.Cleanup(a.Close)
	return a
}

// seedEnded writes a mail sent and a rate-limit window ended long before
// now; tag tells the rate-limit rows of several calls apart.
func seedEnded(t *testing.T, db *gorm.DB, now time.Time, tag string) {
	t.Helper()
	old := now.Add(-60 * 24 * time.Hour)
	testenv.Must(t, db.Create(&models.OutboxMessage{Kind: models.MailPasswordChanged, Recipient: "old@example.com",
		Subject: "old", CreatedAt: old, NextAttemptAt: old, SentAt: &old}).Error, "old mail")
	testenv.Must(t, db.Create(&models.RateLimit{Key: "login:ip:192.0.2.9" + tag, Count: 3, ResetAt: old}).Error, "old limit")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(t *testing.T, db *gorm.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, db.Raw(query, args...).Scan(&n).Error, "%s", query)
	return n
}

// TestOneRunPerInterval: instances sharing a database that run at the same
// moment sweep once between them, and not again until the interval is over.
// On file SQLite and PostgreSQL the instances are separate Apps (separate
// pools); in-memory SQLite cannot be shared, so there they share one App.
func TestOneRunPerInterval(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		const n = 4
		env := map[string]string{"AURA_HOUSEKEEPING_INTERVAL": "1h"}
		uri := e.URI(t)
		first := newApp(t, uri, env)
		clock := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
		keepers := make([]*app.Housekeeper, n)
		for i := range keepers {
			a := first
			if i > 0 && e.Name != "sqlite-memory" {
				a = newApp(t, uri, env)
			}
			keepers[i] = app.NewHousekeeper(a.DB, a.Cfg.Housekeeping, testenv.Logger(t))
			keepers[i].Clock = func() time.Time { return clock }
		}
		rounds := 0
		round := func(want, wantSwept int64) {
			t.Helper()
			rounds++
			seedEnded(t, first.DB, clock, strings.Repeat("9", rounds))
			var wg sync.WaitGroup
			ran := make(chan repositories.Swept, n)
			start := make(chan struct{})
			for _, h := range keepers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					swept, ok, err := h.RunOnce(context.Background())
					if err != nil {
						t.Errorf("run: %v", err)
					}
					if ok {
						ran <- swept
					}
				}()
			}
			close(start)
			wg.Wait()
			close(ran)
			var runs int64
			for swept := range ran {
				runs++
				if swept.Outbox != wantSwept || swept.RateLimits != wantSwept {
					t.Errorf("the run swept %+v, want %d old mail and limit rows", swept, wantSwept)
				}
			}
			if runs != want {
				t.Fatalf("at %s: %d of %d instances ran, want %d", clock.Format(time.TimeOnly), runs, n, want)
			}
		}
		round(1, 1)
		clock = clock.Add(time.Hour - time.Second)
		round(0, 0)
		clock = clock.Add(time.Second)
		round(1, 2)
		// The run's own sweep of ended windows left its live lease alone.
		wait, err := repositories.New(first.DB).Limits.Blocked(app.HousekeepingLease, 1, clock)
		testenv.Must(t, err, "lease")
		if wait != time.Hour {
			t.Fatalf("the lease holds for %s more, want 1h", wait)
		}
	})
}

type session struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

// TestServedHousekeeping: Serve runs the clean-up on its own, keeps what
// rotation and reuse detection need, and stops it before the database
// closes.
func TestServedHousekeeping(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_HOUSEKEEPING_INTERVAL": "100ms"}))
		db := s.App.DB
		var reg, rotated session
		s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "lan@example.com", "password": password}, "").
			Expect(t, http.StatusCreated, "").Data(t, &reg)
		s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": reg.RefreshToken}, "").
			Expect(t, http.StatusOK, "").Data(t, &rotated)
		seedEnded(t, db, time.Now(), "")
		// Two runs later, what ended is gone and the rest is there.
		waitFor(t, "the ended rows to go", func() bool {
			return count(t, db, "SELECT count(*) FROM outbox WHERE subject = 'old'") == 0 &&
				count(t, db, "SELECT count(*) FROM rate_limits WHERE bucket = 'login:ip:192.0.2.9'") == 0
		})
		if n := count(t, db, "SELECT count(*) FROM refresh_tokens"); n != 2 {
			t.Fatalf("%d refresh tokens, want the rotated one and its successor", n)
		}
		s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": reg.RefreshToken}, "").
			Expect(t, http.StatusUnauthorized, "")
		if n := count(t, db, "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL"); n != 1 {
			t.Fatal("presenting the rotated token again did not revoke the session")
		}
		s.Do(t, "POST", "/api/auth/refresh", map[string]any{"refreshToken": rotated.RefreshToken}, "").
			Expect(t, http.StatusUnauthorized, "")
		s.Stop(t)
	})
}

// TestHousekeepingDisabled: housekeeping.enabled off runs nothing.
func TestHousekeepingDisabled(t *testing.T) {
	s := testenv.Start(t, testenv.Config(t, "sqlite:///:memory:", map[string]string{
		"AURA_HOUSEKEEPING_ENABLED": "false", "AURA_HOUSEKEEPING_INTERVAL": "10ms"}))
	seedEnded(t, s.App.DB, time.Now(), "")
	time.Sleep(200 * time.Millisecond)
	if n := count(t, s.App.DB, "SELECT count(*) FROM outbox"); n != 1 {
		t.Fatalf("disabled housekeeping deleted mail: %d rows left", n)
	}
}

// TestHousekeepingOutlivesDatabaseErrors: a run that fails is logged and
// tried again at the next tick; the worker keeps going and stops with its
// context.
func TestHousekeepingOutlivesDatabaseErrors(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		a := newApp(t, e.URI(t), map[string]string{"AURA_HOUSEKEEPING_INTERVAL": "50ms"})
		var logs logBuffer
		h := app.NewHousekeeper(a.DB, a.Cfg.Housekeeping, slog.New(slog.NewTextHandler(&logs, nil)))
		seedEnded(t, a.DB, time.Now(), "")
		testenv.Must(t, a.DB.Exec("ALTER TABLE outbox RENAME TO outbox_away").Error, "hide outbox")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			h.Run(ctx)
			close(done)
		}()
		waitFor(t, "two failed runs", func() bool { return logs.count(`msg="housekeeping failed; will retry at the next tick"`) >= 2 })
		// The other tables were swept all the same.
		if n := count(t, a.DB, "SELECT count(*) FROM rate_limits WHERE bucket = 'login:ip:192.0.2.9'"); n != 0 {
			t.Fatal("a failing table stopped the sweep of the others")
		}
		testenv.Must(t, a.DB.Exec("ALTER TABLE outbox_away RENAME TO outbox").Error, "restore outbox")
		waitFor(t, "a run that succeeds", func() bool { return logs.count(`msg="housekeeping done"`) >= 1 })
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker did not stop with its context")
		}
		if n := count(t, a.DB, "SELECT count(*) FROM outbox"); n != 0 {
			t.Fatalf("%d mail rows left after a successful run", n)
		}
		out := logs.String()
		line := out[strings.Index(out, `msg="housekeeping done"`):]
		line = line[:strings.IndexByte(line, '\n')]
		for _, want := range []string{"sessions=0", "refresh_tokens=0", "action_tokens=0", "outbox=1", "rate_limits=0", "took="} {
			if !strings.Contains(line, want) {
				t.Errorf("the run's line lacks %s: %s", want, line)
			}
		}
		if !strings.Contains(out, "no such table") && !strings.Contains(out, "does not exist") {
			t.Errorf("the failed runs did not log their error:\n%s", out)
		}
	})
}
