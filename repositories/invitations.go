package repositories

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Invitations reads and writes invitations (models.Invitation), found by
// the hash of their token, never by the token.
type Invitations struct{ db *gorm.DB }

// Create stores inv.
func (r *Invitations) Create(inv *models.Invitation) error {
	return translate(r.db.Create(inv).Error)
}

// ByTokenHash returns the invitation whose token hashes to hash, whatever
// its status, or models.ErrNotFound.
func (r *Invitations) ByTokenHash(hash string) (*models.Invitation, error) {
	var inv models.Invitation
	if err := r.db.Where("token_hash = ?", hash).Take(&inv).Error; err != nil {
		return nil, translate(err)
	}
	return &inv, nil
}

// InClinic returns invitation id of clinicID, or models.ErrNotFound.
func (r *Invitations) InClinic(clinicID, id string) (*models.Invitation, error) {
	var inv models.Invitation
	if err := r.db.Where("id = ? AND clinic_id = ?", id, clinicID).Take(&inv).Error; err != nil {
		return nil, translate(err)
	}
	return &inv, nil
}

// InvitationPage is one page of a clinic's invitations.
type InvitationPage struct {
	Items []models.Invitation
	Total int64
}

// OfClinic returns a page (from 1) of clinicID's invitations, newest
// first; statuses, when not empty, keeps those shown with one of them at
// now (expired: pending past their expiry; pending: only those still live).
func (r *Invitations) OfClinic(clinicID string, statuses []string, now time.Time, page, pageSize int) (InvitationPage, error) {
	q := r.db.Model(&models.Invitation{}).Where("clinic_id = ?", clinicID)
	if len(statuses) > 0 {
		or := r.db.Where("1 = 0")
		for _, st := range statuses {
			switch st {
			case models.InvitationPending:
				or = or.Or("status = ? AND expires_at > ?", models.InvitationPending, now)
			case models.InvitationExpired:
				or = or.Or("status = ? AND expires_at <= ?", models.InvitationPending, now)
			default:
				or = or.Or("status = ?", st)
			}
		}
		q = q.Where(or)
	}
	var p InvitationPage
	if err := q.Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	p.Items = []models.Invitation{}
	err := q.Order("created_at DESC, id DESC").Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}

// Revoke marks invitation id of clinicID revoked at now, if it is still
// live (pending, unexpired): models.ErrNotFound when there is no such
// invitation, models.ErrInvalidState when it is no longer pending. The
// conditional update decides against a concurrent acceptance.
func (r *Invitations) Revoke(clinicID, id string, now time.Time) (*models.Invitation, error) {
	res := r.db.Model(&models.Invitation{}).
		Where("id = ? AND clinic_id = ? AND status = ? AND expires_at > ?", id, clinicID, models.InvitationPending, now).
		Updates(map[string]any{"status": models.InvitationRevoked, "revoked_at": now})
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	inv, err := r.InClinic(clinicID, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected != 1 {
		return nil, models.WithMessage(models.ErrInvalidState, "The invitation is no longer pending")
	}
	return inv, nil
}

// Supersede revokes, at now, the live invitations of clinicID to emailKey
// in role: a new invitation replaces the ones sent before it.
func (r *Invitations) Supersede(clinicID, emailKey, role string, now time.Time) error {
	return translate(r.db.Model(&models.Invitation{}).
		Where("clinic_id = ? AND email_key = ? AND role = ? AND status = ? AND expires_at > ?",
			clinicID, emailKey, role, models.InvitationPending, now).
		Updates(map[string]any{"status": models.InvitationRevoked, "revoked_at": now}).Error)
}

// SupersedePatient revokes the live invitations of patient record
// patientID at now (a new one replaces them).
func (r *Invitations) SupersedePatient(patientID string, now time.Time) error {
	return translate(r.db.Model(&models.Invitation{}).
		Where("patient_id = ? AND status = ? AND expires_at > ?", patientID, models.InvitationPending, now).
		Updates(map[string]any{"status": models.InvitationRevoked, "revoked_at": now}).Error)
}

// SupersedeAccount revokes, at now, the live account invitations (no clinic)
// to emailKey.
func (r *Invitations) SupersedeAccount(emailKey string, now time.Time) error {
	return translate(r.db.Model(&models.Invitation{}).
		Where("clinic_id IS NULL AND role = '' AND email_key = ? AND status = ? AND expires_at > ?",
			emailKey, models.InvitationPending, now).
		Updates(map[string]any{"status": models.InvitationRevoked, "revoked_at": now}).Error)
}

// Accept is the claim of invitation id by userID at now: one conditional
// UPDATE ... WHERE status = 'pending' AND expires_at > now, so of concurrent
// acceptances exactly one succeeds. Run it inside the Store.Tx that grants
// what the invitation gives. models.ErrTokenInvalid when it is no longer
// live.
func (r *Invitations) Accept(id, userID string, now time.Time) error {
	res := r.db.Model(&models.Invitation{}).
		Where("id = ? AND status = ? AND expires_at > ?", id, models.InvitationPending, now).
		Updates(map[string]any{"status": models.InvitationAccepted, "accepted_by": userID, "accepted_at": now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return models.ErrTokenInvalid
	}
	return nil
}

// LicenseHolder returns the user ID of the doctor whose licence number folds
// to key, or "" when no doctor holds it.
func (r *Doctors) LicenseHolder(key string) (string, error) {
	var d models.Doctor
	err := r.db.Select("user_id").Where("license_key = ?", key).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	if err != nil {
		return "", translate(err)
	}
	return d.UserID, nil
}

// Grant gives userID the account role (PATIENT, DOCTOR, ADMIN) if it does not
// hold it yet, keeping its other roles.
func (r *Users) Grant(userID, role string, now time.Time) error {
	return translate(r.db.Exec("INSERT INTO user_roles (user_id, role_id, created_at) SELECT ?, id, ? FROM roles WHERE name = ? "+
		"AND NOT EXISTS (SELECT 1 FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id WHERE ur.user_id = ? AND ro.name = ?)",
		userID, now, role, userID, role).Error)
}

// SetFirstPassword gives the account id, which has no password and an
// unverified email (made by an admin, never claimed), the password hash and
// a verified email at now. models.ErrNotFound when the account is no longer
// in that state (a concurrent claim set a password first).
func (r *Users) SetFirstPassword(id, hash, noPassword string, now time.Time) error {
	res := r.db.Model(&models.User{}).
		Where("id = ? AND password_hash = ? AND (email_verified IS NULL OR email_verified = ?)", id, noPassword, false).
		Updates(map[string]any{"password_hash": hash, "email_verified": true, "email_verified_at": now, "updated_at": now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return models.ErrNotFound
	}
	return nil
}
