package models

import "time"

// DeviceTokenPrefix starts every device token, so that a device's token is
// told from a user's access token before any lookup.
const DeviceTokenPrefix = "aurad_"

// Device is a camera or PACS router a clinic registered to send DICOM
// objects (DICOMweb STOW-RS). Its token is shown once and stored hashed
// (security.HashToken); RevokedAt set means it no longer works. It sends
// as the clinic admin who registered it (CreatedByID).
type Device struct {
	ID          string     `gorm:"type:varchar(36);primaryKey"`
	ClinicID    string     `gorm:"type:varchar(36);not null;index"`
	Name        string     `gorm:"type:varchar(100);not null"`
	TokenHash   string     `gorm:"type:varchar(64);not null;uniqueIndex"`
	CreatedByID string     `gorm:"type:varchar(36);not null"`
	CreatedAt   time.Time  `gorm:"not null"`
	RevokedAt   *time.Time `gorm:""`
}

// Audit actions of a clinic's devices (entity: the device).
const (
	EntityDevice      = "device"
	AuditDeviceCreate = "device.create"
	AuditDeviceRevoke = "device.revoke"
)
