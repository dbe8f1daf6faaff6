package models

import (
	"net/url"
	"strings"
	"time"
)

// User is an account. Column names are those of the first AURA backend so its
// database can be adopted in place; columns it lacked are nullable or defaulted.
type User struct {
	ID string `gorm:"type:varchar(36);primaryKey"`
	// Email is stored as typed (trimmed, NFKC); EmailNormalized is its unique,
	// lower-cased form.
	Email           string  `gorm:"type:varchar(255);not null;unique"`
	EmailNormalized *string `gorm:"type:varchar(255);uniqueIndex:idx_users_email_normalized"`
	PasswordHash    string  `gorm:"type:varchar(255);not null"`
	FullName        *string `gorm:"type:varchar(255)"`
	Phone           *string `gorm:"type:varchar(100)"`
	AvatarURL       *string `gorm:"type:varchar(255)"`
	// Booleans and times are nullable because the first backend made them so.
	// The explicit boolean type and the plain UNIQUE on email are the first
	// backend's own: with them AutoMigrate finds nothing to alter in its users
	// table (GORM's SQLite migrator would otherwise rebuild the table from a
	// misparsed copy of its DDL, and the PostgreSQL one would drop a unique
	// constraint by a name it never had).
	EmailVerified   bool `gorm:"type:boolean"`
	EmailVerifiedAt *time.Time
	IsActive        bool `gorm:"type:boolean"`
	CreatedAt       time.Time
	UpdatedAt       *time.Time
	// Lang is the language of the account's mail and notices (vi, en);
	// nil (accounts of the first backend) means the default.
	Lang *string `gorm:"type:varchar(5)"`
	// EraseAfter is when housekeeping erases the account's personal data,
	// set when its owner deletes it (DELETE /api/patients/me); nil: no
	// erasure pending. ErasedAt is when that was done; nil: never.
	EraseAfter *time.Time `gorm:"index"`
	ErasedAt   *time.Time

	// Roles is filled by repositories that load it; it is not a GORM association.
	Roles []Role `gorm:"-"`
}

// HasRole reports whether the user holds the named role.
func (u *User) HasRole(name string) bool {
	for _, r := range u.Roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// RoleNames lists the user's role names in ID order.
func (u *User) RoleNames() []string {
	names := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		names[i] = r.Name
	}
	return names
}

// outsideAvatarHost is the avatar service the first backend pointed every
// account's default avatar at, with the person's full name in the URL.
const outsideAvatarHost = "ui-avatars.com"

// IsOutsideAvatar reports whether raw is a URL of the outside avatar service
// (ui-avatars.com or a subdomain, any scheme or case): such a URL sends the
// name it carries to that service whenever a browser shows it, so AURA
// neither keeps nor accepts one.
func IsOutsideAvatar(raw string) bool {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "//") {
		s = "https:" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return strings.Contains(strings.ToLower(raw), outsideAvatarHost)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return host == outsideAvatarHost || strings.HasSuffix(host, "."+outsideAvatarHost)
}
