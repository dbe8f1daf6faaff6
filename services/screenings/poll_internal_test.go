package screenings

import (
	"testing"
	"time"
)

// TestPollAfter: 2 s before any analysis, then the moving average of the
// analyses run, rounded up to whole seconds, within 1..30 s.
func TestPollAfter(t *testing.T) {
	t.Parallel()
	s := &Service{}
	if got := s.PollAfter(); got != 2*time.Second {
		t.Fatalf("before any analysis: %v", got)
	}
	s.avg.observe(300 * time.Millisecond)
	if got := s.PollAfter(); got != time.Second {
		t.Fatalf("after a 0.3 s analysis: %v", got)
	}
	for range 50 {
		s.avg.observe(6500 * time.Millisecond)
	}
	if got := s.PollAfter(); got != 7*time.Second {
		t.Fatalf("after 6.5 s analyses: %v", got)
	}
	for range 50 {
		s.avg.observe(10 * time.Minute)
	}
	if got := s.PollAfter(); got != 30*time.Second {
		t.Fatalf("after 10 min analyses: %v", got)
	}
}
