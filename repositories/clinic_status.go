package repositories

import (
	"time"

	"aura/models"
)

// ClinicFilter narrows a page of clinics: Status empty is every status; Q
// (already folded with models.FoldKey) matches a part of the name or of the
// licence number.
type ClinicFilter struct {
	Status []string
	Q      string
	// ByAge orders the oldest first (the admins' review queue); else by name.
	ByAge bool
}

// Filtered returns page (from 1) of pageSize clinics matching f, and how
// many match.
func (r *Clinics) Filtered(f ClinicFilter, page, pageSize int) (ClinicPage, error) {
	p := ClinicPage{Items: []models.Clinic{}}
	q := r.db.Model(&models.Clinic{})
	if len(f.Status) > 0 {
		q = q.Where("status IN ?", f.Status)
	}
	if f.Q != "" {
		pat := "%" + escapeLike(f.Q) + "%"
		q = q.Where("(name_key LIKE ? ESCAPE '\\' OR COALESCE(license_key, '') LIKE ? ESCAPE '\\')", pat, pat)
	}
	if err := q.Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	order := "name_key, id"
	if f.ByAge {
		order = "created_at, id"
	}
	err := q.Order(order).Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}

// PendingOf returns the application of applicantID still waiting for a
// decision, or models.ErrNotFound.
func (r *Clinics) PendingOf(applicantID string) (*models.Clinic, error) {
	var c models.Clinic
	if err := r.db.Where("applicant_id = ? AND status = ?", applicantID, models.ClinicPending).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// Taken reports whether a clinic other than exceptID holds the folded name
// nameKey, and whether one holds the folded licence number licenseKey ("":
// not asked).
func (r *Clinics) Taken(nameKey, licenseKey, exceptID string) (name, license bool, err error) {
	var n int64
	if err := r.db.Model(&models.Clinic{}).Where("name_key = ? AND id <> ?", nameKey, exceptID).Count(&n).Error; err != nil {
		return false, false, translate(err)
	}
	name = n > 0
	if licenseKey != "" {
		if err := r.db.Model(&models.Clinic{}).Where("license_key = ? AND id <> ?", licenseKey, exceptID).Count(&n).Error; err != nil {
			return false, false, translate(err)
		}
		license = n > 0
	}
	return name, license, nil
}

// Transition is a change of a clinic's status.
type Transition struct {
	// From are the statuses the change applies to; To is the new one.
	From []string
	To   string
	// Reason is the admin's reason (nil clears it).
	Reason *string
	// Approved stamps approved_at (the first approval only).
	Approved bool
	// Release frees the clinic's name and licence number for a new
	// application (a rejected application holds neither).
	Release bool
}

// SetStatus moves clinic id to t.To at now when its status is one of
// t.From, in one conditional update (two admins deciding at once: one
// wins). Returns the clinic after the change; models.ErrNotFound for an
// unknown id; models.ErrClinicStateInvalid when the status was another.
func (r *Clinics) SetStatus(id string, t Transition, now time.Time) (*models.Clinic, error) {
	cols := map[string]any{"status": t.To, "status_reason": t.Reason, "updated_at": now}
	if t.Release {
		cols["name_key"] = releasedKey + id
		cols["license_key"] = nil
	}
	q := r.db.Model(&models.Clinic{}).Where("id = ? AND status IN ?", id, t.From)
	res := q.Updates(cols)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 1 && t.Approved {
		if err := r.db.Model(&models.Clinic{}).Where("id = ? AND approved_at IS NULL", id).
			Update("approved_at", now).Error; err != nil {
			return nil, translate(err)
		}
	}
	c, err := r.ByID(id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		return nil, models.ErrClinicStateInvalid
	}
	return c, nil
}

// releasedKey prefixes the name key of a rejected clinic: a key no typed
// name folds to (folding keeps the control character out: CheckText
// refuses it), so the name is free again.
const releasedKey = "\x01rejected:"

// ClinicRoles is a clinic with the roles an account holds in it.
type ClinicRoles struct {
	Clinic models.Clinic
	Roles  []string
}

// Mine lists, by name, the clinics where userID holds a membership or is
// the applicant (any status), each with the roles held there (in
// models.ClinicRoles order; an applicant without a membership: none).
func (r *Clinics) Mine(userID string) ([]ClinicRoles, error) {
	var cs []models.Clinic
	err := r.db.Where("applicant_id = ? OR id IN (SELECT clinic_id FROM clinic_members WHERE user_id = ?)", userID, userID).
		Order("name_key, id").Find(&cs).Error
	if err != nil {
		return nil, translate(err)
	}
	var ms []models.ClinicMember
	if err := r.db.Where("user_id = ?", userID).Find(&ms).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]ClinicRoles, len(cs))
	for i, c := range cs {
		out[i] = ClinicRoles{Clinic: c, Roles: []string{}}
		for _, role := range models.ClinicRoles {
			for _, m := range ms {
				if m.ClinicID == c.ID && m.Role == role {
					out[i].Roles = append(out[i].Roles, role)
				}
			}
		}
	}
	return out, nil
}

// Recipient is an account told of a clinic's change, with its language.
type Recipient struct {
	UserID   string
	Email    string
	FullName *string
	Lang     *string
}

// AdminsOf lists the active accounts that are CLINIC_ADMIN of clinicID.
func (r *Clinics) AdminsOf(clinicID string) ([]Recipient, error) {
	var out []Recipient
	err := r.db.Raw(`SELECT u.id AS user_id, u.email, u.full_name, u.lang FROM clinic_members cm JOIN users u ON u.id = cm.user_id
		WHERE cm.clinic_id = ? AND cm.role = ? AND u.is_active = ? ORDER BY u.id`, clinicID, models.RoleClinicAdmin, true).
		Scan(&out).Error
	return out, translate(err)
}

// Applicants returns the accounts (as recipients) of the applicants of cs,
// by id; an account that is gone is absent.
func (r *Clinics) Applicants(cs []models.Clinic) (map[string]Recipient, error) {
	ids := []string{}
	for _, c := range cs {
		if c.ApplicantID != nil {
			ids = append(ids, *c.ApplicantID)
		}
	}
	out := map[string]Recipient{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Recipient
	if err := r.db.Raw(`SELECT id AS user_id, email, full_name, lang FROM users WHERE id IN ?`, ids).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	for _, row := range rows {
		out[row.UserID] = row
	}
	return out, nil
}

// RecipientByID is the account userID as a recipient; models.ErrNotFound
// when it is gone.
func (r *Clinics) RecipientByID(userID string) (*Recipient, error) {
	var out []Recipient
	if err := r.db.Raw(`SELECT id AS user_id, email, full_name, lang FROM users WHERE id = ?`, userID).Scan(&out).Error; err != nil {
		return nil, translate(err)
	}
	if len(out) == 0 {
		return nil, models.ErrNotFound
	}
	return &out[0], nil
}
