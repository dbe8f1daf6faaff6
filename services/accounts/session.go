package accounts

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// refreshTokenBytes is the randomness of a refresh token (256 bits).
const refreshTokenBytes = 32

// LoginInput is what a login presents.
type LoginInput struct {
	Email    string
	Password string
}

// Login checks a password and starts a session, within the abuse limits: an
// attempt takes a slot of its account's and its address's limits before the
// password is checked; a wrong password keeps them (it is a failure), a right
// one gives them back. Failures are not cleared by a success: they end with
// their window (or a password reset), so however a burst interleaves with a
// login of the owner, no more wrong passwords than the limit are checked per
// window. An unknown email costs what a wrong password costs and answers the
// same.
func (s *Service) Login(ctx context.Context, st *repositories.Store, in LoginInput, cl Client) (*Session, error) {
	details := map[string]string{}
	if strings.TrimSpace(in.Email) == "" {
		details["email"] = "is required"
	}
	if in.Password == "" {
		details["password"] = "is required"
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	_, key, emailErr := models.NormalizeEmail(in.Email)
	if emailErr != nil {
		key = strings.ToLower(strings.TrimSpace(in.Email))
	}
	acctKey := loginAccountKey(key)
	held, err := s.claimLogin(st, acctKey, loginAddressKey(cl.IP))
	if err != nil {
		return nil, err
	}
	u, err := st.Users.ByEmailKey(key)
	if emailErr != nil || errors.Is(err, models.ErrNotFound) || len(in.Password) > 4*security.MaxPasswordLength {
		s.Hasher.VerifyDummy(ctx, in.Password)
		s.loginFailed(FailBadCredentials)
		return nil, models.ErrBadCredentials // the slots stay taken: a failure
	}
	if err != nil {
		held.release()
		return nil, err
	}
	ok, rehash, err := s.Hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil && !errors.Is(err, security.ErrMalformedHash) {
		held.release()
		return nil, unavailableOr(err)
	}
	if !ok {
		if errors.Is(err, security.ErrMalformedHash) {
			s.loginFailed(FailMalformedHash)
		} else {
			s.loginFailed(FailBadCredentials)
		}
		return nil, models.ErrBadCredentials
	}
	held.release()
	if !u.IsActive {
		s.loginFailed(FailDisabled)
		return nil, models.ErrDisabled
	}
	if rehash {
		if h, err := s.Hasher.Hash(ctx, in.Password); err == nil {
			if err := st.Users.SetPasswordHash(u.ID, u.PasswordHash, h); err != nil {
				return nil, err
			}
		}
	}
	now := s.Now()
	var sess *Session
	err = st.Tx(func(tx *repositories.Store) error {
		sess, err = s.startSession(tx, u, cl, now)
		return err
	})
	return sess, err
}

// startSession creates a session with its first refresh token and signs an
// access token for it, in tx.
func (s *Service) startSession(tx *repositories.Store, u *models.User, cl Client, now time.Time) (*Session, error) {
	sess := &models.Session{
		ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(s.Settings.RefreshTTL), ClientIP: cl.IP, UserAgent: truncate(cl.UserAgent, 512),
	}
	refresh := security.NewOpaqueToken(refreshTokenBytes)
	if err := tx.Sessions.Create(sess, security.HashToken(refresh)); err != nil {
		return nil, err
	}
	return s.signed(u, sess.ID, refresh, now)
}

func (s *Service) signed(u *models.User, sessionID, refresh string, now time.Time) (*Session, error) {
	access, err := s.JWT.Issue(u.ID, u.Email, sessionID, u.RoleNames(), now)
	if err != nil {
		return nil, err
	}
	return &Session{User: u, SessionID: sessionID, AccessToken: access, RefreshToken: refresh, ExpiresIn: s.JWT.TTL()}, nil
}

// Refresh rotates a refresh token. A token presented twice revokes its
// session (committed) and answers UNAUTHORIZED, as does any unknown, expired
// or revoked one.
func (s *Service) Refresh(ctx context.Context, st *repositories.Store, refreshToken string) (*Session, error) {
	if refreshToken == "" {
		return nil, models.Invalid(map[string]string{"refreshToken": "is required"})
	}
	if !security.PlausibleToken(refreshToken, refreshTokenBytes) {
		return nil, models.ErrUnauthorized
	}
	now := s.Now()
	next := security.NewOpaqueToken(refreshTokenBytes)
	var out *Session
	reused := false
	err := st.Tx(func(tx *repositories.Store) error {
		sess, err := tx.Sessions.Rotate(security.HashToken(refreshToken), security.HashToken(next), now, s.Settings.RefreshTTL)
		if errors.Is(err, models.ErrTokenReused) {
			reused = true
			return nil // commit the revocation
		}
		if err != nil {
			return err
		}
		u, err := tx.Users.ByID(sess.UserID)
		if err != nil {
			return err
		}
		if !u.IsActive {
			return models.ErrDisabled
		}
		out, err = s.signed(u, sess.ID, next, now)
		return err
	})
	switch {
	case reused, errors.Is(err, models.ErrTokenInvalid), errors.Is(err, models.ErrNotFound):
		return nil, models.ErrUnauthorized
	case err != nil:
		return nil, err
	}
	return out, nil
}

// Logout revokes the caller's session, and the session of refreshToken when
// it is the caller's too.
func (s *Service) Logout(ctx context.Context, st *repositories.Store, u *models.User, sessionID, refreshToken string) error {
	now := s.Now()
	return st.Tx(func(tx *repositories.Store) error {
		if err := tx.Sessions.Revoke(sessionID, now); err != nil {
			return err
		}
		if refreshToken == "" || !security.PlausibleToken(refreshToken, refreshTokenBytes) {
			return nil
		}
		other, err := tx.Sessions.SessionOf(security.HashToken(refreshToken), now)
		if errors.Is(err, models.ErrNotFound) || (err == nil && other.UserID != u.ID) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Sessions.Revoke(other.ID, now)
	})
}

// Authenticate returns the active user of a live session named by a valid
// access token, with roles: ErrUnauthorized or ErrDisabled otherwise.
func (s *Service) Authenticate(st *repositories.Store, accessToken string) (*models.User, *security.Claims, error) {
	claims, err := s.JWT.Verify(accessToken)
	if err != nil {
		return nil, nil, models.ErrUnauthorized
	}
	u, err := st.Users.ForSession(claims.Subject, claims.Sid, s.Now())
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil, models.ErrUnauthorized
	}
	if err != nil {
		return nil, nil, err
	}
	if !u.IsActive {
		return nil, nil, models.ErrDisabled
	}
	return u, claims, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
