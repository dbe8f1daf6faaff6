package mail

import (
	"aura/queue"
	"context"
	"errors"
	"log/slog"
	netmail "net/mail"
	"strconv"
	"sync/atomic"
	"time"

	"aura/fault"
	"aura/models"
	"aura/repositories"
)

// SenderConfig tunes the background sender.
type SenderConfig struct {
	// From is the From of every message (mail.from).
	From string
	// PollInterval is the pause between two looks at the outbox when it has
	// nothing due.
	PollInterval time.Duration
	// Lease is how long a claimed row stays reserved to this sender; a row
	// still unsent when it ends (the process died mid-send) is claimed again.
	Lease time.Duration
	// RetryMaxBackoff caps the exponential wait between attempts.
	RetryMaxBackoff time.Duration
	// SendTimeout bounds one message's delivery; a batch stops claiming
	// messages whose lease has less than this left.
	SendTimeout time.Duration
	// BatchSize is how many rows one claim takes (default 10).
	BatchSize int
}

// Sender works the outbox off: it claims due rows, delivers them through its
// Driver, marks them sent (blanking their bodies) or schedules a retry.
// Several senders may share one database: claims never overlap.
type Sender struct {
	cfg    SenderConfig
	from   *netmail.Address
	driver Driver
	outbox func(ctx context.Context) *repositories.Outbox
	log    *slog.Logger
	id     string
	seq    atomic.Uint64
	// logOnly is set for a driver that writes messages to the log and
	// delivers none (LogDriver): its messages are never called sent.
	logOnly bool
	// Clock is the time source (nil: the system clock); tests may move it.
	Clock models.Clock
	// Observer hears what became of each message (metrics); nil: no one.
	Observer Observer
}

// Observer hears what became of each message the sender tried, with the
// time the try took: sent (or written to the log by the log driver), failed
// and to be retried, or dropped (refused for good); and how many unsent
// messages were dropped because their link expired. It must be quick and
// safe for concurrent use.
type Observer interface {
	MailSent(kind string, took time.Duration)
	MailFailed(kind string, dropped bool, took time.Duration)
	MailExpired(n int64)
}

// NewSender builds a sender. outbox returns the repository bound to a
// context (repositories.New(db.WithContext(ctx)).Outbox).
func NewSender(cfg SenderConfig, driver Driver, outbox func(ctx context.Context) *repositories.Outbox, log *slog.Logger) (*Sender, error) {
	from, err := ParseFrom(cfg.From)
	if err != nil {
		return nil, err
	}
	if cfg.PollInterval <= 0 || cfg.Lease <= 0 || cfg.RetryMaxBackoff <= 0 {
		return nil, errors.New("mail: poll_interval, lease and retry_max_backoff must be positive")
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 15 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 10
	}
	id := queue.Worker()
	s := &Sender{cfg: cfg, from: from, driver: driver, outbox: outbox, log: log, id: id}
	if d, ok := driver.(interface{ LogOnly() bool }); ok {
		s.logOnly = d.LogOnly()
	}
	return s, nil
}

// done is what happened to a message the driver accepted.
func (s *Sender) done() string {
	if s.logOnly {
		return "written to the log (not sent)"
	}
	return "sent"
}

// Run works the outbox until ctx is done. A message being delivered when ctx
// ends is finished (within SendTimeout) and recorded; rows claimed but not
// yet tried are released for the next start.
func (s *Sender) Run(ctx context.Context) {
	s.log.Info("mail sender started", "sender", s.id, "poll", s.cfg.PollInterval.String())
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("mail sender stopped", "sender", s.id)
			return
		case <-t.C:
		}
		if _, err := s.Flush(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("mail outbox unavailable; will retry", "err", err)
		}
		t.Reset(s.cfg.PollInterval)
	}
}

// Flush sends what is due now, batch after batch, and returns how many
// messages left. It stops early when ctx ends.
func (s *Sender) Flush(ctx context.Context) (int, error) {
	if n, err := s.outbox(ctx).DropExpired(s.Clock.Now()); err != nil {
		return 0, err
	} else if n > 0 {
		s.log.Warn("mail dropped: its link expired before it could be sent", "count", n)
		if s.Observer != nil {
			s.Observer.MailExpired(n)
		}
	}
	sent := 0
	for ctx.Err() == nil {
		owner := s.id + "/" + strconv.FormatUint(s.seq.Add(1), 10)
		now := s.Clock.Now()
		rows, err := s.outbox(ctx).Claim(owner, now, s.cfg.Lease, s.cfg.BatchSize)
		if err != nil {
			return sent, err
		}
		if len(rows) == 0 {
			return sent, nil
		}
		sent += s.deliver(ctx, owner, now.Add(s.cfg.Lease), rows)
		if len(rows) < s.cfg.BatchSize {
			return sent, nil
		}
	}
	return sent, nil
}

// deliver sends one claimed batch over one connection and records each
// outcome. Records are written even while shutting down, so a message that
// left is never sent again for want of its mark.
func (s *Sender) deliver(ctx context.Context, owner string, leaseEnd time.Time, rows []models.OutboxMessage) int {
	record := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	}
	release := func(rest []models.OutboxMessage) {
		rctx, cancel := record()
		defer cancel()
		for _, r := range rest {
			if err := s.outbox(rctx).Release(r.ID, owner); err != nil {
				s.log.Warn("mail release failed; the lease will free it", "id", r.ID, "err", err)
			}
		}
	}
	opened := time.Now()
	conn, err := s.driver.Open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			release(rows)
			return 0
		}
		for i := range rows {
			s.failed(record, owner, &rows[i], err, time.Since(opened))
		}
		return 0
	}
	defer func() {
		if err := conn.Close(); err != nil {
			s.log.Debug("mail connection close", "err", err)
		}
	}()
	sent := 0
	for i := range rows {
		row := &rows[i]
		if ctx.Err() != nil || s.Clock.Now().Add(s.cfg.SendTimeout).After(leaseEnd) {
			release(rows[i:])
			return sent
		}
		start := time.Now()
		err := conn.Send(messageFor(row, s.from, s.Clock.Now()))
		took := time.Since(start)
		if err != nil {
			s.failed(record, owner, row, err, took)
			continue
		}
		if s.Observer != nil {
			s.Observer.MailSent(row.Kind, took)
		}
		rctx, cancel := record()
		ok, err := s.outbox(rctx).MarkSent(row.ID, owner, s.Clock.Now())
		cancel()
		switch {
		case err != nil:
			s.log.Error("mail "+s.done()+" but not marked; it may be handled again after the lease", "id", row.ID, "err", err)
		case !ok:
			s.log.Warn("mail "+s.done()+" after its lease was taken over", "id", row.ID)
		case s.logOnly:
			// The driver has logged the message as not sent; this is only
			// the outbox's side of it.
			sent++
			s.log.Debug("mail "+s.done(), "id", row.ID, "kind", row.Kind, "to", RecipientTag(row.Recipient), "attempt", row.Attempts)
		default:
			sent++
			s.log.Info("mail sent", "id", row.ID, "kind", row.Kind, "to", RecipientTag(row.Recipient), "attempt", row.Attempts)
		}
	}
	return sent
}

// failed schedules the next attempt of row after an exponential backoff, or
// gives it up when no retry can help.
func (s *Sender) failed(record func() (context.Context, context.CancelFunc), owner string, row *models.OutboxMessage, cause error, took time.Duration) {
	rctx, cancel := record()
	defer cancel()
	now := s.Clock.Now()
	if s.Observer != nil {
		s.Observer.MailFailed(row.Kind, fault.IsPermanent(cause), took)
	}
	if fault.IsPermanent(cause) {
		s.log.Error("mail refused for good; dropped", "id", row.ID, "kind", row.Kind, "to", RecipientTag(row.Recipient), "err", redacted(cause))
		if err := s.outbox(rctx).Drop(row.ID, owner, now, cause.Error()); err != nil {
			s.log.Warn("mail drop not recorded", "id", row.ID, "err", err)
		}
		return
	}
	wait := Backoff(row.Attempts, s.cfg.RetryMaxBackoff)
	s.log.Warn("mail not sent; will retry", "id", row.ID, "kind", row.Kind, "attempt", row.Attempts,
		"retry_in", wait.String(), "err", redacted(cause))
	if err := s.outbox(rctx).MarkFailed(row.ID, owner, now.Add(wait), cause.Error()); err != nil {
		s.log.Warn("mail failure not recorded; the lease will free it", "id", row.ID, "err", err)
	}
}

// Backoff is queue.Backoff: the one retry schedule of AURA's queues.
func Backoff(attempts int, max time.Duration) time.Duration { return queue.Backoff(attempts, max) }
