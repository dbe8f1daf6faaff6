package models

import "time"

// OutboxMessage is an email waiting to leave, written in the same transaction
// as the change it announces. A sender claims due rows, sends and marks them.
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
}

// TableName keeps the table name short and stable.
func (OutboxMessage) TableName() string { return "outbox" }
