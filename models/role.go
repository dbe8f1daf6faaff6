package models

import "time"

// Role names, seeded by migration with fixed IDs.
const (
	RolePatient = "PATIENT"
	RoleDoctor  = "DOCTOR"
	RoleAdmin   = "ADMIN"
	// RoleClinicAdmin and RoleTechnician are held through a clinic
	// membership only (ClinicMember): an account holds the role itself while
	// it is a member of at least one clinic in that role.
	RoleClinicAdmin = "CLINIC_ADMIN"
	RoleTechnician  = "TECHNICIAN"
)

// ClinicRoles are the roles a clinic membership may carry.
var ClinicRoles = []string{RoleClinicAdmin, RoleDoctor, RoleTechnician}

// MembershipOnly reports whether role is held only through memberships
// (granted with the first, taken with the last). DOCTOR is not: a doctor
// keeps the role and licence between clinics.
func MembershipOnly(role string) bool { return role == RoleClinicAdmin || role == RoleTechnician }

// Role is a named permission set; rows are seeded, never created by clients.
type Role struct {
	ID   uint   `gorm:"primaryKey;autoIncrement:false"`
	Name string `gorm:"type:varchar(32);not null;uniqueIndex"`
}

// SeedRoles are the roles every database has.
var SeedRoles = []Role{{ID: 1, Name: RolePatient}, {ID: 2, Name: RoleDoctor}, {ID: 3, Name: RoleAdmin},
	{ID: 4, Name: RoleClinicAdmin}, {ID: 5, Name: RoleTechnician}}

// UserRole links a user to a role (many-to-many).
type UserRole struct {
	UserID    string    `gorm:"type:varchar(36);primaryKey"`
	RoleID    uint      `gorm:"primaryKey;index"`
	CreatedAt time.Time `gorm:"not null"`
	User      *User     `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
	Role      *Role     `gorm:"foreignKey:RoleID;constraint:OnDelete:RESTRICT"`
}
