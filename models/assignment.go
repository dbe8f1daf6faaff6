package models

// Audit actions of a patient's doctor in a clinic (entity: the patient): a
// CLINIC_ADMIN of the clinic or an ADMIN assigns or unassigns the doctor
// who follows the patient there.
const (
	AuditPatientAssign   = "patient.assign"
	AuditPatientUnassign = "patient.unassign"
)
