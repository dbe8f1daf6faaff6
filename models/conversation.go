package models

import "time"

// Conversation is the one thread between a patient record and a clinic
// (unique per pair): the patient and the clinic's DOCTORs and CLINIC_ADMINs
// write in it. LastActivityAt is the time of its latest message (its
// creation before any), what lists sort on.
type Conversation struct {
	ID             string    `gorm:"type:varchar(36);primaryKey"`
	ClinicID       string    `gorm:"type:varchar(36);not null;uniqueIndex:idx_conversations_pair,priority:1;index:idx_conversations_clinic_activity,priority:1"`
	PatientID      string    `gorm:"type:varchar(36);not null;uniqueIndex:idx_conversations_pair,priority:2;index"`
	CreatedAt      time.Time `gorm:"not null"`
	LastActivityAt time.Time `gorm:"not null;index:idx_conversations_clinic_activity,priority:2"`
	Clinic         *Clinic   `gorm:"foreignKey:ClinicID;constraint:OnDelete:CASCADE"`
	Patient        *Patient  `gorm:"foreignKey:PatientID;constraint:OnDelete:CASCADE"`
}

// Message is one message of a conversation. IDs are UUIDv7, so that within
// one CreatedAt they still sort in the order they were written. SenderRole
// is the role the sender wrote under (PATIENT, DOCTOR or CLINIC_ADMIN).
type Message struct {
	ID             string        `gorm:"type:varchar(36);primaryKey"`
	ConversationID string        `gorm:"type:varchar(36);not null;index:idx_messages_conversation,priority:1"`
	SenderID       string        `gorm:"type:varchar(36);not null;index"`
	SenderRole     string        `gorm:"type:varchar(20);not null"`
	Body           string        `gorm:"type:text;not null"`
	ScreeningID    *string       `gorm:"type:varchar(36);index"`
	CreatedAt      time.Time     `gorm:"not null;index:idx_messages_conversation,priority:2"`
	Conversation   *Conversation `gorm:"foreignKey:ConversationID;constraint:OnDelete:CASCADE"`

	// SenderName is the sender's name, filled by repositories.
	SenderName string `gorm:"-"`
}

// ConversationRead is how far one participant has read a conversation: every
// message up to (ReadAt, ReadID) in the conversation's order is read.
type ConversationRead struct {
	ConversationID string        `gorm:"type:varchar(36);primaryKey"`
	UserID         string        `gorm:"type:varchar(36);primaryKey;index"`
	ReadAt         time.Time     `gorm:"not null"`
	ReadID         string        `gorm:"type:varchar(36);not null"`
	Conversation   *Conversation `gorm:"foreignKey:ConversationID;constraint:OnDelete:CASCADE"`
}

// MessageMail is one recipient of a message who gets an email if the
// message is still unread at DueAt (messages.email_after after it was
// sent). The row is deleted when the email is queued or found needless (in
// the transaction that queues it), so it is considered once.
type MessageMail struct {
	MessageID string    `gorm:"type:varchar(36);primaryKey"`
	UserID    string    `gorm:"type:varchar(36);primaryKey"`
	DueAt     time.Time `gorm:"not null;index"`
	Message   *Message  `gorm:"foreignKey:MessageID;constraint:OnDelete:CASCADE"`
}

// Notice and mail kinds of conversations.
const (
	NoticeMessageReceived = "MESSAGE_RECEIVED"
	MailMessageReceived   = "message_received"
)

// Audit action of a staff member reading a conversation's messages.
const (
	AuditMessagesRead  = "conversation.messages.read"
	EntityConversation = "conversation"
)

// Event is one live update for one user (GET /api/events), kept for the
// replay window so a reconnect can catch up: ID increases in the order the
// events were committed.
type Event struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement;index:idx_events_user,priority:2"`
	UserID    string    `gorm:"type:varchar(36);not null;index:idx_events_user,priority:1"`
	Kind      string    `gorm:"type:varchar(20);not null"`
	Data      string    `gorm:"type:text;not null"`
	CreatedAt time.Time `gorm:"not null;index"`
}

// Kinds of Event.
const (
	EventNotification = "notification"
	EventScreening    = "screening"
	EventMessage      = "message"
	EventAlert        = "alert"
)

// EventTicket lets an EventSource (which cannot send headers) open GET
// /api/events once: the SHA-256 of the ticket is stored, never the ticket.
type EventTicket struct {
	Hash      string    `gorm:"type:varchar(64);primaryKey"`
	UserID    string    `gorm:"type:varchar(36);not null"`
	SessionID string    `gorm:"type:varchar(36);not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	UsedAt    *time.Time
}
