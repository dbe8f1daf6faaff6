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
//
// It gives j its place in the fair order (FairSeq) within its priority
// class (j.Priority): one turn after the last unfinished job of the same
// account and class, and never before the head of the class (the lowest
// FairSeq of the kind's unfinished jobs of that priority). So an
// account with nothing waiting goes next to the head whatever another
// account has queued, and an account that queued a hundred jobs has them
// take one turn each round, beside every other account's. Both reads are
// one step of an index (idx_jobs_order, idx_jobs_turn). Two uploads
// committed at once may get the same place; the job id breaks the tie.
func (r *Jobs) Enqueue(j *models.Job) error {
	if j.NextAttemptAt.IsZero() {
		j.NextAttemptAt = j.CreatedAt
	}
	var head, last struct{ N *int64 }
	if err := r.db.Model(&models.Job{}).Select("MIN(fair_seq) AS n").
		Where("kind = ? AND priority = ? AND finished_at IS NULL", j.Kind, j.Priority).Scan(&head).Error; err != nil {
		return translate(err)
	}
	if err := r.db.Model(&models.Job{}).Select("MAX(fair_seq) AS n").
		Where("account = ? AND kind = ? AND priority = ? AND finished_at IS NULL", j.Account, j.Kind, j.Priority).Scan(&last).Error; err != nil {
		return translate(err)
	}
	j.FairSeq = 0
	if head.N != nil {
		j.FairSeq = *head.N
	}
	if last.N != nil && *last.N+1 > j.FairSeq {
		j.FairSeq = *last.N + 1
	}
	return translate(r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(j).Error)
}

// Claim leases up to limit due jobs of kind to owner until now+lease and
// counts an attempt on each (see claimLeased): the lowest priority number
// first (single uploads before batch items), then in the fair order (lowest
// FairSeq first, see Enqueue).
func (r *Jobs) Claim(kind, owner string, now time.Time, lease time.Duration, limit int) ([]models.Job, error) {
	res := claimLeased(r.db, "jobs", jobDue+" AND kind = @kind", "priority, fair_seq, id", map[string]any{"kind": kind}, owner, now, lease, limit)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	jobs := []models.Job{}
	if res.RowsAffected == 0 {
		return jobs, nil
	}
	err := r.db.Where("finished_at IS NULL AND locked_by = ?", owner).Order("priority, fair_seq, id").Find(&jobs).Error
	return jobs, translate(err)
}

// Finish marks the job owner holds done; false when owner lost its lease.
func (r *Jobs) Finish(id uint64, owner string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"finished_at": now, "locked_until": nil, "last_error": ""})
	return res.RowsAffected == 1, translate(res.Error)
}

// Retry releases the job owner holds for another attempt at next, keeping
// the error; the attempt counts, and any run of outages has ended.
func (r *Jobs) Retry(id uint64, owner string, next time.Time, lastError string) error {
	return translate(r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"next_attempt_at": next, "locked_until": nil, "last_error": cleanError(lastError),
			"outage_since": nil}).Error)
}

// Stall releases the job owner holds after an outage (its store, database
// or model server unavailable) for another try at next, without counting
// the attempt, and keeps when the run of outages began (since, unless one
// began already) and the error.
func (r *Jobs) Stall(id uint64, owner string, since, next time.Time, lastError string) error {
	return translate(r.db.Model(&models.Job{}).Where("id = ? AND locked_by = ? AND finished_at IS NULL", id, owner).
		Updates(map[string]any{"next_attempt_at": next, "locked_until": nil, "last_error": cleanError(lastError),
			"attempts": gorm.Expr("attempts - 1"), "outage_since": gorm.Expr("COALESCE(outage_since, ?)", since)}).Error)
}

// Wake makes every job of kind waiting out an outage due at now: something
// it waited for answers again, so none need wait out the rest of its
// backoff. It returns how many it woke.
func (r *Jobs) Wake(kind string, now time.Time) (int64, error) {
	res := r.db.Model(&models.Job{}).
		Where("kind = ? AND finished_at IS NULL AND outage_since IS NOT NULL AND next_attempt_at > ?", kind, now).
		Update("next_attempt_at", now)
	return res.RowsAffected, translate(res.Error)
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
