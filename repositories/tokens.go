package repositories

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Tokens stores single-use emailed tokens (verification, reset) by hash.
type Tokens struct{ db *gorm.DB }

// Issue stores t and marks every older unused token of the same user and
// purpose used: a new link supersedes the ones sent before it. Call it inside
// Store.Tx with the outbox row that carries the raw token.
func (r *Tokens) Issue(t *models.ActionToken) error {
	if err := r.db.Model(&models.ActionToken{}).
		Where("user_id = ? AND purpose = ? AND used_at IS NULL", t.UserID, t.Purpose).
		Update("used_at", t.CreatedAt).Error; err != nil {
		return translate(err)
	}
	return translate(r.db.Create(t).Error)
}

// Peek returns the user ID of the live (unused, unexpired) token of purpose
// with hash, changing nothing. Returns models.ErrTokenInvalid otherwise.
func (r *Tokens) Peek(purpose, hash string, now time.Time) (string, error) {
	var t models.ActionToken
	err := r.db.Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now).
		Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", models.ErrTokenInvalid
	}
	if err != nil {
		return "", translate(err)
	}
	return t.UserID, nil
}

// Consume marks the live token of purpose with hash used and returns its
// user ID. The conditional update is the claim: of concurrent uses, exactly
// one succeeds, so run it inside the Store.Tx that applies the change the
// token allows. Returns models.ErrTokenInvalid when the token is unknown,
// used, superseded, expired or of another purpose.
func (r *Tokens) Consume(purpose, hash string, now time.Time) (string, error) {
	res := r.db.Model(&models.ActionToken{}).
		Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now).
		Update("used_at", now)
	if res.Error != nil {
		return "", translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return "", models.ErrTokenInvalid
	}
	var t models.ActionToken
	if err := r.db.Where("token_hash = ?", hash).Take(&t).Error; err != nil {
		return "", translate(err)
	}
	return t.UserID, nil
}

// VoidAll marks every unused token of purpose of the user used at now: a
// password change voids outstanding reset links.
func (r *Tokens) VoidAll(userID, purpose string, now time.Time) error {
	return translate(r.db.Model(&models.ActionToken{}).
		Where("user_id = ? AND purpose = ? AND used_at IS NULL", userID, purpose).
		Update("used_at", now).Error)
}
