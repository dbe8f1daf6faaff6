package tests

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// eventsEnv is the live update settings of the stream tests: a heartbeat and
// session check far below the shipped 25 s and 10 s.
var eventsEnv = map[string]string{"AURA_EVENTS_HEARTBEAT": "300ms", "AURA_EVENTS_SESSION_CHECK": "200ms"}

func ticketFor(t *testing.T, s *testenv.Server, token string) string {
	t.Helper()
	var out struct{ Ticket string }
	s.Do(t, "POST", "/api/events/ticket", nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	if len(out.Ticket) != 43 {
		t.Fatalf("ticket %q", out.Ticket)
	}
	return out.Ticket
}

func eventID(t testing.TB, e sseEvent) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(e.ID, 10, 64)
	if err != nil {
		t.Fatalf("event id %q", e.ID)
	}
	return n
}

// TestEventTickets: a ticket opens one stream, once, within 60 s; anything
// else is 401 and opens nothing.
func TestEventTickets(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), eventsEnv))
		p := signUp(t, s, "stream@patient.example")
		tk := ticketFor(t, s, p.Token)
		st := openStream(t, s, "?ticket="+tk, nil)
		if st.Status != http.StatusOK || st.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Fatalf("stream: %d %q", st.Status, st.Header.Get("Content-Type"))
		}
		st.close()
		for name, q := range map[string]string{"reused": "?ticket=" + tk, "unknown": "?ticket=" + tk[:42] + "x", "none": ""} {
			if st := openStream(t, s, q, nil); st.Status != http.StatusUnauthorized {
				t.Fatalf("%s ticket: %d", name, st.Status)
			}
		}
		// Expired: 60 s after it was given.
		tk2 := ticketFor(t, s, p.Token)
		testenv.Must(t, s.App.DB.Model(&models.EventTicket{}).Where("used_at IS NULL").
			Update("expires_at", time.Now().UTC().Add(-time.Second)).Error, "expire")
		if st := openStream(t, s, "?ticket="+tk2, nil); st.Status != http.StatusUnauthorized {
			t.Fatalf("expired ticket: %d", st.Status)
		}
		// Only the hash is stored.
		var n int64
		testenv.Must(t, s.App.DB.Model(&models.EventTicket{}).Where("hash = ? OR hash = ?", tk, tk2).Count(&n).Error, "count")
		if n != 0 {
			t.Fatal("a ticket is stored as is")
		}
		// A bad resume point is 400.
		if st := openInvalidStream(t, s, "", map[string]string{"Authorization": "Bearer " + p.Token, "Last-Event-ID": "x"}); st.Status != http.StatusBadRequest {
			t.Fatalf("bad Last-Event-ID: %d", st.Status)
		}
	})
}

// TestEventStream: a patient's and a doctor's streams get the new
// notification, the new message and the screening's status change, with
// increasing ids and a heartbeat; a reconnect with Last-Event-ID replays the
// missed events; revoking the session or losing a role ends the stream.
func TestEventStream(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), eventsEnv))
		w := worldOn(t, s)
		enrolDirect(t, s, w.c1, w.p1.ID)
		c := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
		ps := openStream(t, s, "?ticket="+ticketFor(t, s, w.p1.Token), nil)
		ds := bearerStream(t, s, w.d1.Token, nil)
		waitSubscribed(t, s, 2)

		m := postMessage(t, s, w.d1.Token, c.ID, "Your results are ready")
		notice := ps.next(t, "notification", 5*time.Second)
		var n struct{ Type, Title string }
		notice.decode(t, &n)
		if n.Type != "MESSAGE_RECEIVED" {
			t.Fatalf("notification %s", notice.Data)
		}
		pm := ps.next(t, "message", 5*time.Second)
		var got messageOut
		pm.decode(t, &got)
		if got.ID != m.ID || got.Body != m.Body || got.Sender.Role != "DOCTOR" || got.CreatedAt != m.CreatedAt {
			t.Fatalf("message event %s, posted %+v", pm.Data, m)
		}
		ds.next(t, "message", 5*time.Second)
		if eventID(t, pm) <= eventID(t, notice) {
			t.Fatalf("ids do not increase: %s then %s", notice.ID, pm.ID)
		}

		// A status change reaches the patient and the claiming doctor.
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		for _, st := range []*sseStream{ps, ds} {
			var sc struct{ ID, Status string }
			st.next(t, "screening", 5*time.Second).decode(t, &sc)
			if sc.ID != w.screen1 || sc.Status != models.StatusInReview {
				t.Fatalf("screening event %+v", sc)
			}
		}
		ps.comment(t, 3*time.Second)

		// Missed while away: replayed after Last-Event-ID, in order.
		lastSeen := ps.last
		ps.close()
		m2 := postMessage(t, s, w.d1.Token, c.ID, "one")
		m3 := postMessage(t, s, w.d1.Token, c.ID, "two")
		rs := bearerStream(t, s, w.p1.Token, map[string]string{"Last-Event-ID": lastSeen})
		var a, b messageOut
		ea := rs.next(t, "message", 5*time.Second)
		ea.decode(t, &a)
		rs.next(t, "message", 5*time.Second).decode(t, &b)
		if a.ID != m2.ID || b.ID != m3.ID || eventID(t, ea) <= eventID(t, sseEvent{ID: lastSeen}) {
			t.Fatalf("replay: %s, %s after %s", a.ID, b.ID, lastSeen)
		}
		// Without Last-Event-ID nothing old is sent.
		fresh := bearerStream(t, s, w.p1.Token, nil)
		m4 := postMessage(t, s, w.d1.Token, c.ID, "three")
		var f messageOut
		fresh.next(t, "message", 5*time.Second).decode(t, &f)
		if f.ID != m4.ID {
			t.Fatalf("a fresh stream began with %s, want %s", f.ID, m4.ID)
		}

		// Revoking the session ends its streams (the ticket's too).
		s.Do(t, "POST", "/api/auth/logout", nil, w.p1.Token).Expect(t, http.StatusOK, "")
		for _, st := range []*sseStream{rs, fresh} {
			st.waitEnd(t, 3*time.Second)
		}
		// Losing a role ends the stream.
		s.Do(t, "PATCH", "/api/admin/users/"+w.d1.ID, map[string]any{"roles": []string{"PATIENT"}}, w.admin.Token).Expect(t, http.StatusOK, "")
		ds.waitEnd(t, 3*time.Second)
	})
}

// waitSubscribed waits until the server holds at least n streams.
func waitSubscribed(t testing.TB, s *testenv.Server, n int) {
	t.Helper()
	for range 500 {
		if s.App.Events.Count() >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d streams subscribed, want %d", s.App.Events.Count(), n)
}

// TestEventStreamOutlivesServerTimeouts: a stream stays open past the
// server's read and write timeouts (each write has its own deadline).
func TestEventStreamOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	s := testenv.Start(t, testenv.Config(t, "sqlite://", map[string]string{
		"AURA_SERVER_READ_TIMEOUT": "1s", "AURA_SERVER_WRITE_TIMEOUT": "1s", "AURA_EVENTS_HEARTBEAT": "400ms"}))
	w := worldOn(t, s)
	enrolDirect(t, s, w.c1, w.p1.ID)
	c := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
	st := bearerStream(t, s, w.p1.Token, nil)
	time.Sleep(2500 * time.Millisecond)
	m := postMessage(t, s, w.d1.Token, c.ID, "still there?")
	var got messageOut
	st.next(t, "message", 5*time.Second).decode(t, &got)
	if got.ID != m.ID {
		t.Fatalf("got %s, want %s", got.ID, m.ID)
	}
}
