package repositories

import (
	"aura/models"
)

// StaffRow is one membership of a clinic as its staff list shows it: the
// account, the role, and the doctor's licence number (DOCTOR only).
type StaffRow struct {
	UserID    string
	FullName  *string
	Email     string
	Role      string
	LicenseNo *string
}

// Staff lists the memberships of clinicID that count (the account still
// holds the role), one row per membership role: CLINIC_ADMIN, then DOCTOR,
// then TECHNICIAN, each by email, then user id.
func (r *Members) Staff(clinicID string) ([]StaffRow, error) {
	out := []StaffRow{}
	err := r.db.Raw(`SELECT cm.user_id, u.full_name, u.email, cm.role,
			CASE WHEN cm.role = ? THEN d.license_no END AS license_no
		FROM clinic_members cm
		JOIN users u ON u.id = cm.user_id
		JOIN user_roles ur ON ur.user_id = cm.user_id
		JOIN roles ro ON ro.id = ur.role_id AND ro.name = cm.role
		LEFT JOIN doctors d ON d.user_id = cm.user_id
		WHERE cm.clinic_id = ?
		ORDER BY CASE cm.role WHEN ? THEN 0 WHEN ? THEN 1 ELSE 2 END, u.email, cm.user_id`,
		models.RoleDoctor, clinicID, models.RoleClinicAdmin, models.RoleDoctor).Scan(&out).Error
	return out, translate(err)
}

// CountActiveOthers is how many active accounts other than userID hold
// role in clinicID.
func (r *Members) CountActiveOthers(clinicID, role, userID string) (int64, error) {
	var n int64
	err := r.db.Raw(`SELECT COUNT(*) FROM clinic_members cm JOIN users u ON u.id = cm.user_id
		WHERE cm.clinic_id = ? AND cm.role = ? AND cm.user_id <> ? AND u.is_active = ?`,
		clinicID, role, userID, true).Scan(&n).Error
	return n, translate(err)
}

// Lock serialises the transactions that change clinicID's memberships
// under a rule about the ones left (the last CLINIC_ADMIN stays): on
// PostgreSQL it locks the clinic's row until the transaction ends (SQLite
// transactions are already serialised by BEGIN IMMEDIATE). Unknown clinic:
// models.ErrNotFound. Call it inside Store.Tx before reading what is left.
func (r *Clinics) Lock(clinicID string) error {
	var ids []string
	q := "SELECT id FROM clinics WHERE id = ?"
	if r.db.Dialector.Name() == "postgres" {
		q += " FOR UPDATE"
	}
	if err := r.db.Raw(q, clinicID).Scan(&ids).Error; err != nil {
		return translate(err)
	}
	if len(ids) == 0 {
		return models.ErrNotFound
	}
	return nil
}

// Membership is one clinic role an account holds.
type Membership struct {
	ClinicID, Role string
}

// Of lists userID's memberships, by clinic and role.
func (r *Members) Of(userID string) ([]Membership, error) {
	var out []Membership
	err := r.db.Model(&models.ClinicMember{}).Select("clinic_id, role").Where("user_id = ?", userID).
		Order("clinic_id, role").Scan(&out).Error
	return out, translate(err)
}
