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
	auth.POST("/resend-verification-email", Handle(d.ResendVerificationEmail))
	auth.POST("/verify-email", Handle(d.VerifyEmail))
	auth.POST("/forgot-password", Handle(d.ForgotPassword))
	auth.POST("/reset-password", Handle(d.ResetPassword))
}

func (d *Deps) authedMailRoutes(auth *gin.RouterGroup) {
	auth.POST("/send-verification-email", Handle(d.SendVerificationEmail))
}

// SendVerificationEmail is POST /api/auth/send-verification-email. It takes
// no body (an empty one, or {}): the first backend's userId is refused, the
// account is the caller's own.
func (d *Deps) SendVerificationEmail(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	if err := d.Accounts.SendVerification(c.Request.Context(), store(c), currentUser(c)); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, "A new verification link is on its way")
	return nil
}

type emailRequest struct {
	Email string `json:"email"`
}

// ResendVerificationEmail is POST /api/auth/resend-verification-email; the
// answer is the same for every address.
func (d *Deps) ResendVerificationEmail(c *gin.Context) error {
	var req emailRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	if err := d.Accounts.ResendVerification(c.Request.Context(), store(c), req.Email); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, resendMessage)
	return nil
}

// ForgotPassword is POST /api/auth/forgot-password; the answer is the same
// for every address.
func (d *Deps) ForgotPassword(c *gin.Context) error {
	var req emailRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	if err := d.Accounts.ForgotPassword(c.Request.Context(), store(c), req.Email); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, forgotMessage)
	return nil
}

type verifyEmailRequest struct {
	Token string `json:"token"`
}

// VerifyEmail is POST /api/auth/verify-email.
func (d *Deps) VerifyEmail(c *gin.Context) error {
	var req verifyEmailRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	if err := d.Accounts.VerifyEmail(c.Request.Context(), store(c), req.Token); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{"emailVerified": true}, "Email verified")
	return nil
}

type resetPasswordRequest struct {
	Token           string `json:"token"`
	NewPassword     string `json:"newPassword"`
	ConfirmPassword string `json:"confirmPassword"`
}

// ResetPassword is POST /api/auth/reset-password. The first backend's
// token-less body ({email, newPassword}) is refused: its unknown field fails
// the strict binding.
func (d *Deps) ResetPassword(c *gin.Context) error {
	var req resetPasswordRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	err := d.Accounts.ResetPassword(c.Request.Context(), store(c),
		accounts.ResetPasswordInput{Token: req.Token, NewPassword: req.NewPassword, ConfirmPassword: req.ConfirmPassword})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, "Password reset; sign in with the new password")
	return nil
}
