package models

import "time"

// Alert kinds.
const (
	// AlertHighRisk: a result rated high or critical.
	AlertHighRisk = "HIGH_RISK"
	// AlertTrendChange: a result carrying a TREND_CHANGE finding (and not
	// rated high or critical, which is a HIGH_RISK alert).
	AlertTrendChange = "TREND_CHANGE"
)

// Alert statuses, in their order: open -> acknowledged -> resolved (or
// open -> resolved).
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)

// AlertStatuses lists the statuses of an alert.
var AlertStatuses = []string{AlertOpen, AlertAcknowledged, AlertResolved}

// Alert is a result a clinic must look at, opened in the transaction that
// records the result: at most one per screening.
type Alert struct {
	ID          string `gorm:"type:varchar(36);primaryKey"`
	ClinicID    string `gorm:"type:varchar(36);not null;index:idx_alerts_clinic,priority:1"`
	PatientID   string `gorm:"type:varchar(36);not null;index"`
	ScreeningID string `gorm:"type:varchar(36);not null;uniqueIndex"`
	Kind        string `gorm:"type:varchar(20);not null"`
	Level       string `gorm:"type:varchar(10);not null"`
	Status      string `gorm:"type:varchar(20);not null;index:idx_alerts_clinic,priority:2;index:idx_alerts_escalation,priority:1"`
	// CreatedAt orders a clinic's list (newest first) and starts the
	// escalation delay.
	CreatedAt      time.Time `gorm:"not null;index:idx_alerts_clinic,priority:3;index:idx_alerts_escalation,priority:3"`
	AcknowledgedBy *string   `gorm:"type:varchar(36)"`
	AcknowledgedAt *time.Time
	ResolvedBy     *string `gorm:"type:varchar(36)"`
	ResolvedAt     *time.Time
	// Note is the resolver's note (optional).
	Note *string `gorm:"type:varchar(1000)"`
	// EscalatedAt is set, once, by the instance that told the clinic's
	// admins the alert was still open after alerts.escalate_after.
	EscalatedAt *time.Time `gorm:"index:idx_alerts_escalation,priority:2"`

	Clinic    *Clinic    `gorm:"foreignKey:ClinicID;constraint:OnDelete:RESTRICT"`
	Patient   *Patient   `gorm:"foreignKey:PatientID;constraint:OnDelete:RESTRICT"`
	Screening *Screening `gorm:"foreignKey:ScreeningID;constraint:OnDelete:RESTRICT"`
}

// Notices and mails of alerts.
const (
	NoticeAlertOpened    = "ALERT_OPENED"
	NoticeAlertEscalated = "ALERT_ESCALATED"
	MailAlertOpened      = "alert_opened"
	MailAlertEscalated   = "alert_escalated"
)

// Audit actions of alerts.
const (
	AuditAlertList        = "alert.list"
	AuditAlertAcknowledge = "alert.acknowledge"
	AuditAlertResolve     = "alert.resolve"
	AuditTrendsRead       = "patient.trends.read"
	EntityAlert           = "alert"
)
