package handlers

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// refreshTokenBytes is the randomness of a refresh token (256 bits).
const refreshTokenBytes = 32

type registerRequest struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	FullName *string `json:"fullName"`
}

// Register creates a PATIENT account and its first session.
func (d *Deps) Register(c *gin.Context) {
	var req registerRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	details := map[string]string{}
	email, key, err := models.NormalizeEmail(req.Email)
	if err != nil {
		details["email"] = err.Error()
	}
	name := localPart(email)
	if req.FullName != nil {
		if msg := checkName(*req.FullName); msg != "" {
			details["fullName"] = msg
		} else if n := strings.TrimSpace(*req.FullName); n != "" {
			name = n
		}
	}
	if req.Password == "" {
		details["password"] = "is required"
	} else if msg := security.CheckPassword(req.Password, email, name, d.Settings.PasswordMinLength); msg != "" {
		details["password"] = msg
	}
	if len(details) > 0 {
		Fail(c, Invalid(details))
		return
	}
	hash, err := d.Hasher.Hash(c.Request.Context(), req.Password)
	if err != nil {
		Fail(c, unavailableOr(c, err))
		return
	}
	now := d.now()
	u := &models.User{
		ID: uuid.NewString(), Email: email, EmailNormalized: &key, PasswordHash: hash,
		FullName: &name, IsActive: true, CreatedAt: now,
	}
	var sess *SessionView
	err = store(c).Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Create(u, models.RolePatient); err != nil {
			return err
		}
		if err := d.queueVerification(tx, u, now); err != nil {
			return err
		}
		sess, err = d.startSession(c, tx, u, now)
		return err
	})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusCreated, sess, "Account created; check your email to verify it")
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Login checks a password and starts a session, within the abuse limits.
func (d *Deps) Login(c *gin.Context) {
	var req loginRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	details := map[string]string{}
	if strings.TrimSpace(req.Email) == "" {
		details["email"] = "is required"
	}
	if req.Password == "" {
		details["password"] = "is required"
	}
	if len(details) > 0 {
		Fail(c, Invalid(details))
		return
	}
	st := store(c)
	now := d.now()
	_, key, emailErr := models.NormalizeEmail(req.Email)
	if emailErr != nil {
		key = strings.ToLower(strings.TrimSpace(req.Email))
	}
	acctKey, ipKey := "login:acct:"+key, "login:ip:"+c.ClientIP()
	for _, k := range []string{acctKey, ipKey} {
		wait, err := st.Limits.Blocked(k, d.Settings.LoginMaxFailures, now)
		if err != nil {
			Fail(c, err)
			return
		}
		if wait > 0 {
			rateLimited(c, wait)
			return
		}
	}
	ctx := c.Request.Context()
	u, err := st.Users.ByEmailKey(key)
	if emailErr != nil || errors.Is(err, models.ErrNotFound) || len(req.Password) > 4*security.MaxPasswordLength {
		d.Hasher.VerifyDummy(ctx, req.Password)
		d.loginFailed(c, st, acctKey, ipKey, now)
		return
	}
	if err != nil {
		Fail(c, err)
		return
	}
	ok, rehash, err := d.Hasher.Verify(ctx, req.Password, u.PasswordHash)
	if err != nil && !errors.Is(err, security.ErrMalformedHash) {
		Fail(c, unavailableOr(c, err))
		return
	}
	if !ok {
		d.loginFailed(c, st, acctKey, ipKey, now)
		return
	}
	if !u.IsActive {
		Fail(c, errDisabled)
		return
	}
	if rehash {
		if h, err := d.Hasher.Hash(ctx, req.Password); err == nil {
			if err := st.Users.SetPasswordHash(u.ID, u.PasswordHash, h); err != nil {
				Fail(c, err)
				return
			}
		}
	}
	var sess *SessionView
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Limits.Clear(acctKey); err != nil {
			return err
		}
		sess, err = d.startSession(c, tx, u, now)
		return err
	})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, sess, "Logged in")
}

func (d *Deps) loginFailed(c *gin.Context, st *repositories.Store, acctKey, ipKey string, now time.Time) {
	err := st.Tx(func(tx *repositories.Store) error {
		if err := tx.Limits.Hit(acctKey, d.Settings.LoginWindow, now); err != nil {
			return err
		}
		return tx.Limits.Hit(ipKey, d.Settings.LoginWindow, now)
	})
	if err != nil {
		Fail(c, err)
		return
	}
	Fail(c, errBadCredentials)
}

func rateLimited(c *gin.Context, wait time.Duration) {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	Fail(c, Errf(http.StatusTooManyRequests, CodeRateLimited, "Too many attempts; try again later"))
}

// startSession creates a session with its first refresh token and signs an
// access token for it.
func (d *Deps) startSession(c *gin.Context, tx *repositories.Store, u *models.User, now time.Time) (*SessionView, error) {
	s := &models.Session{
		ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(d.Settings.RefreshTTL), ClientIP: c.ClientIP(), UserAgent: truncate(c.Request.UserAgent(), 512),
	}
	refresh := security.NewOpaqueToken(refreshTokenBytes)
	if err := tx.Sessions.Create(s, security.HashToken(refresh)); err != nil {
		return nil, err
	}
	pair, err := d.tokenPair(u, s.ID, refresh, now)
	if err != nil {
		return nil, err
	}
	return &SessionView{TokenPair: pair, User: userView(u, false), Roles: roleViews(u)}, nil
}

func (d *Deps) tokenPair(u *models.User, sessionID, refresh string, now time.Time) (TokenPair, error) {
	access, err := d.JWT.Issue(u.ID, u.Email, sessionID, u.RoleNames(), now)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int64(d.JWT.TTL() / time.Second)}, nil
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// Refresh rotates a refresh token; a token presented twice revokes its session.
func (d *Deps) Refresh(c *gin.Context) {
	var req refreshRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	if req.RefreshToken == "" {
		Fail(c, Invalid(map[string]string{"refreshToken": "is required"}))
		return
	}
	if !security.PlausibleToken(req.RefreshToken, refreshTokenBytes) {
		Fail(c, errUnauthorized)
		return
	}
	now := d.now()
	next := security.NewOpaqueToken(refreshTokenBytes)
	var pair TokenPair
	reused := false
	err := store(c).Tx(func(tx *repositories.Store) error {
		s, err := tx.Sessions.Rotate(security.HashToken(req.RefreshToken), security.HashToken(next), now, d.Settings.RefreshTTL)
		if errors.Is(err, models.ErrTokenReused) {
			reused = true
			return nil // commit the revocation
		}
		if err != nil {
			return err
		}
		u, err := tx.Users.ByID(s.UserID)
		if err != nil {
			return err
		}
		if !u.IsActive {
			return errDisabled
		}
		pair, err = d.tokenPair(u, s.ID, next, now)
		return err
	})
	switch {
	case reused, errors.Is(err, models.ErrTokenInvalid), errors.Is(err, models.ErrNotFound):
		Fail(c, errUnauthorized)
	case err != nil:
		Fail(c, err)
	default:
		OK(c, http.StatusOK, pair, "")
	}
}

type logoutRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// Logout revokes the caller's session (and the one of refreshToken, if it is
// the caller's too).
func (d *Deps) Logout(c *gin.Context) {
	var req logoutRequest
	if err := Bind(c, &req, true); err != nil {
		Fail(c, err)
		return
	}
	u, claims, now := currentUser(c), currentClaims(c), d.now()
	err := store(c).Tx(func(tx *repositories.Store) error {
		if err := tx.Sessions.Revoke(claims.Sid, now); err != nil {
			return err
		}
		if req.RefreshToken == "" || !security.PlausibleToken(req.RefreshToken, refreshTokenBytes) {
			return nil
		}
		s, err := tx.Sessions.SessionOf(security.HashToken(req.RefreshToken), now)
		if errors.Is(err, models.ErrNotFound) || (err == nil && s.UserID != u.ID) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Sessions.Revoke(s.ID, now)
	})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "Logged out")
}

// Verify returns the claims of the caller's access token.
func (d *Deps) Verify(c *gin.Context) {
	cl := currentClaims(c)
	OK(c, http.StatusOK, gin.H{
		"sub": cl.Subject, "user_id": cl.UserID, "email": cl.Email, "roles": cl.Roles,
		"iat": cl.IssuedAt.Unix(), "exp": cl.ExpiresAt.Unix(), "valid": true,
	}, "")
}

// unavailableOr maps a context error (client gone, deadline) to 503.
func unavailableOr(c *gin.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errUnavailable
	}
	return err
}

func localPart(email string) string {
	l, _, _ := strings.Cut(email, "@")
	return l
}

func checkName(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		return "must be valid text"
	case utf8.RuneCountInString(s) > 255:
		return "must be at most 255 characters"
	case strings.ContainsFunc(s, isControl):
		return "must not contain control characters"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
