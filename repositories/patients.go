package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Patients reads and writes patient profiles.
type Patients struct{ db *gorm.DB }

// Ensure creates the profile of userID with code unless it exists (two
// first uses at once make one profile). Returns models.ErrConflict only when
// code is taken by another patient (the caller draws another).
func (r *Patients) Ensure(userID, code string, now time.Time) error {
	return translate(r.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}}, DoNothing: true}).
		Create(&models.Patient{UserID: userID, PatientCode: code, CreatedAt: now, UpdatedAt: now}).Error)
}

// Get returns the profile of userID with the account's name, if scope may
// see it; models.ErrNotFound otherwise, alike for a missing and a hidden one
// (one query either way).
func (r *Patients) Get(userID string, scope Scope) (*models.Patient, error) {
	cond, args := scope.patients("p")
	var rows []struct {
		models.Patient
		UserFullName *string
		UserEmail    string
	}
	err := r.db.Raw(`SELECT p.*, u.full_name AS user_full_name, u.email AS user_email FROM patients p
		JOIN users u ON u.id = p.user_id WHERE p.user_id = ? AND `+cond, append([]any{userID}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	p := rows[0].Patient
	p.FullName = displayName(rows[0].UserFullName, rows[0].UserEmail)
	return &p, nil
}

// displayName is the account's name, or its email's local part.
func displayName(fullName *string, email string) string {
	if fullName != nil && *fullName != "" {
		return *fullName
	}
	for i := 0; i < len(email); i++ {
		if email[i] == '@' {
			return email[:i]
		}
	}
	return email
}

// PatientChanges is a typed update of a profile: an unset Opt leaves a field,
// a null one clears it.
type PatientChanges struct {
	DateOfBirth       models.Opt[string]
	Sex               models.Opt[string]
	Diabetes          models.Opt[bool]
	DiabetesSinceYear models.Opt[int]
	Hypertension      models.Opt[bool]
	HistoryNotes      models.Opt[string]
}

// Update applies ch to the profile of userID at now; models.ErrNotFound if
// there is none.
func (r *Patients) Update(userID string, ch PatientChanges, now time.Time) error {
	cols := map[string]any{"updated_at": now}
	optColumn(cols, "date_of_birth", ch.DateOfBirth)
	optColumn(cols, "sex", ch.Sex)
	optColumn(cols, "diabetes", ch.Diabetes)
	optColumn(cols, "diabetes_since_year", ch.DiabetesSinceYear)
	optColumn(cols, "hypertension", ch.Hypertension)
	optColumn(cols, "history_notes", ch.HistoryNotes)
	res := r.db.Model(&models.Patient{}).Where("user_id = ?", userID).Updates(cols)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}
