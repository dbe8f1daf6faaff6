package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Alerts stores the alerts of results a clinic must look at.
type Alerts struct{ db *gorm.DB }

// AlertRow is an alert with the names it is shown with.
type AlertRow struct {
	models.Alert
	PatientCode        string
	PatientUserID      *string
	PatientName        *string
	PatientEmail       string
	AcknowledgedByName *string
	ResolvedByName     *string
}

const alertSelect = `SELECT a.*, p.patient_code, p.user_id AS patient_user_id,
	COALESCE(u.full_name, p.full_name) AS patient_name, COALESCE(u.email, p.email, '') AS patient_email,
	ua.full_name AS acknowledged_by_name, ur.full_name AS resolved_by_name
	FROM alerts a
	JOIN patients p ON p.id = a.patient_id
	LEFT JOIN users u ON u.id = p.user_id
	LEFT JOIN users ua ON ua.id = a.acknowledged_by
	LEFT JOIN users ur ON ur.id = a.resolved_by`

// Open inserts a new alert; false when the screening has one already (an
// insert that does nothing, so a transaction on PostgreSQL goes on).
func (r *Alerts) Open(a *models.Alert) (bool, error) {
	res := r.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "screening_id"}}, DoNothing: true}).Create(a)
	return res.RowsAffected == 1, translate(res.Error)
}

// Get returns the alert id with its names; models.ErrNotFound when none.
func (r *Alerts) Get(id string) (*AlertRow, error) {
	var rows []AlertRow
	if err := r.db.Raw(alertSelect+` WHERE a.id = ?`, id).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	return &rows[0], nil
}

// AlertPage is one page of a clinic's alerts.
type AlertPage struct {
	Items []AlertRow
	Total int64
}

// List returns the clinic's alerts with one of statuses (all when empty),
// newest first.
func (r *Alerts) List(clinicID string, statuses []string, page, pageSize int) (AlertPage, error) {
	where, args := ` WHERE a.clinic_id = ?`, []any{clinicID}
	if len(statuses) > 0 {
		where += ` AND a.status IN ?`
		args = append(args, statuses)
	}
	var p AlertPage
	if err := r.db.Raw(`SELECT COUNT(*) FROM alerts a`+where, args...).Scan(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	p.Items = []AlertRow{}
	err := r.db.Raw(alertSelect+where+` ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?`,
		append(args, pageSize, (page-1)*pageSize)...).Scan(&p.Items).Error
	return p, translate(err)
}

// Acknowledge moves an open alert to acknowledged by userID; false when it
// was not open (the row is untouched).
func (r *Alerts) Acknowledge(id, userID string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Alert{}).Where("id = ? AND status = ?", id, models.AlertOpen).
		Updates(map[string]any{"status": models.AlertAcknowledged, "acknowledged_by": userID, "acknowledged_at": now})
	return res.RowsAffected == 1, translate(res.Error)
}

// Resolve moves an open or acknowledged alert to resolved by userID with
// note; false when it was resolved already.
func (r *Alerts) Resolve(id, userID string, note *string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Alert{}).Where("id = ? AND status IN ?", id, []string{models.AlertOpen, models.AlertAcknowledged}).
		Updates(map[string]any{"status": models.AlertResolved, "resolved_by": userID, "resolved_at": now, "note": note})
	return res.RowsAffected == 1, translate(res.Error)
}

// DueForEscalation lists up to limit alerts still open that were opened
// before cutoff and never escalated, oldest first.
func (r *Alerts) DueForEscalation(cutoff time.Time, limit int) ([]AlertRow, error) {
	var rows []AlertRow
	err := r.db.Raw(alertSelect+` WHERE a.status = ? AND a.escalated_at IS NULL AND a.created_at < ?
		ORDER BY a.created_at, a.id LIMIT ?`, models.AlertOpen, cutoff, limit).Scan(&rows).Error
	return rows, translate(err)
}

// MarkEscalated marks the alert escalated at now if no one did and it is
// still open: true for the one caller that wins it (a conditional UPDATE,
// so two instances never both escalate one alert).
func (r *Alerts) MarkEscalated(id string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Alert{}).Where("id = ? AND status = ? AND escalated_at IS NULL", id, models.AlertOpen).
		Update("escalated_at", now)
	return res.RowsAffected == 1, translate(res.Error)
}

// OpenCount is the number of the clinic's alerts not resolved (clinicID
// "": of every clinic).
func (r *Alerts) OpenCount(clinicID string) (int64, error) {
	var n int64
	q := r.db.Model(&models.Alert{}).Where("status IN ?", []string{models.AlertOpen, models.AlertAcknowledged})
	if clinicID != "" {
		q = q.Where("clinic_id = ?", clinicID)
	}
	err := q.Count(&n).Error
	return n, translate(err)
}
