package repositories

import (
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"aura/models"
)

// Outbox stores mail waiting to leave. Rows are written by Enqueue inside the
// transaction of the change they announce, and worked off by a sender through
// Claim, MarkSent and MarkFailed.
type Outbox struct{ db *gorm.DB }

// Enqueue adds m to the outbox, due at once unless m.NextAttemptAt is set.
// An admin's edited template of m's kind and language replaces its texts.
func (r *Outbox) Enqueue(m *models.OutboxMessage) error {
	if err := (&Templates{db: r.db}).applyEmail(m); err != nil {
		return err
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	return translate(r.db.Create(m).Error)
}

// due is the condition of a row a sender may claim: not sent, not dropped,
// its next attempt reached, and no live lease on it.
// (A row whose link has expired is never claimed: DropExpired gives it up.)
const due = "sent_at IS NULL AND dropped_at IS NULL AND next_attempt_at <= @now AND " +
	"(locked_until IS NULL OR locked_until <= @now) AND (discard_after IS NULL OR discard_after > @now)"

// Claim leases up to limit due rows to owner until now+lease, counts an
// attempt on each, and returns them oldest due first. owner must be unique to
// this claim (it is how the rows are found again and how a late sender whose
// lease was taken over is recognised). On PostgreSQL the rows are picked with
// FOR UPDATE SKIP LOCKED, so concurrent senders never claim one row twice;
// SQLite runs the one statement under its write lock, which gives the same.
func (r *Outbox) Claim(owner string, now time.Time, lease time.Duration, limit int) ([]models.OutboxMessage, error) {
	res := claimLeased(r.db, "outbox", due, "next_attempt_at, id", nil, owner, now, lease, limit)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	var rows []models.OutboxMessage
	if res.RowsAffected == 0 {
		return rows, nil
	}
	err := r.db.Where("sent_at IS NULL AND locked_by = ?", owner).Order("next_attempt_at, id").Find(&rows).Error
	return rows, translate(err)
}

// MarkSent records that the row left and blanks its bodies (the only copy
// of the raw token). It returns false when owner no longer holds the row.
func (r *Outbox) MarkSent(id uint64, owner string, now time.Time) (bool, error) {
	res := r.db.Model(&models.OutboxMessage{}).Where("id = ? AND locked_by = ? AND sent_at IS NULL", id, owner).
		Updates(map[string]any{"sent_at": now, "locked_until": nil, "text_body": "", "html_body": "", "last_error": ""})
	return res.RowsAffected == 1, translate(res.Error)
}

// MarkFailed releases the row owner holds for another attempt at next,
// keeping the error for the operator.
func (r *Outbox) MarkFailed(id uint64, owner string, next time.Time, lastError string) error {
	return translate(r.db.Model(&models.OutboxMessage{}).Where("id = ? AND locked_by = ? AND sent_at IS NULL", id, owner).
		Updates(map[string]any{"next_attempt_at": next, "locked_until": nil, "last_error": cleanError(lastError)}).Error)
}

// Release gives back a row owner claimed but did not try (shutdown), without
// counting the attempt.
func (r *Outbox) Release(id uint64, owner string) error {
	return translate(r.db.Model(&models.OutboxMessage{}).Where("id = ? AND locked_by = ? AND sent_at IS NULL", id, owner).
		Updates(map[string]any{"locked_until": nil, "attempts": gorm.Expr("attempts - 1")}).Error)
}

// DropExpired gives up unsent rows whose DiscardAfter has passed (their link
// no longer works) and blanks their bodies. It returns how many it dropped.
func (r *Outbox) DropExpired(now time.Time) (int64, error) {
	res := r.db.Model(&models.OutboxMessage{}).
		Where("sent_at IS NULL AND dropped_at IS NULL AND discard_after <= ? AND (locked_until IS NULL OR locked_until <= ?)", now, now).
		Updates(map[string]any{"dropped_at": now, "locked_until": nil, "text_body": "", "html_body": ""})
	return res.RowsAffected, translate(res.Error)
}

// Drop gives up the row owner holds (a permanent refusal), blanking its
// bodies and keeping the error.
func (r *Outbox) Drop(id uint64, owner string, now time.Time, lastError string) error {
	return translate(r.db.Model(&models.OutboxMessage{}).Where("id = ? AND locked_by = ? AND sent_at IS NULL", id, owner).
		Updates(map[string]any{"dropped_at": now, "locked_until": nil, "text_body": "", "html_body": "",
			"last_error": cleanError(lastError)}).Error)
}

// cleanError fits an error text to the last_error column: valid UTF-8, no
// NUL, at most 1000 bytes.
func cleanError(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	if len(s) > 1000 {
		cut := 1000
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// claimLeased is the one claim of AURA's database queues (the mail outbox,
// the jobs table): it leases up to limit rows of table that meet due (which
// may use @now and the named args) to owner until now+lease, first in order
// (an ORDER BY list: oldest due first for the outbox, the fair order for
// jobs), and counts an attempt on each. Rows leased by another owner are skipped, so concurrent
// claimers never take one row twice: PostgreSQL picks with FOR UPDATE SKIP
// LOCKED, SQLite runs the one statement under its write lock. Find the
// claimed rows again by owner.
func claimLeased(db *gorm.DB, table, due, order string, args map[string]any, owner string, now time.Time, lease time.Duration, limit int) *gorm.DB {
	pick := "SELECT id FROM " + table + " WHERE " + due + " ORDER BY " + order + " LIMIT @limit"
	picked := "id IN (" + pick + ")"
	if db.Dialector.Name() == "postgres" {
		// ARRAY(...) makes the pick an InitPlan, run once. Under IN (...)
		// PostgreSQL may plan a nested-loop semi join that runs the pick
		// again for every outer row; each run skips the rows this statement
		// has already locked and picks further ones, so more than limit rows
		// were claimed.
		picked = "id = ANY(ARRAY(" + pick + " FOR UPDATE SKIP LOCKED))"
	}
	// The outer repeat of the condition is re-checked by PostgreSQL on the
	// row's latest version should another transaction have changed it.
	named := map[string]any{"owner": owner, "until": now.Add(lease), "now": now, "limit": limit}
	for k, v := range args {
		named[k] = v
	}
	return db.Exec("UPDATE "+table+" SET locked_by = @owner, locked_until = @until, attempts = attempts + 1 "+
		"WHERE "+picked+" AND "+due, named)
}
