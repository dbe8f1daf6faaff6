package accounts

import (
	"aura/models"
	"aura/repositories"
)

// Limit keys. Each names one counter in the shared rate_limits table (the
// repository stores them hashed, so their length is bounded).
func loginAccountKey(emailKey string) string { return "login:acct:" + emailKey }
func loginAddressKey(ip string) string       { return "login:ip:" + ip }
func registerAddressKey(ip string) string    { return "register:ip:" + ip }
func mailKey(emailKey string) string         { return "mail:" + emailKey }

// loginLimits name the keys claimLogin is given, in order: the account's,
// then the address's.
var loginLimits = []string{LimitLoginAccount, LimitLoginAddress}

// claims are the limit slots one attempt holds while its password is checked.
type claims struct {
	st   *repositories.Store
	keys []string
}

// claimLogin takes one slot of each key before a password is checked, so a
// burst of parallel guesses gets no more checks than the limit. If any key
// has none left, the slots already taken are given back and the answer is
// RATE_LIMITED with the wait. keys are the account's key, then the address's.
func (s *Service) claimLogin(st *repositories.Store, keys ...string) (*claims, error) {
	c := &claims{st: st}
	now := s.Now()
	for i, k := range keys {
		wait, err := st.Limits.Claim(k, s.Settings.LoginMaxFailures, s.Settings.LoginWindow, now)
		if err == nil && wait > 0 {
			s.rateLimited(loginLimits[min(i, len(loginLimits)-1)])
			err = models.RateLimited(wait)
		}
		if err != nil {
			c.release()
			return nil, err
		}
		c.keys = append(c.keys, k)
	}
	return c, nil
}

// release gives every slot back: the attempt did not count (it succeeded, or
// never got to check a password). Errors are ignored: a slot that stays
// taken only makes the limit stricter until its window ends.
func (c *claims) release() {
	for _, k := range c.keys {
		_ = c.st.Limits.Release(k)
	}
	c.keys = nil
}
