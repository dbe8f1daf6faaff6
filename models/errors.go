package models

import "errors"

// Domain errors. Repositories return them (wrapped or not); the HTTP layer maps
// them to statuses in one table.
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrEmailTaken: an account with this email (case-insensitively) exists.
	ErrEmailTaken = errors.New("email taken")
	// ErrTokenInvalid: a refresh, verification or reset token is unknown, used,
	// expired, superseded or malformed.
	ErrTokenInvalid = errors.New("token invalid")
	// ErrTokenReused: an already-rotated refresh token was presented; its
	// session has been revoked.
	ErrTokenReused = errors.New("refresh token reused")
	// ErrUnavailable: the database did not answer in time.
	ErrUnavailable = errors.New("database unavailable")
)
