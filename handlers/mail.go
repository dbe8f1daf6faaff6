package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/security"
)

// actionTokenBytes is the randomness of a verification or reset token (256
// bits; the contract asks for at least 128).
const actionTokenBytes = 32

// errMailLimited rolls back a transaction whose mail the per-address limit
// refused; the handler answers 429.
var errMailLimited = errors.New("mail limited")

// The answers of the by-address endpoints are the same whether or not an
// account exists, is verified or active.
const (
	resendMessage = "If this address belongs to an account that still needs verification, a new link is on its way"
	forgotMessage = "If this address belongs to an account, a password reset link is on its way"
)

func (d *Deps) mailRoutes(auth *gin.RouterGroup) {
	auth.POST("/resend-verification-email", d.ResendVerificationEmail)
	auth.POST("/verify-email", d.VerifyEmail)
	auth.POST("/forgot-password", d.ForgotPassword)
	auth.POST("/reset-password", d.ResetPassword)
}

func (d *Deps) authedMailRoutes(auth *gin.RouterGroup) {
	auth.POST("/send-verification-email", d.SendVerificationEmail)
}

// mailLimitKey is the rate-limit bucket of a normalised address; long
// addresses are hashed to fit the bucket column.
func mailLimitKey(key string) string {
	if k := "mail:" + key; len(k) <= 200 {
		return k
	}
	sum := sha256.Sum256([]byte(key))
	return "mail:sha256:" + hex.EncodeToString(sum[:])
}

// acquireMail takes the address's mail slot (limits.email.interval) in tx:
// errMailLimited when a mail went to it too recently.
func (d *Deps) acquireMail(tx *repositories.Store, key string, now time.Time) error {
	ok, err := tx.Limits.Acquire(mailLimitKey(key), d.Settings.EmailInterval, now)
	if err != nil {
		return err
	}
	if !ok {
		return errMailLimited
	}
	return nil
}

// failMail answers a failed mail transaction: 429 with Retry-After for the
// mail limit, the usual mapping otherwise.
func (d *Deps) failMail(c *gin.Context, key string, err error) {
	if !errors.Is(err, errMailLimited) {
		Fail(c, err)
		return
	}
	now := d.now()
	wait, werr := store(c).Limits.Blocked(mailLimitKey(key), 1, now)
	if werr != nil || wait <= 0 {
		wait = d.Settings.EmailInterval
	}
	rateLimited(c, wait)
}

// queueToken issues a token of purpose for u (superseding older ones) and
// queues the mail that carries its link, in tx.
func (d *Deps) queueToken(tx *repositories.Store, u *models.User, purpose string, ttl time.Duration, path string, now time.Time) error {
	raw := security.NewOpaqueToken(actionTokenBytes)
	if err := tx.Tokens.Issue(&models.ActionToken{
		ID: uuid.NewString(), UserID: u.ID, Purpose: purpose, TokenHash: security.HashToken(raw),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return err
	}
	msg, err := mail.Compose(purpose, u.Email, mail.Data{
		Name: displayName(u), Link: mail.Link(d.Settings.FrontendURL, path, raw), ValidFor: ttl,
	}, now)
	if err != nil {
		return err
	}
	return tx.Outbox.Enqueue(msg)
}

// queueVerification queues the verification mail of a new account. It takes
// the address's mail slot so an immediate resend is limited, but sends even
// when the slot was taken (by resends of the address before it had an
// account): a new account always gets its link.
func (d *Deps) queueVerification(tx *repositories.Store, u *models.User, now time.Time) error {
	if err := d.acquireMail(tx, emailKey(u), now); err != nil && !errors.Is(err, errMailLimited) {
		return err
	}
	return d.queueToken(tx, u, models.PurposeVerifyEmail, d.Settings.VerificationTTL, "/verify-email", now)
}

// queuePasswordChanged queues the "your password was changed" notice; the
// mail limit never suppresses it.
func (d *Deps) queuePasswordChanged(tx *repositories.Store, u *models.User, now time.Time) error {
	msg, err := mail.Compose(models.MailPasswordChanged, u.Email, mail.Data{
		Name: displayName(u), Link: d.Settings.FrontendURL, When: now,
	}, now)
	if err != nil {
		return err
	}
	return tx.Outbox.Enqueue(msg)
}

// SendVerificationEmail queues a fresh verification link for the caller. It
// takes no body (an empty one, or {}): the first backend's userId is refused,
// the account is the caller's own.
func (d *Deps) SendVerificationEmail(c *gin.Context) {
	if err := Bind(c, &struct{}{}, true); err != nil {
		Fail(c, err)
		return
	}
	u := currentUser(c)
	if u.EmailVerified {
		Fail(c, Invalid(map[string]string{"email": "is already verified"}))
		return
	}
	now, key := d.now(), emailKey(u)
	err := store(c).Tx(func(tx *repositories.Store) error {
		if err := d.acquireMail(tx, key, now); err != nil {
			return err
		}
		return d.queueToken(tx, u, models.PurposeVerifyEmail, d.Settings.VerificationTTL, "/verify-email", now)
	})
	if err != nil {
		d.failMail(c, key, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "A new verification link is on its way")
}

type emailRequest struct {
	Email string `json:"email"`
}

// bindEmail reads {"email"} and returns the normalised key of the address
// typed; it answers 400 itself when that is not an address.
func bindEmail(c *gin.Context) (string, bool) {
	var req emailRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return "", false
	}
	_, key, err := models.NormalizeEmail(req.Email)
	if err != nil {
		msg := err.Error()
		if req.Email == "" {
			msg = "is required"
		}
		Fail(c, Invalid(map[string]string{"email": msg}))
		return "", false
	}
	return key, true
}

// byAddress runs the common part of resend-verification-email and
// forgot-password: the mail limit on the address typed (whether or not it
// has an account), then send(u) for an active account of that address.
func (d *Deps) byAddress(c *gin.Context, message string, send func(tx *repositories.Store, u *models.User, now time.Time) error) {
	key, ok := bindEmail(c)
	if !ok {
		return
	}
	now := d.now()
	err := store(c).Tx(func(tx *repositories.Store) error {
		if err := d.acquireMail(tx, key, now); err != nil {
			return err
		}
		u, err := tx.Users.ByEmailKey(key)
		if errors.Is(err, models.ErrNotFound) || (err == nil && !u.IsActive) {
			return nil
		}
		if err != nil {
			return err
		}
		return send(tx, u, now)
	})
	// Over the mail limit the answer is the same 200 as any other: the contract
	// promises these endpoints one answer for every address, and a 429 would
	// tell a watcher that this address asked recently.
	if err != nil && !errors.Is(err, errMailLimited) {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, message)
}

// ResendVerificationEmail queues a fresh verification link to an unverified
// account of the address; the answer is the same for every address.
func (d *Deps) ResendVerificationEmail(c *gin.Context) {
	d.byAddress(c, resendMessage, func(tx *repositories.Store, u *models.User, now time.Time) error {
		if u.EmailVerified {
			return nil
		}
		return d.queueToken(tx, u, models.PurposeVerifyEmail, d.Settings.VerificationTTL, "/verify-email", now)
	})
}

// ForgotPassword mails a reset link to the account of the address; the
// answer is the same for every address.
func (d *Deps) ForgotPassword(c *gin.Context) {
	d.byAddress(c, forgotMessage, func(tx *repositories.Store, u *models.User, now time.Time) error {
		return d.queueToken(tx, u, models.PurposeResetPassword, d.Settings.ResetTTL, "/reset-password", now)
	})
}

type verifyEmailRequest struct {
	Token string `json:"token"`
}

// VerifyEmail consumes a verification token and marks its account's email
// verified.
func (d *Deps) VerifyEmail(c *gin.Context) {
	var req verifyEmailRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	if req.Token == "" {
		Fail(c, Invalid(map[string]string{"token": "is required"}))
		return
	}
	if !security.PlausibleToken(req.Token, actionTokenBytes) {
		Fail(c, errTokenInvalid)
		return
	}
	now := d.now()
	err := store(c).Tx(func(tx *repositories.Store) error {
		userID, err := tx.Tokens.Consume(models.PurposeVerifyEmail, security.HashToken(req.Token), now)
		if err != nil {
			return err
		}
		return tx.Users.Update(userID, map[string]any{"email_verified": true, "email_verified_at": now})
	})
	if errors.Is(err, models.ErrNotFound) {
		err = models.ErrTokenInvalid // the account went away with its token
	}
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{"emailVerified": true}, "Email verified")
}

type resetPasswordRequest struct {
	Token           string `json:"token"`
	NewPassword     string `json:"newPassword"`
	ConfirmPassword string `json:"confirmPassword"`
}

// ResetPassword sets a new password with a reset token, revokes every
// session of the account, lifts its login block and queues a notice. The
// first backend's token-less body ({email, newPassword}) is refused: its
// unknown field fails the strict binding.
func (d *Deps) ResetPassword(c *gin.Context) {
	var req resetPasswordRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	if missing := required(map[string]string{"token": req.Token, "newPassword": req.NewPassword, "confirmPassword": req.ConfirmPassword}); missing != nil {
		Fail(c, Invalid(missing))
		return
	}
	if !security.PlausibleToken(req.Token, actionTokenBytes) {
		Fail(c, errTokenInvalid)
		return
	}
	st, now, hash := store(c), d.now(), security.HashToken(req.Token)
	// Look first, burn later: a refused password leaves the link usable.
	userID, err := st.Tokens.Peek(models.PurposeResetPassword, hash, now)
	if err != nil {
		Fail(c, err)
		return
	}
	u, err := st.Users.ByID(userID)
	if errors.Is(err, models.ErrNotFound) {
		err = models.ErrTokenInvalid
	}
	if err != nil {
		Fail(c, err)
		return
	}
	if msg := d.newPasswordProblems(req.NewPassword, req.ConfirmPassword, u); len(msg) > 0 {
		Fail(c, Invalid(msg))
		return
	}
	pwHash, err := d.Hasher.Hash(c.Request.Context(), req.NewPassword)
	if err != nil {
		Fail(c, unavailableOr(c, err))
		return
	}
	err = st.Tx(func(tx *repositories.Store) error {
		// The conditional update is the claim: of concurrent resets with one
		// token, exactly one gets here with the token still live.
		if _, err := tx.Tokens.Consume(models.PurposeResetPassword, hash, now); err != nil {
			return err
		}
		if err := tx.Users.Update(u.ID, map[string]any{"password_hash": pwHash}); err != nil {
			return err
		}
		if err := tx.Sessions.RevokeAllForUser(u.ID, "", now); err != nil {
			return err
		}
		if err := tx.Limits.Clear("login:acct:" + emailKey(u)); err != nil {
			return err
		}
		return d.queuePasswordChanged(tx, u, now)
	})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "Password reset; sign in with the new password")
}
