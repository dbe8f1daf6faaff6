package policy

import (
	"slices"

	"aura/models"
	"aura/repositories"
)

// Permission names one thing a role may do. The names are served at
// GET /api/roles; clients may show or hide actions by them.
type Permission = string

// The permissions. A clinic permission (Clinic reports true) is held in a
// clinic: the caller needs a role that carries it in that clinic (a
// membership), or ADMIN.
const (
	// Accounts and the admin's console.
	PermAdminConsole    Permission = "admin.console"
	PermUsersManage     Permission = "users.manage"
	PermAuditRead       Permission = "audit.read"
	PermProfileManage   Permission = "analysis-profile.manage"
	PermTemplatesManage Permission = "templates.manage"
	PermClinicsManage   Permission = "clinics.manage"
	PermClinicsReview   Permission = "clinics.review"
	PermDoctorsAttach   Permission = "doctors.attach"
	PermClinicsApply    Permission = "clinics.apply"
	PermDoctorProfile   Permission = "doctors.profile"
	PermDoctorsPatients Permission = "doctors.patients"
	// Statistics: a doctor's own, and all clinics' (the admin's). A
	// clinic's statistics are clinics.administer.
	PermStatsOwn Permission = "stats.own"
	PermStatsAll Permission = "stats.all"
	// The research export: pseudonymised results of consenting patients.
	PermResearchExport Permission = "exports.research"

	// A patient's own data.
	PermOwnProfile    Permission = "patients.own"
	PermOwnScreenings Permission = "screenings.own"
	// PermOwnConversations: a patient's conversations with the clinics
	// they have a screening at or are enrolled in.
	PermOwnConversations Permission = "conversations.own"

	// Held in a clinic.
	PermStaffRead         Permission = "staff.read"
	PermStaffInvite       Permission = "staff.invite"
	PermStaffRemove       Permission = "staff.remove"
	PermPatientsEnrol     Permission = "patients.enrol"
	PermPatientsList      Permission = "patients.list"
	PermPatientsRead      Permission = "patients.read"
	PermPatientsAssign    Permission = "patients.assign"
	PermPatientsInvite    Permission = "patients.invite"
	PermScreeningsUpload  Permission = "screenings.upload"
	PermScreeningsIntake  Permission = "screenings.intake"
	PermScreeningsResults Permission = "screenings.results"
	PermScreeningsReview  Permission = "screenings.review"
	PermClinicsAdminister Permission = "clinics.administer"
	// PermAlertsRead lists a clinic's alerts; PermAlertsManage acknowledges
	// and resolves them.
	PermAlertsRead   Permission = "alerts.read"
	PermAlertsManage Permission = "alerts.manage"
	// PermBatches is the work with a clinic's batches: make, fill, close,
	// follow and list them.
	PermBatches Permission = "batches.manage"
	// PermConversations: to open, read and write the clinic's conversations
	// with its patients (DOCTOR and CLINIC_ADMIN; not TECHNICIAN, not ADMIN
	// as such).
	PermConversations Permission = "conversations.clinic"
)

// clinicPermissions are the permissions held per clinic.
var clinicPermissions = []Permission{
	PermStaffRead, PermStaffInvite, PermStaffRemove, PermPatientsEnrol, PermPatientsList, PermPatientsRead,
	PermPatientsAssign, PermPatientsInvite, PermScreeningsUpload, PermScreeningsIntake, PermScreeningsResults,
	PermScreeningsReview, PermClinicsAdminister, PermAlertsRead, PermAlertsManage, PermBatches, PermConversations,
}

// Clinic reports whether p is held per clinic.
func Clinic(p Permission) bool { return slices.Contains(clinicPermissions, p) }

// table is the one permission table: every role and what it may do. Every
// check of who may do what reads it (Can, CanIn); GET /api/roles serves it.
var table = []struct {
	role  string
	perms []Permission
}{
	{models.RolePatient, []Permission{PermOwnProfile, PermOwnScreenings, PermClinicsApply, PermOwnConversations}},
	{models.RoleDoctor, []Permission{PermDoctorProfile, PermDoctorsPatients, PermStatsOwn, PermClinicsApply,
		PermStaffRead, PermPatientsEnrol, PermPatientsList, PermPatientsRead, PermPatientsInvite,
		PermScreeningsUpload, PermScreeningsIntake, PermScreeningsResults, PermScreeningsReview,
		PermAlertsRead, PermAlertsManage, PermBatches, PermConversations}},
	{models.RoleClinicAdmin, []Permission{PermClinicsApply,
		PermStaffRead, PermStaffInvite, PermStaffRemove, PermPatientsEnrol, PermPatientsList, PermPatientsRead,
		PermPatientsAssign, PermPatientsInvite, PermScreeningsUpload, PermScreeningsIntake, PermScreeningsResults,
		PermClinicsAdminister, PermAlertsRead, PermAlertsManage, PermBatches, PermConversations}},
	{models.RoleTechnician, []Permission{PermClinicsApply,
		PermStaffRead, PermPatientsEnrol, PermPatientsInvite, PermScreeningsUpload, PermScreeningsIntake, PermBatches}},
	{models.RoleAdmin, []Permission{PermAdminConsole, PermUsersManage, PermAuditRead, PermProfileManage, PermTemplatesManage, PermClinicsManage,
		PermClinicsReview, PermDoctorsAttach, PermStatsAll, PermResearchExport, PermClinicsApply,
		PermStaffRead, PermStaffInvite, PermStaffRemove, PermPatientsEnrol, PermPatientsList, PermPatientsRead,
		PermPatientsAssign, PermPatientsInvite, PermScreeningsUpload, PermScreeningsIntake, PermScreeningsResults,
		PermClinicsAdminister, PermAlertsRead, PermAlertsManage, PermBatches}},
}

// RolePermissions is one row of the table.
type RolePermissions struct {
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

// Table returns the permission table, roles in the order above.
func Table() []RolePermissions {
	out := make([]RolePermissions, len(table))
	for i, r := range table {
		out[i] = RolePermissions{Role: r.role, Permissions: slices.Clone(r.perms)}
	}
	return out
}

// Allows reports whether role carries p.
func Allows(role string, p Permission) bool {
	for _, r := range table {
		if r.role == role {
			return slices.Contains(r.perms, p)
		}
	}
	return false
}

// Can answers FORBIDDEN unless one of the actor's roles carries p: the
// endpoint is never for the others, whatever the record. For a clinic
// permission it says only that the actor may do it in some clinic; CanIn
// says in which.
func Can(a models.Actor, p Permission) error {
	for _, r := range a.Roles {
		if Allows(r, p) {
			return nil
		}
	}
	return models.ErrForbidden
}

// CanIn answers nil when the actor may do p in clinicID: ADMIN (who holds
// every clinic permission everywhere) or a member of the clinic in a role
// that carries p and that the account still holds. FORBIDDEN when none of
// the actor's roles ever carries p; NOT_FOUND when they do but not in this
// clinic (its insides are as hidden as a missing clinic's).
func CanIn(st *repositories.Store, a models.Actor, clinicID string, p Permission) error {
	if err := Can(a, p); err != nil {
		return err
	}
	if a.Has(models.RoleAdmin) && Allows(models.RoleAdmin, p) {
		return nil
	}
	roles, err := st.Members.RolesIn(clinicID, a.UserID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if a.Has(r) && Allows(r, p) {
			return nil
		}
	}
	return models.ErrNotFound
}
