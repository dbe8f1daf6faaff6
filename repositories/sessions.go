package repositories

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Sessions stores login sessions and their rotating refresh tokens.
type Sessions struct{ db *gorm.DB }

// Create inserts a session and its first refresh token (by hash).
func (r *Sessions) Create(s *models.Session, tokenHash string) error {
	if err := r.db.Create(s).Error; err != nil {
		return translate(err)
	}
	return translate(r.db.Create(&models.RefreshToken{TokenHash: tokenHash, SessionID: s.ID, CreatedAt: s.CreatedAt}).Error)
}

// Rotate consumes the refresh token with oldHash and issues newHash in its
// session. Run it inside Store.Tx. Returns:
//   - models.ErrTokenReused if the token was already rotated; the session is
//     then revoked (the caller must commit that, not roll it back);
//   - models.ErrTokenInvalid if it is unknown, or its session is revoked or expired.
func (r *Sessions) Rotate(oldHash, newHash string, now time.Time, ttl time.Duration) (*models.Session, error) {
	// The conditional update is the claim: of two concurrent uses, one wins.
	res := r.db.Model(&models.RefreshToken{}).Where("token_hash = ? AND used_at IS NULL", oldHash).Update("used_at", now)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	var tok models.RefreshToken
	if err := r.db.Where("token_hash = ?", oldHash).Take(&tok).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, models.ErrTokenInvalid
		}
		return nil, translate(err)
	}
	var s models.Session
	if err := r.db.Where("id = ?", tok.SessionID).Take(&s).Error; err != nil {
		return nil, translate(err)
	}
	if res.RowsAffected == 0 {
		if s.RevokedAt == nil {
			if err := r.Revoke(s.ID, now); err != nil {
				return nil, err
			}
		}
		return nil, models.ErrTokenReused
	}
	if s.RevokedAt != nil || !s.ExpiresAt.After(now) {
		return nil, models.ErrTokenInvalid
	}
	s.LastUsedAt = now
	s.ExpiresAt = now.Add(ttl)
	if err := r.db.Model(&s).Updates(map[string]any{"last_used_at": now, "expires_at": s.ExpiresAt}).Error; err != nil {
		return nil, translate(err)
	}
	if err := r.db.Create(&models.RefreshToken{TokenHash: newHash, SessionID: s.ID, CreatedAt: now}).Error; err != nil {
		return nil, translate(err)
	}
	return &s, nil
}

// SessionOf returns the live session that the refresh token with hash belongs
// to, or models.ErrNotFound.
func (r *Sessions) SessionOf(tokenHash string, now time.Time) (*models.Session, error) {
	var s models.Session
	err := r.db.Joins("JOIN refresh_tokens rt ON rt.session_id = sessions.id").
		Where("rt.token_hash = ? AND sessions.revoked_at IS NULL AND sessions.expires_at > ?", tokenHash, now).
		Take(&s).Error
	return &s, translate(err)
}

// Revoke ends one session.
func (r *Sessions) Revoke(id string, now time.Time) error {
	return translate(r.db.Model(&models.Session{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", now).Error)
}

// RevokeAllForUser ends every live session of the user but exceptID ("" for none).
func (r *Sessions) RevokeAllForUser(userID, exceptID string, now time.Time) error {
	q := r.db.Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", userID)
	if exceptID != "" {
		q = q.Where("id <> ?", exceptID)
	}
	return translate(q.Update("revoked_at", now).Error)
}
