package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Limits keeps fixed-window counters in the database, so every instance
// sharing it enforces one limit.
type Limits struct{ db *gorm.DB }

// Blocked returns how long key stays blocked when it has reached max hits in
// its current window, or 0.
func (r *Limits) Blocked(key string, max int, now time.Time) (time.Duration, error) {
	var rl models.RateLimit
	err := r.db.Where("bucket = ? AND reset_at > ? AND hits >= ?", key, now, max).Limit(1).Find(&rl).Error
	if err != nil || rl.Key == "" {
		return 0, translate(err)
	}
	return rl.ResetAt.Sub(now), nil
}

// Hit counts one event for key in a window of the given length that starts at
// its first event, atomically (one upsert).
func (r *Limits) Hit(key string, window time.Duration, now time.Time) error {
	resetAt := now.Add(window)
	return translate(r.db.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "bucket"}},
		DoUpdates: clause.Set{
			{Column: clause.Column{Name: "hits"}, Value: gorm.Expr("CASE WHEN rate_limits.reset_at <= ? THEN 1 ELSE rate_limits.hits + 1 END", now)},
			{Column: clause.Column{Name: "reset_at"}, Value: gorm.Expr("CASE WHEN rate_limits.reset_at <= ? THEN ? ELSE rate_limits.reset_at END", now, resetAt)},
		},
	}).Create(&models.RateLimit{Key: key, Count: 1, ResetAt: resetAt}).Error)
}

// Clear forgets key (a successful login clears its account's failures).
func (r *Limits) Clear(key string) error {
	return translate(r.db.Where("bucket = ?", key).Delete(&models.RateLimit{}).Error)
}

// Acquire takes key for interval if it is free, atomically: true means the
// caller may act (send the mail); false means it acted too recently.
func (r *Limits) Acquire(key string, interval time.Duration, now time.Time) (bool, error) {
	if interval <= 0 {
		return true, nil
	}
	res := r.db.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "bucket"}},
		DoUpdates: clause.Set{
			{Column: clause.Column{Name: "hits"}, Value: 1},
			{Column: clause.Column{Name: "reset_at"}, Value: now.Add(interval)},
		},
		Where: clause.Where{Exprs: []clause.Expression{gorm.Expr("rate_limits.reset_at <= ?", now)}},
	}).Create(&models.RateLimit{Key: key, Count: 1, ResetAt: now.Add(interval)})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}
