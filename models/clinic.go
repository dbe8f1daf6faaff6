package models

import (
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Clinic is a place patients send screenings to and doctors belong to.
type Clinic struct {
	ID   string `gorm:"type:varchar(36);primaryKey"`
	Name string `gorm:"type:varchar(200);not null"`
	// NameKey is the name folded (NFKC, Unicode case folding): unique, so
	// "PHÒNG KHÁM" and "Phòng khám" are one name.
	NameKey   string  `gorm:"type:varchar(800);not null;uniqueIndex"`
	Address   *string `gorm:"type:varchar(500)"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

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

// ClinicDoctor is a doctor's membership of a clinic.
type ClinicDoctor struct {
	ClinicID  string    `gorm:"type:varchar(36);primaryKey"`
	UserID    string    `gorm:"type:varchar(36);primaryKey;index"`
	CreatedAt time.Time `gorm:"not null"`
	Clinic    *Clinic   `gorm:"foreignKey:ClinicID;constraint:OnDelete:CASCADE"`
	User      *User     `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}
