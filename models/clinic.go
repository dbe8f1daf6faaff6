package models

import (
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Clinic statuses: an application is pending until an admin approves
// (active) or rejects it; an active clinic may be suspended and reactivated.
const (
	ClinicPending   = "pending"
	ClinicActive    = "active"
	ClinicSuspended = "suspended"
	ClinicRejected  = "rejected"
)

// ClinicStatuses lists every clinic status.
var ClinicStatuses = []string{ClinicPending, ClinicActive, ClinicSuspended, ClinicRejected}

// Clinic is a place patients send screenings to and staff belong to.
type Clinic struct {
	ID   string `gorm:"type:varchar(36);primaryKey"`
	Name string `gorm:"type:varchar(200);not null"`
	// NameKey is the name folded (NFKC, Unicode case folding): unique, so
	// "PHÒNG KHÁM" and "Phòng khám" are one name.
	NameKey string  `gorm:"type:varchar(800);not null;uniqueIndex"`
	Address *string `gorm:"type:varchar(500)"`
	Phone   *string `gorm:"type:varchar(100)"`
	// LicenseNo is the clinic's operating licence; LicenseKey, its folded
	// form, is unique (NULL for clinics an admin created without one).
	LicenseNo  *string `gorm:"type:varchar(100)"`
	LicenseKey *string `gorm:"type:varchar(400);uniqueIndex"`
	// Status is one of ClinicStatuses; clinics made before applications
	// existed are active.
	Status       string  `gorm:"type:varchar(12);not null;default:'active';index"`
	StatusReason *string `gorm:"type:varchar(500)"`
	// ApplicantID is the account that applied (nil for clinics an admin made).
	ApplicantID *string `gorm:"type:varchar(36);index"`
	Note        *string `gorm:"type:varchar(1000)"`
	ApprovedAt  *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Active says whether the clinic takes new screenings and reviews.
func (c *Clinic) Active() bool { return c.Status == ClinicActive }

// FoldKey is the comparison form of a name or number typed by a person:
// NFKC-normalised, trimmed, Unicode case-folded.
func FoldKey(s string) string {
	return cases.Fold().String(norm.NFKC.String(strings.TrimSpace(s)))
}

// Doctor is the doctor profile of a DOCTOR account: one license number,
// unique across doctors, and the clinics the doctor belongs to.
type Doctor struct {
	UserID    string `gorm:"type:varchar(36);primaryKey"`
	LicenseNo string `gorm:"type:varchar(100);not null"`
	// LicenseKey is LicenseNo folded, unique.
	LicenseKey     string  `gorm:"type:varchar(400);not null;uniqueIndex"`
	Specialization *string `gorm:"type:varchar(200)"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
	User           *User `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`

	// Clinics is filled by repositories that load it.
	Clinics []Clinic `gorm:"-"`
}

// ClinicMember is one role an account holds in a clinic (one of
// ClinicRoles); an account may hold several roles in one clinic. It replaced
// the doctors-only clinic_doctors table, whose rows migrate as DOCTOR.
type ClinicMember struct {
	ClinicID  string    `gorm:"type:varchar(36);primaryKey"`
	UserID    string    `gorm:"type:varchar(36);primaryKey;index"`
	Role      string    `gorm:"type:varchar(20);primaryKey"`
	CreatedAt time.Time `gorm:"not null"`
	Clinic    *Clinic   `gorm:"foreignKey:ClinicID;constraint:OnDelete:CASCADE"`
	User      *User     `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}
