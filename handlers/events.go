package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"aura/events"
	"aura/models"
)

// EventSettings steer the live update streams.
type EventSettings struct {
	// Heartbeat is the interval of the comment line that keeps a quiet
	// stream open through proxies (events.heartbeat, 25s).
	Heartbeat time.Duration
	// SessionCheck is how often a stream checks its session is still live
	// and its roles still held (events.session_check, 20s).
	SessionCheck time.Duration
	// Clock is the time of tickets and of the replay window.
	Clock models.Clock
}

// TicketTTL is how long an event ticket may be used.
const TicketTTL = 60 * time.Second

// replayMax is the most events a reconnect replays.
const replayMax = 1000

// EventTicket is POST /api/events/ticket: a single-use ticket (60 s) for
// opening GET /api/events from a client that cannot send headers
// (EventSource).
func (d *Deps) EventTicket(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	ticket := base64.RawURLEncoding.EncodeToString(b[:])
	u, claims := currentUser(c), currentClaims(c)
	err := store(c).Events.AddTicket(&models.EventTicket{Hash: ticketHash(ticket), UserID: u.ID, SessionID: claims.Sid,
		ExpiresAt: d.EventSettings.Clock.Now().Add(TicketTTL)})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{"ticket": ticket, "expiresIn": int(TicketTTL / time.Second)}, "")
	return nil
}

func ticketHash(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// Events is GET /api/events?ticket= (or with the bearer header): the
// caller's live updates as Server-Sent Events.
func (d *Deps) Events(c *gin.Context) error {
	if d.Hub == nil {
		return errNotFound
	}
	var u *models.User
	var sid string
	if ticket := c.Query("ticket"); ticket != "" {
		if len(ticket) > 100 {
			return errUnauthorized
		}
		t, err := store(c).Events.UseTicket(ticketHash(ticket), d.EventSettings.Clock.Now())
		if errors.Is(err, models.ErrNotFound) {
			return errUnauthorized
		} else if err != nil {
			return err
		}
		if u, err = store(c).Users.ForSession(t.UserID, t.SessionID, d.EventSettings.Clock.Now()); errors.Is(err, models.ErrNotFound) {
			return errUnauthorized
		} else if err != nil {
			return err
		}
		if !u.IsActive {
			return models.ErrDisabled
		}
		sid = t.SessionID
	} else {
		user, claims, err := d.authenticate(c)
		if err != nil {
			return err
		}
		u, sid = user, claims.Sid
	}
	var after uint64
	resume := c.GetHeader("Last-Event-ID")
	if resume == "" {
		resume = c.Query("lastEventId")
	}
	if resume != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(resume), 10, 64)
		if err != nil {
			return models.Invalid(map[string]string{"Last-Event-ID": "must be the id of an event"})
		}
		after = n
	}
	roles := u.RoleNames()
	sub := d.Hub.Subscribe(u.ID)
	defer d.Hub.Unsubscribe(sub)
	var backlog []models.Event
	var err error
	if resume != "" {
		if backlog, err = renewStore(c).Events.Replay(u.ID, after, d.EventSettings.Clock.Now().Add(-events.ReplayWindow), replayMax); err != nil {
			return err
		}
	} else if after, err = renewStore(c).Events.LastID(); err != nil {
		// A new stream starts after what was stored when it opened (the
		// hub may still be handing out older events).
		return err
	}

	w := c.Writer
	rc := http.NewResponseController(w)
	// A stream lives past the server's read and write timeouts; each write
	// gets its own deadline instead.
	_ = rc.SetReadDeadline(time.Time{})
	writeTimeout := d.ExportWriteTimeout
	if writeTimeout <= 0 {
		writeTimeout = 30 * time.Second
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.WriteString(s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The client's reconnection delay, then the missed events.
	if !send("retry: 3000\n\n") {
		return nil
	}
	var last uint64
	emit := func(e models.Event) bool {
		if e.ID <= last || e.ID <= after {
			return true
		}
		last = e.ID
		return send(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Kind, e.Data))
	}
	for _, e := range backlog {
		if !emit(e) {
			return nil
		}
	}
	beat := time.NewTicker(d.EventSettings.Heartbeat)
	defer beat.Stop()
	check := time.NewTicker(d.EventSettings.SessionCheck)
	defer check.Stop()
	ctx := c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Done:
			return nil
		case e := <-sub.C:
			if !emit(e) {
				return nil
			}
		case <-beat.C:
			if !send(": keep-alive\n\n") {
				return nil
			}
		case <-check.C:
			now, err := renewStore(c).Users.ForSession(u.ID, sid, d.EventSettings.Clock.Now())
			if errors.Is(err, models.ErrNotFound) || (err == nil && (!now.IsActive || lostRole(roles, now.RoleNames()))) {
				return nil
			}
		}
	}
}

// lostRole reports whether a role held when the stream opened is gone.
func lostRole(before, now []string) bool {
	for _, r := range before {
		if !slices.Contains(now, r) {
			return true
		}
	}
	return false
}
