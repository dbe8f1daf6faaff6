package queue_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"aura/fault"
	"aura/internal/testenv"
	"aura/models"
	"aura/queue"
	"aura/repositories"
)

// TestRunnerRules: on the runner's clock, a failed attempt is retried after
// its backoff (not before), a permanent error is given up at once, a panic
// counts as a failed attempt, the last attempt's failure is given up, and a
// success is finished.
func TestRunnerRules(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		db := testenv.OpenDB(t, e)
		ctx := testenv.Ctx(t)
		jobs := func(ctx context.Context) *repositories.Jobs { return repositories.New(db.WithContext(ctx)).Jobs }
		var now atomic.Pointer[time.Time]
		start := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
		now.Store(&start)
		advance := func(d time.Duration) { t2 := now.Load().Add(d); now.Store(&t2) }

		outcomes := map[string][]error{
			"flaky":    {errors.New("store down"), nil},
			"broken":   {fault.Permanent(errors.New("not an image"))},
			"panicky":  {nil},
			"hopeless": {errors.New("1"), errors.New("2")},
		}
		var gaveUp []string
		handle := func(ctx context.Context, t queue.Task) error {
			if t.Job.Ref == "panicky" && t.Job.Attempts == 1 {
				panic("boom")
			}
			errs := outcomes[t.Job.Ref]
			err := errs[0]
			outcomes[t.Job.Ref] = errs[1:]
			return err
		}
		giveUp := func(ctx context.Context, t queue.Task, cause error) error {
			gaveUp = append(gaveUp, t.Job.Ref)
			_, err := jobs(ctx).GiveUp(t.Job.ID, t.Owner, now.Load().UTC(), cause.Error())
			return err
		}
		r := queue.New(queue.Config{Kind: models.JobAnalyze, MaxAttempts: 2, Lease: time.Minute, MaxBackoff: time.Hour},
			jobs, handle, giveUp, slog.New(slog.NewTextHandler(io.Discard, nil)))
		r.Clock = func() time.Time { return *now.Load() }
		for _, ref := range []string{"flaky", "broken", "panicky", "hopeless"} {
			testenv.Must(t, jobs(ctx).Enqueue(&models.Job{Kind: models.JobAnalyze, Ref: ref, MaxAttempts: 2, NextAttemptAt: start, CreatedAt: start}), "enqueue %s", ref)
		}
		runAll := func() int {
			n := 0
			for {
				ran, err := r.RunOne(ctx)
				testenv.Must(t, err, "run")
				if !ran {
					return n
				}
				n++
			}
		}
		if n := runAll(); n != 4 {
			t.Fatalf("first round ran %d jobs", n)
		}
		if n := runAll(); n != 0 {
			t.Fatalf("%d retries ran before their backoff", n)
		}
		advance(2 * time.Second)
		if n := runAll(); n != 3 {
			t.Fatalf("second round ran %d jobs, want flaky, panicky and hopeless", n)
		}
		state := map[string]models.Job{}
		var all []models.Job
		testenv.Must(t, db.Find(&all).Error, "read jobs")
		for _, j := range all {
			state[j.Ref] = j
		}
		for ref, want := range map[string]struct {
			failed   bool
			attempts int
		}{"flaky": {false, 2}, "broken": {true, 1}, "panicky": {false, 2}, "hopeless": {true, 2}} {
			j := state[ref]
			if j.FinishedAt == nil || j.Failed != want.failed || j.Attempts != want.attempts {
				t.Errorf("%s: finished %v failed %v attempts %d; want failed %v after %d", ref, j.FinishedAt, j.Failed, j.Attempts, want.failed, want.attempts)
			}
		}
		if len(gaveUp) != 2 || gaveUp[0] != "broken" || gaveUp[1] != "hopeless" {
			t.Errorf("given up: %v", gaveUp)
		}
	})
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: time.Minute} {
		for range 50 {
			got := queue.Backoff(attempts, time.Minute)
			if got > want || got < want*4/5 {
				t.Fatalf("Backoff(%d) = %v, want %v less up to a fifth", attempts, got, want)
			}
		}
	}
}
