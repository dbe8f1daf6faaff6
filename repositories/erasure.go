package repositories

import (
	"time"

	"gorm.io/gorm"

	"aura/models"
	"aura/security"
)

// Erasure reads what AURA holds about one account (its export) and carries
// out the deletion its owner asked for: the account is deactivated at once
// and its personal data scrubbed once the grace period is over.
type Erasure struct{ db *gorm.DB }

// ExportAuditMax bounds the audit rows one export carries.
const ExportAuditMax = 50_000

// Schedule deactivates the account userID and sets its erasure for at.
// models.ErrNotFound when there is no such account, or it is erased.
func (r *Erasure) Schedule(userID string, at, now time.Time) error {
	res := r.db.Model(&models.User{}).Where("id = ? AND erased_at IS NULL", userID).
		Updates(map[string]any{"is_active": false, "erase_after": at, "updated_at": now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}

// Reactivated is told that an admin reactivates userID: a pending erasure
// is cancelled. An erased account cannot come back: models.ErrInvalidState.
func (r *Erasure) Reactivated(userID string) error {
	var erased int64
	if err := r.db.Model(&models.User{}).Where("id = ? AND erased_at IS NOT NULL", userID).Count(&erased).Error; err != nil {
		return translate(err)
	}
	if erased > 0 {
		return models.WithMessage(models.ErrInvalidState, "This account's personal data was erased at its owner's request; it cannot be reactivated")
	}
	return translate(r.db.Model(&models.User{}).Where("id = ? AND erase_after IS NOT NULL", userID).
		Update("erase_after", nil).Error)
}

// Pending is the scheduled erasure of userID (nil: none) and when it was
// erased (nil: not yet).
func (r *Erasure) Pending(userID string) (eraseAfter, erasedAt *time.Time, err error) {
	var row struct {
		EraseAfter *time.Time
		ErasedAt   *time.Time
	}
	err = r.db.Model(&models.User{}).Select("erase_after, erased_at").Where("id = ?", userID).Take(&row).Error
	return row.EraseAfter, row.ErasedAt, translate(err)
}

// SessionStarted is when the session id began; models.ErrNotFound when
// there is no such live session of userID.
func (r *Erasure) SessionStarted(userID, sessionID string, now time.Time) (time.Time, error) {
	var s models.Session
	err := r.db.Where("id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?", sessionID, userID, now).Take(&s).Error
	return s.CreatedAt, translate(err)
}

// Due lists at most limit accounts whose erasure is due at now, the oldest
// first.
func (r *Erasure) Due(now time.Time, limit int) ([]string, error) {
	var ids []string
	err := r.db.Model(&models.User{}).Where("erase_after <= ? AND erased_at IS NULL", now).
		Order("erase_after").Limit(limit).Pluck("id", &ids).Error
	return ids, translate(err)
}

// ScreeningIDs lists the screenings of the patient userID.
func (r *Erasure) ScreeningIDs(userID string) ([]string, error) {
	var ids []string
	err := r.db.Model(&models.Screening{}).Where("patient_id IN (SELECT id FROM patients WHERE user_id = ?)", userID).Order("created_at, id").Pluck("id", &ids).Error
	return ids, translate(err)
}

// Scrub erases the personal data of the account userID, if its erasure is
// still due at now (false: it was cancelled, or another run did it first).
// Run it in a transaction. The users row stays, with a placeholder email
// and no password, so that the ids the audit log and the screenings hold
// still point at a row; the patient profile keeps its row with newCode as
// its code and nothing else; the screenings keep their measurements, risk,
// review verdict, clinic and dates, but lose their notes, free text and
// stored objects' keys. Notifications, sessions, links and the mail
// addressed to the account are deleted.
func (r *Erasure) Scrub(userID, newCode string, now time.Time) (bool, error) {
	var u models.User
	err := r.db.Select("id, email, email_normalized").
		Where("id = ? AND erase_after <= ? AND erased_at IS NULL", userID, now).Take(&u).Error
	if err != nil {
		if err = translate(err); err == models.ErrNotFound {
			return false, nil
		}
		return false, err
	}
	placeholder := models.ErasedEmail(userID)
	res := r.db.Model(&models.User{}).Where("id = ? AND erased_at IS NULL", userID).Updates(map[string]any{
		"email": placeholder, "email_normalized": placeholder, "password_hash": security.NoPassword,
		"full_name": nil, "phone": nil, "avatar_url": nil, "lang": nil,
		"email_verified": false, "email_verified_at": nil, "is_active": false,
		"erase_after": nil, "erased_at": now, "updated_at": now,
	})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	steps := []*gorm.DB{
		r.db.Model(&models.Patient{}).Where("user_id = ?", userID).Updates(map[string]any{
			"patient_code": newCode, "date_of_birth": nil, "sex": nil, "diabetes": nil, "diabetes_since_year": nil,
			"hypertension": nil, "history_notes": nil, "research_consent": false, "full_name": nil, "email": nil, "phone": nil, "name_key": "",
			"updated_at": now,
		}),
		// The clinics' copies of the name and their record numbers go too.
		r.db.Model(&models.ClinicPatient{}).Where("patient_id IN (SELECT id FROM patients WHERE user_id = ?)", userID).Updates(map[string]any{
			"name_key": "", "external_id": nil, "external_key": nil,
		}),
		r.db.Model(&models.Screening{}).Where("patient_id IN (SELECT id FROM patients WHERE user_id = ?)", userID).Updates(map[string]any{
			"note": nil, "image_key": "", "idempotency_key": nil, "idem_patient_id": nil,
			"vessel_key": nil, "av_key": nil, "overlay_key": nil, "review_notes": nil, "recommendation": nil,
		}),
		r.db.Where("user_id = ?", userID).Delete(&models.Notification{}),
		// Conversations with clinics are free text about the patient: they
		// go whole (messages of both sides, read markers, pending mails).
		r.db.Where("message_id IN (SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "+
			"WHERE c.patient_id IN (SELECT id FROM patients WHERE user_id = ?))", userID).Delete(&models.MessageMail{}),
		r.db.Where("conversation_id IN (SELECT id FROM conversations WHERE patient_id IN (SELECT id FROM patients WHERE user_id = ?))", userID).
			Delete(&models.ConversationRead{}),
		r.db.Where("conversation_id IN (SELECT id FROM conversations WHERE patient_id IN (SELECT id FROM patients WHERE user_id = ?))", userID).
			Delete(&models.Message{}),
		r.db.Where("patient_id IN (SELECT id FROM patients WHERE user_id = ?)", userID).Delete(&models.Conversation{}),
		// An alert's resolution note is free text about the person; the
		// alert itself stays with its screening, as statistics.
		r.db.Model(&models.Alert{}).Where("patient_id IN (SELECT id FROM patients WHERE user_id = ?)", userID).Update("note", nil),
		r.db.Where("session_id IN (SELECT id FROM sessions WHERE user_id = ?)", userID).Delete(&models.RefreshToken{}),
		r.db.Where("user_id = ?", userID).Delete(&models.Session{}),
		r.db.Where("user_id = ?", userID).Delete(&models.ActionToken{}),
	}
	recipients := []string{u.Email}
	if u.EmailNormalized != nil {
		recipients = append(recipients, *u.EmailNormalized)
	}
	steps = append(steps, r.db.Where("recipient IN ?", recipients).Delete(&models.OutboxMessage{}))
	for _, st := range steps {
		if st.Error != nil {
			return false, translate(st.Error)
		}
	}
	return true, nil
}

// ExportScreenings are every screening of the patient userID, oldest first,
// with what the API shows beside them.
func (r *Erasure) ExportScreenings(userID string) ([]ScreeningRow, error) {
	var rows []ScreeningRow
	err := r.db.Raw(screeningSelect+" WHERE s.patient_id IN (SELECT id FROM patients WHERE user_id = ?) ORDER BY s.created_at, s.id", userID).Scan(&rows).Error
	return rows, translate(err)
}

// ExportNotifications are every notification of userID, oldest first.
func (r *Erasure) ExportNotifications(userID string) ([]models.Notification, error) {
	var ns []models.Notification
	err := r.db.Where("user_id = ?", userID).Order("created_at, id").Find(&ns).Error
	return ns, translate(err)
}

// ExportMessage is one message of a conversation between the patient and a
// clinic, as the patient's export shows it.
type ExportMessage struct {
	ConversationID string
	ClinicID       string
	ClinicName     string
	MessageID      string
	SenderRole     string
	SenderName     *string
	Body           string
	ScreeningID    *string
	CreatedAt      time.Time
}

// ExportMessages are every message of userID's conversations with clinics,
// by conversation then oldest first.
func (r *Erasure) ExportMessages(userID string) ([]ExportMessage, error) {
	var rows []ExportMessage
	err := r.db.Raw(`SELECT c.id AS conversation_id, c.clinic_id, cl.name AS clinic_name, m.id AS message_id,
		m.sender_role, u.full_name AS sender_name, m.body, m.screening_id, m.created_at
		FROM conversations c JOIN clinics cl ON cl.id = c.clinic_id JOIN messages m ON m.conversation_id = c.id
		LEFT JOIN users u ON u.id = m.sender_id
		WHERE c.patient_id IN (SELECT id FROM patients WHERE user_id = ?)
		ORDER BY c.created_at, c.id, m.created_at, m.id`, userID).Scan(&rows).Error
	return rows, translate(err)
}

// ExportAlerts are the alerts opened on userID's results, oldest first.
func (r *Erasure) ExportAlerts(userID string) ([]models.Alert, error) {
	var as []models.Alert
	err := r.db.Where("patient_id IN (SELECT id FROM patients WHERE user_id = ?)", userID).Order("created_at, id").Find(&as).Error
	return as, translate(err)
}

// ExportAudit are the audit rows about userID, oldest first: those they made,
// those on their account or profile, and those on their screenings; at most
// ExportAuditMax (truncated says more were left out).
func (r *Erasure) ExportAudit(userID string) (rows []models.AuditLog, truncated bool, err error) {
	err = r.db.Where("actor_id = ? OR (entity_type IN ? AND entity_id = ?) OR "+
		"(entity_type = ? AND entity_id IN (SELECT id FROM screenings WHERE patient_id IN (SELECT id FROM patients WHERE user_id = ?)))",
		userID, []string{models.EntityUser, models.EntityPatient}, userID, models.EntityScreening, userID).
		Order("id").Limit(ExportAuditMax + 1).Find(&rows).Error
	if len(rows) > ExportAuditMax {
		rows, truncated = rows[:ExportAuditMax], true
	}
	return rows, truncated, translate(err)
}
