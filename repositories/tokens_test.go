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
)

// issue stores a token of purpose for u, created at createdAt and valid for
// an hour, and returns its hash.
func issue(t *testing.T, st *repositories.Store, u *models.User, purpose string, createdAt time.Time) string {
	t.Helper()
	h := newHash()
	testenv.Must(t, st.Tx(func(tx *repositories.Store) error {
		return tx.Tokens.Issue(&models.ActionToken{ID: uuid.NewString(), UserID: u.ID, Purpose: purpose, TokenHash: h,
			CreatedAt: createdAt, ExpiresAt: createdAt.Add(time.Hour)})
	}), "issue %s", purpose)
	return h
}

// TestTokens: a new token supersedes the user's older ones of its purpose
// only; Peek reads without consuming; Consume works once, only for its
// purpose and before expiry; VoidAll voids one user's tokens of one purpose.
func TestTokens(t *testing.T) {
	const reset, verify = models.PurposeResetPassword, models.PurposeVerifyEmail
	now := t0.Add(time.Minute)
	type toks struct {
		ann, bob *models.User
		// annReset1 was superseded by annReset2; annVerify and bobReset are live.
		annReset1, annReset2, annVerify, bobReset string
	}
	type use struct {
		op      string // "peek", "consume", "voidAll"
		purpose string
		token   func(k toks) string
		user    func(k toks) *models.User // voidAll's user
		at      time.Time
		wantErr error
		// wantUser is the user a successful peek or consume names.
		wantUser func(k toks) *models.User
	}
	ann := func(k toks) *models.User { return k.ann }
	bob := func(k toks) *models.User { return k.bob }
	annReset1 := func(k toks) string { return k.annReset1 }
	annReset2 := func(k toks) string { return k.annReset2 }
	annVerify := func(k toks) string { return k.annVerify }
	bobReset := func(k toks) string { return k.bobReset }
	cases := []struct {
		name string
		uses []use
	}{
		{"issue supersedes the older token of the same user and purpose", []use{
			{op: "peek", purpose: reset, token: annReset1, at: now, wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: reset, token: annReset1, at: now, wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: reset, token: annReset2, at: now, wantUser: ann},
		}},
		{"issue leaves other purposes and other users alone", []use{
			{op: "consume", purpose: verify, token: annVerify, at: now, wantUser: ann},
			{op: "consume", purpose: reset, token: bobReset, at: now, wantUser: bob},
		}},
		{"peek does not consume", []use{
			{op: "peek", purpose: reset, token: annReset2, at: now, wantUser: ann},
			{op: "peek", purpose: reset, token: annReset2, at: now, wantUser: ann},
			{op: "consume", purpose: reset, token: annReset2, at: now, wantUser: ann},
		}},
		{"consume works once", []use{
			{op: "consume", purpose: reset, token: annReset2, at: now, wantUser: ann},
			{op: "consume", purpose: reset, token: annReset2, at: now, wantErr: models.ErrTokenInvalid},
			{op: "peek", purpose: reset, token: annReset2, at: now, wantErr: models.ErrTokenInvalid},
		}},
		{"expired token is refused", []use{
			{op: "peek", purpose: reset, token: annReset2, at: t0.Add(time.Hour), wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: reset, token: annReset2, at: t0.Add(time.Hour), wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: reset, token: annReset2, at: t0.Add(time.Hour - time.Second), wantUser: ann},
		}},
		{"wrong purpose is refused and leaves the token usable", []use{
			{op: "peek", purpose: verify, token: annReset2, at: now, wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: verify, token: annReset2, at: now, wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: reset, token: annReset2, at: now, wantUser: ann},
		}},
		{"unknown token is refused", []use{
			{op: "consume", purpose: reset, token: func(toks) string { return newHash() }, at: now, wantErr: models.ErrTokenInvalid},
		}},
		{"voidAll voids only that user's tokens of that purpose", []use{
			{op: "voidAll", purpose: reset, user: ann, at: now},
			{op: "consume", purpose: reset, token: annReset2, at: now, wantErr: models.ErrTokenInvalid},
			{op: "consume", purpose: verify, token: annVerify, at: now, wantUser: ann},
			{op: "consume", purpose: reset, token: bobReset, at: now, wantUser: bob},
		}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var k toks
				k.ann = newUser(t, st, fmt.Sprintf("ann%d@example.com", i))
				k.bob = newUser(t, st, fmt.Sprintf("bob%d@example.com", i))
				k.annReset1 = issue(t, st, k.ann, reset, t0)
				k.annVerify = issue(t, st, k.ann, verify, t0)
				k.bobReset = issue(t, st, k.bob, reset, t0)
				k.annReset2 = issue(t, st, k.ann, reset, t0)
				for j, u := range c.uses {
					var got string
					var err error
					switch u.op {
					case "peek":
						got, err = st.Tokens.Peek(u.purpose, u.token(k), u.at)
					case "consume":
						err = st.Tx(func(tx *repositories.Store) error {
							got, err = tx.Tokens.Consume(u.purpose, u.token(k), u.at)
							return err
						})
					case "voidAll":
						err = st.Tokens.VoidAll(u.user(k).ID, u.purpose, u.at)
					}
					if u.wantErr != nil {
						if !errors.Is(err, u.wantErr) {
							t.Fatalf("use %d (%s %s): got %v, want %v", j, u.op, u.purpose, err, u.wantErr)
						}
						continue
					}
					if err != nil {
						t.Fatalf("use %d (%s %s): %v", j, u.op, u.purpose, err)
					}
					if u.wantUser != nil && got != u.wantUser(k).ID {
						t.Fatalf("use %d (%s %s): user %q, want %q", j, u.op, u.purpose, got, u.wantUser(k).ID)
					}
				}
			})
		}
	})
}

// TestTokensConsumeConcurrent: of concurrent consumptions of one token, each
// in its own transaction, exactly one succeeds.
func TestTokensConsumeConcurrent(t *testing.T) {
	const n = 8
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		u := newUser(t, st, "race@example.com")
		h := issue(t, st, u, models.PurposeResetPassword, t0)
		errs := testenv.Race(n, func(int) error {
			return st.Tx(func(tx *repositories.Store) error {
				id, err := tx.Tokens.Consume(models.PurposeResetPassword, h, t0.Add(time.Minute))
				if err == nil && id != u.ID {
					return fmt.Errorf("consumed for user %q, want %q", id, u.ID)
				}
				return err
			})
		})
		won, refused := tally(t, errs, models.ErrTokenInvalid)
		if won != 1 || refused != n-1 {
			t.Fatalf("%d consumptions succeeded and %d were refused, want 1 and %d", won, refused, n-1)
		}
	})
}
