package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// IDTokenVerifier checks an OpenID Connect ID token (a
// *security.OIDCVerifier for Google). Its errors are
// security.ErrIDTokenInvalid (security.ErrIDTokenExpired among them) and
// security.ErrIssuerUnavailable.
type IDTokenVerifier interface {
	Verify(ctx context.Context, rawIDToken string, now time.Time) (*security.Identity, error)
}

// FailGoogleToken is the LoginFailed reason of a refused Google ID token
// (invalid, expired, or without a verified email).
const FailGoogleToken = "google_token"

// maxIDTokenBytes bounds the ID token read (Google's are about 1 KiB).
const maxIDTokenBytes = 16 << 10

// errGoogleOff is what POST /api/auth/google answers while auth.google.client_id
// is empty: the answer of a route AURA does not have.
var errGoogleOff = models.NewError(models.CodeNotFound, "No such endpoint")

// GoogleSignIn signs in with a Google ID token: verified against the
// issuer's keys, for this client, unexpired, with a verified email. The
// account with that email is signed in when its email is verified; one whose
// email is not verified answers CONFLICT (whoever registered it may not own
// the address, and Google's word must not hand them, or take from them, the
// account); with none, a PATIENT account is made with the email verified,
// the token's name and no password (its owner can set one with
// forgot-password). An inactive account answers ACCOUNT_DISABLED, as login
// does. Refused tokens count against the client address's login limit (a
// slot is taken before the token is checked and kept when it is refused);
// new accounts against the sign-up limit.
func (s *Service) GoogleSignIn(ctx context.Context, st *repositories.Store, idToken string, cl Client) (*Session, error) {
	if s.Google == nil {
		return nil, errGoogleOff
	}
	if strings.TrimSpace(idToken) == "" {
		return nil, models.Invalid(map[string]string{"idToken": "is required"})
	}
	held, err := s.claimLogin(st, loginAddressKey(cl.IP))
	if err != nil {
		return nil, err
	}
	refused := func(msg string) error {
		s.loginFailed(FailGoogleToken)
		return models.WithMessage(models.ErrUnauthorized, msg)
	}
	if len(idToken) > maxIDTokenBytes {
		return nil, refused("The Google ID token is not valid")
	}
	id, err := s.Google.Verify(ctx, idToken, s.Now())
	switch {
	case errors.Is(err, security.ErrIssuerUnavailable):
		held.release()
		return nil, errors.Join(models.WithMessage(models.ErrUnavailable, "Google sign-in is unavailable at the moment; try again shortly"), err)
	case errors.Is(err, security.ErrIDTokenExpired):
		return nil, refused("The Google ID token has expired; sign in with Google again")
	case errors.Is(err, security.ErrIDTokenInvalid):
		return nil, refused("The Google ID token is not valid")
	case err != nil:
		held.release()
		return nil, unavailableOr(err)
	}
	if !id.EmailVerified {
		return nil, refused("Google has not verified this account's email address")
	}
	email, key, emailErr := models.NormalizeEmail(id.Email)
	if emailErr != nil {
		return nil, refused("The Google account has no usable email address")
	}
	held.release()
	u, err := st.Users.ByEmailKey(key)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return s.googleAccount(st, email, key, id.Name, cl)
	case err != nil:
		return nil, err
	}
	if !u.EmailVerified {
		return nil, models.WithMessage(models.ErrConflict,
			"An account with this email exists but its email is not verified; sign in with its password and verify the email first")
	}
	if !u.IsActive {
		s.loginFailed(FailDisabled)
		return nil, models.ErrDisabled
	}
	var sess *Session
	err = st.Tx(func(tx *repositories.Store) error {
		sess, err = s.startSession(tx, u, cl, s.Now())
		return err
	})
	return sess, err
}

// googleAccount makes the PATIENT account of a verified Google identity
// (email verified, no password) and starts its first session, within the
// sign-up limit of the client address.
func (s *Service) googleAccount(st *repositories.Store, email, key, name string, cl Client) (*Session, error) {
	if CheckName(name) != "" || strings.TrimSpace(name) == "" {
		name = localPart(email)
	}
	name = strings.TrimSpace(name)
	wait, err := st.Limits.Claim(registerAddressKey(cl.IP), s.Settings.RegisterMax, s.Settings.RegisterWindow, s.Now())
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		s.rateLimited(LimitRegisterAddress)
		return nil, models.RateLimited(wait)
	}
	now := s.Now()
	u := &models.User{ID: uuid.NewString(), Email: email, EmailNormalized: &key, FullName: &name,
		PasswordHash: security.NoPassword, EmailVerified: true, EmailVerifiedAt: &now, IsActive: true, CreatedAt: now,
		Roles: []models.Role{{Name: models.RolePatient}}}
	if cl.Lang != "" {
		lang := cl.Lang
		u.Lang = &lang
	}
	var sess *Session
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Create(u, models.RolePatient); err != nil {
			return err
		}
		sess, err = s.startSession(tx, u, cl, now)
		return err
	})
	if errors.Is(err, models.ErrEmailTaken) {
		// Another request made the account at the same moment: sign in to
		// it as to any verified account (it was made verified).
		return nil, models.WithMessage(models.ErrConflict, "The account was being created by another request; sign in again")
	}
	return sess, err
}
