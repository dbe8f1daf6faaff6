package models

import "time"

// Purposes of an ActionToken.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposeResetPassword = "reset_password"
)

// ActionToken is a single-use emailed token (email verification, password
// reset), stored only as its SHA-256 hash.
type ActionToken struct {
	ID        string     `gorm:"type:varchar(36);primaryKey"`
	UserID    string     `gorm:"type:varchar(36);not null;index:idx_action_tokens_user_purpose"`
	Purpose   string     `gorm:"type:varchar(32);not null;index:idx_action_tokens_user_purpose"`
	TokenHash string     `gorm:"type:varchar(64);not null;uniqueIndex"`
	CreatedAt time.Time  `gorm:"not null"`
	ExpiresAt time.Time  `gorm:"not null"`
	UsedAt    *time.Time // set when consumed or superseded
	User      *User      `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}
