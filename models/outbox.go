package models

import "time"

// Kinds of OutboxMessage.
const (
	MailVerifyEmail     = "verify_email"
	MailResetPassword   = "reset_password"
	MailPasswordChanged = "password_changed"
	// MailScreeningReviewed tells a patient a doctor reviewed their
	// screening (no medical detail: the result is read in the app).
	MailScreeningReviewed = "screening_reviewed"
	// A clinic's life cycle, as the notices of the same names (the reason
	// of a rejection or suspension is the admin's text, quoted).
	MailClinicApproved  = "clinic_approved"
	MailClinicRejected  = "clinic_rejected"
	MailClinicSuspended = "clinic_suspended"
)

// OutboxMessage is an email waiting to leave, written in the same transaction
// as the change it announces. A sender claims due rows (LockedBy, LockedUntil:
// a lease, so a row abandoned by a crash is claimed again once it expires),
// sends them, marks them sent and blanks the bodies: a queued message is the
// only place a raw token exists, and only until it is sent.
type OutboxMessage struct {
	ID            uint64     `gorm:"primaryKey;autoIncrement"`
	Kind          string     `gorm:"type:varchar(32);not null"`
	Recipient     string     `gorm:"type:varchar(255);not null"`
	Subject       string     `gorm:"type:varchar(255);not null"`
	TextBody      string     `gorm:"type:text;not null"`
	HTMLBody      string     `gorm:"type:text;not null"`
	CreatedAt     time.Time  `gorm:"not null"`
	NextAttemptAt time.Time  `gorm:"not null;index:idx_outbox_due,priority:2"`
	SentAt        *time.Time `gorm:"index:idx_outbox_due,priority:1"`
	LockedUntil   *time.Time
	LockedBy      string `gorm:"type:varchar(64);not null;default:''"`
	Attempts      int    `gorm:"not null;default:0"`
	LastError     string `gorm:"type:varchar(1024);not null;default:''"`
	// DiscardAfter is when the message stops being worth sending (the expiry
	// of the token its link carries); nil for notices, which never go stale.
	DiscardAfter *time.Time
	// DroppedAt is set, and the bodies blanked, when a message is given up
	// because DiscardAfter passed before it could be sent.
	DroppedAt *time.Time
	// Use is what the built-in text was made from, for an edited template
	// to be applied when the row is written; not stored.
	Use *TextUse `gorm:"-"`
}

// TableName keeps the table name short and stable.
func (OutboxMessage) TableName() string { return "outbox" }
