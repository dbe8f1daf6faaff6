package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Clinics reads and writes clinics and doctors' memberships.
type Clinics struct{ db *gorm.DB }

// Create inserts c. Returns models.ErrConflict when a clinic of the same
// folded name exists.
func (r *Clinics) Create(c *models.Clinic) error {
	return translate(r.db.Create(c).Error)
}

// ByID returns the clinic, or models.ErrNotFound.
func (r *Clinics) ByID(id string) (*models.Clinic, error) {
	var c models.Clinic
	if err := r.db.Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// List returns every clinic by name.
func (r *Clinics) List() ([]models.Clinic, error) {
	out := []models.Clinic{}
	return out, translate(r.db.Order("name_key, id").Find(&out).Error)
}

// ClinicPage is one page of the clinics, by name.
type ClinicPage struct {
	Items []models.Clinic
	Total int64
}

// Page returns page (from 1) of pageSize clinics, by name, and how many
// there are.
func (r *Clinics) Page(page, pageSize int) (ClinicPage, error) {
	p := ClinicPage{Items: []models.Clinic{}}
	if err := r.db.Model(&models.Clinic{}).Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	err := r.db.Order("name_key, id").Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}

// ClinicChanges is a typed update of a clinic; nil or unset leaves a field.
type ClinicChanges struct {
	Name    *string
	Address models.Opt[string]
	Phone   models.Opt[string]
	// LicenseNo sets the licence number and its folded, unique key.
	LicenseNo models.Opt[string]
}

// Update applies ch to clinic id at now. Returns models.ErrNotFound or, for
// a name another clinic has, models.ErrConflict.
func (r *Clinics) Update(id string, ch ClinicChanges, now time.Time) error {
	cols := map[string]any{"updated_at": now}
	if ch.Name != nil {
		cols["name"] = *ch.Name
		cols["name_key"] = keepReleased("name_key", models.FoldKey(*ch.Name))
	}
	optColumn(cols, "address", ch.Address)
	optColumn(cols, "phone", ch.Phone)
	optColumn(cols, "license_no", ch.LicenseNo)
	if ch.LicenseNo.Set {
		var key *string
		if !ch.LicenseNo.Null {
			k := models.FoldKey(ch.LicenseNo.Value)
			key = &k
		}
		cols["license_key"] = keepReleased("license_key", key)
	}
	res := r.db.Model(&models.Clinic{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}

// keepReleased sets column to v unless the clinic is rejected: a rejected
// application keeps its name and licence number released (SetStatus), so
// an admin's correction of its record reserves neither again.
func keepReleased(column string, v any) clause.Expr {
	return gorm.Expr("CASE WHEN status = ? THEN "+column+" ELSE ? END", models.ClinicRejected, v)
}

// Doctors reads and writes doctor profiles.
type Doctors struct{ db *gorm.DB }

// Upsert creates or updates the doctor profile of d.UserID. Returns
// models.ErrConflict when another doctor has the license number.
func (r *Doctors) Upsert(d *models.Doctor) error {
	return translate(r.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"license_no", "license_key", "specialization", "updated_at"}),
	}).Create(d).Error)
}

// ByUserID returns the doctor profile with its clinics (by name), or
// models.ErrNotFound.
func (r *Doctors) ByUserID(userID string) (*models.Doctor, error) {
	var d models.Doctor
	if err := r.db.Where("user_id = ?", userID).Take(&d).Error; err != nil {
		return nil, translate(err)
	}
	d.Clinics = []models.Clinic{}
	err := r.db.Raw(`SELECT c.* FROM clinics c JOIN clinic_members cm ON cm.clinic_id = c.id
		WHERE cm.user_id = ? AND cm.role = ? ORDER BY c.name_key, c.id`, userID, models.RoleDoctor).Scan(&d.Clinics).Error
	return &d, translate(err)
}

// Member is a doctor of a clinic and the language of their notices.
type Member struct {
	UserID string
	Lang   *string
}

// MembersOf lists the clinic's doctors who are active and still hold DOCTOR.
func (r *Clinics) MembersOf(clinicID string) ([]Member, error) {
	var out []Member
	err := r.db.Raw(`SELECT cm.user_id, u.lang FROM clinic_members cm JOIN users u ON u.id = cm.user_id
		JOIN user_roles ur ON ur.user_id = u.id JOIN roles ro ON ro.id = ur.role_id
		WHERE cm.clinic_id = ? AND cm.role = ? AND u.is_active = ? AND ro.name = ? ORDER BY cm.user_id`,
		clinicID, models.RoleDoctor, true, models.RoleDoctor).
		Scan(&out).Error
	return out, translate(err)
}

// Names returns the names of the clinics ids, by id.
func (r *Clinics) Names(ids []string) (map[string]string, error) {
	var rows []struct{ ID, Name string }
	if err := r.db.Model(&models.Clinic{}).Select("id, name").Where("id IN ?", ids).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make(map[string]string, len(rows))
	for _, c := range rows {
		out[c.ID] = c.Name
	}
	return out, nil
}

// DoctorsOf lists the clinic's doctors who are active and still hold
// DOCTOR, as recipients of a notice and a mail.
func (r *Clinics) DoctorsOf(clinicID string) ([]Recipient, error) {
	var out []Recipient
	err := r.db.Raw(`SELECT u.id AS user_id, u.email, u.full_name, u.lang FROM clinic_members cm JOIN users u ON u.id = cm.user_id
		JOIN user_roles ur ON ur.user_id = u.id JOIN roles ro ON ro.id = ur.role_id
		WHERE cm.clinic_id = ? AND cm.role = ? AND u.is_active = ? AND ro.name = ? ORDER BY u.id`,
		clinicID, models.RoleDoctor, true, models.RoleDoctor).
		Scan(&out).Error
	return out, translate(err)
}
