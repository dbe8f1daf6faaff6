package repositories

import (
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Screenings reads and writes screenings.
type Screenings struct{ db *gorm.DB }

// ReleaseClaims returns to awaiting_review every case the doctor holds in
// review in the clinic (the doctor left it); it returns their ids.
func (r *Screenings) ReleaseClaims(clinicID, doctorID string, now time.Time) ([]string, error) {
	var ids []string
	if err := r.db.Model(&models.Screening{}).
		Where("clinic_id = ? AND reviewer_id = ? AND status = ?", clinicID, doctorID, models.StatusInReview).
		Pluck("id", &ids).Error; err != nil {
		return nil, translate(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	err := r.db.Model(&models.Screening{}).
		Where("id IN ? AND reviewer_id = ? AND status = ?", ids, doctorID, models.StatusInReview).
		Updates(map[string]any{"status": models.StatusAwaitingReview, "reviewer_id": nil, "claimed_at": nil, "updated_at": now}).Error
	return ids, translate(err)
}
