package models

import "time"

// Role names, seeded by migration with fixed IDs.
const (
	RolePatient = "PATIENT"
	RoleDoctor  = "DOCTOR"
	RoleAdmin   = "ADMIN"
)

// Role is a named permission set; rows are seeded, never created by clients.
type Role struct {
	ID   uint   `gorm:"primaryKey;autoIncrement:false"`
	Name string `gorm:"type:varchar(32);not null;uniqueIndex"`
}

// SeedRoles are the roles every database has.
var SeedRoles = []Role{{ID: 1, Name: RolePatient}, {ID: 2, Name: RoleDoctor}, {ID: 3, Name: RoleAdmin}}

// UserRole links a user to a role (many-to-many).
type UserRole struct {
	UserID    string    `gorm:"type:varchar(36);primaryKey"`
	RoleID    uint      `gorm:"primaryKey;index"`
	CreatedAt time.Time `gorm:"not null"`
	User      *User     `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
	Role      *Role     `gorm:"foreignKey:RoleID;constraint:OnDelete:RESTRICT"`
}
