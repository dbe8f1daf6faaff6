package tests

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/queue"
	"aura/repositories"
)

// threadNice is the niceness of the calling OS thread (the raw syscall
// answers 20 - nice).
func threadNice(t *testing.T) int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	testenv.Must(t, err, "getpriority")
	return 20 - p
}

// TestQueueWorkersRunNiced: with Nice set, each job runs on a thread at that
// niceness, so requests of the same process come first; the rest of the
// process keeps its priority.
func TestQueueWorkersRunNiced(t *testing.T) {
	// The test may itself run niced (nice go test ...): the workers' priority
	// must not leak into the test's thread, whatever it started at.
	before := threadNice(t)
	s := testenv.Start(t, testenv.Config(t, testenv.Engines()[0].URI(t), nil))
	const kind = "test-nice"
	for _, ref := range []string{"a", "b", "c"} {
		testenv.Must(t, repositories.New(s.App.DB).Jobs.Enqueue(&models.Job{Kind: kind, Ref: ref, MaxAttempts: 1, CreatedAt: time.Now().UTC()}), "enqueue")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	r := queue.New(queue.Config{Kind: kind, Workers: 2, MaxAttempts: 1, Lease: 10 * time.Second, PollInterval: 10 * time.Millisecond, MaxBackoff: time.Second, Nice: 7},
		func(ctx context.Context) *repositories.Jobs { return repositories.New(s.App.DB.WithContext(ctx)).Jobs },
		func(ctx context.Context, tk queue.Task) error {
			n := threadNice(t)
			mu.Lock()
			seen[tk.Job.Ref] = n
			mu.Unlock()
			return nil
		},
		func(ctx context.Context, tk queue.Task, cause error) error { return errors.New("not expected") }, testenv.Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	waitFor(t, 20*time.Second, "the jobs are not done", func() bool {
		d, err := repositories.New(s.App.DB).Jobs.Depth(kind)
		return err == nil && d == 0
	})
	cancel()
	<-done
	if len(seen) != 3 {
		t.Fatalf("jobs run: %v", seen)
	}
	for ref, n := range seen {
		if n != 7 {
			t.Errorf("job %s ran at niceness %d, want 7", ref, n)
		}
	}
	if n := threadNice(t); n != before {
		t.Errorf("the test's own thread is at niceness %d, was %d: the workers' priority leaked", n, before)
	}
}
