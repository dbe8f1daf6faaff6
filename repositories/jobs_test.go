package repositories_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// TestJobsFairOrder: jobs are claimed in the fair order, not oldest first:
// an account's jobs take one turn each round beside the other accounts',
// and an account with nothing waiting goes to the head of the queue however
// much another account queued before it.
func TestJobsFairOrder(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db, st := open(t, e)
		// The fair order stays indexed: partial indexes of unfinished jobs,
		// walked in order by the claim and read once each by Enqueue.
		for name, cols := range map[string]string{"idx_jobs_order": "kind,priority,fair_seq,id", "idx_jobs_turn": "account,kind,priority,fair_seq"} {
			var def string
			q := "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
			if e.Name == "postgres" {
				q = "SELECT indexdef FROM pg_indexes WHERE indexname = ? AND schemaname = current_schema()"
			}
			testenv.Must(t, db.Raw(q, name).Scan(&def).Error, "index %s", name)
			flat := strings.NewReplacer(" ", "", `"`, "", "`", "", "(", "", ")", "").Replace(def)
			if !strings.Contains(flat, cols) || !strings.Contains(flat, "WHEREfinished_atISNULL") {
				t.Fatalf("%s: %q", name, def)
			}
		}
		seq := 0
		add := func(account string) string {
			seq++
			ref := fmt.Sprintf("%s-%d", account, seq)
			testenv.Must(t, st.Jobs.Enqueue(&models.Job{Kind: models.JobAnalyze, Ref: ref, Account: account, MaxAttempts: 3,
				CreatedAt: t0.Add(time.Duration(seq) * time.Millisecond)}), "enqueue")
			return ref
		}
		claim := func(n int) []string {
			t.Helper()
			var refs []string
			for i := range n {
				jobs, err := st.Jobs.Claim(models.JobAnalyze, fmt.Sprintf("w-%d-%d", seq, i), t0.Add(time.Second), time.Minute, 1)
				testenv.Must(t, err, "claim")
				for _, j := range jobs {
					refs = append(refs, j.Ref)
					seq++
				}
			}
			return refs
		}
		// A floods 6, then B and C upload one each, then A one more.
		for range 6 {
			add("a")
		}
		b, c := add("b"), add("c")
		add("a")
		got := claim(4)
		want := []string{"a-1", b, c, "a-2"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("claim order %v, want %v", got, want)
		}
		// B uploads again while A's jobs run and wait: it goes next, ahead
		// of A's remaining ones.
		b2 := add("b")
		if got := claim(2); fmt.Sprint(got) != fmt.Sprint([]string{b2, "a-3"}) {
			t.Fatalf("after B's second upload: %v", got)
		}
		// A batch (lower priority) of D's waits behind every single upload,
		// even those queued after it, and D's own single upload is not put
		// behind D's batch.
		for i := range 3 {
			testenv.Must(t, st.Jobs.Enqueue(&models.Job{Kind: models.JobAnalyze, Ref: fmt.Sprintf("batch-%d", i), Account: "d",
				Priority: models.PriorityBatch, MaxAttempts: 3, CreatedAt: t0}), "enqueue batch")
		}
		d1 := add("d")
		if got := claim(5); got[0] != d1 || strings.Contains(fmt.Sprint(got), "batch") {
			t.Fatalf("with a batch waiting: %v", got)
		}
		if got := claim(2); fmt.Sprint(got) != fmt.Sprint([]string{"batch-0", "batch-1"}) {
			t.Fatalf("the batch after the uploads: %v", got)
		}
	})
}

// TestJobsStallWake: Stall gives the claimed attempt back, keeps when the
// run of outages began (the first one) and the error; Wake makes every job
// waiting out an outage due at once, and Retry ends the run of outages.
func TestJobsStallWake(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db, st := open(t, e)
		testenv.Must(t, st.Jobs.Enqueue(&models.Job{Kind: models.JobAnalyze, Ref: "r1", Account: "a", MaxAttempts: 3, CreatedAt: t0}), "enqueue")
		get := func() models.Job {
			var j models.Job
			testenv.Must(t, db.Where("ref = ?", "r1").First(&j).Error, "job")
			return j
		}
		claimed := func(at time.Time) *models.Job {
			jobs, err := st.Jobs.Claim(models.JobAnalyze, "w-"+at.String(), at, time.Minute, 1)
			testenv.Must(t, err, "claim")
			if len(jobs) != 1 {
				return nil
			}
			return &jobs[0]
		}
		j := claimed(t0)
		testenv.Must(t, st.Jobs.Stall(j.ID, j.LockedBy, t0, t0.Add(time.Minute), "storage unavailable: boom"), "stall")
		if g := get(); g.Attempts != 0 || g.OutageSince == nil || !g.OutageSince.Equal(t0) || g.LockedUntil != nil || g.LastError != "storage unavailable: boom" {
			t.Fatalf("after a stall: %+v", g)
		}
		if claimed(t0.Add(time.Second)) != nil {
			t.Fatal("claimed before its next try")
		}
		n, err := st.Jobs.Wake(models.JobAnalyze, t0.Add(2*time.Second))
		if err != nil || n != 1 {
			t.Fatalf("wake: %d %v", n, err)
		}
		j = claimed(t0.Add(2 * time.Second))
		if j == nil {
			t.Fatal("not due after the wake")
		}
		testenv.Must(t, st.Jobs.Stall(j.ID, j.LockedBy, t0.Add(2*time.Second), t0.Add(time.Minute), "again"), "stall")
		if g := get(); g.Attempts != 0 || !g.OutageSince.Equal(t0) {
			t.Fatalf("a second stall moved the outage's start: %+v", g)
		}
		j = claimed(t0.Add(time.Hour))
		testenv.Must(t, st.Jobs.Retry(j.ID, j.LockedBy, t0.Add(2*time.Hour), "ordinary"), "retry")
		if g := get(); g.Attempts != 1 || g.OutageSince != nil {
			t.Fatalf("after a retry: %+v", g)
		}
	})
}
