package repositories

import (
	"crypto/sha256"
	"encoding/base64"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Limits keeps fixed-window counters in the database, so every instance
// sharing it enforces one limit. Keys are stored hashed (bucket): their size
// is bounded whatever the client typed, and the table holds no addresses.
type Limits struct{ db *gorm.DB }

// bucket is the stored form of key: a SHA-256, 43 characters.
func bucket(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Blocked returns how long key stays blocked when it has reached max hits in
// its current window, or 0.
func (r *Limits) Blocked(key string, max int, now time.Time) (time.Duration, error) {
	var rl models.RateLimit
	err := r.db.Where("bucket = ? AND reset_at > ? AND hits >= ?", bucket(key), now, max).Limit(1).Find(&rl).Error
	if err != nil || rl.Key == "" {
		return 0, translate(err)
	}
	return rl.ResetAt.Sub(now), nil
}

// windowStart is the update of a counter row: a window that has ended
// restarts at one hit, otherwise the hit is added.
func windowStart(now, resetAt time.Time) clause.Set {
	return clause.Set{
		{Column: clause.Column{Name: "hits"}, Value: gorm.Expr("CASE WHEN rate_limits.reset_at <= ? THEN 1 ELSE rate_limits.hits + 1 END", now)},
		{Column: clause.Column{Name: "reset_at"}, Value: gorm.Expr("CASE WHEN rate_limits.reset_at <= ? THEN ? ELSE rate_limits.reset_at END", now, resetAt)},
	}
}

// Hit counts one event for key in a window of the given length that starts at
// its first event, atomically (one upsert).
func (r *Limits) Hit(key string, window time.Duration, now time.Time) error {
	resetAt := now.Add(window)
	return translate(r.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "bucket"}},
		DoUpdates: windowStart(now, resetAt),
	}).Create(&models.RateLimit{Key: bucket(key), Count: 1, ResetAt: resetAt}).Error)
}

// Claim takes one of the max slots of key's current window (a window of the
// given length that starts at its first claim) in one conditional upsert:
// of any number of concurrent claims, on any engine and from any instance,
// at most max succeed per window. It returns 0 when a slot was taken, or how
// long until the window ends when none is left. Run it outside a
// transaction, so the claim is visible to every other caller at once.
func (r *Limits) Claim(key string, max int, window time.Duration, now time.Time) (time.Duration, error) {
	if max <= 0 {
		return 0, nil
	}
	resetAt := now.Add(window)
	res := r.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "bucket"}},
		DoUpdates: windowStart(now, resetAt),
		Where: clause.Where{Exprs: []clause.Expression{
			gorm.Expr("rate_limits.reset_at <= ? OR rate_limits.hits < ?", now, max),
		}},
	}).Create(&models.RateLimit{Key: bucket(key), Count: 1, ResetAt: resetAt})
	if res.Error != nil {
		return 0, translate(res.Error)
	}
	if res.RowsAffected == 1 {
		return 0, nil
	}
	var rl models.RateLimit
	if err := r.db.Where("bucket = ?", bucket(key)).Limit(1).Find(&rl).Error; err != nil {
		return 0, translate(err)
	}
	if wait := rl.ResetAt.Sub(now); wait > time.Second {
		return wait, nil
	}
	return time.Second, nil
}

// Release gives back one slot of key taken by Claim (the attempt turned out
// not to count).
func (r *Limits) Release(key string) error {
	return translate(r.db.Model(&models.RateLimit{}).Where("bucket = ? AND hits > 0", bucket(key)).
		Update("hits", gorm.Expr("hits - 1")).Error)
}

// Clear forgets key (a successful login clears its account's failures).
func (r *Limits) Clear(key string) error {
	return translate(r.db.Where("bucket = ?", bucket(key)).Delete(&models.RateLimit{}).Error)
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
	}).Create(&models.RateLimit{Key: bucket(key), Count: 1, ResetAt: now.Add(interval)})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}
