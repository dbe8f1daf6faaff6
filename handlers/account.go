package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/services/accounts"
)

// Me is GET /api/auth/me: the caller with roles.
func (d *Deps) Me(c *gin.Context) error {
	OK(c, http.StatusOK, userView(currentUser(c), true), "")
	return nil
}

type updateMeRequest struct {
	FullName models.Opt[string] `json:"fullName"`
	Phone    models.Opt[string] `json:"phone"`
	Avatar   models.Opt[string] `json:"avatar"`
	Language models.Opt[string] `json:"language"`
}

// UpdateMe is PATCH /api/auth/me: the caller's fullName, phone, avatar.
func (d *Deps) UpdateMe(c *gin.Context) error {
	var req updateMeRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	u, err := d.Accounts.UpdateProfile(c.Request.Context(), store(c), currentUser(c),
		accounts.ProfileChange{FullName: req.FullName, Phone: req.Phone, Avatar: req.Avatar, Language: req.Language})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, userView(u, true), "Profile updated")
	return nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
	ConfirmPassword string `json:"confirmPassword"`
}

// ChangePassword is POST /api/auth/change-password.
func (d *Deps) ChangePassword(c *gin.Context) error {
	var req changePasswordRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	err := d.Accounts.ChangePassword(c.Request.Context(), store(c), currentUser(c), currentClaims(c).Sid,
		accounts.ChangePasswordInput{CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword, ConfirmPassword: req.ConfirmPassword})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, "Password changed; other sessions were signed out")
	return nil
}
