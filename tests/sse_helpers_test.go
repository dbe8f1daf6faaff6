package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
)

// sseEvent is one event (or comment) read from a stream.
type sseEvent struct {
	ID, Event, Data string
	Comment         bool
}

// sseStream is an open GET /api/events, read by a goroutine.
type sseStream struct {
	Status int
	Header http.Header
	events chan sseEvent
	ended  chan struct{}
	// last is the id of the last event next returned.
	last   string
	cancel context.CancelFunc
}

// openStream opens GET /api/events{query} with headers; on a non-200
// answer Status says so and nothing is read.
func openStream(t testing.TB, s *testenv.Server, query string, headers map[string]string) *sseStream {
	t.Helper()
	return dialStream(t, s, query, headers, false)
}

// openInvalidStream is openStream for a request the document refuses on
// purpose (testenv.SkipRequestCheck): only its answer is checked.
func openInvalidStream(t testing.TB, s *testenv.Server, query string, headers map[string]string) *sseStream {
	t.Helper()
	return dialStream(t, s, query, headers, true)
}

func dialStream(t testing.TB, s *testenv.Server, query string, headers map[string]string, invalid bool) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/events"+query, nil)
	testenv.Must(t, err, "request")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if invalid {
		req = testenv.SkipRequestCheck(req)
	}
	// Checked against the document (status and headers; the body streams).
	res, err := testenv.CheckedClient(t, http.DefaultClient).Do(req)
	testenv.Must(t, err, "GET /api/events")
	st := &sseStream{Status: res.StatusCode, Header: res.Header, events: make(chan sseEvent, 1000), ended: make(chan struct{}), cancel: cancel}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		close(st.ended)
		return st
	}
	go func() {
		defer close(st.ended)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.Event != "" || cur.Data != "" {
					st.events <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				st.events <- sseEvent{Comment: true, Data: line}
			case strings.HasPrefix(line, "id: "):
				cur.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.Data = line[6:]
			}
		}
	}()
	return st
}

// bearerStream opens the stream with a bearer token.
func bearerStream(t testing.TB, s *testenv.Server, token string, headers map[string]string) *sseStream {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range headers {
		h[k] = v
	}
	st := openStream(t, s, "", h)
	if st.Status != http.StatusOK {
		t.Fatalf("stream: %d", st.Status)
	}
	return st
}

// next returns the next event of kind (comments and other kinds skipped),
// failing t after wait.
func (st *sseStream) next(t testing.TB, kind string, wait time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-st.events:
			if !e.Comment && e.Event == kind {
				st.last = e.ID
				return e
			}
		case <-st.ended:
			// Drain what was read before the end.
			for {
				select {
				case e := <-st.events:
					if !e.Comment && e.Event == kind {
						st.last = e.ID
						return e
					}
				default:
					t.Fatalf("stream ended before a %s event", kind)
				}
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", kind, wait)
		}
	}
}

// comment waits for a comment line.
func (st *sseStream) comment(t testing.TB, wait time.Duration) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-st.events:
			if e.Comment {
				return
			}
		case <-st.ended:
			t.Fatal("stream ended")
		case <-deadline:
			t.Fatalf("no comment within %v", wait)
		}
	}
}

// waitEnd fails t unless the server ends the stream within wait.
func (st *sseStream) waitEnd(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case <-st.ended:
	case <-time.After(wait):
		t.Fatalf("the stream did not end within %v", wait)
	}
}

func (st *sseStream) close() { st.cancel() }

// decode unmarshals an event's data.
func (e sseEvent) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.Data), v); err != nil {
		t.Fatalf("event data %q: %v", e.Data, err)
	}
}
