package models

import "time"

// Sexes a patient profile may record.
var Sexes = []string{"female", "male", "other"}

// Patient is the profile of a PATIENT account, made on first use.
type Patient struct {
	UserID string `gorm:"type:varchar(36);primaryKey"`
	// PatientCode is given by AURA: unique, short, readable aloud, random.
	PatientCode string `gorm:"type:varchar(20);not null;uniqueIndex"`
	// DateOfBirth is a calendar day, YYYY-MM-DD.
	DateOfBirth       *string `gorm:"type:varchar(10)"`
	Sex               *string `gorm:"type:varchar(10)"`
	Diabetes          *bool   `gorm:"type:boolean"`
	DiabetesSinceYear *int
	Hypertension      *bool   `gorm:"type:boolean"`
	HistoryNotes      *string `gorm:"type:text"`
	CreatedAt         time.Time
	UpdatedAt         time.Time
	User              *User `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`

	// FullName is the account's name, filled by repositories that join it.
	FullName string `gorm:"-"`
}
