package repositories_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/app"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

var (
	now       = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	retention = 30 * 24 * time.Hour
	day       = 24 * time.Hour
)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

// migrated opens a migrated database of engine e.
func migrated(t *testing.T, e testenv.Engine) *gorm.DB {
	t.Helper()
	a, err := app.New(testenv.Ctx(t), testenv.Config(t, e.URI(t), nil), testenv.Logger(t))
	testenv.Must(t, err, "app")
	t.Cleanup(a.Close)
	return a.DB
}

// seed writes rows with explicit times around now; keep reports whether each
// should survive a sweep with a retention of 30 days.
type seed struct {
	db   *gorm.DB
	user string
	// want lists, per table, the keys a sweep must leave.
	want map[string][]string
}

func newSeed(t *testing.T, db *gorm.DB) *seed {
	t.Helper()
	key := "keeper@example.com"
	u := &models.User{ID: "00000000-0000-0000-0000-000000000001", Email: key, EmailNormalized: &key,
		PasswordHash: "x", IsActive: true, CreatedAt: now.Add(-400 * day)}
	testenv.Must(t, db.Create(u).Error, "user")
	return &seed{db: db, user: u.ID, want: map[string][]string{}}
}

func (s *seed) keep(table, key string, keep bool) {
	if keep {
		s.want[table] = append(s.want[table], key)
	}
}

// session writes a session with its tokens (hash -> used at, nil when unused).
func (s *seed) session(t *testing.T, id string, expires time.Duration, revoked *time.Time, keep bool, tokens map[string]*time.Time) {
	t.Helper()
	testenv.Must(t, s.db.Create(&models.Session{ID: id, UserID: s.user, CreatedAt: now.Add(-90 * day),
		LastUsedAt: now.Add(-90 * day), ExpiresAt: now.Add(expires), RevokedAt: revoked}).Error, "session %s", id)
	s.keep("sessions", id, keep)
	for hash, used := range tokens {
		testenv.Must(t, s.db.Create(&models.RefreshToken{TokenHash: hash, SessionID: id, CreatedAt: now.Add(-90 * day), UsedAt: used}).Error, "token %s", hash)
		s.keep("refresh_tokens", hash, keep)
	}
}

func (s *seed) actionToken(t *testing.T, id string, expires time.Duration, used *time.Time, keep bool) {
	t.Helper()
	testenv.Must(t, s.db.Create(&models.ActionToken{ID: id, UserID: s.user, Purpose: models.PurposeResetPassword,
		TokenHash: "hash-" + id, CreatedAt: now.Add(expires - time.Hour), ExpiresAt: now.Add(expires), UsedAt: used}).Error, "action token %s", id)
	s.keep("action_tokens", id, keep)
}

func (s *seed) mail(t *testing.T, name string, m models.OutboxMessage, keep bool) {
	t.Helper()
	m.Kind, m.Recipient, m.Subject = models.MailPasswordChanged, "keeper@example.com", name
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now.Add(-60 * day)
	}
	m.NextAttemptAt = m.CreatedAt
	testenv.Must(t, s.db.Create(&m).Error, "mail %s", name)
	s.keep("outbox", name, keep)
}

func (s *seed) limit(t *testing.T, bucket string, hits int, resetIn time.Duration, keep bool) {
	t.Helper()
	testenv.Must(t, s.db.Create(&models.RateLimit{Key: bucket, Count: hits, ResetAt: now.Add(resetIn)}).Error, "limit %s", bucket)
	s.keep("rate_limits", bucket, keep)
}

// left returns the keys still in each table.
func left(t *testing.T, db *gorm.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, col := range map[string]string{"sessions": "id", "refresh_tokens": "token_hash",
		"action_tokens": "id", "outbox": "subject", "rate_limits": "bucket"} {
		var keys []string
		testenv.Must(t, db.Raw("SELECT "+col+" FROM "+table).Scan(&keys).Error, "read %s", table)
		sort.Strings(keys)
		if len(keys) > 0 {
			out[table] = keys
		}
	}
	return out
}

// seedAll writes every kind of row, some past retention and some not, and
// extra old ones so that small batches must loop.
func seedAll(t *testing.T, db *gorm.DB) *seed {
	s := newSeed(t, db)
	// A session used for months: live, so every token stays, the rotated ones
	// too (presenting one again is reuse).
	s.session(t, "live", 7*day, nil, true, map[string]*time.Time{"live-used-old": at(-60 * day), "live-used": at(-time.Hour), "live-current": nil})
	// Revoked yesterday (logout, reuse, password change): kept for the retention.
	s.session(t, "revoked-recent", 6*day, at(-day), true, map[string]*time.Time{"revoked-recent-used": at(-2 * day), "revoked-recent-current": nil})
	// Expired 29 days ago: kept a day longer.
	s.session(t, "expired-recent", -29*day, nil, true, map[string]*time.Time{"expired-recent-current": nil})
	// Ended long ago: gone with their tokens.
	for i := range 5 {
		s.session(t, fmt.Sprintf("expired-old-%d", i), -31*day, nil, false, map[string]*time.Time{
			fmt.Sprintf("expired-old-%d-a", i): at(-40 * day), fmt.Sprintf("expired-old-%d-b", i): nil})
	}
	s.session(t, "revoked-old", 100*day, at(-31*day), false, map[string]*time.Time{"revoked-old-current": nil})
	// Expired 40 days ago and revoked yesterday (a password change revokes
	// ended sessions too): its life ended when it expired.
	s.session(t, "expired-old-revoked-recent", -40*day, at(-day), false, map[string]*time.Time{"eorr-current": nil})
	// A dead session without tokens.
	s.session(t, "revoked-old-bare", 7*day, at(-45*day), false, nil)

	s.actionToken(t, "link-live", time.Hour, nil, true)
	s.actionToken(t, "link-expired-recent", -2*day, nil, true)
	s.actionToken(t, "link-used-recent", 20*time.Hour, at(-4*time.Hour), true)
	s.actionToken(t, "link-used-29d", -28*day, at(-29*day), true)
	s.actionToken(t, "link-used-old", -30*day, at(-31*day), false)
	for i := range 4 {
		s.actionToken(t, fmt.Sprintf("link-expired-old-%d", i), -31*day, nil, false)
	}

	s.mail(t, "pending", models.OutboxMessage{Attempts: 40, LastError: "421 try later"}, true)
	s.mail(t, "claimed", models.OutboxMessage{LockedBy: "other/1", LockedUntil: at(time.Minute)}, true)
	s.mail(t, "sent-recent", models.OutboxMessage{SentAt: at(-day)}, true)
	s.mail(t, "dropped-recent", models.OutboxMessage{DroppedAt: at(-29 * day)}, true)
	s.mail(t, "dropped-old", models.OutboxMessage{DroppedAt: at(-31 * day)}, false)
	for i := range 3 {
		s.mail(t, fmt.Sprintf("sent-old-%d", i), models.OutboxMessage{SentAt: at(-31 * day)}, false)
	}

	s.limit(t, "login:acct:blocked@example.com", 10, 5*time.Minute, true) // still blocks
	s.limit(t, "login:ip:192.0.2.1", 1, 30*time.Second, true)             // running window
	s.limit(t, "mail:just-ended@example.com", 1, -30*time.Second, true)   // inside the grace
	s.limit(t, "lease", 1, time.Hour, true)                               // a live lease (Acquire)
	s.limit(t, "login:acct:old@example.com", 10, -2*time.Hour, false)
	for i := range 3 {
		s.limit(t, fmt.Sprintf("mail:old-%d@example.com", i), 1, -day, false)
	}
	for table := range s.want {
		sort.Strings(s.want[table])
	}
	return s
}

func policy(batch int) repositories.SweepPolicy {
	return repositories.SweepPolicy{Ended: now.Add(-retention), WindowsEnded: now.Add(-time.Minute), Batch: batch}
}

// TestSweepDeletesExactlyTheEnded seeds every kind of row and sweeps once in
// batches of 2: exactly the rows past retention are gone.
func TestSweepDeletesExactlyTheEnded(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db := migrated(t, e)
		s := seedAll(t, db)
		swept, err := repositories.NewHousekeeping(db.WithContext(testenv.Ctx(t))).Sweep(policy(2))
		testenv.Must(t, err, "sweep")
		want := repositories.Swept{Sessions: 8, RefreshTokens: 12, ActionTokens: 5, Outbox: 4, RateLimits: 4}
		if swept != want {
			t.Errorf("swept %+v, want %+v", swept, want)
		}
		if got := left(t, db); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("left\n %v\nwant\n %v", got, s.want)
		}
		again, err := repositories.NewHousekeeping(db.WithContext(testenv.Ctx(t))).Sweep(policy(0))
		testenv.Must(t, err, "second sweep")
		if again.Total() != 0 {
			t.Errorf("second sweep deleted %+v", again)
		}
	})
}

// TestReuseDetectedAfterSweep: a sweep keeps what rotation and reuse
// detection need. The live session still rotates; a rotated token presented
// again still revokes it; a token of the recently revoked session is still
// recognised as reused.
func TestReuseDetectedAfterSweep(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db := migrated(t, e)
		seedAll(t, db)
		_, err := repositories.NewHousekeeping(db.WithContext(testenv.Ctx(t))).Sweep(policy(2))
		testenv.Must(t, err, "sweep")
		st := repositories.New(db.WithContext(testenv.Ctx(t)))
		rotate := func(hash, next string) error {
			return st.Tx(func(tx *repositories.Store) error {
				_, err := tx.Sessions.Rotate(hash, next, now, 7*day)
				if errors.Is(err, models.ErrTokenReused) {
					return nil // the handler commits the revocation
				}
				return err
			})
		}
		testenv.Must(t, rotate("live-current", "live-next"), "rotate the live session")
		var s models.Session
		testenv.Must(t, db.Where("id = ?", "live").Take(&s).Error, "live session")
		if s.RevokedAt != nil {
			t.Fatal("rotation revoked the live session")
		}
		// The token rotated 60 days ago is reuse, and ends the session.
		_, err = st.Sessions.Rotate("live-used-old", "x1", now, 7*day)
		if !errors.Is(err, models.ErrTokenReused) {
			t.Fatalf("old rotated token: %v, want reuse", err)
		}
		testenv.Must(t, db.Where("id = ?", "live").Take(&s).Error, "live session")
		if s.RevokedAt == nil {
			t.Fatal("reuse did not revoke the session")
		}
		if _, err := st.Sessions.Rotate("live-next", "x2", now, 7*day); !errors.Is(err, models.ErrTokenInvalid) {
			t.Fatalf("token of the revoked session: %v, want invalid", err)
		}
		if _, err := st.Sessions.Rotate("revoked-recent-used", "x3", now, 7*day); !errors.Is(err, models.ErrTokenReused) {
			t.Fatalf("used token of the recently revoked session: %v, want reuse", err)
		}
		// Tokens of deleted sessions are simply unknown.
		if _, err := st.Sessions.Rotate("revoked-old-current", "x4", now, 7*day); !errors.Is(err, models.ErrTokenInvalid) {
			t.Fatalf("token of a deleted session: %v, want invalid", err)
		}
	})
}

// TestSweepStopsWithItsContext: a cancelled sweep says so and leaves the
// database consistent.
func TestSweepStopsWithItsContext(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db := migrated(t, e)
		seedAll(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := repositories.NewHousekeeping(db.WithContext(ctx)).Sweep(policy(2))
		if !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("cancelled sweep: %v, want unavailable", err)
		}
		var orphans int64
		testenv.Must(t, db.Raw("SELECT count(*) FROM refresh_tokens rt WHERE NOT EXISTS "+
			"(SELECT 1 FROM sessions s WHERE s.id = rt.session_id)").Scan(&orphans).Error, "orphans")
		if orphans != 0 {
			t.Fatalf("%d refresh tokens without a session", orphans)
		}
	})
}
