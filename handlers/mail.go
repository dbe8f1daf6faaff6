package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/services/accounts"
)

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

// SendVerificationEmail is POST /api/auth/send-verification-email. It takes
// no body (an empty one, or {}): the first backend's userId is refused, the
// account is the caller's own.
func (d *Deps) SendVerificationEmail(c *gin.Context) {
	if !bind(c, &struct{}{}, true) {
		return
	}
	if err := d.Accounts.SendVerification(c.Request.Context(), store(c), currentUser(c)); err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "A new verification link is on its way")
}

type emailRequest struct {
	Email string `json:"email"`
}

// ResendVerificationEmail is POST /api/auth/resend-verification-email; the
// answer is the same for every address.
func (d *Deps) ResendVerificationEmail(c *gin.Context) {
	var req emailRequest
	if !bind(c, &req, false) {
		return
	}
	if err := d.Accounts.ResendVerification(c.Request.Context(), store(c), req.Email); err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, resendMessage)
}

// ForgotPassword is POST /api/auth/forgot-password; the answer is the same
// for every address.
func (d *Deps) ForgotPassword(c *gin.Context) {
	var req emailRequest
	if !bind(c, &req, false) {
		return
	}
	if err := d.Accounts.ForgotPassword(c.Request.Context(), store(c), req.Email); err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, forgotMessage)
}

type verifyEmailRequest struct {
	Token string `json:"token"`
}

// VerifyEmail is POST /api/auth/verify-email.
func (d *Deps) VerifyEmail(c *gin.Context) {
	var req verifyEmailRequest
	if !bind(c, &req, false) {
		return
	}
	if err := d.Accounts.VerifyEmail(c.Request.Context(), store(c), req.Token); err != nil {
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

// ResetPassword is POST /api/auth/reset-password. The first backend's
// token-less body ({email, newPassword}) is refused: its unknown field fails
// the strict binding.
func (d *Deps) ResetPassword(c *gin.Context) {
	var req resetPasswordRequest
	if !bind(c, &req, false) {
		return
	}
	err := d.Accounts.ResetPassword(c.Request.Context(), store(c),
		accounts.ResetPasswordInput{Token: req.Token, NewPassword: req.NewPassword, ConfirmPassword: req.ConfirmPassword})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "Password reset; sign in with the new password")
}
