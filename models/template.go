package models

import "time"

// Audit actions and entity of the mail and notice templates.
const (
	AuditTemplateUpdate = "template.update"
	AuditTemplateReset  = "template.reset"
	EntityTemplate      = "template"
)

// MessageTemplate is an admin's edit of one mail or notice text (kind,
// channel email or notice, language): Go text/template sources that replace
// the built-in text from the next message on. No row: the built-in text.
type MessageTemplate struct {
	Kind      string    `gorm:"type:varchar(64);primaryKey"`
	Channel   string    `gorm:"type:varchar(16);primaryKey"`
	Lang      string    `gorm:"type:varchar(8);primaryKey"`
	Subject   string    `gorm:"type:varchar(1000);not null"`
	Body      string    `gorm:"type:text;not null"`
	UpdatedAt time.Time `gorm:"not null"`
	UpdatedBy *string   `gorm:"type:varchar(36)"`
}

// TableName keeps the table name short and stable.
func (MessageTemplate) TableName() string { return "message_templates" }

// TextUse is what a mail's or a notice's text was made from: its kind, its
// language and the values of its variables. It is not stored: the row that
// carries it is rendered again with an admin's edited template, if there is
// one, where it is written (repositories.Outbox.Enqueue, Notifications.Add).
type TextUse struct {
	Kind string
	Lang string
	Vars map[string]string
}
