package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// Me returns the caller with roles.
func (d *Deps) Me(c *gin.Context) {
	OK(c, http.StatusOK, userView(currentUser(c), true), "")
}

type updateMeRequest struct {
	FullName Opt[string] `json:"fullName"`
	Phone    Opt[string] `json:"phone"`
	Avatar   Opt[string] `json:"avatar"`
}

// UpdateMe changes the caller's profile: fullName, phone (null clears),
// avatar (an http(s) URL; null clears).
func (d *Deps) UpdateMe(c *gin.Context) {
	var req updateMeRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	u := currentUser(c)
	cols := map[string]any{}
	details := map[string]string{}
	if req.FullName.Set {
		name := strings.TrimSpace(req.FullName.Value)
		switch {
		case req.FullName.Null || name == "":
			details["fullName"] = "must not be empty"
		case checkName(name) != "":
			details["fullName"] = checkName(name)
		default:
			cols["full_name"] = name
			u.FullName = &name
		}
	}
	if req.Phone.Set {
		phone := strings.TrimSpace(req.Phone.Value)
		switch {
		case req.Phone.Null || phone == "":
			cols["phone"] = nil
			u.Phone = nil
		case !validPhone(phone):
			details["phone"] = "must be a phone number: digits, spaces, +, -, ( and ), at most 32 characters"
		default:
			cols["phone"] = phone
			u.Phone = &phone
		}
	}
	if req.Avatar.Set {
		av := strings.TrimSpace(req.Avatar.Value)
		switch {
		case req.Avatar.Null || av == "":
			cols["avatar_url"] = nil
			u.AvatarURL = nil
		case !validURL(av):
			details["avatar"] = "must be an http or https URL of at most 255 characters"
		default:
			cols["avatar_url"] = av
			u.AvatarURL = &av
		}
	}
	if len(details) > 0 {
		Fail(c, Invalid(details))
		return
	}
	if len(cols) > 0 {
		if err := store(c).Users.Update(u.ID, cols); err != nil {
			Fail(c, err)
			return
		}
	}
	OK(c, http.StatusOK, userView(u, true), "Profile updated")
}

func validPhone(p string) bool {
	if utf8.RuneCountInString(p) > 32 {
		return false
	}
	digits := 0
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-().", r):
		default:
			return false
		}
	}
	return digits >= 3
}

func validURL(s string) bool {
	if len(s) > 255 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsFunc(s, isControl)
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
	ConfirmPassword string `json:"confirmPassword"`
}

// ChangePassword replaces the caller's password and revokes their other sessions.
func (d *Deps) ChangePassword(c *gin.Context) {
	var req changePasswordRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	u := currentUser(c)
	if missing := required(map[string]string{"currentPassword": req.CurrentPassword, "newPassword": req.NewPassword, "confirmPassword": req.ConfirmPassword}); missing != nil {
		Fail(c, Invalid(missing))
		return
	}
	st, now, ctx := store(c), d.now(), c.Request.Context()
	acctKey := "login:acct:" + emailKey(u)
	if wait, err := st.Limits.Blocked(acctKey, d.Settings.LoginMaxFailures, now); err != nil || wait > 0 {
		if err != nil {
			Fail(c, err)
		} else {
			rateLimited(c, wait)
		}
		return
	}
	ok, _, err := d.Hasher.Verify(ctx, req.CurrentPassword, u.PasswordHash)
	if err != nil && err != security.ErrMalformedHash {
		Fail(c, unavailableOr(c, err))
		return
	}
	if !ok {
		if err := st.Limits.Hit(acctKey, d.Settings.LoginWindow, now); err != nil {
			Fail(c, err)
			return
		}
		Fail(c, Errf(http.StatusUnauthorized, CodeInvalidCredentials, "Current password is incorrect"))
		return
	}
	if msg := d.newPasswordProblems(req.NewPassword, req.ConfirmPassword, u); len(msg) > 0 {
		Fail(c, Invalid(msg))
		return
	}
	if req.NewPassword == req.CurrentPassword {
		Fail(c, Invalid(map[string]string{"newPassword": "must differ from the current password"}))
		return
	}
	hash, err := d.Hasher.Hash(ctx, req.NewPassword)
	if err != nil {
		Fail(c, unavailableOr(c, err))
		return
	}
	sid := currentClaims(c).Sid
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Update(u.ID, map[string]any{"password_hash": hash}); err != nil {
			return err
		}
		if err := tx.Sessions.RevokeAllForUser(u.ID, sid, now); err != nil {
			return err
		}
		return d.queuePasswordChanged(tx, u, now)
	})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "Password changed; other sessions were signed out")
}

// newPasswordProblems applies the password policy and the confirmation.
func (d *Deps) newPasswordProblems(pw, confirm string, u *models.User) map[string]string {
	details := map[string]string{}
	if msg := security.CheckPassword(pw, u.Email, displayName(u), d.Settings.PasswordMinLength); msg != "" {
		details["newPassword"] = msg
	}
	if confirm != pw {
		details["confirmPassword"] = "does not match newPassword"
	}
	return details
}

func emailKey(u *models.User) string {
	if _, key, err := models.NormalizeEmail(u.Email); err == nil {
		return key
	}
	return strings.ToLower(u.Email)
}
