package models

import "time"

// RateLimit is a fixed-window counter shared by every instance through the
// database: login failures per account and per address, mail per recipient.
type RateLimit struct {
	Key     string    `gorm:"column:bucket;type:varchar(255);primaryKey"`
	Count   int       `gorm:"column:hits;not null"`
	ResetAt time.Time `gorm:"not null;index"`
}

// All lists every model in dependency order (parents first): the order
// AutoMigrate creates them and a copy fills them.
func All() []any {
	return []any{&User{}, &Role{}, &UserRole{}, &Session{}, &RefreshToken{}, &ActionToken{}, &OutboxMessage{}, &RateLimit{},
		&Clinic{}, &Doctor{}, &ClinicMember{}, &Patient{}, &ClinicPatient{}, &Screening{}, &AuditLog{}, &Job{}, &Notification{}, &AnalysisProfile{},
		&Invitation{}, &Device{}, &Wallet{}, &CreditEntry{}, &CreditLot{}, &Package{}, &Order{}, &MessageTemplate{}, &Alert{}, &Batch{},
		&Conversation{}, &Message{}, &ConversationRead{}, &MessageMail{}, &Event{}, &EventTicket{}}
}
