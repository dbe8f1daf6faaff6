package tests

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/queue"
)

// TestStorageOutageWaitedOut: the image store (an S3 server) goes down
// while screenings are queued and two workers run. Every job meets the
// outage; none uses up an attempt or fails, and no patient is told of a
// failure. Once the store is back, every screening is analysed. The time
// from the store's return to the last analysis is logged: set
// AURA_TEST_OUTAGE=20s to measure a 20 s outage (5 s by default).
func TestStorageOutageWaitedOut(t *testing.T) {
	outage := 5 * time.Second
	if v := os.Getenv("AURA_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		testenv.Must(t, err, "AURA_TEST_OUTAGE")
		outage = d
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s3 := startS3(t)
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_STORAGE_URI": s3.uri()}))
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		pats := []person{signUp(t, s, "an@patient.example"), signUp(t, s, "binh@patient.example")}
		const n = 6
		ids := make([]string, n)
		for i := range n {
			var sc screening
			upload(t, s, pats[i%2].Token, form{image: encodeJPEG(t, 320, 320, 60+i), fields: map[string]string{"eye": "left"}}, nil).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			ids[i] = sc.ID
		}

		s3.down.Store(true)
		down := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			pacedRunner(t, s, 2).Run(ctx)
		}()
		defer func() { cancel(); wg.Wait() }()
		count := func(where string, args ...any) int64 {
			var c int64
			if err := s.App.DB.Model(&models.Job{}).Where(where, args...).Count(&c).Error; err != nil {
				return -1
			}
			return c
		}
		waitFor(t, outage+2*time.Minute, "not every job met the outage", func() bool {
			return count("outage_since IS NOT NULL") == n
		})
		// (A job being tried holds the attempt its claim counted until the
		// outage gives it back, so only the jobs not being tried are checked.)
		if lost := count("finished_at IS NOT NULL OR (attempts > 0 AND locked_until IS NULL)"); lost != 0 {
			t.Fatalf("%d jobs used up an attempt or ended during the outage", lost)
		}
		time.Sleep(time.Until(down.Add(outage)))
		s3.down.Store(false)
		back := time.Now()
		waitFor(t, 3*time.Minute, "screenings still waiting after the store came back", func() bool {
			var waiting int64
			err := s.App.DB.Model(&models.Screening{}).Where("status IN ?", []string{"queued", "processing"}).Count(&waiting).Error
			return err == nil && waiting == 0
		})
		took := time.Since(back)
		t.Logf("store down %v with %d screenings queued and 2 workers: all analysed %v after it came back",
			back.Sub(down).Round(100*time.Millisecond), n, took.Round(100*time.Millisecond))
		if took > queue.DefaultOutageMaxBackoff+time.Minute {
			t.Errorf("the outage was waited out %v after it ended", took)
		}

		for i, id := range ids {
			sc := getScreening(t, s, pats[i%2].Token, id)
			if sc.Status != "awaiting_review" || sc.Analysis == nil || sc.Failure != nil {
				t.Errorf("%s after the outage: %+v", id, sc)
			}
			if j := analysisJob(t, s, id); j.Attempts != 1 || j.Failed || j.OutageSince == nil {
				t.Errorf("job of %s: %+v", id, j)
			}
		}
		var failedNotices int64
		testenv.Must(t, s.App.DB.Model(&models.Notification{}).Where("type = ?", models.NoticeFailed).Count(&failedNotices).Error, "notices")
		if failedNotices != 0 {
			t.Fatalf("%d patients were told their screening failed", failedNotices)
		}
	})
}

// TestStorageOutageBudget: an outage is waited out only for
// analysis.outage_budget (here 10 min): within it the job is tried again
// without using up an attempt, even past analysis.max_attempts; beyond it
// the screening is failed (ANALYSIS_FAILED, saying a service stayed
// unavailable) and the patient is told.
func TestStorageOutageBudget(t *testing.T) {
	s3 := startS3(t)
	s := testenv.Start(t, testenv.Config(t, "sqlite:///:memory:", map[string]string{"AURA_STORAGE_URI": s3.uri(),
		"AURA_ANALYSIS_OUTAGE_BUDGET": "10m", "AURA_ANALYSIS_MAX_ATTEMPTS": "1"}))
	adm := makeAdmin(t, s, "admin@clinic.example")
	createClinic(t, s, adm, "Only Clinic")
	pat := signUp(t, s, "an@patient.example")
	var sc screening
	upload(t, s, pat.Token, form{image: encodeJPEG(t, 320, 320, 70), fields: map[string]string{"eye": "right"}}, nil).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)
	s3.down.Store(true)
	// Tries at the outage's start, 5 and 9 minutes in (skipBackoff adds up).
	for i, skip := range []time.Duration{0, 5 * time.Minute, 4 * time.Minute} {
		skipBackoff(s, skip)
		if n := analyse(t, s); n != 1 {
			t.Fatalf("try %d ran %d jobs", i+1, n)
		}
		j := analysisJob(t, s, sc.ID)
		if j.Attempts != 0 || j.FinishedAt != nil || j.OutageSince == nil || !strings.Contains(j.LastError, "storage unavailable") {
			t.Fatalf("after try %d: %+v", i+1, j)
		}
		if got := getScreening(t, s, pat.Token, sc.ID); got.Status != "processing" || got.Failure != nil {
			t.Fatalf("screening after try %d: %+v", i+1, got)
		}
	}
	skipBackoff(s, 2*time.Minute) // 11 min after the outage began
	if n := analyse(t, s); n != 1 {
		t.Fatalf("the last try ran %d jobs", n)
	}
	j := analysisJob(t, s, sc.ID)
	if !j.Failed || j.FinishedAt == nil || !strings.Contains(j.LastError, "retry budget") {
		t.Fatalf("job past the budget: %+v", j)
	}
	got := getScreening(t, s, pat.Token, sc.ID)
	if got.Status != "failed" || got.Failure == nil || got.Failure.Code != "ANALYSIS_FAILED" ||
		got.Failure.Message != "The image could not be analysed: a service it needs stayed unavailable" {
		t.Fatalf("screening past the budget: %+v %+v", got, got.Failure)
	}
	var told int64
	testenv.Must(t, s.App.DB.Model(&models.Notification{}).Where("type = ? AND screening_id = ?", models.NoticeFailed, sc.ID).Count(&told).Error, "notices")
	if told != 1 {
		t.Fatalf("patient told %d times", told)
	}
}
