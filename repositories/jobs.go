package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Jobs is the database job queue. Enqueue runs inside the transaction that
// asks for the work; workers Claim, then Finish, Retry or GiveUp.
type Jobs struct{ db *gorm.DB }

// jobDue: not finished, its next attempt reached, no live lease.
const jobDue = "finished_at IS NULL AND next_attempt_at <= @now AND (locked_until IS NULL OR locked_until <= @now)"

// Enqueue adds j, due at once unless j.NextAttemptAt is set. A job of the
// same kind and ref that exists already is left as it is (unique jobs).
func (r *Jobs) Enqueue(j *models.Job) error {
	if j.NextAttemptAt.IsZero() {
		j.NextAttemptAt = j.CreatedAt
	}
	return translate(r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(j).Error)
}

// Claim leases up to limit due jobs of kind to owner until now+lease and
// counts an attempt on each (see claimLeased).
func (r *Jobs) Claim(kind, owner string, now time.Time, lease time.Duration, limit int) ([]models.Job, error) {
	res := claimLeased(r.db, "jobs", jobDue+" AND kind = @kind", map[string]any{"kind": kind}, owner, now, lease, limit)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	jobs := []models.Job{}
	if res.RowsAffected == 0 {
		return jobs, nil
	}
	err := r.db.Where("finished_at IS NULL AND locked_by = ?", owner).Order("next_attempt_at, id").Find(&jobs).Error
	return jobs, translate(err)
}

// Finish marks the job owner holds done; false when owner lost its lease.
func (r *Jobs) Finish(id uint64, owner string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"finished_at": now, "locked_until": nil, "last_error": ""})
	return res.RowsAffected == 1, translate(res.Error)
}

// Retry releases the job owner holds for another attempt at next, keeping
// the error.
func (r *Jobs) Retry(id uint64, owner string, next time.Time, lastError string) error {
	return translate(r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"next_attempt_at": next, "locked_until": nil, "last_error": cleanError(lastError)}).Error)
}

// GiveUp ends the job owner holds as failed; false when owner lost its lease.
func (r *Jobs) GiveUp(id uint64, owner string, now time.Time, lastError string) (bool, error) {
	res := r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"finished_at": now, "failed": true, "locked_until": nil, "last_error": cleanError(lastError)})
	return res.RowsAffected == 1, translate(res.Error)
}

// Release gives back a job owner claimed but did not run (shutdown), without
// counting the attempt.
func (r *Jobs) Release(id uint64, owner string) error {
	return translate(r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"locked_until": nil, "attempts": gorm.Expr("attempts - 1")}).Error)
}

// Depth counts the jobs of kind not finished (waiting or running).
func (r *Jobs) Depth(kind string) (int64, error) {
	var n int64
	err := r.db.Model(&models.Job{}).Where("kind = ? AND finished_at IS NULL", kind).Count(&n).Error
	return n, translate(err)
}
