package models

// Audit actions of a patient's own account: the export of everything AURA
// holds about them, the deletion they ask for (on the account), and its
// erasure by housekeeping once the grace period is over (no actor).
const (
	AuditPatientExport = "patient.export"
	AuditPatientDelete = "patient.delete"
	AuditPatientErase  = "patient.erase"
)

// ErasedEmailDomain is the domain of the placeholder email an erased
// account is left with: "erased-<account id>@erased.invalid", unique as the
// id is, and never deliverable (.invalid is reserved, RFC 2606).
const ErasedEmailDomain = "erased.invalid"

// ErasedEmail is the placeholder email of the erased account id.
func ErasedEmail(id string) string { return "erased-" + id + "@" + ErasedEmailDomain }
