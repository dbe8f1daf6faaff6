package accounts_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/security"
	"aura/services/accounts"
)

// TestLogin runs sequences of logins against one account each, from the
// addresses given, with LoginMaxFailures 3 in a 15-minute window: a wrong
// password counts, the limit then blocks even the right one until its window
// ends, an unknown email costs its address a failure, and a success clears
// the account's failures.
func TestLogin(t *testing.T) {
	type step struct {
		email    string // "me", "ME" (upper-cased), "unknown", "" (blank)
		password string // "right", "wrong", "" (blank)
		ip       string
		advance  time.Duration
		want     *models.Error
		// wantRetry is the wait of a RATE_LIMITED answer.
		wantRetry time.Duration
	}
	cases := []struct {
		name       string
		deactivate bool
		steps      []step
	}{
		{name: "right password signs in", steps: []step{{email: "me", password: "right", ip: "1"}}},
		{name: "email in another case signs in", steps: []step{{email: "ME", password: "right", ip: "1"}}},
		{name: "wrong passwords count until even the right one is blocked", steps: []step{
			{email: "me", password: "wrong", ip: "1", want: models.ErrBadCredentials},
			{email: "me", password: "wrong", ip: "2", advance: time.Minute, want: models.ErrBadCredentials},
			{email: "me", password: "wrong", ip: "3", want: models.ErrBadCredentials},
			{email: "me", password: "right", ip: "4", want: models.ErrRateLimited, wantRetry: 14 * time.Minute},
			{email: "me", password: "right", ip: "4", advance: 14*time.Minute - time.Second, want: models.ErrRateLimited, wantRetry: time.Second},
			{email: "me", password: "right", ip: "4", advance: time.Second},
		}},
		{name: "an unknown email costs its address a failure", steps: []step{
			{email: "unknown", password: "right", ip: "1", want: models.ErrBadCredentials},
			{email: "unknown", password: "wrong", ip: "1", want: models.ErrBadCredentials},
			{email: "unknown", password: "right", ip: "1", want: models.ErrBadCredentials},
			{email: "me", password: "right", ip: "1", want: models.ErrRateLimited, wantRetry: 15 * time.Minute},
			{email: "me", password: "right", ip: "2"},
		}},
		{name: "success does not clear the account's failures", steps: []step{
			{email: "me", password: "wrong", ip: "1", want: models.ErrBadCredentials},
			{email: "me", password: "wrong", ip: "2", want: models.ErrBadCredentials},
			{email: "me", password: "right", ip: "3"},
			{email: "me", password: "wrong", ip: "4", want: models.ErrBadCredentials},
			{email: "me", password: "wrong", ip: "5", want: models.ErrRateLimited, wantRetry: 15 * time.Minute},
			{email: "me", password: "right", ip: "6", want: models.ErrRateLimited, wantRetry: 15 * time.Minute},
		}},
		{name: "a deactivated account is refused once its password is right", deactivate: true, steps: []step{
			{email: "me", password: "wrong", ip: "1", want: models.ErrBadCredentials},
			{email: "me", password: "right", ip: "1", want: models.ErrDisabled},
		}},
		{name: "blank fields", steps: []step{{email: "", password: "", ip: "1", want: models.ErrInvalid}}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				me := fmt.Sprintf("user%d@example.com", i)
				u := v.account(t, me)
				if c.deactivate {
					testenv.Must(t, v.st.Users.Update(u.ID, repositories.Changes{IsActive: ptr(false)}, v.clock.Now()), "deactivate")
				}
				for j, s := range c.steps {
					v.clock.Add(s.advance)
					in := accounts.LoginInput{Email: map[string]string{"me": me, "ME": strings.ToUpper(me),
						"unknown": fmt.Sprintf("nobody%d@example.com", j)}[s.email],
						Password: map[string]string{"right": password, "wrong": "not the password at all"}[s.password]}
					before := v.sessions(t, u.ID)
					sess, err := v.svc.Login(testenv.Ctx(t), v.st, in, accounts.Client{IP: fmt.Sprintf("10.%d.0.%s", i, s.ip)})
					if s.want == models.ErrInvalid {
						checkErr(t, err, s.want, map[string]string{"email": "is required", "password": "is required"})
						continue
					}
					if models.CodeOf(err) != codeOrEmpty(s.want) || (err == nil) != (s.want == nil) {
						t.Fatalf("step %d (%s %s from %s): %v, want %v", j, s.email, s.password, s.ip, err, s.want)
					}
					if got := retryAfter(err); got != s.wantRetry {
						t.Fatalf("step %d: retry after %v, want %v", j, got, s.wantRetry)
					}
					after := v.sessions(t, u.ID)
					if s.want != nil {
						if after != before {
							t.Fatalf("step %d: a refused login started a session", j)
						}
						continue
					}
					if sess.User.ID != u.ID || after != before+1 || sess.AccessToken == "" {
						t.Fatalf("step %d: signed in as %s with %d new sessions, want %s and 1", j, sess.User.ID, after-before, u.ID)
					}
					if got, err := v.st.Sessions.SessionOf(security.HashToken(sess.RefreshToken), v.clock.Now()); err != nil || got.ID != sess.SessionID {
						t.Fatalf("step %d: the refresh token does not name the new session: %v", j, err)
					}
				}
			})
		}
	})
}

// TestRefresh runs sequences of refreshes of one session each: a token
// rotates once, its reuse revokes the session, and unknown, malformed,
// expired or disabled ones are refused.
func TestRefresh(t *testing.T) {
	const ttl = 7 * 24 * time.Hour
	type step struct {
		token string // "first", "latest", "", "garbage", "unknown"
		// authenticate checks the latest access token instead of refreshing.
		authenticate bool
		deactivate   bool
		advance      time.Duration
		want         *models.Error
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{name: "each new token rotates in turn", steps: []step{
			{token: "first"}, {token: "latest"}, {token: "latest"}, {authenticate: true},
		}},
		{name: "reuse revokes the session", steps: []step{
			{token: "first"},
			{token: "first", want: models.ErrUnauthorized},
			{token: "latest", want: models.ErrUnauthorized},
			{authenticate: true, want: models.ErrUnauthorized},
		}},
		{name: "blank token", steps: []step{{token: "", want: models.ErrInvalid}}},
		{name: "malformed token", steps: []step{{token: "garbage", want: models.ErrUnauthorized}, {token: "first"}}},
		{name: "unknown token", steps: []step{{token: "unknown", want: models.ErrUnauthorized}, {token: "first"}}},
		{name: "a deactivated account cannot refresh", steps: []step{{deactivate: true, token: "first", want: models.ErrDisabled}}},
		// Last: it moves the clock past what access tokens allow.
		{name: "a session expires a refresh lifetime after its last use", steps: []step{
			{token: "first", advance: ttl - time.Second},
			{token: "latest", advance: ttl, want: models.ErrUnauthorized},
		}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, func(s *accounts.Settings) { s.RefreshTTL = ttl })
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				email := fmt.Sprintf("user%d@example.com", i)
				u := v.account(t, email)
				first := v.login(t, email, password)
				latest := first
				for j, s := range c.steps {
					v.clock.Add(s.advance)
					if s.deactivate {
						testenv.Must(t, v.st.Users.Update(u.ID, repositories.Changes{IsActive: ptr(false)}, v.clock.Now()), "deactivate")
					}
					if s.authenticate {
						_, _, err := v.svc.Authenticate(v.st, latest.AccessToken)
						if models.CodeOf(err) != codeOrEmpty(s.want) {
							t.Fatalf("step %d: Authenticate: %v, want %v", j, err, s.want)
						}
						continue
					}
					token := map[string]string{"first": first.RefreshToken, "latest": latest.RefreshToken, "garbage": "not-a-token",
						"unknown": security.NewOpaqueToken(32)}[s.token]
					next, err := v.refresh(t, token)
					if s.want == models.ErrInvalid {
						checkErr(t, err, s.want, map[string]string{"refreshToken": "is required"})
						continue
					}
					checkErr(t, err, s.want, nil)
					if err != nil {
						continue
					}
					if next.SessionID != first.SessionID || next.RefreshToken == token || next.User.ID != u.ID {
						t.Fatalf("step %d: refresh gave session %s, token reused = %v; want session %s and a new token",
							j, next.SessionID, next.RefreshToken == token, first.SessionID)
					}
					latest = next
				}
			})
		}
	})
}

func codeOrEmpty(e *models.Error) models.Code {
	if e == nil {
		return ""
	}
	return e.Code
}

// TestLogout: logging out revokes the caller's session, and the session of
// the refresh token given when it is the caller's, never another user's.
func TestLogout(t *testing.T) {
	cases := []struct {
		name string
		// token names the refresh token sent along: "", "mine" (another
		// session of the caller), "theirs" (another user's), "garbage".
		token         string
		wantMineAlive bool
	}{
		{name: "own session only", token: "", wantMineAlive: true},
		{name: "with another session of the caller", token: "mine", wantMineAlive: false},
		{name: "another user's token is ignored", token: "theirs", wantMineAlive: true},
		{name: "a malformed token is ignored", token: "garbage", wantMineAlive: true},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				me, them := fmt.Sprintf("me%d@example.com", i), fmt.Sprintf("them%d@example.com", i)
				u := v.account(t, me)
				v.account(t, them)
				current, mine, theirs := v.login(t, me, password), v.login(t, me, password), v.login(t, them, password)
				token := map[string]string{"mine": mine.RefreshToken, "theirs": theirs.RefreshToken, "garbage": "x"}[c.token]
				testenv.Must(t, v.svc.Logout(testenv.Ctx(t), v.st, u, current.SessionID, token), "Logout")
				if _, err := v.refresh(t, current.RefreshToken); models.CodeOf(err) != models.CodeUnauthorized {
					t.Errorf("the logged-out session still refreshes: %v", err)
				}
				if _, err := v.refresh(t, mine.RefreshToken); (err == nil) != c.wantMineAlive {
					t.Errorf("the caller's other session: refresh error %v, want alive = %v", err, c.wantMineAlive)
				}
				if _, err := v.refresh(t, theirs.RefreshToken); err != nil {
					t.Errorf("the other user's session was ended: %v", err)
				}
			})
		}
	})
}
