package repositories_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/security"
)

// newHash returns the hash of a fresh refresh token.
func newHash() string { return security.HashToken(security.NewOpaqueToken(32)) }

// newSession creates a session of u expiring at expiresAt, with its first
// refresh token, and returns it and that token's hash.
func newSession(t *testing.T, st *repositories.Store, u *models.User, expiresAt time.Time) (*models.Session, string) {
	t.Helper()
	s := &models.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: expiresAt}
	h := newHash()
	testenv.Must(t, st.Tx(func(tx *repositories.Store) error { return tx.Sessions.Create(s, h) }), "create session")
	return s, h
}

// TestSessionsRotate: a refresh token rotates once; presenting it again is
// reuse and revokes its session (when the caller commits); unknown tokens and
// tokens of expired or revoked sessions are invalid.
func TestSessionsRotate(t *testing.T) {
	const ttl = 24 * time.Hour
	now := t0.Add(time.Hour)
	first := func(first, _ string) string { return first }
	second := func(_, second string) string { return second }
	unknown := func(_, _ string) string { return newHash() }
	cases := []struct {
		name string
		// expiresIn is the session's expiry relative to now.
		expiresIn time.Duration
		revoked   bool
		// rotated: the first token was already rotated to a second one.
		rotated bool
		present func(first, second string) string
		// rollback: the caller rolls back on reuse instead of committing.
		rollback    bool
		wantErr     error
		wantRevoked bool
	}{
		{name: "first use rotates", expiresIn: time.Hour, present: first},
		{name: "the rotated-to token rotates in turn", expiresIn: time.Hour, rotated: true, present: second},
		{name: "second use of a token is reuse and revokes the session", expiresIn: time.Hour, rotated: true, present: first,
			wantErr: models.ErrTokenReused, wantRevoked: true},
		{name: "reuse revokes nothing the caller rolls back", expiresIn: time.Hour, rotated: true, present: first, rollback: true,
			wantErr: models.ErrTokenReused},
		{name: "reuse in an already revoked session", expiresIn: time.Hour, rotated: true, revoked: true, present: first,
			wantErr: models.ErrTokenReused, wantRevoked: true},
		{name: "unknown token", expiresIn: time.Hour, present: unknown, wantErr: models.ErrTokenInvalid},
		{name: "expired session", expiresIn: -time.Second, present: first, wantErr: models.ErrTokenInvalid},
		{name: "session expiring this instant", expiresIn: 0, present: first, wantErr: models.ErrTokenInvalid},
		{name: "revoked session", expiresIn: time.Hour, revoked: true, present: first, wantErr: models.ErrTokenInvalid, wantRevoked: true},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db, st := open(t, e)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				u := newUser(t, st, fmt.Sprintf("rotate%d@example.com", i))
				s, h1 := newSession(t, st, u, now.Add(c.expiresIn))
				h2 := ""
				if c.rotated {
					h2 = newHash()
					testenv.Must(t, st.Tx(func(tx *repositories.Store) error {
						_, err := tx.Sessions.Rotate(h1, h2, now.Add(-time.Minute), c.expiresIn+time.Minute)
						return err
					}), "first rotation")
				}
				if c.revoked {
					testenv.Must(t, st.Sessions.Revoke(s.ID, now.Add(-time.Second)), "revoke")
				}
				presented, next := c.present(h1, h2), newHash()

				var got *models.Session
				var err error
				txErr := st.Tx(func(tx *repositories.Store) error {
					got, err = tx.Sessions.Rotate(presented, next, now, ttl)
					if errors.Is(err, models.ErrTokenReused) && !c.rollback {
						return nil // commit the revocation, as the rules do
					}
					return err
				})
				if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
					t.Fatalf("Rotate: got %v, want %v", err, c.wantErr)
				}
				committed := c.wantErr == nil || (errors.Is(c.wantErr, models.ErrTokenReused) && !c.rollback)
				if (txErr == nil) != committed {
					t.Fatalf("Tx: %v, want committed = %v", txErr, committed)
				}

				var stored models.Session
				testenv.Must(t, db.Where("id = ?", s.ID).Take(&stored).Error, "read session")
				if (stored.RevokedAt != nil) != c.wantRevoked {
					t.Errorf("session revoked = %v, want %v", stored.RevokedAt != nil, c.wantRevoked)
				}
				if c.wantErr != nil {
					if n := count(t, db, &models.RefreshToken{}, "token_hash = ?", next); n != 0 {
						t.Errorf("a refused rotation stored the new token")
					}
					if c.wantRevoked {
						if _, err := st.Sessions.SessionOf(h1, now); !errors.Is(err, models.ErrNotFound) {
							t.Errorf("revoked session still found by its token: %v", err)
						}
					}
					return
				}
				if got == nil || got.ID != s.ID || !got.LastUsedAt.Equal(now) || !got.ExpiresAt.Equal(now.Add(ttl)) {
					t.Fatalf("Rotate returned %+v, want session %s used at %v, expiring at %v", got, s.ID, now, now.Add(ttl))
				}
				if !stored.ExpiresAt.Equal(now.Add(ttl)) || !stored.LastUsedAt.Equal(now) {
					t.Errorf("stored session expires %v, last used %v; want %v, %v", stored.ExpiresAt, stored.LastUsedAt, now.Add(ttl), now)
				}
				if sess, err := st.Sessions.SessionOf(next, now); err != nil || sess.ID != s.ID {
					t.Errorf("new token does not lead to the session: %v", err)
				}
				if n := count(t, db, &models.RefreshToken{}, "token_hash = ? AND used_at IS NOT NULL", presented); n != 1 {
					t.Errorf("presented token not marked used")
				}
				// The presented token is spent: using it again is reuse.
				err = st.Tx(func(tx *repositories.Store) error {
					_, err := tx.Sessions.Rotate(presented, newHash(), now.Add(time.Second), ttl)
					return err
				})
				if !errors.Is(err, models.ErrTokenReused) {
					t.Errorf("presenting the rotated token again: %v, want ErrTokenReused", err)
				}
			})
		}
	})
}

// TestSessionsRotateConcurrent: of concurrent rotations of one token, each
// in its own transaction, exactly one wins; the others see reuse, and their
// committed revocation ends the session.
func TestSessionsRotateConcurrent(t *testing.T) {
	const n = 8
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db, st := open(t, e)
		u := newUser(t, st, "race@example.com")
		s, h := newSession(t, st, u, t0.Add(time.Hour))
		now := t0.Add(time.Minute)
		errs := testenv.Race(n, func(int) error {
			var err error
			txErr := st.Tx(func(tx *repositories.Store) error {
				_, err = tx.Sessions.Rotate(h, newHash(), now, time.Hour)
				if errors.Is(err, models.ErrTokenReused) {
					return nil
				}
				return err
			})
			if txErr != nil {
				return txErr
			}
			return err
		})
		won, reused := tally(t, errs, models.ErrTokenReused)
		if won != 1 || reused != n-1 {
			t.Fatalf("%d rotations won and %d saw reuse, want 1 and %d", won, reused, n-1)
		}
		if got := count(t, db, &models.RefreshToken{}, "session_id = ?", s.ID); got != 2 {
			t.Errorf("session has %d refresh tokens, want the first and the winner's", got)
		}
		if got := count(t, db, &models.Session{}, "id = ? AND revoked_at IS NOT NULL", s.ID); got != 1 {
			t.Errorf("the reuse did not revoke the session")
		}
	})
}
