package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/services/accounts"
)

type registerRequest struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	FullName *string `json:"fullName"`
}

// Register is POST /api/auth/register: a PATIENT account and its first session.
func (d *Deps) Register(c *gin.Context) error {
	var req registerRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	sess, err := d.Accounts.Register(c.Request.Context(), store(c),
		accounts.RegisterInput{Email: req.Email, Password: req.Password, FullName: req.FullName}, client(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, sessionView(sess), "Account created; check your email to verify it")
	return nil
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Login is POST /api/auth/login.
func (d *Deps) Login(c *gin.Context) error {
	var req loginRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	sess, err := d.Accounts.Login(c.Request.Context(), store(c), accounts.LoginInput{Email: req.Email, Password: req.Password}, client(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, sessionView(sess), "Logged in")
	return nil
}

type googleRequest struct {
	IDToken string `json:"idToken"`
}

// Google is POST /api/auth/google: sign in with a Google ID token; the
// answer is login's. NOT_FOUND while auth.google.client_id is empty.
func (d *Deps) Google(c *gin.Context) error {
	var req googleRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	sess, err := d.Accounts.GoogleSignIn(c.Request.Context(), store(c), req.IDToken, client(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, sessionView(sess), "Logged in")
	return nil
}

// Avatar is GET /api/users/{id}/avatar.svg: the generated avatar of an
// account (its initials on a colour of its id), served by AURA so that no
// name goes to an outside service. No token: browsers load it with <img>.
func (d *Deps) Avatar(c *gin.Context) error {
	a, err := d.Accounts.Avatar(c.Request.Context(), store(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Header("ETag", a.ETag)
	c.Header("Cache-Control", "private, max-age=0, must-revalidate")
	if match := c.GetHeader("If-None-Match"); match == a.ETag || match == "*" {
		c.Status(http.StatusNotModified)
		return nil
	}
	c.Data(http.StatusOK, "image/svg+xml", a.SVG)
	return nil
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// Refresh is POST /api/auth/refresh: rotates a refresh token.
func (d *Deps) Refresh(c *gin.Context) error {
	var req refreshRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	sess, err := d.Accounts.Refresh(c.Request.Context(), store(c), req.RefreshToken)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, tokenPair(sess), "")
	return nil
}

type logoutRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// Logout is POST /api/auth/logout: revokes the caller's session (and the one
// of refreshToken, if it is the caller's too).
func (d *Deps) Logout(c *gin.Context) error {
	var req logoutRequest
	if err := Bind(c, &req, true); err != nil {
		return err
	}
	if err := d.Accounts.Logout(c.Request.Context(), store(c), currentUser(c), currentClaims(c).Sid, req.RefreshToken); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, "Logged out")
	return nil
}

// Verify is GET /api/auth/verify: the claims of the caller's access token.
func (d *Deps) Verify(c *gin.Context) error {
	cl := currentClaims(c)
	OK(c, http.StatusOK, gin.H{
		"sub": cl.Subject, "user_id": cl.UserID, "email": cl.Email, "roles": cl.Roles,
		"iat": cl.IssuedAt.Unix(), "exp": cl.ExpiresAt.Unix(), "valid": true,
	}, "")
	return nil
}
