package tests

import (
	"net/http"
	"testing"
	"time"

	"aura/internal/testenv"
)

// TestEventsAcrossInstances: two instances on one PostgreSQL database; an
// event produced on A reaches a stream on B (LISTEN/NOTIFY). When B's
// listener connection is killed (pg_terminate_backend), B connects again
// and reads the table from the last delivered id: the events stored
// meanwhile all arrive, in order.
func TestEventsAcrossInstances(t *testing.T) {
	t.Parallel()
	uri := testenv.PostgresURI(t)
	a := testenv.Start(t, testenv.Config(t, uri, eventsEnv))
	b := testenv.Start(t, testenv.Config(t, uri, eventsEnv))
	w := worldOn(t, a)
	enrolDirect(t, a, w.c1, w.p1.ID)
	c := openConversation(t, a, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
	onB := bearerStream(t, b, w.p1.Token, nil)

	m := postMessage(t, a, w.d1.Token, c.ID, "from instance A")
	var got messageOut
	onB.next(t, "message", 5*time.Second).decode(t, &got)
	if got.ID != m.ID {
		t.Fatalf("B got %s, want %s", got.ID, m.ID)
	}
	// A status change made on A, too.
	a.Do(t, "POST", "/api/screenings/"+w.screen1+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
	onB.next(t, "screening", 5*time.Second)

	// Kill B's listener, then write while it is away.
	var pid uint32
	for range 500 {
		if pid = b.App.Events.ListenerPID(); pid != 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("B has no listener connection")
	}
	admin := testenv.AdminDB(t, uri)
	testenv.Must(t, admin.Exec("SELECT pg_terminate_backend(?)", pid).Error, "terminate the listener")
	var sent []string
	for i := range 5 {
		sent = append(sent, postMessage(t, a, w.d1.Token, c.ID, "while B's listener was down "+string(rune('a'+i))).ID)
	}
	for i, id := range sent {
		var m messageOut
		onB.next(t, "message", 10*time.Second).decode(t, &m)
		if m.ID != id {
			t.Fatalf("message %d on B: %s, want %s", i, m.ID, id)
		}
	}
	if b.App.Events.Reconnects.Load() < 1 {
		t.Fatal("B's listener did not reconnect")
	}
	if p := b.App.Events.ListenerPID(); p == pid || p == 0 {
		t.Fatalf("listener pid %d after the kill of %d", p, pid)
	}
	// And new events still flow.
	m = postMessage(t, a, w.d1.Token, c.ID, "after the reconnect")
	onB.next(t, "message", 5*time.Second).decode(t, &got)
	if got.ID != m.ID {
		t.Fatalf("B got %s, want %s", got.ID, m.ID)
	}
}
