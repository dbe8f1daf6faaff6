package repositories_test

import (
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
)

// TestLimits runs sequences of limit operations, each on its own keys, and
// checks every answer: Claim allows exactly max per window then answers the
// wait, a new window restarts, Release gives a slot back, Clear forgets,
// Acquire lets one act per interval, and keys of any length are kept apart.
func TestLimits(t *testing.T) {
	const window = 10 * time.Minute
	long := strings.Repeat("x", 10000)
	type step struct {
		op  string // claim, release, clear, acquire, hit, blocked
		key string
		at  time.Duration // after t0
		max int           // claim, blocked (default 3)
		// want is claim's or blocked's wait (0: a slot was taken / not
		// blocked); wantOK is acquire's answer.
		want   time.Duration
		wantOK bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"claim allows max per window, then answers the wait", []step{
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: time.Minute},
			{op: "claim", key: "a", at: 2 * time.Minute},
			{op: "claim", key: "a", at: 4 * time.Minute, want: 6 * time.Minute},
			{op: "claim", key: "a", at: 9 * time.Minute, want: time.Minute},
		}},
		{"the wait is at least a second", []step{
			{op: "claim", key: "a", at: 0, max: 1},
			{op: "claim", key: "a", at: window - 100*time.Millisecond, max: 1, want: time.Second},
		}},
		{"a new window restarts the count", []step{
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: window - time.Second, want: time.Second},
			{op: "claim", key: "a", at: window},
			{op: "claim", key: "a", at: window + time.Second},
			{op: "claim", key: "a", at: window + 2*time.Second},
			{op: "claim", key: "a", at: window + 3*time.Second, want: window - 3*time.Second},
		}},
		{"release gives one slot back", []step{
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: time.Minute, want: 9 * time.Minute},
			{op: "release", key: "a"},
			{op: "claim", key: "a", at: time.Minute},
			{op: "claim", key: "a", at: time.Minute, want: 9 * time.Minute},
		}},
		{"release of an unknown key changes nothing", []step{
			{op: "release", key: "a"},
			{op: "claim", key: "a", at: 0, max: 1},
			{op: "claim", key: "a", at: 0, max: 1, want: window},
		}},
		{"clear forgets the key", []step{
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: 0},
			{op: "claim", key: "a", at: 0},
			{op: "clear", key: "a"},
			{op: "claim", key: "a", at: time.Minute},
			{op: "claim", key: "a", at: time.Minute},
			{op: "claim", key: "a", at: time.Minute},
			{op: "claim", key: "a", at: time.Minute, want: window},
		}},
		{"keys are counted apart", []step{
			{op: "claim", key: "a", at: 0, max: 1},
			{op: "claim", key: "b", at: 0, max: 1},
			{op: "claim", key: "a", at: 0, max: 1, want: window},
		}},
		{"a max of zero never limits", []step{
			{op: "claim", key: "a", at: 0, max: -1},
			{op: "claim", key: "a", at: 0, max: -1},
		}},
		{"keys of 10 000 characters work and are kept apart", []step{
			{op: "claim", key: long + "1", at: 0, max: 1},
			{op: "claim", key: long + "2", at: 0, max: 1},
			{op: "claim", key: long + "1", at: 0, max: 1, want: window},
			{op: "acquire", key: long + "3", at: 0, wantOK: true},
			{op: "acquire", key: long + "3", at: time.Second},
			{op: "clear", key: long + "2"},
			{op: "claim", key: long + "2", at: 0, max: 1},
		}},
		{"acquire once per interval", []step{
			{op: "acquire", key: "a", at: 0, wantOK: true},
			{op: "acquire", key: "a", at: 30 * time.Second},
			{op: "acquire", key: "a", at: window - time.Second},
			{op: "acquire", key: "b", at: window - time.Second, wantOK: true},
			{op: "acquire", key: "a", at: window, wantOK: true},
			{op: "acquire", key: "a", at: window + time.Second},
		}},
		{"hit counts and blocked answers the wait", []step{
			{op: "hit", key: "a", at: 0},
			{op: "blocked", key: "a", at: time.Minute, max: 2},
			{op: "hit", key: "a", at: time.Minute},
			{op: "blocked", key: "a", at: 2 * time.Minute, max: 2, want: 8 * time.Minute},
			{op: "blocked", key: "a", at: window, max: 2},
		}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for i, s := range c.steps {
					key := c.name + "/" + s.key // each case its own counters
					at, max := t0.Add(s.at), s.max
					if max == 0 {
						max = 3
					}
					var err error
					var wait time.Duration
					var ok bool
					switch s.op {
					case "claim":
						wait, err = st.Limits.Claim(key, max, window, at)
					case "release":
						err = st.Limits.Release(key)
					case "clear":
						err = st.Limits.Clear(key)
					case "acquire":
						ok, err = st.Limits.Acquire(key, window, at)
					case "hit":
						err = st.Limits.Hit(key, window, at)
					case "blocked":
						wait, err = st.Limits.Blocked(key, max, at)
					}
					if err != nil {
						t.Fatalf("step %d (%s %s): %v", i, s.op, s.key[:min(len(s.key), 8)], err)
					}
					if wait != s.want || ok != s.wantOK {
						t.Fatalf("step %d (%s %s at +%v): wait %v, ok %v; want %v, %v", i, s.op, s.key[:min(len(s.key), 8)], s.at, wait, ok, s.want, s.wantOK)
					}
				}
			})
		}
	})
}

// TestLimitsClaimConcurrent: of n concurrent claims of one key, exactly max
// take a slot; the others are told to wait.
func TestLimitsClaimConcurrent(t *testing.T) {
	const n, max = 12, 5
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		waits := make([]time.Duration, n)
		errs := testenv.Race(n, func(i int) error {
			var err error
			waits[i], err = st.Limits.Claim("burst", max, time.Hour, t0)
			return err
		})
		taken := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("claim %d: %v", i, err)
			}
			if waits[i] == 0 {
				taken++
			} else if waits[i] != time.Hour {
				t.Errorf("claim %d waits %v, want the whole window", i, waits[i])
			}
		}
		if taken != max {
			t.Fatalf("%d of %d concurrent claims took a slot, want %d", taken, n, max)
		}
		if wait, err := st.Limits.Claim("burst", max, time.Hour, t0.Add(time.Minute)); err != nil || wait != 59*time.Minute {
			t.Fatalf("claim after the burst: %v, %v; want a wait of 59m", wait, err)
		}
	})
}
