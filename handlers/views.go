package handlers

import (
	"time"

	"aura/models"
	"aura/services/accounts"
)

// UserView is the User object of the contract.
type UserView struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	FullName      string    `json:"fullName"`
	Phone         *string   `json:"phone"`
	Avatar        string    `json:"avatar"`
	EmailVerified bool      `json:"emailVerified"`
	IsActive      bool      `json:"isActive"`
	CreatedAt     Timestamp `json:"createdAt"`
	// Language is the language of the account's mail and notices ("" when
	// the account has none: the default applies).
	Language string     `json:"language"`
	Roles    []RoleView `json:"roles,omitempty"`
}

// RoleView is the Role object of the contract.
type RoleView struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
}

// SessionView is returned by register and login.
type SessionView struct {
	TokenPair
	User  UserView   `json:"user"`
	Roles []RoleView `json:"roles"`
}

// TokenPair is returned by refresh (and embedded in SessionView).
type TokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int64  `json:"expiresIn"`
}

func roleViews(u *models.User) []RoleView {
	out := make([]RoleView, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = RoleView{ID: r.ID, Name: r.Name}
	}
	return out
}

// userView renders u; withRoles adds its roles.
func userView(u *models.User, withRoles bool) UserView {
	v := UserView{
		ID: u.ID, Email: u.Email, FullName: accounts.DisplayName(u), Phone: u.Phone,
		EmailVerified: u.EmailVerified, IsActive: u.IsActive, CreatedAt: ts(u.CreatedAt),
	}
	if u.Lang != nil {
		v.Language = *u.Lang
	}
	if u.AvatarURL != nil && *u.AvatarURL != "" {
		v.Avatar = *u.AvatarURL
	} else {
		v.Avatar = accounts.DefaultAvatarPath(u.ID)
	}
	if withRoles {
		v.Roles = roleViews(u)
	}
	return v
}

func sessionView(s *accounts.Session) *SessionView {
	return &SessionView{TokenPair: tokenPair(s), User: userView(s.User, false), Roles: roleViews(s.User)}
}

func tokenPair(s *accounts.Session) TokenPair {
	return TokenPair{AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, TokenType: "Bearer",
		ExpiresIn: int64(s.ExpiresIn / time.Second)}
}
