package models

import "time"

// Audit actions and entity types.
const (
	AuditClinicCreate   = "clinic.create"
	AuditClinicUpdate   = "clinic.update"
	AuditDoctorAttach   = "doctor.attach"
	AuditDoctorDetach   = "doctor.detach"
	AuditPatientRead    = "patient.read"
	AuditPatientUpdate  = "patient.update"
	AuditUserRoles      = "user.roles"
	AuditUserActive     = "user.active"
	AuditScreeningRead  = "screening.read"
	AuditScreeningList  = "screening.list"
	AuditImageRead      = "screening.image.read"
	AuditVesselsRead    = "screening.vessels.read"
	AuditOverlayRead    = "screening.overlay.read"
	AuditReportRead     = "screening.report.read"
	AuditUpload         = "screening.create"
	AuditClaim          = "screening.claim"
	AuditRelease        = "screening.release"
	AuditReview         = "screening.review"
	AuditAnalyzed       = "screening.analyzed"
	AuditAnalysisFailed = "screening.failed"
	AuditProfileUpdate  = "analysis_profile.update"

	EntityClinic    = "clinic"
	EntityDoctor    = "doctor"
	EntityPatient   = "patient"
	EntityUser      = "user"
	EntityScreening = "screening"
	EntityProfile   = "analysis_profile"
)

// AuditLog is one append-only row of the audit trail: who did what to which
// record, from where. Nothing updates or deletes these rows.
type AuditLog struct {
	ID         uint64    `gorm:"primaryKey;autoIncrement"`
	At         time.Time `gorm:"not null;index:idx_audit_at;index:idx_audit_actor,priority:2;index:idx_audit_action,priority:2;index:idx_audit_entity,priority:3"`
	ActorID    *string   `gorm:"type:varchar(36);index:idx_audit_actor,priority:1"`
	ActorRole  *string   `gorm:"type:varchar(16)"`
	Action     string    `gorm:"type:varchar(48);not null;index:idx_audit_action,priority:1"`
	EntityType string    `gorm:"type:varchar(32);not null;index:idx_audit_entity,priority:1"`
	EntityID   string    `gorm:"type:varchar(64);not null;index:idx_audit_entity,priority:2"`
	IP         *string   `gorm:"type:varchar(64)"`
	RequestID  *string   `gorm:"type:varchar(128)"`
}

// TableName keeps the contract's name.
func (AuditLog) TableName() string { return "audit_logs" }

// Actor is who acts on the clinic's data: a signed-in user with the roles
// they hold now, and where the request came from. A background worker acts
// as the zero Actor (no user, no address, no request).
type Actor struct {
	UserID    string
	Roles     []string
	IP        string
	RequestID string
}

// Has reports whether the actor holds role.
func (a Actor) Has(role string) bool {
	for _, r := range a.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Audit actions of a clinic's life cycle (entity: the clinic).
const (
	AuditClinicApply      = "clinic.apply"
	AuditClinicApprove    = "clinic.approve"
	AuditClinicReject     = "clinic.reject"
	AuditClinicSuspend    = "clinic.suspend"
	AuditClinicReactivate = "clinic.reactivate"
)

// Audit action of a clinic's staff: a membership ended by a CLINIC_ADMIN of
// the clinic or an ADMIN (one row on the clinic, one on the account).
const AuditStaffRemove = "staff.remove"

// Audit actions of a clinic's patients: an enrolment (entity: the patient)
// and a read of the clinic's patient list (entity: the clinic).
const (
	AuditPatientEnrol = "patient.enrol"
	AuditPatientList  = "patient.list"
)
