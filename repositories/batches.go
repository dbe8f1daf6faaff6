package repositories

import (
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Batches holds the clinics' batches.
type Batches struct{ db *gorm.DB }

// Create inserts b.
func (r *Batches) Create(b *models.Batch) error { return translate(r.db.Create(b).Error) }

// ByID returns batch id, or models.ErrNotFound.
func (r *Batches) ByID(id string) (*models.Batch, error) {
	var b models.Batch
	if err := r.db.Where("id = ?", id).Take(&b).Error; err != nil {
		return nil, translate(err)
	}
	return &b, nil
}

// InClinic returns a page of clinicID's batches, newest first, and how
// many there are.
func (r *Batches) InClinic(clinicID string, page, pageSize int) ([]models.Batch, int64, error) {
	var total int64
	q := r.db.Model(&models.Batch{}).Where("clinic_id = ?", clinicID)
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	items := []models.Batch{}
	err := r.db.Where("clinic_id = ?", clinicID).Order("created_at DESC, id DESC").
		Limit(pageSize).Offset((page - 1) * pageSize).Find(&items).Error
	return items, total, translate(err)
}

// Counts returns, for each of ids, how many of its screenings are in each
// status (idx_screenings_batch).
func (r *Batches) Counts(ids []string) (map[string]map[string]int64, error) {
	out := map[string]map[string]int64{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		BatchID string
		Status  string
		N       int64
	}
	err := r.db.Model(&models.Screening{}).Select("batch_id, status, COUNT(*) AS n").
		Where("batch_id IN ?", ids).Group("batch_id, status").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, row := range rows {
		if out[row.BatchID] == nil {
			out[row.BatchID] = map[string]int64{}
		}
		out[row.BatchID][row.Status] = row.N
	}
	return out, nil
}

// AddRejected counts n more refused items on batch id.
func (r *Batches) AddRejected(id string, n int) error {
	if n == 0 {
		return nil
	}
	return translate(r.db.Model(&models.Batch{}).Where("id = ?", id).
		Update("rejected", gorm.Expr("rejected + ?", n)).Error)
}

// Close closes batch id at now; false when it was closed already.
func (r *Batches) Close(id string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Batch{}).Where("id = ? AND status = ?", id, models.BatchOpen).
		Updates(map[string]any{"status": models.BatchClosed, "closed_at": now})
	return res.RowsAffected == 1, translate(res.Error)
}

// ByCode returns the id of clinicID's patient whose patient code is code,
// or models.ErrNotFound.
func (r *Patients) ByCode(clinicID, code string) (string, error) {
	var ids []string
	err := r.db.Raw(`SELECT p.id FROM patients p JOIN clinic_patients cp ON cp.patient_id = p.id AND cp.clinic_id = ?
		WHERE p.patient_code = ?`, clinicID, code).Scan(&ids).Error
	if err != nil {
		return "", translate(err)
	}
	if len(ids) == 0 {
		return "", models.ErrNotFound
	}
	return ids[0], nil
}
