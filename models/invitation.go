package models

import "time"

// Invitation statuses. Only pending, accepted and revoked are stored;
// expired is a pending invitation whose expiry has passed (StatusAt).
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// InvitationStatuses lists every status an invitation is shown with.
var InvitationStatuses = []string{InvitationPending, InvitationAccepted, InvitationRevoked, InvitationExpired}

// InvitationTTL is how long an invitation's link works.
const InvitationTTL = 72 * time.Hour

// Invitation is an emailed, single-use link that joins its addressee to a
// clinic in a role (a staff invitation: ClinicID and Role set), to a
// patient record of a clinic (Role PATIENT, PatientID set), or that lets
// the owner of an account an admin made set its first password (an account
// invitation: no clinic, Role empty). Only the SHA-256 of the token is kept.
type Invitation struct {
	ID       string  `gorm:"type:varchar(36);primaryKey"`
	ClinicID *string `gorm:"type:varchar(36);index:idx_invitations_clinic,priority:1"`
	// Email is the address as typed (trimmed, NFKC); EmailKey its
	// lower-cased form, compared with the accounts' normalised emails.
	Email    string `gorm:"type:varchar(255);not null"`
	EmailKey string `gorm:"type:varchar(255);not null;index"`
	// Role is DOCTOR, CLINIC_ADMIN, TECHNICIAN or PATIENT; "" for an
	// account invitation.
	Role string `gorm:"type:varchar(20);not null;default:''"`
	// LicenseNo and Specialization are a DOCTOR invitation's: the doctor
	// profile the account gets on acceptance. LicenseKey is LicenseNo folded.
	LicenseNo      *string `gorm:"type:varchar(100)"`
	LicenseKey     *string `gorm:"type:varchar(400);index"`
	Specialization *string `gorm:"type:varchar(200)"`
	// PatientID is the clinic's patient record a PATIENT invitation joins
	// to the accepting account.
	PatientID *string `gorm:"type:varchar(36);index"`
	TokenHash string  `gorm:"type:varchar(64);not null;uniqueIndex"`
	// Status is pending, accepted or revoked (see StatusAt for expired).
	Status     string    `gorm:"type:varchar(12);not null;index:idx_invitations_clinic,priority:2"`
	ExpiresAt  time.Time `gorm:"not null"`
	InvitedBy  *string   `gorm:"type:varchar(36)"`
	AcceptedBy *string   `gorm:"type:varchar(36)"`
	AcceptedAt *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time `gorm:"not null"`
	Clinic     *Clinic   `gorm:"foreignKey:ClinicID;constraint:OnDelete:CASCADE"`
}

// StatusAt is the invitation's status at now: a pending invitation past its
// expiry is expired.
func (i *Invitation) StatusAt(now time.Time) string {
	if i.Status == InvitationPending && !now.Before(i.ExpiresAt) {
		return InvitationExpired
	}
	return i.Status
}

// Live reports whether the invitation can still be accepted at now.
func (i *Invitation) Live(now time.Time) bool { return i.StatusAt(now) == InvitationPending }

// Audit actions of invitations (entity: the invitation) and of accounts an
// admin makes (entity: the user).
const (
	AuditInvitationCreate = "invitation.create"
	AuditInvitationRevoke = "invitation.revoke"
	AuditInvitationAccept = "invitation.accept"
	AuditUserCreate       = "user.create"

	EntityInvitation = "invitation"
)

// Mail kinds of invitations: to a clinic, and to set the first password of
// an account an admin made.
const (
	MailInvitation        = "invitation"
	MailAccountInvitation = "account_invitation"
)
