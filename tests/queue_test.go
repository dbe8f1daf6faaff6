package tests

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"aura/analysis"
	"aura/analysis/vessels"
	"aura/internal/testenv"
	"aura/models"
	"aura/queue"
	"aura/repositories"
	"aura/services/screenings"
)

// runLog records every run of every job: its start and end, on which
// instance, and any run that began while another run of the same job was
// still going.
type runLog struct {
	mu      sync.Mutex
	running map[string]int
	runs    map[string][]run
	overlap []string
}

type run struct {
	instance   string
	attempt    int
	start, end time.Time
}

func newRunLog() *runLog {
	return &runLog{running: map[string]int{}, runs: map[string][]run{}}
}

// begin records the start of a run of job and returns its end.
func (l *runLog) begin(job, instance string, attempt int) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running[job] > 0 {
		l.overlap = append(l.overlap, fmt.Sprintf("%s attempt %d on %s", job, attempt, instance))
	}
	l.running[job]++
	i := len(l.runs[job])
	l.runs[job] = append(l.runs[job], run{instance: instance, attempt: attempt, start: time.Now()})
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.running[job]--
		l.runs[job][i].end = time.Now()
	}
}

// sharedDatabase skips in-memory SQLite, which one process alone can open.
func sharedDatabase(t *testing.T, e testenv.Engine) {
	if e.Name == "sqlite-memory" {
		t.Skip("an in-memory database belongs to one process")
	}
}

// waitFor polls cond every 20 ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQueueTwoInstances: two AURA instances on one database, three workers
// each, work off 40 jobs. Every job fails its first attempts (a quarter of
// them three times, the rest once) and then succeeds: each attempt runs
// exactly once, never while another attempt of the same job runs, retries
// wait the backoff capped at MaxBackoff (100 ms here, where uncapped it
// would be 1 s, 2 s, 4 s), and both instances take part.
func TestQueueTwoInstances(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		sharedDatabase(t, e)
		uri := e.URI(t)
		apps := []*testenv.Server{testenv.Start(t, testenv.Config(t, uri, nil)), testenv.Start(t, testenv.Config(t, uri, nil))}
		const kind, n = "test-two-instances", 40
		failures := func(i int) int {
			if i%4 == 0 {
				return 3
			}
			return 1
		}
		now := time.Now().UTC()
		for i := range n {
			testenv.Must(t, repositories.New(apps[0].App.DB).Jobs.Enqueue(&models.Job{Kind: kind, Ref: fmt.Sprint(i), MaxAttempts: 5, CreatedAt: now}), "enqueue")
		}
		log := newRunLog()
		var gaveUp sync.Map
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for k, s := range apps {
			instance := fmt.Sprintf("instance-%d", k+1)
			jobs := func(ctx context.Context) *repositories.Jobs { return repositories.New(s.App.DB.WithContext(ctx)).Jobs }
			r := queue.New(queue.Config{Kind: kind, Workers: 3, MaxAttempts: 5, Lease: 10 * time.Second, PollInterval: 20 * time.Millisecond,
				MaxBackoff: 100 * time.Millisecond},
				jobs,
				func(ctx context.Context, tk queue.Task) error {
					defer log.begin(tk.Job.Ref, instance, tk.Job.Attempts)()
					time.Sleep(time.Duration(2+tk.Job.ID%8) * time.Millisecond)
					var i int
					_, _ = fmt.Sscan(tk.Job.Ref, &i)
					if tk.Job.Attempts <= failures(i) {
						return fmt.Errorf("attempt %d fails", tk.Job.Attempts)
					}
					return nil
				},
				func(ctx context.Context, tk queue.Task, cause error) error {
					gaveUp.Store(tk.Job.Ref, cause.Error())
					_, err := jobs(ctx).GiveUp(tk.Job.ID, tk.Owner, time.Now().UTC(), cause.Error())
					return err
				}, testenv.Logger(t))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Run(ctx)
			}()
		}
		start := time.Now()
		waitFor(t, 90*time.Second, "jobs still waiting", func() bool {
			d, err := repositories.New(apps[1].App.DB).Jobs.Depth(kind)
			return err == nil && d == 0
		})
		took := time.Since(start)
		cancel()
		wg.Wait()

		perInstance := map[string]int{}
		var maxGap time.Duration
		for i := range n {
			runs := log.runs[fmt.Sprint(i)]
			if len(runs) != failures(i)+1 {
				t.Errorf("job %d ran %d times: %+v", i, len(runs), runs)
				continue
			}
			for k, r := range runs {
				perInstance[r.instance]++
				if r.attempt != k+1 {
					t.Errorf("job %d: run %d was attempt %d", i, k+1, r.attempt)
				}
				if k > 0 {
					gap := r.start.Sub(runs[k-1].end)
					maxGap = max(maxGap, gap)
					if gap < 70*time.Millisecond || gap > 800*time.Millisecond {
						t.Errorf("job %d: attempt %d began %v after attempt %d ended (backoff capped at 100 ms)", i, k+1, gap, k)
					}
				}
			}
		}
		for _, o := range log.overlap {
			t.Errorf("ran twice at once: %s", o)
		}
		gaveUp.Range(func(k, v any) bool {
			t.Errorf("job %v given up: %v", k, v)
			return true
		})
		var rows []models.Job
		testenv.Must(t, apps[0].App.DB.Where("kind = ?", kind).Find(&rows).Error, "jobs")
		for _, j := range rows {
			var i int
			_, _ = fmt.Sscan(j.Ref, &i)
			if j.FinishedAt == nil || j.Failed || j.Attempts != failures(i)+1 || j.LastError != "" {
				t.Errorf("job row %+v", j)
			}
		}
		if len(rows) != n || len(perInstance) != 2 {
			t.Fatalf("%d job rows; runs per instance %v", len(rows), perInstance)
		}
		t.Logf("%d attempts of %d jobs in %v; per instance %v; longest retry gap %v", perInstance["instance-1"]+perInstance["instance-2"], n,
			took.Round(time.Millisecond), perInstance, maxGap.Round(time.Millisecond))
	})
}

// analysisRunner runs the analysis jobs of s's database with the app's own
// handler, under a run log, until ctx ends.
func analysisRunner(t *testing.T, s *testenv.Server, instance string, workers int, log *runLog) *queue.Runner {
	w := &screenings.Worker{S: s.App.Screenings, St: func(ctx context.Context) *repositories.Store {
		return repositories.New(s.App.DB.WithContext(ctx))
	}}
	return queue.New(queue.Config{Kind: models.JobAnalyze, Workers: workers, MaxAttempts: 3, Lease: time.Minute,
		PollInterval: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond},
		func(ctx context.Context) *repositories.Jobs { return repositories.New(s.App.DB.WithContext(ctx)).Jobs },
		func(ctx context.Context, tk queue.Task) error {
			if log != nil {
				defer log.begin(tk.Job.Ref, instance, tk.Job.Attempts)()
			}
			return w.Handle(ctx, tk)
		}, w.GiveUp, testenv.Logger(t))
}

// TestAnalysisTwoInstances: two instances with two analysis workers each
// analyse uploads sent to either: each screening is analysed once (one
// run, one result, one notice), never by two workers at once.
func TestAnalysisTwoInstances(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		sharedDatabase(t, e)
		uri, store := e.URI(t), "file://"+t.TempDir()
		env := map[string]string{"AURA_STORAGE_URI": store}
		apps := []*testenv.Server{testenv.Start(t, testenv.Config(t, uri, env)), testenv.Start(t, testenv.Config(t, uri, env))}
		adm := makeAdmin(t, apps[0], "admin@clinic.example")
		createClinic(t, apps[0], adm, "Only Clinic")
		pat := signUp(t, apps[1], "an@patient.example")
		const n = 8
		ids := make([]string, n)
		for i := range n {
			var sc screening
			upload(t, apps[i%2], pat.Token, form{image: encodeJPEG(t, 320, 320, 60+i), fields: map[string]string{"eye": "left"}}, nil).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			ids[i] = sc.ID
		}
		log := newRunLog()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for k, s := range apps {
			r := analysisRunner(t, s, fmt.Sprintf("instance-%d", k+1), 2, log)
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Run(ctx)
			}()
		}
		waitFor(t, 120*time.Second, "screenings still queued", func() bool {
			var waiting int64
			err := apps[0].App.DB.Model(&models.Screening{}).Where("status IN ?", []string{"queued", "processing"}).Count(&waiting).Error
			return err == nil && waiting == 0
		})
		cancel()
		wg.Wait()
		per := map[string]int{}
		for _, id := range ids {
			runs := log.runs[id]
			if len(runs) != 1 {
				t.Errorf("%s ran %d times", id, len(runs))
			}
			for _, r := range runs {
				per[r.instance]++
			}
			if sc := getScreening(t, apps[0], pat.Token, id); sc.Status != "awaiting_review" || sc.Analysis == nil {
				t.Errorf("%s: %+v", id, sc)
			}
		}
		for _, o := range log.overlap {
			t.Errorf("ran twice at once: %s", o)
		}
		var notices, audits int64
		testenv.Must(t, apps[0].App.DB.Model(&models.Notification{}).Where("type = ?", models.NoticeAnalyzed).Count(&notices).Error, "notices")
		testenv.Must(t, apps[0].App.DB.Table("audit_logs").Where("action = ?", "screening.analyzed").Count(&audits).Error, "audit")
		if notices != n || audits != n {
			t.Fatalf("%d notices and %d audit rows for %d screenings", notices, audits, n)
		}
		t.Logf("analyses per instance: %v", per)
	})
}

// blockingAnalyzer signals each analysis it starts and holds it until its
// context ends.
type blockingAnalyzer struct{ started chan string }

func (b blockingAnalyzer) Name() string { return "vessels" }

func (b blockingAnalyzer) Analyze(ctx context.Context, _ analysis.Image) (*analysis.Result, error) {
	b.started <- "started"
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestAnalysisDeadWorker: a job claimed by a worker that died (its claim
// made through the repository, never finished) is not touched while its
// lease lasts, is taken over once analysis.lease has passed, and analysed
// once; the dead worker can no longer mark it.
func TestAnalysisDeadWorker(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_ANALYSIS_LEASE": "2m"}))
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		pat := signUp(t, s, "binh@patient.example")
		var sc screening
		upload(t, s, pat.Token, form{image: encodeJPEG(t, 320, 320, 77), fields: map[string]string{"eye": "right"}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &sc)
		jobs := repositories.New(s.App.DB).Jobs
		claimed, err := jobs.Claim(models.JobAnalyze, "dead-host/1/dead/1", time.Now().UTC(), 2*time.Minute, 1)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		// The dead worker had set the screening processing.
		_, err = repositories.New(s.App.DB).Screenings.SetStatus(sc.ID, []string{"queued"}, "processing", time.Now().UTC())
		testenv.Must(t, err, "processing")

		if n := analyse(t, s); n != 0 {
			t.Fatalf("a leased job was taken (%d)", n)
		}
		skipBackoff(s, 110*time.Second)
		if n := analyse(t, s); n != 0 {
			t.Fatalf("a job was taken before its lease ended (%d)", n)
		}
		skipBackoff(s, 15*time.Second)
		if n := analyse(t, s); n != 1 {
			t.Fatalf("the dead worker's job was not taken over (%d)", n)
		}
		got := getScreening(t, s, pat.Token, sc.ID)
		if got.Status != "awaiting_review" || got.Analysis == nil {
			t.Fatalf("after take-over %+v", got)
		}
		j := analysisJob(t, s, sc.ID)
		if j.Attempts != 2 || j.FinishedAt == nil || j.Failed || j.LockedBy == "dead-host/1/dead/1" {
			t.Fatalf("job %+v", j)
		}
		if ok, err := jobs.Finish(j.ID, "dead-host/1/dead/1", time.Now().UTC()); ok || err != nil {
			t.Fatalf("the dead worker marked the job: %v %v", ok, err)
		}
		var notices int64
		testenv.Must(t, s.App.DB.Model(&models.Notification{}).Where("screening_id = ?", sc.ID).Count(&notices).Error, "notices")
		if notices != 1 {
			t.Fatalf("%d notices", notices)
		}
	})
}

// TestAnalysisRestart: an instance stops while an analysis runs (its
// worker gives the job back) and with jobs still queued; a new instance on
// the same database file or server and the same store finishes them all:
// nothing is lost, nothing runs twice, images are still served.
func TestAnalysisRestart(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		sharedDatabase(t, e)
		uri, store := e.URI(t), "file://"+t.TempDir()
		cfg := func() *testenv.Server {
			return testenv.Start(t, testenv.Config(t, uri, map[string]string{"AURA_STORAGE_URI": store}))
		}
		first := cfg()
		adm := makeAdmin(t, first, "admin@clinic.example")
		createClinic(t, first, adm, "Only Clinic")
		pat := signUp(t, first, "chi@patient.example")
		var ids []string
		for i := range 3 {
			var sc screening
			upload(t, first, pat.Token, form{image: encodeJPEG(t, 320, 320, 50+i), fields: map[string]string{"eye": "left"}}, nil).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			ids = append(ids, sc.ID)
		}
		// One worker is mid-analysis when the instance stops.
		started := make(chan string, 1)
		first.App.Screenings.Analyzer = blockingAnalyzer{started: started}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		r := analysisRunner(t, first, "first", 1, nil)
		go func() {
			r.Run(ctx)
			close(done)
		}()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("no analysis started")
		}
		cancel()
		<-done
		first.Stop(t)

		second := cfg()
		var inFlight []models.Job
		testenv.Must(t, second.App.DB.Where("kind = ?", models.JobAnalyze).Order("id").Find(&inFlight).Error, "jobs")
		for _, j := range inFlight {
			if j.FinishedAt != nil || j.Attempts != 0 || j.LockedUntil != nil {
				t.Fatalf("after the stop: job %+v (the interrupted attempt should be given back)", j)
			}
		}
		if len(inFlight) != 3 {
			t.Fatalf("%d jobs after the stop", len(inFlight))
		}
		if n := analyse(t, second); n != 3 {
			t.Fatalf("after the restart %d jobs ran", n)
		}
		for _, id := range ids {
			sc := getScreening(t, second, pat.Token, id)
			if sc.Status != "awaiting_review" || sc.Analysis == nil {
				t.Fatalf("%s after the restart: %+v", id, sc)
			}
			if j := analysisJob(t, second, id); j.Attempts != 1 || j.FinishedAt == nil {
				t.Fatalf("job %+v", j)
			}
			for _, p := range []string{"/image", "/vessels"} {
				if status, _, _ := rawGet(t, second, "/api/screenings/"+id+p, pat.Token, nil); status != 200 {
					t.Fatalf("%s%s: %d", id, p, status)
				}
			}
		}
	})
}

// TestBackoffCapped: the wait before attempt k+1 is 1 s doubled k-1 times,
// less up to a fifth at random, and never more than the cap.
func TestBackoffCapped(t *testing.T) {
	for attempts := 1; attempts <= 40; attempts++ {
		want := min(time.Second<<min(attempts-1, 20), 5*time.Minute)
		for range 50 {
			got := queue.Backoff(attempts, 5*time.Minute)
			if got > want || got < want*4/5 {
				t.Fatalf("Backoff(%d) = %v, want %v less up to a fifth", attempts, got, want)
			}
		}
	}
	if got := queue.Backoff(3, 100*time.Millisecond); got > 100*time.Millisecond || got < 80*time.Millisecond {
		t.Fatalf("capped at 100 ms: %v", got)
	}
}

// gatedAnalyzer runs the built-in analyzer once the test opens its gate.
type gatedAnalyzer struct {
	started, gate chan struct{}
}

func (g gatedAnalyzer) Name() string { return "vessels" }

func (g gatedAnalyzer) Analyze(ctx context.Context, im analysis.Image) (*analysis.Result, error) {
	g.started <- struct{}{}
	<-g.gate
	return vessels.Analyzer{}.Analyze(ctx, im)
}

// TestAnalysisDatabaseDown: PostgreSQL dies while an analysis runs, so its
// result cannot be recorded and its job cannot even be released; claims
// fail while the database is gone. When it is back the job, still leased
// by the worker that lost it, is taken over after analysis.lease and
// analysed once.
func TestAnalysisDatabaseDown(t *testing.T) {
	uri, proxy := proxiedPostgres(t)
	s := testenv.Start(t, testenv.Config(t, uri, map[string]string{"AURA_DATABASE_QUERY_TIMEOUT": "3s"}))
	adm := makeAdmin(t, s, "admin@clinic.example")
	createClinic(t, s, adm, "Only Clinic")
	pat := signUp(t, s, "dung@patient.example")
	var sc screening
	upload(t, s, pat.Token, form{image: encodeJPEG(t, 320, 320, 66), fields: map[string]string{"eye": "left"}}, nil).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)

	g := gatedAnalyzer{started: make(chan struct{}, 1), gate: make(chan struct{})}
	s.App.Screenings.Analyzer = g
	type outcome struct {
		ran bool
		err error
	}
	res := make(chan outcome, 1)
	go func() {
		ran, err := s.App.Analysis.RunOne(context.Background())
		res <- outcome{ran, err}
	}()
	<-g.started
	proxy.Cut(0)
	proxy.Refuse()
	close(g.gate)
	out := <-res
	if !out.ran || out.err != nil {
		t.Fatalf("the interrupted run: %+v", out)
	}
	if ran, err := s.App.Analysis.RunOne(context.Background()); ran || err == nil {
		t.Fatalf("a claim with the database gone: %v %v", ran, err)
	}
	proxy.Accept()

	waitFor(t, 10*time.Second, "the database is not back", func() bool {
		return s.App.DB.Exec("SELECT 1").Error == nil
	})
	j := analysisJob(t, s, sc.ID)
	if j.Attempts != 1 || j.FinishedAt != nil || j.LockedUntil == nil {
		t.Fatalf("job after the crash: %+v", j)
	}
	if got := getScreening(t, s, pat.Token, sc.ID); got.Status != "processing" {
		t.Fatalf("screening after the crash: %+v", got)
	}
	if n := analyse(t, s); n != 0 {
		t.Fatalf("the leased job ran again at once (%d)", n)
	}
	skipBackoff(s, s.App.Cfg.Analysis.Lease+time.Second)
	if n := analyse(t, s); n != 1 {
		t.Fatalf("the lost job was not taken over (%d)", n)
	}
	if got := getScreening(t, s, pat.Token, sc.ID); got.Status != "awaiting_review" || got.Analysis == nil {
		t.Fatalf("after the database came back: %+v", got)
	}
	if j := analysisJob(t, s, sc.ID); j.Attempts != 2 || j.FinishedAt == nil || j.Failed {
		t.Fatalf("job %+v", j)
	}
}

// TestQueueLeaseOverrun: a task that would run past its lease is stopped
// (its context ends at nine tenths of the lease), so the instance that takes
// the job over after the lease never runs it beside the first.
func TestQueueLeaseOverrun(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		sharedDatabase(t, e)
		uri := e.URI(t)
		apps := []*testenv.Server{testenv.Start(t, testenv.Config(t, uri, nil)), testenv.Start(t, testenv.Config(t, uri, nil))}
		const kind = "test-overrun"
		testenv.Must(t, repositories.New(apps[0].App.DB).Jobs.Enqueue(&models.Job{Kind: kind, Ref: "slow", MaxAttempts: 3, CreatedAt: time.Now().UTC()}), "enqueue")
		log := newRunLog()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for k, s := range apps {
			instance := fmt.Sprintf("instance-%d", k+1)
			r := queue.New(queue.Config{Kind: kind, Workers: 2, MaxAttempts: 3, Lease: time.Second, PollInterval: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
				func(ctx context.Context) *repositories.Jobs { return repositories.New(s.App.DB.WithContext(ctx)).Jobs },
				func(ctx context.Context, tk queue.Task) error {
					defer log.begin(tk.Job.Ref, instance, tk.Job.Attempts)()
					if tk.Job.Attempts == 1 {
						<-ctx.Done() // would run for ever
						return ctx.Err()
					}
					return nil
				},
				func(ctx context.Context, tk queue.Task, cause error) error { return errors.New("not expected") }, testenv.Logger(t))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Run(ctx)
			}()
		}
		waitFor(t, 30*time.Second, "the job is not done", func() bool {
			d, err := repositories.New(apps[0].App.DB).Jobs.Depth(kind)
			return err == nil && d == 0
		})
		cancel()
		wg.Wait()
		runs := log.runs["slow"]
		if len(runs) != 2 || len(log.overlap) != 0 {
			t.Fatalf("runs %+v; overlaps %v", runs, log.overlap)
		}
		if took := runs[0].end.Sub(runs[0].start); took < 800*time.Millisecond || took > time.Second {
			t.Fatalf("the overrunning attempt was stopped after %v (lease 1 s)", took)
		}
		t.Logf("attempt 1 on %s stopped after %v; attempt 2 on %s began %v later", runs[0].instance,
			runs[0].end.Sub(runs[0].start).Round(time.Millisecond), runs[1].instance, runs[1].start.Sub(runs[0].end).Round(time.Millisecond))
	})
}
