// Package accounts holds the rules of AURA's accounts: sign-up, login and
// sessions, passwords, email links, profiles, and the admin's changes of
// roles and activity. HTTP handlers, the CLI and workers call these functions;
// they validate input, begin the transactions (which may span domains: an
// account, its session and its mail land together) and return domain errors
// of package models. They never see HTTP.
package accounts

import (
	"aura/i18n"
	"context"
	"errors"
	"time"

	"aura/models"
	"aura/security"
)

// Settings are the values of the configuration the rules need.
type Settings struct {
	RefreshTTL        time.Duration
	VerificationTTL   time.Duration
	ResetTTL          time.Duration
	PasswordMinLength int
	LoginMaxFailures  int
	LoginWindow       time.Duration
	RegisterMax       int
	RegisterWindow    time.Duration
	EmailInterval     time.Duration
	FrontendURL       string
	// DefaultLang is the language of accounts that have none (i18n.default_language).
	DefaultLang string
	// ByAddressFloor is the least time forgot-password and
	// resend-verification take, so known and unknown addresses answer alike.
	ByAddressFloor time.Duration
	// ErasureGrace is how long after its owner deletes an account its
	// personal data is erased (privacy.erasure_grace).
	ErasureGrace time.Duration
}

// Service applies the account rules. Every method takes the caller's
// context and the Store of its database session (a request's
// db.WithContext(ctx)); it begins transactions from that Store.
type Service struct {
	Settings Settings
	Hasher   *security.Hasher
	JWT      *security.JWT
	// Clock is the time source (nil: the system clock); tests move it.
	Clock models.Clock
	// Google verifies the ID tokens of Google sign-in; nil: the feature is
	// off (auth.google.client_id empty) and its endpoint answers NOT_FOUND.
	Google IDTokenVerifier
	// Observer is told of failed logins and refused attempts (metrics);
	// nil tells no one.
	Observer Observer
}

// Observer hears what operators count: failed logins by reason, and
// attempts refused by a limit (answered RATE_LIMITED), by limit. Its methods
// must be quick and safe for concurrent use.
type Observer interface {
	LoginFailed(reason string)
	RateLimited(limit string)
}

// Reasons of LoginFailed and limits of RateLimited.
const (
	FailBadCredentials = "bad_credentials" // unknown account or wrong password
	FailDisabled       = "disabled"        // right password, account disabled
	FailMalformedHash  = "malformed_hash"  // stored hash in no known format

	LimitLoginAccount    = "login_account"    // failed logins per account
	LimitLoginAddress    = "login_address"    // failed logins per client address
	LimitRegisterAddress = "register_address" // sign-ups per client address
	LimitEmail           = "email"            // mail to one address
)

func (s *Service) loginFailed(reason string) {
	if s.Observer != nil {
		s.Observer.LoginFailed(reason)
	}
}

func (s *Service) rateLimited(limit string) {
	if s.Observer != nil {
		s.Observer.RateLimited(limit)
	}
}

// Now is the service's current time, in UTC (its Clock).
func (s *Service) Now() time.Time { return s.Clock.Now() }

// Client is who is calling, as far as the rules care: the address limits
// are keyed by IP; sessions record both.
type Client struct {
	IP        string
	UserAgent string
	// Lang is the language the caller asked for (Accept-Language); a new
	// account keeps it for its mail.
	Lang string
}

// langOf is the language of u's mail: its own, else the default.
func (s *Service) langOf(u *models.User) string {
	return i18n.Lang(models.Deref(u.Lang), s.Settings.DefaultLang)
}

// Session is a signed-in session: its user (with roles) and its tokens.
type Session struct {
	User         *models.User
	SessionID    string
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
}

// unavailableOr maps a context error (client gone, deadline) met outside the
// database, in the password hasher, to models.ErrUnavailable.
func unavailableOr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, security.ErrBusy) {
		return errors.Join(models.ErrUnavailable, err)
	}
	return err
}
