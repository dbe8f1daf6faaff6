package screenings

import (
	"sync/atomic"
	"time"
)

// Bounds and start of the poll hint (PollAfter).
const (
	pollDefault = 2 * time.Second
	pollMin     = time.Second
	pollMax     = 30 * time.Second
)

// analysisAvg is the moving average of the analyses this process ran, in
// nanoseconds (0: none yet). Each new duration weighs one fifth.
type analysisAvg struct{ ns atomic.Int64 }

func (a *analysisAvg) observe(d time.Duration) {
	for {
		old := a.ns.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/5
		}
		if a.ns.CompareAndSwap(old, next) {
			return
		}
	}
}

// PollAfter is how long a client should wait before it asks again about a
// screening just queued (the upload's Retry-After): the moving average of
// the analyses this process has run (2 s before it has run any, as in a
// server whose analyses run in `aura worker`), rounded up to whole seconds
// and kept within 1..30 s. It is a hint: a poll sooner is answered too.
func (s *Service) PollAfter() time.Duration {
	d := time.Duration(s.avg.ns.Load())
	if d == 0 {
		d = pollDefault
	}
	d = (d + time.Second - 1).Truncate(time.Second)
	return min(max(d, pollMin), pollMax)
}
