package tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// burst fires n requests at once and counts the answers by status.
func burst(n int, do func(i int) *testenv.Response) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := do(i)
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// TestLoginBurstGetsNoMoreChecksThanTheLimit: 40 parallel logins against one
// account, one of them with the right password, and a limit of 5: at most 5
// wrong passwords are checked (401), the rest are refused with 429 before any
// check. The right password is checked too only if it claimed a slot, which
// it gives back (a success is not a failure). Afterwards the right password
// is refused while 5 failures stand, and accepted if only 4 were counted.
func TestLoginBurstGetsNoMoreChecksThanTheLimit(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "5"}))
		const addr = "burst@example.com"
		register(t, s, addr)
		counts := burst(40, func(i int) *testenv.Response {
			pw := fmt.Sprintf("wrong-guess-number-%02d", i)
			if i == 20 {
				pw = goodPassword
			}
			return s.Do(t, "POST", "/api/auth/login", map[string]any{"email": addr, "password": pw}, "")
		})
		checked := counts[http.StatusUnauthorized] + counts[http.StatusOK]
		t.Logf("%s: passwords checked %d of 40 (limit 5): %v", e.Name, checked, counts)
		if counts[http.StatusUnauthorized] > 5 || counts[http.StatusOK] > 1 || counts[http.StatusTooManyRequests] != 40-checked {
			t.Fatalf("answers %v: %d wrong passwords checked, limit 5", counts, counts[http.StatusUnauthorized])
		}
		after := s.Do(t, "POST", "/api/auth/login", map[string]any{"email": addr, "password": goodPassword}, "")
		if counts[http.StatusUnauthorized] == 5 {
			after.Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
		} else if after.Status != http.StatusOK {
			t.Fatalf("%d failures counted (limit 5), yet the right password got %d: %s", counts[http.StatusUnauthorized], after.Status, after.Body)
		}
	})
}

// TestLongEmailLoginIsLimited: a login with an email far beyond any column's
// size is an ordinary failure, counted, then limited; never a 500.
func TestLongEmailLoginIsLimited(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "3"}))
		long := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 400) + ".example.com"
		for i := range 5 {
			want, code := http.StatusUnauthorized, "INVALID_CREDENTIALS"
			if i >= 3 {
				want, code = http.StatusTooManyRequests, "RATE_LIMITED"
			}
			s.Do(t, "POST", "/api/auth/login", map[string]any{"email": long, "password": goodPassword}, "").Expect(t, want, code)
		}
	})
}

// TestAdminsCannotRemoveEachOther: two admins demote (or deactivate) each
// other at the same moment; exactly one change wins and one active admin
// remains, on every engine.
func TestAdminsCannotRemoveEachOther(t *testing.T) {
	t.Parallel()
	for _, change := range []map[string]any{{"roles": []string{"PATIENT"}}, {"isActive": false}} {
		testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
			s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
			tokA, tokB := makeAdmin(t, s, "ada@example.com"), makeAdmin(t, s, "bea@example.com")
			var ids [2]string
			for i, tok := range []string{tokA, tokB} {
				var me struct{ ID string }
				s.Do(t, "GET", "/api/auth/me", nil, tok).Expect(t, http.StatusOK, "").Data(t, &me)
				ids[i] = me.ID
			}
			counts := burst(2, func(i int) *testenv.Response {
				tok, other := tokA, ids[1]
				if i == 1 {
					tok, other = tokB, ids[0]
				}
				return s.Do(t, "PATCH", "/api/admin/users/"+other, change, tok)
			})
			if counts[http.StatusOK] != 1 || counts[http.StatusBadRequest]+counts[http.StatusUnauthorized]+counts[http.StatusForbidden] != 1 {
				t.Fatalf("%v: answers %v, want one 200 and one refusal", change, counts)
			}
			// The survivor is still an admin and cannot remove themselves.
			var list struct {
				Items []struct {
					IsActive bool
					Roles    []struct{ Name string }
				}
			}
			for _, tok := range []string{tokA, tokB} {
				if r := s.Do(t, "GET", "/api/admin/users", nil, tok); r.Status == http.StatusOK {
					r.Data(t, &list)
				}
			}
			admins := 0
			for _, u := range list.Items {
				for _, r := range u.Roles {
					if r.Name == "ADMIN" && u.IsActive {
						admins++
					}
				}
			}
			if admins != 1 {
				t.Fatalf("%v: %d active admins remain, want 1", change, admins)
			}
		})
	}
}

// TestLastAdminRemains: an admin cannot demote or deactivate the only other
// admin once that would leave none active (the rule is not just "not myself").
func TestLastAdminRemains(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		tokA := makeAdmin(t, s, "ada@example.com")
		tokB := makeAdmin(t, s, "bea@example.com")
		var a, b struct{ ID string }
		s.Do(t, "GET", "/api/auth/me", nil, tokA).Expect(t, http.StatusOK, "").Data(t, &a)
		s.Do(t, "GET", "/api/auth/me", nil, tokB).Expect(t, http.StatusOK, "").Data(t, &b)
		s.Do(t, "PATCH", "/api/admin/users/"+b.ID, map[string]any{"isActive": false}, tokA).Expect(t, http.StatusOK, "")
		// B is inactive: A is the last active admin and cannot be removed by
		// anyone; B's reactivation restores two.
		r := s.Do(t, "PATCH", "/api/admin/users/"+a.ID, map[string]any{"roles": []string{"PATIENT"}}, tokA).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["roles"] == "" {
			t.Fatalf("details %v", r.Env.Details)
		}
		s.Do(t, "PATCH", "/api/admin/users/"+b.ID, map[string]any{"isActive": true}, tokA).Expect(t, http.StatusOK, "")
	})
}

// TestPasswordChangeVoidsResetLinks: a reset link mailed before a password
// change (or another reset) no longer works after it.
func TestPasswordChangeVoidsResetLinks(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		smtp := mailtest.Start(t, mailtest.Options{})
		s := startWithMail(t, e.URI(t), smtp, nil)
		const addr = "vo.reset@example.com"
		reg := register(t, s, addr)
		for range 2 {
			s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
		}
		msgs := smtp.WaitTo(t, addr, 3)
		first := mailtest.Token(t, msgs[1], "/reset-password")
		second := mailtest.Token(t, msgs[2], "/reset-password")
		const newPassword = "copper-meadow-whistle-48"
		s.Do(t, "POST", "/api/auth/change-password", map[string]any{"currentPassword": goodPassword,
			"newPassword": newPassword, "confirmPassword": newPassword}, reg.AccessToken).Expect(t, http.StatusOK, "")
		for _, tok := range []string{first, second} {
			s.Do(t, "POST", "/api/auth/reset-password", map[string]any{"token": tok, "newPassword": "another-long-phrase-77",
				"confirmPassword": "another-long-phrase-77"}, "").Expect(t, http.StatusBadRequest, "TOKEN_INVALID")
		}
		login(t, s, addr, newPassword)
	})
}

// TestNamesRefuseInvisibleCharacters: bidi overrides and marks, zero-width
// and other format characters are refused in fullName, at sign-up and in
// PATCH /me, and nothing is stored.
func TestNamesRefuseInvisibleCharacters(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		reg := register(t, s, "named@example.com")
		for i, name := range []string{"Lan\u202Egnoud", "Lan\u200FAn", "Lan\u200BAn", "Lan\u2066An\u2069", "\uFEFFLan", "Lan\u2028An", "Lan\u00ADAn"} {
			r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": fmt.Sprintf("n%d@example.com", i),
				"password": goodPassword, "fullName": name}, "").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details["fullName"] == "" {
				t.Errorf("%q: details %v", name, r.Env.Details)
			}
			s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": name}, reg.AccessToken).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		}
		var me struct{ FullName string }
		s.Do(t, "GET", "/api/auth/me", nil, reg.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.FullName != "named" {
			t.Fatalf("fullName %q changed", me.FullName)
		}
		// Vietnamese with its combining marks is a name like any other.
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Lan"}, reg.AccessToken).Expect(t, http.StatusOK, "")
	})
}

// TestSignUpLimitPerAddress: limits.register.max sign-ups per client address
// per window, shared by instances on one database; then 429 with Retry-After.
func TestSignUpLimitPerAddress(t *testing.T) {
	t.Parallel()
	for _, e := range testenv.Engines() {
		if e.Name == "sqlite-memory" {
			continue // two instances cannot share an in-memory database
		}
		t.Run(e.Name, func(t *testing.T) {
			uri := e.URI(t)
			env := map[string]string{"AURA_LIMITS_REGISTER_MAX": "3", "AURA_LIMITS_REGISTER_WINDOW": "1h"}
			a := testenv.Start(t, testenv.Config(t, uri, env))
			b := testenv.Start(t, testenv.Config(t, uri, env))
			register(t, a, "one@example.com")
			register(t, b, "two@example.com")
			// A refused sign-up (weak password) is not hashed and costs nothing.
			a.Do(t, "POST", "/api/auth/register", map[string]any{"email": "weak@example.com", "password": "short"}, "").
				Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			register(t, a, "three@example.com")
			r := b.Do(t, "POST", "/api/auth/register", map[string]any{"email": "four@example.com", "password": goodPassword}, "").
				Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
			if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("Retry-After %q", ra)
			}
			// Logins of existing accounts are not affected.
			login(t, a, "one@example.com", goodPassword)
		})
	}
}

// TestByAddressAnswersAlike: forgot-password and resend-verification take at
// least the same floor for known and unknown addresses, so the answer's
// timing does not tell whether an account exists.
func TestByAddressAnswersAlike(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Config(t, "sqlite:///:memory:", nil))
	register(t, s, "known@example.com")
	for _, path := range []string{"/api/auth/forgot-password", "/api/auth/resend-verification-email"} {
		for _, addr := range []string{"known@example.com", "unknown@example.com"} {
			start := time.Now()
			s.Do(t, "POST", path, map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
			if d := time.Since(start); d < 50*time.Millisecond {
				t.Errorf("%s %s answered in %v, before the 50 ms floor", path, addr, d)
			}
		}
	}
}
