package models

import "time"

// Session is one login of one user on one client. Refresh tokens rotate within
// it; revoking it ends every token it issued.
type Session struct {
	ID         string     `gorm:"type:varchar(36);primaryKey"`
	UserID     string     `gorm:"type:varchar(36);not null;index"`
	CreatedAt  time.Time  `gorm:"not null"`
	LastUsedAt time.Time  `gorm:"not null"`
	ExpiresAt  time.Time  `gorm:"not null"`
	ClientIP   string     `gorm:"type:varchar(64);not null;default:''"`
	UserAgent  string     `gorm:"type:varchar(512);not null;default:''"`
	RevokedAt  *time.Time `gorm:"index"`
	User       *User      `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// RefreshToken is one issued refresh token, stored only as its SHA-256 hash.
// UsedAt is set when it is rotated; presenting it again is reuse.
type RefreshToken struct {
	TokenHash string    `gorm:"type:varchar(64);primaryKey"`
	SessionID string    `gorm:"type:varchar(36);not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
	Session   *Session `gorm:"foreignKey:SessionID;constraint:OnDelete:CASCADE"`
}
