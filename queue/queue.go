// Package queue runs AURA's background jobs from the database queue (the
// jobs table; the mail outbox is worked the same way by mail.Sender, through
// the same claim and backoff): a fixed number of workers per process claim
// one job each under a lease, run it, and record the outcome. A job runs once
// at a time across every instance sharing the database; a failed attempt is
// retried after a capped exponential backoff until MaxAttempts, then given
// up; a job whose worker died is claimed again when its lease ends, so a
// restart or a crash loses nothing. Errors are classified by package fault:
// a permanent fault gives the job up at once, and an outage (the store, the
// database, the model server) is waited out with capped backoff, using up no
// attempt, for up to OutageBudget. Jobs are claimed in a fair order across
// accounts (repositories.Jobs.Enqueue).
package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"aura/fault"
	"aura/models"
	"aura/repositories"
)

// Backoff is the wait before attempt attempts+1: 1 s doubled per attempt,
// capped at max, less up to a fifth at random so retries spread out.
func Backoff(attempts int, max time.Duration) time.Duration {
	wait := time.Second
	for i := 1; i < attempts && wait < max; i++ {
		wait *= 2
	}
	if wait > max {
		wait = max
	}
	return wait - time.Duration(mathrand.Int64N(int64(wait)/5+1))
}

// Worker is a unique name for this process's claims: host/pid/random.
func Worker() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%.32s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// OutageBackoff is the wait before the next try of a job that has met an
// outage for elapsed: as long again as the outage has lasted (so the waits
// double: 1 s, 1 s, 2 s, 4 s, ...), at least 1 s, at most ceiling, less up to
// a fifth at random so that the tries of many jobs spread out.
func OutageBackoff(elapsed, ceiling time.Duration) time.Duration {
	wait := min(max(elapsed, time.Second), ceiling)
	return wait - time.Duration(mathrand.Int64N(int64(wait)/5+1))
}

// Task is a claimed job and the owner that holds its lease.
type Task struct {
	Job   models.Job
	Owner string
	// Final is true on the job's last allowed attempt.
	Final bool
}

// Handler runs one task. On success it should finish the job inside the
// transaction that records its result (tx.Jobs.Finish(Job.ID, Owner, now)),
// so result and completion commit together; the runner finishes it otherwise.
type Handler func(ctx context.Context, t Task) error

// GiveUp records a job given up (after its last attempt, or a permanent
// error): it should call tx.Jobs.GiveUp in the transaction of its effects.
type GiveUp func(ctx context.Context, t Task, cause error) error

// Config tunes a Runner.
type Config struct {
	Kind         string
	Workers      int           // claims running at once in this process; 0 runs none
	MaxAttempts  int           // attempts before a job is given up
	Lease        time.Duration // how long a claim lasts; a task's context ends a little before
	PollInterval time.Duration // pause when nothing is due
	MaxBackoff   time.Duration // cap of the retry backoff
	// OutageBudget is how long a job waits out an outage (an error marked
	// fault.Outage: its store, database or model server unavailable) before
	// it is given up; tries during an outage use up no attempt. Default 15
	// minutes.
	OutageBudget time.Duration
	// OutageMaxBackoff caps the wait between tries during an outage
	// (OutageBackoff); default 15 s. When one job of the kind succeeds
	// after an outage, every job waiting one out is made due at once.
	OutageMaxBackoff time.Duration
	// Nice, when above 0, runs each worker on an OS thread of its own at
	// that niceness (Linux), so that the requests of the same process get
	// the CPU before background work does (see Run).
	Nice int
}

// Runner works off the jobs of one kind.
type Runner struct {
	cfg    Config
	jobs   func(ctx context.Context) *repositories.Jobs
	handle Handler
	giveUp GiveUp
	log    *slog.Logger
	id     string
	seq    atomic.Uint64
	// Clock is the time source (models.Clock: nil is the system clock);
	// tests may move it.
	Clock models.Clock
	// Running counts the tasks being run now (for metrics and tests).
	Running atomic.Int64
	// Observer hears each attempt's outcome (metrics); nil: no one.
	Observer Observer
}

// Observer hears how each attempt of a job ended and how long it ran:
// outcome is OutcomeDone, OutcomeRetry, OutcomeGivenUp or OutcomeReleased.
// It must be quick and safe for concurrent use.
type Observer interface {
	JobFinished(kind, outcome string, took time.Duration)
}

// Outcomes of an attempt.
const (
	OutcomeDone     = "done"     // succeeded
	OutcomeRetry    = "retry"    // failed; another attempt is scheduled
	OutcomeGivenUp  = "given_up" // failed for good (last attempt, or a permanent error)
	OutcomeReleased = "released" // interrupted by a shutdown; not counted as an attempt
	OutcomeOutage   = "outage"   // met an outage (fault.Outage); tried again later, not counted as an attempt
)

// Defaults of Config's outage handling.
const (
	DefaultOutageBudget     = 15 * time.Minute
	DefaultOutageMaxBackoff = 15 * time.Second
)

// New builds a runner; jobs returns the repository bound to a context.
func New(cfg Config, jobs func(ctx context.Context) *repositories.Jobs, handle Handler, giveUp GiveUp, log *slog.Logger) *Runner {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.OutageBudget <= 0 {
		cfg.OutageBudget = DefaultOutageBudget
	}
	if cfg.OutageMaxBackoff <= 0 {
		cfg.OutageMaxBackoff = DefaultOutageMaxBackoff
	}
	return &Runner{cfg: cfg, jobs: jobs, handle: handle, giveUp: giveUp, log: log, id: Worker()}
}

// Run starts cfg.Workers workers and returns when ctx is done and every task
// in hand has been recorded.
func (r *Runner) Run(ctx context.Context) {
	if r.cfg.Workers <= 0 {
		return
	}
	r.log.Info("workers started", "kind", r.cfg.Kind, "workers", r.cfg.Workers, "worker", r.id)
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.cfg.Nice > 0 {
				// The goroutine keeps its thread for life and the thread
				// ends with it, so the niceness never reaches other work.
				runtime.LockOSThread()
				if err := setThreadNice(r.cfg.Nice); err != nil {
					r.log.Warn("worker priority not lowered", "kind", r.cfg.Kind, "err", err)
				}
			}
			r.loop(ctx)
		}()
	}
	wg.Wait()
	r.log.Info("workers stopped", "kind", r.cfg.Kind, "worker", r.id)
}

func (r *Runner) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			ran, err := r.RunOne(ctx)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("job queue unavailable; will retry", "kind", r.cfg.Kind, "err", err)
			}
			if !ran || err != nil {
				break
			}
		}
		// Poll with jitter, so workers of many processes do not claim in step.
		t.Reset(r.cfg.PollInterval + time.Duration(mathrand.Int64N(int64(r.cfg.PollInterval)/4+1)))
	}
}

// RunOne claims one due job and runs it; false when none was due.
func (r *Runner) RunOne(ctx context.Context) (bool, error) {
	owner := r.id + "/" + strconv.FormatUint(r.seq.Add(1), 10)
	now := r.Clock.Now()
	jobs, err := r.jobs(ctx).Claim(r.cfg.Kind, owner, now, r.cfg.Lease, 1)
	if err != nil || len(jobs) == 0 {
		return false, err
	}
	t := Task{Job: jobs[0], Owner: owner, Final: jobs[0].Attempts >= r.maxAttempts(jobs[0])}
	r.Running.Add(1)
	defer r.Running.Add(-1)
	// The task must end before its lease does, or another worker could take
	// the job over while it still runs.
	tctx, cancel := context.WithDeadline(ctx, now.Add(r.cfg.Lease*9/10))
	start := time.Now()
	err = r.safeHandle(tctx, t)
	cancel()
	r.record(ctx, t, err, time.Since(start))
	return true, nil
}

func (r *Runner) maxAttempts(j models.Job) int {
	if j.MaxAttempts > 0 {
		return j.MaxAttempts
	}
	return r.cfg.MaxAttempts
}

// safeHandle runs the handler; a panic is an error of the attempt, not of
// the process.
func (r *Runner) safeHandle(ctx context.Context, t Task) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return r.handle(ctx, t)
}

// outcome names how an attempt ended, the way record treats it: a
// permanent fault gives up at once; an outage is waited out (even on the
// last attempt, which it does not use up) until the outage budget is spent
// (see outageSpent); any other failure is retried until the attempts run out.
func (r *Runner) outcome(t Task, cause error, stopping bool) string {
	switch {
	case cause == nil:
		return OutcomeDone
	case stopping && errors.Is(cause, context.Canceled):
		return OutcomeReleased
	case fault.IsPermanent(cause):
		return OutcomeGivenUp
	case fault.IsOutage(cause):
		if r.outageSpent(t) {
			return OutcomeGivenUp
		}
		return OutcomeOutage
	case t.Final:
		return OutcomeGivenUp
	}
	return OutcomeRetry
}

// outageSpent tells whether the job's run of outages has lasted the budget.
func (r *Runner) outageSpent(t Task) bool {
	return t.Job.OutageSince != nil && r.Clock.Now().Sub(*t.Job.OutageSince) >= r.cfg.OutageBudget
}

// ErrOutageBudget is wrapped by the cause given to GiveUp when a job is
// given up because an outage outlasted Config.OutageBudget.
var ErrOutageBudget = errors.New("outage outlasted the retry budget")

// record writes the outcome even while shutting down (within 10 s), so a
// finished job is never run again for want of its mark.
func (r *Runner) record(ctx context.Context, t Task, cause error, took time.Duration) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	j := t.Job
	log := r.log.With("kind", r.cfg.Kind, "job", j.ID, "ref", j.Ref, "attempt", j.Attempts, "ms", took.Milliseconds())
	out := r.outcome(t, cause, ctx.Err() != nil)
	if r.Observer != nil {
		r.Observer.JobFinished(r.cfg.Kind, out, took)
	}
	switch out {
	case OutcomeDone:
		if _, err := r.jobs(rctx).Finish(j.ID, t.Owner, r.Clock.Now()); err != nil {
			log.Error("job done but not marked; it may run again after its lease", "err", err)
			return
		}
		log.Info("job done")
		if j.OutageSince != nil {
			// What it waited for answers again: the others need not wait
			// out the rest of their backoff.
			if n, err := r.jobs(rctx).Wake(r.cfg.Kind, r.Clock.Now()); err == nil && n > 0 {
				log.Info("outage over; waiting jobs made due", "woken", n)
			}
		}
	case OutcomeReleased:
		// Shutting down: the attempt did not really happen.
		if err := r.jobs(rctx).Release(j.ID, t.Owner); err != nil {
			log.Warn("job release failed; its lease will free it", "err", err)
		}
	case OutcomeOutage:
		now := r.Clock.Now()
		since := now
		if j.OutageSince != nil {
			since = *j.OutageSince
		}
		next := now.Add(OutageBackoff(now.Sub(since), r.cfg.OutageMaxBackoff))
		log.Warn("job met an outage; will try again (no attempt used)", "err", cause, "outage_for", now.Sub(since).Round(time.Second).String(), "next", next)
		if err := r.jobs(rctx).Stall(j.ID, t.Owner, since, next, cause.Error()); err != nil {
			log.Warn("job outage not recorded; its lease will free it", "err", err)
		}
	case OutcomeGivenUp:
		if fault.IsOutage(cause) {
			cause = fmt.Errorf("%w (%s): %w", ErrOutageBudget, r.cfg.OutageBudget, cause)
		}
		log.Error("job given up", "err", cause)
		if err := r.giveUp(rctx, t, cause); err != nil {
			log.Error("job given up but not recorded; it will be claimed again", "err", err)
		}
	default:
		next := r.Clock.Now().Add(Backoff(j.Attempts, r.cfg.MaxBackoff))
		log.Warn("job failed; will retry", "err", cause, "next", next)
		if err := r.jobs(rctx).Retry(j.ID, t.Owner, next, cause.Error()); err != nil {
			log.Warn("job retry not recorded; its lease will free it", "err", err)
		}
	}
}
