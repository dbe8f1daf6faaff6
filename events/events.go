// Package events delivers the live updates of GET /api/events. Events are
// rows of the events table (one per recipient, ids increasing in commit
// order), written in the transaction of the change they announce; every
// instance runs one Hub that reads the rows above the last it delivered and
// hands each to the streams of its recipient open on that instance. The Hub
// is woken by PostgreSQL's NOTIFY (LISTEN on a dedicated connection,
// re-established when it drops, the table read again from the last
// delivered id so nothing is lost) or, on SQLite (one instance), in
// process. A stream that reconnects with Last-Event-ID replays its rows of
// the last ReplayWindow from the table.
package events

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"aura/models"
	"aura/repositories"
)

// ReplayWindow is how far back a reconnect may replay; housekeeping deletes
// older events.
const ReplayWindow = 5 * time.Minute

// Event is a live update for some users. Kind is the SSE event name
// (models.EventNotification, EventScreening, EventMessage, EventAlert);
// Data is marshalled to JSON as the event's data line.
type Event struct {
	Kind    string
	UserIDs []string
	Data    any
	// At is when it happened (zero: now).
	At time.Time
}

// Publish stores e for each of its users on db, to reach their streams on
// every instance. Call it with the transaction of the change it announces
// (the event is then delivered only if that commits), as its last write:
// on PostgreSQL it holds the events lock until that transaction ends. It is
// how other parts of AURA (alerts) send events:
//
//	events.Publish(ctx, tx, events.Event{Kind: models.EventAlert, UserIDs: to, Data: alertView})
func Publish(ctx context.Context, db *gorm.DB, e Event) error {
	at := e.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	return repositories.New(db.WithContext(ctx)).Events.Publish(e.Kind, e.UserIDs, e.Data, at)
}

// Sub is one open stream's subscription: C receives its user's events in
// id order; Done is closed when the hub drops it (it fell behind, or the
// server is shutting down): the stream ends, and the client reconnects with
// Last-Event-ID.
type Sub struct {
	UserID string
	C      chan models.Event
	Done   chan struct{}
	once   sync.Once
}

func (s *Sub) drop() { s.once.Do(func() { close(s.Done) }) }

// subBuffer is how many events a stream may have waiting before it is
// dropped as too slow.
const subBuffer = 16

// Hub fans the stored events out to this instance's streams.
type Hub struct {
	db  *gorm.DB
	dsn string
	log *slog.Logger
	// Poll is how often the table is read without a wake-up (SQLite: the
	// in-process signal may come before its transaction commits; 1s), and
	// how long a PostgreSQL listener waits before checking its connection
	// (30s).
	Poll time.Duration

	mu     sync.Mutex
	subs   map[string]map[*Sub]struct{}
	closed bool
	last   uint64
	// Reconnects counts the listener connections made after the first.
	Reconnects atomic.Int64
	// conn is the listener's current connection (tests read its pid).
	connMu sync.Mutex
	pid    uint32
}

// NewHub builds the hub of db; pgURL is the PostgreSQL connection URL to
// LISTEN on ("" for SQLite, in process).
func NewHub(db *gorm.DB, pgURL string, log *slog.Logger) *Hub {
	h := &Hub{db: db, dsn: pgURL, log: log, Poll: time.Second, subs: map[string]map[*Sub]struct{}{}}
	if pgURL != "" {
		h.Poll = 30 * time.Second
	}
	return h
}

// Subscribe opens a subscription to userID's events stored from now on.
func (h *Hub) Subscribe(userID string) *Sub {
	s := &Sub{UserID: userID, C: make(chan models.Event, subBuffer), Done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.drop()
		return s
	}
	if h.subs[userID] == nil {
		h.subs[userID] = map[*Sub]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	return s
}

// Unsubscribe ends s.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[s.UserID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, s.UserID)
		}
	}
	s.drop()
}

// Count is how many streams are subscribed.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// Close drops every subscription and refuses new ones: the streams end so
// a graceful shutdown does not wait for them.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, m := range h.subs {
		for s := range m {
			s.drop()
		}
	}
	h.subs = map[string]map[*Sub]struct{}{}
}

// ListenerPID is the backend pid of the PostgreSQL listener connection (0
// when none is open).
func (h *Hub) ListenerPID() uint32 {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	return h.pid
}

// Run delivers events until ctx is done.
func (h *Hub) Run(ctx context.Context) {
	last, err := h.store(ctx).Events.LastID()
	for err != nil && ctx.Err() == nil {
		h.log.Warn("events: cannot read the last event id; retrying", "err", err)
		if !sleep(ctx, time.Second) {
			return
		}
		last, err = h.store(ctx).Events.LastID()
	}
	h.last = last
	if h.dsn == "" {
		h.runLocal(ctx)
	} else {
		h.runListen(ctx)
	}
}

func (h *Hub) store(ctx context.Context) *repositories.Store {
	return repositories.New(h.db.WithContext(ctx))
}

// runLocal: woken in process, and every Poll.
func (h *Hub) runLocal(ctx context.Context) {
	t := time.NewTicker(h.Poll)
	defer t.Stop()
	for {
		woken := repositories.EventsStored()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.catchUp(ctx)
		case <-woken:
			// The signal comes as the rows are written, maybe before their
			// transaction commits: read now and shortly after.
			for _, d := range []time.Duration{0, 5 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond} {
				if !sleep(ctx, d) {
					return
				}
				h.catchUp(ctx)
			}
		}
	}
}

// runListen: LISTEN on a dedicated connection; on any error the connection
// is replaced and the table read again from the last delivered id.
func (h *Hub) runListen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := h.listenOnce(ctx, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("events: listener connection lost; reconnecting", "err", err, "after", backoff.String())
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
		h.Reconnects.Add(1)
	}
}

func (h *Hub) listenOnce(ctx context.Context, first bool) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, h.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		h.connMu.Lock()
		h.pid = 0
		h.connMu.Unlock()
		_ = conn.Close(context.Background())
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+repositories.EventsChannel); err != nil {
		return err
	}
	h.connMu.Lock()
	h.pid = conn.PgConn().PID()
	h.connMu.Unlock()
	if !first {
		h.log.Info("events: listener connection re-established")
	}
	// Whatever was stored while no connection listened.
	h.catchUp(ctx)
	for {
		wctx, cancel := context.WithTimeout(ctx, h.Poll)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
		case wctx.Err() != nil:
			// Quiet: check the connection still answers.
			if err := conn.Ping(ctx); err != nil {
				return err
			}
		default:
			return err
		}
		h.catchUp(ctx)
	}
}

// catchUp reads every event above the last delivered and hands each to the
// subscriptions of its user (a subscription too far behind is dropped).
func (h *Hub) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		rows, err := h.store(ctx).Events.After(h.last, 500)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("events: read failed; will retry", "err", err)
			}
			return
		}
		h.mu.Lock()
		for _, e := range rows {
			for s := range h.subs[e.UserID] {
				select {
				case s.C <- e:
				default:
					delete(h.subs[e.UserID], s)
					s.drop()
				}
			}
			h.last = e.ID
		}
		h.mu.Unlock()
		if len(rows) < 500 {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Replay returns userID's events above after stored within the window
// before now (at most limit), oldest first.
func Replay(ctx context.Context, db *gorm.DB, userID string, after uint64, now time.Time, limit int) ([]models.Event, error) {
	return repositories.New(db.WithContext(ctx)).Events.Replay(userID, after, now.Add(-ReplayWindow), limit)
}
