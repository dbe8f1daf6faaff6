package repositories

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Housekeeping deletes rows nothing needs any more, so tables stop growing
// with use. Every deletion is a batch of at most Sweep's batch rows, picked by
// a subquery with LIMIT: one statement never holds its locks for long, and the
// loop goes on until a batch comes back short.
type Housekeeping struct{ db *gorm.DB }

// NewHousekeeping builds the clean-up on db, which should carry the run's
// context (db.WithContext(ctx)): cancelling it stops the run between, or in,
// statements.
func NewHousekeeping(db *gorm.DB) *Housekeeping { return &Housekeeping{db: db} }

// SweepPolicy says what a Sweep deletes.
type SweepPolicy struct {
	// Ended: a row whose life ended before it is deleted. A session's life
	// ends when it expires or is revoked, whichever comes first (a session
	// never comes back from either); a link token's when it is used,
	// superseded or expires; an outbox row's when it is sent or given up.
	Ended time.Time
	// WindowsEnded: a rate_limits row whose window ended (reset_at) before
	// it is deleted. Such a row blocks nothing and counts for nothing: Hit and
	// Acquire treat it as absent. It must not be later than now.
	WindowsEnded time.Time
	// Batch is the most rows one statement deletes (1000 when not positive).
	Batch int
	// Pause is the wait after a full batch before the next, which lets other
	// writers in (SQLite has one writer at a time).
	Pause time.Duration
}

// Swept counts what a Sweep deleted, per table.
type Swept struct {
	Sessions      int64
	RefreshTokens int64
	ActionTokens  int64
	Outbox        int64
	RateLimits    int64
	// ErasedAccounts and ErasedObjects count the accounts whose personal
	// data was erased in the same run (privacy.Erase), and their stored
	// objects deleted; Total leaves them out.
	ErasedAccounts int64
	ErasedObjects  int64
	// ExpiredOrders counts the pending orders past their payment window
	// marked expired, ExpiredLots and ExpiredCredits the credit lots past
	// their expiry whose remaining credits lapsed (billing.Expire); Total
	// leaves them out.
	ExpiredOrders  int64
	ExpiredLots    int64
	ExpiredCredits int64
	// Events counts the live update events (and tickets) older than the
	// replay window deleted; MessageMails the emails queued for messages
	// left unread. Total leaves them out.
	Events       int64
	MessageMails int64
}

// Total is the number of rows deleted.
func (s Swept) Total() int64 {
	return s.Sessions + s.RefreshTokens + s.ActionTokens + s.Outbox + s.RateLimits
}

// Statements of a sweep. Each deletes at most @batch rows. The conditions of
// sessions, tokens and outbox rows, once true, stay true (nothing un-revokes
// a session, extends an ended one, or un-sends a mail), so the subquery's
// pick is final; the rate_limits one is repeated outside the subquery because
// a concurrent Hit or Acquire may open a new window in a picked row, and
// PostgreSQL re-checks the outer condition on the row's latest version.
const (
	// deadSession is the condition on sessions s: expired or revoked before
	// @ended. Live sessions keep every refresh token, used ones included:
	// presenting a rotated token again is how reuse is detected.
	deadSession = "(s.expires_at < @ended OR s.revoked_at < @ended)"

	sweepRefreshTokens = "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT rt.token_hash FROM refresh_tokens rt " +
		"JOIN sessions s ON s.id = rt.session_id WHERE " + deadSession + " LIMIT @batch)"
	// A session goes once its tokens are gone (they are deleted first; the
	// foreign key may or may not cascade, depending on how the table was made).
	sweepSessions = "DELETE FROM sessions WHERE id IN (SELECT s.id FROM sessions s WHERE " + deadSession +
		" AND NOT EXISTS (SELECT 1 FROM refresh_tokens rt WHERE rt.session_id = s.id) LIMIT @batch)"
	sweepActionTokens = "DELETE FROM action_tokens WHERE id IN (SELECT id FROM action_tokens " +
		"WHERE used_at < @ended OR expires_at < @ended LIMIT @batch)"
	sweepOutbox = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox " +
		"WHERE sent_at < @ended OR dropped_at < @ended LIMIT @batch)"
	sweepRateLimits = "DELETE FROM rate_limits WHERE bucket IN (SELECT bucket FROM rate_limits " +
		"WHERE reset_at < @windows LIMIT @batch) AND reset_at < @windows"
)

// Sweep deletes what p says, table after table: refresh tokens of ended
// sessions, then those sessions, link tokens, outbox rows, rate-limit rows.
// Pending mail, live sessions and their tokens, live links and running
// windows are never touched. A table that fails does not stop the others
// (a refresh token that could not go keeps its session); the errors are
// returned together with what was deleted. A cancelled context stops the
// sweep. Every batch done stays done, so the next sweep carries on.
func (h *Housekeeping) Sweep(p SweepPolicy) (Swept, error) {
	if p.Batch <= 0 {
		p.Batch = 1000
	}
	args := map[string]any{"ended": p.Ended.UTC(), "windows": p.WindowsEnded.UTC(), "batch": p.Batch}
	var out Swept
	steps := []struct {
		query string
		count *int64
	}{
		{sweepRefreshTokens, &out.RefreshTokens},
		{sweepSessions, &out.Sessions},
		{sweepActionTokens, &out.ActionTokens},
		{sweepOutbox, &out.Outbox},
		{sweepRateLimits, &out.RateLimits},
	}
	var errs []error
	for _, st := range steps {
		if err := h.drain(st.query, args, p, st.count); err != nil {
			errs = append(errs, err)
			if ctx := h.db.Statement.Context; ctx != nil && ctx.Err() != nil {
				break
			}
		}
	}
	return out, errors.Join(errs...)
}

// drain runs one batched DELETE until a batch comes back short, adding what
// it deletes to *count.
func (h *Housekeeping) drain(query string, args map[string]any, p SweepPolicy, count *int64) error {
	for {
		res := h.db.Exec(query, args)
		if res.Error != nil {
			return translate(res.Error)
		}
		*count += res.RowsAffected
		if res.RowsAffected < int64(p.Batch) {
			return nil
		}
		if err := h.pause(p.Pause); err != nil {
			return err
		}
	}
}

// pause waits d, or less if the handle's context ends.
func (h *Housekeeping) pause(d time.Duration) error {
	ctx := h.db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if d <= 0 {
		return translate(ctx.Err())
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return translate(ctx.Err())
	case <-t.C:
		return nil
	}
}
