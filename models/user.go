package models

import "time"

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
