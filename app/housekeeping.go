package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"aura/config"
	"aura/events"
	"aura/models"
	"aura/repositories"
	"aura/services/alerts"
	"aura/services/billing"
	"aura/services/conversations"
	"aura/services/privacy"
	"aura/storage"
)

const (
	// HousekeepingLease is the rate_limits bucket that makes one run per
	// housekeeping.interval across every instance sharing the database.
	HousekeepingLease = "housekeeping"
	// housekeepingFirstRun is the longest wait after start before the first
	// run: a start is not slowed by a sweep, and instances that restart often
	// still sweep.
	housekeepingFirstRun = time.Minute
	// housekeepingWindowGrace keeps a rate-limit row for this long after its
	// window ended, so that an instance whose clock is a little behind never
	// sees a row that still blocks for it disappear.
	housekeepingWindowGrace = time.Minute
)

// Housekeeper deletes, every housekeeping.interval, the rows nothing needs any
// more (repositories.Housekeeping.Sweep), expires pending orders past their
// window and credits past their expiry (billing.Expire), and erases the personal data of the
// accounts whose owners deleted them once privacy.erasure_grace is over
// (privacy.Erase). Every instance runs one; the
// database decides which of them sweeps in each interval: a run first takes
// the HousekeepingLease bucket with Limits.Acquire, the upsert that succeeds
// for one caller per interval, and skips when another instance holds it.
type Housekeeper struct {
	db        *gorm.DB
	log       *slog.Logger
	interval  time.Duration
	retention time.Duration
	// Batch is the most rows one DELETE removes (1000).
	Batch int
	// Pause is the wait between two full batches (20ms).
	Pause time.Duration
	// Clock is the time source (nil: the system clock); tests may move it.
	Clock models.Clock
	// Blobs is the object store, whose objects an erasure deletes (nil:
	// erasures wait until a housekeeper with a store runs).
	Blobs *storage.Store
	// Alerts escalates the alerts still open after alerts.escalate_after
	// (nil: none are).
	Alerts *alerts.Service
	// Conversations, when set, has each run email the recipients of
	// messages still unread messages.email_after after they were sent.
	Conversations *conversations.Service
}

// NewHousekeeper builds the clean-up worker of the database db.
func NewHousekeeper(db *gorm.DB, c config.HousekeepingConfig, log *slog.Logger) *Housekeeper {
	return &Housekeeper{db: db, log: log, interval: c.Interval, retention: c.Retention,
		Batch: 1000, Pause: 20 * time.Millisecond}
}

// Run sweeps until ctx is done: first after the interval or a minute,
// whichever is shorter, then one interval after the end of each run. A
// database error is logged and the run is tried again at the next tick.
func (h *Housekeeper) Run(ctx context.Context) {
	h.log.Info("housekeeping started", "interval", h.interval.String(), "retention", h.retention.String())
	t := time.NewTimer(min(h.interval, housekeepingFirstRun))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.log.Info("housekeeping stopped")
			return
		case <-t.C:
		}
		_, _, _ = h.RunOnce(ctx)
		t.Reset(h.interval)
	}
}

// RunOnce sweeps if no instance has swept within the interval, and logs one
// line saying what it did. ran is false when another run holds the interval
// (or the lease could not be taken: err says why). A run lasts at most one
// interval, its lease, so two runs never overlap; what it did not reach is
// left for the next.
func (h *Housekeeper) RunOnce(ctx context.Context) (swept repositories.Swept, ran bool, err error) {
	now := h.Clock.Now()
	ok, err := repositories.New(h.db.WithContext(ctx)).Limits.Acquire(HousekeepingLease, h.interval, now)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("housekeeping: database unavailable; will retry at the next tick", "err", err)
		}
		return swept, false, err
	}
	if !ok {
		h.log.Debug("housekeeping skipped: it ran within the interval (maybe on another instance)")
		return swept, false, nil
	}
	rctx, cancel := context.WithTimeout(ctx, h.interval)
	defer cancel()
	start := time.Now()
	swept, err = repositories.NewHousekeeping(h.db.WithContext(rctx)).Sweep(repositories.SweepPolicy{
		Ended:        now.Add(-h.retention),
		WindowsEnded: now.Add(-housekeepingWindowGrace),
		Batch:        h.Batch,
		Pause:        h.Pause,
	})
	// Accounts deleted by their owner whose grace period is over
	// (privacy.erasure_grace) have their personal data erased.
	if h.Blobs != nil && rctx.Err() == nil {
		erased, eerr := privacy.Erase(rctx, repositories.New(h.db.WithContext(rctx)), h.Blobs, now, h.Batch)
		swept.ErasedAccounts, swept.ErasedObjects = int64(erased.Accounts), int64(erased.Objects)
		err = errors.Join(err, eerr)
	}
	// Pending orders past their window expire, and so do the credits left
	// in lots past their expiry (billing.Expire), whether billing is on or
	// not: the rules are the same as a listing's and an upload's.
	if rctx.Err() == nil {
		exp, berr := billing.Expire(rctx, repositories.New(h.db.WithContext(rctx)), now, h.Batch)
		swept.ExpiredOrders, swept.ExpiredLots, swept.ExpiredCredits = exp.Orders, exp.Lots, exp.Credits
		err = errors.Join(err, berr)
	}
	// Alerts still open after alerts.escalate_after are told to their
	// clinic's admins, once each.
	escalated := 0
	if rctx.Err() == nil {
		var aerr error
		escalated, aerr = h.EscalateAlerts(rctx)
		err = errors.Join(err, aerr)
	}
	// Live update events older than the replay window, spent tickets.
	if rctx.Err() == nil {
		n, perr := repositories.New(h.db.WithContext(rctx)).Events.Prune(now.Add(-events.ReplayWindow))
		swept.Events = n
		err = errors.Join(err, perr)
	}
	if h.Conversations != nil && rctx.Err() == nil {
		n, merr := h.Conversations.MailUnread(rctx, repositories.New(h.db.WithContext(rctx)), now, h.Batch)
		swept.MessageMails = int64(n)
		err = errors.Join(err, merr)
	}
	attrs := []any{"sessions", swept.Sessions, "refresh_tokens", swept.RefreshTokens,
		"action_tokens", swept.ActionTokens, "outbox", swept.Outbox, "rate_limits", swept.RateLimits,
		"erased_accounts", swept.ErasedAccounts, "erased_objects", swept.ErasedObjects,
		"expired_orders", swept.ExpiredOrders, "expired_credit_lots", swept.ExpiredLots, "expired_credits", swept.ExpiredCredits,
		"escalated_alerts", escalated, "events", swept.Events, "message_mails", swept.MessageMails,
		"took", time.Since(start).Round(time.Millisecond).String()}
	switch {
	case err == nil:
		h.log.Info("housekeeping done", attrs...)
	case ctx.Err() != nil:
		h.log.Info("housekeeping interrupted by shutdown", attrs...)
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		h.log.Warn("housekeeping ran out of its interval; the next run continues", attrs...)
	default:
		h.log.Warn("housekeeping failed; will retry at the next tick", append(attrs, "err", err)...)
	}
	return swept, true, err
}

// EscalateAlerts escalates, at the housekeeper's time, the alerts still
// open after alerts.escalate_after, in batches of Batch until none is due.
// It is safe to run on several instances at once (each alert is marked
// escalated by a conditional UPDATE, and only its winner tells the
// admins); RunOnce runs it under the housekeeping lease.
func (h *Housekeeper) EscalateAlerts(ctx context.Context) (int, error) {
	if h.Alerts == nil {
		return 0, nil
	}
	total := 0
	for {
		n, err := h.Alerts.Escalate(ctx, repositories.New(h.db.WithContext(ctx)), h.Clock.Now(), h.Batch)
		total += n
		if err != nil || n < h.Batch || ctx.Err() != nil {
			return total, err
		}
	}
}

// addHousekeeper registers the clean-up as a worker of Serve, unless
// housekeeping.enabled is off.
func (a *App) addHousekeeper() {
	if a.Cfg.Housekeeping.Enabled {
		h := NewHousekeeper(a.DB, a.Cfg.Housekeeping, a.Log)
		h.Clock = a.Clock
		h.Blobs = a.Blobs
		h.Alerts = a.NewAlerts()
		h.Conversations = a.Conversations
		a.workers = append(a.workers, h.Run)
	}
}
