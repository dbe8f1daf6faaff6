package repositories

import (
	"gorm.io/gorm"

	"aura/models"
)

// Profiles stores the versions of the risk rules.
type Profiles struct{ db *gorm.DB }

// Current returns the profile in force (the highest version), or
// models.ErrNotFound when none was ever stored.
func (r *Profiles) Current() (*models.AnalysisProfile, error) {
	var p models.AnalysisProfile
	if err := r.db.Order("version DESC").Limit(1).Take(&p).Error; err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

// ByVersion returns one version, or models.ErrNotFound.
func (r *Profiles) ByVersion(v int) (*models.AnalysisProfile, error) {
	var p models.AnalysisProfile
	if err := r.db.Where("version = ?", v).Take(&p).Error; err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

// Add stores a new version; models.ErrConflict when that version exists
// (two admins saving at once: one wins, the other retries on the new one).
func (r *Profiles) Add(p *models.AnalysisProfile) error {
	return translate(r.db.Create(p).Error)
}
