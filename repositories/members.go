package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Members reads and writes clinic memberships (models.ClinicMember): which
// account holds which clinic role (CLINIC_ADMIN, DOCTOR, TECHNICIAN) in
// which clinic. The roles held only through memberships (CLINIC_ADMIN,
// TECHNICIAN) are kept in step in user_roles here, in the same transaction:
// granted with the first membership in that role, taken with the last, so
// the session check that loads a caller's roles sees them on the next
// request. Call the writers inside Store.Tx.
type Members struct{ db *gorm.DB }

// Add makes userID a member of clinicID in role (again: no change).
func (r *Members) Add(clinicID, userID, role string, now time.Time) error {
	if err := r.db.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&models.ClinicMember{ClinicID: clinicID, UserID: userID, Role: role, CreatedAt: now}).Error; err != nil {
		return translate(err)
	}
	if !models.MembershipOnly(role) {
		return nil
	}
	return translate(r.db.Exec("INSERT INTO user_roles (user_id, role_id, created_at) SELECT ?, id, ? FROM roles WHERE name = ? "+
		"AND NOT EXISTS (SELECT 1 FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id WHERE ur.user_id = ? AND ro.name = ?)",
		userID, now, role, userID, role).Error)
}

// Remove ends userID's membership of clinicID in role. Returns
// models.ErrNotFound when there was none.
func (r *Members) Remove(clinicID, userID, role string) error {
	res := r.db.Where("clinic_id = ? AND user_id = ? AND role = ?", clinicID, userID, role).Delete(&models.ClinicMember{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return r.dropUnheld(userID, role)
}

// RemoveAll ends every membership of userID in clinicID and returns the
// roles they held there (none: models.ErrNotFound).
func (r *Members) RemoveAll(clinicID, userID string) ([]string, error) {
	roles, err := r.RolesIn(clinicID, userID)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, models.ErrNotFound
	}
	for _, role := range roles {
		if err := r.Remove(clinicID, userID, role); err != nil {
			return nil, err
		}
	}
	return roles, nil
}

// dropUnheld takes a membership-only role from userID's account once no
// membership in that role is left.
func (r *Members) dropUnheld(userID, role string) error {
	if !models.MembershipOnly(role) {
		return nil
	}
	return translate(r.db.Exec("DELETE FROM user_roles WHERE user_id = ? AND role_id = (SELECT id FROM roles WHERE name = ?) "+
		"AND NOT EXISTS (SELECT 1 FROM clinic_members cm WHERE cm.user_id = ? AND cm.role = ?)", userID, role, userID, role).Error)
}

// RolesIn lists the roles userID holds in clinicID, in models.ClinicRoles
// order (none: empty).
func (r *Members) RolesIn(clinicID, userID string) ([]string, error) {
	var held []string
	if err := r.db.Model(&models.ClinicMember{}).Where("clinic_id = ? AND user_id = ?", clinicID, userID).
		Pluck("role", &held).Error; err != nil {
		return nil, translate(err)
	}
	out := []string{}
	for _, role := range models.ClinicRoles {
		for _, h := range held {
			if h == role {
				out = append(out, role)
			}
		}
	}
	return out, nil
}

// Has reports whether userID holds role in clinicID.
func (r *Members) Has(clinicID, userID, role string) (bool, error) {
	var n int64
	err := r.db.Model(&models.ClinicMember{}).Where("clinic_id = ? AND user_id = ? AND role = ?", clinicID, userID, role).Count(&n).Error
	return n > 0, translate(err)
}

// Count is how many members hold role in clinicID.
func (r *Members) Count(clinicID, role string) (int64, error) {
	var n int64
	err := r.db.Model(&models.ClinicMember{}).Where("clinic_id = ? AND role = ?", clinicID, role).Count(&n).Error
	return n, translate(err)
}
