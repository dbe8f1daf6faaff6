package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strconv"
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

// pacedRunner is an analysis runner on s's screenings with the pacing the
// server itself uses (1 s poll, 5 min retry cap, 5 min lease), so what it
// measures is what an instance does.
func pacedRunner(t *testing.T, s *testenv.Server, workers int) *queue.Runner {
	w := &screenings.Worker{S: s.App.Screenings, St: func(ctx context.Context) *repositories.Store {
		return repositories.New(s.App.DB.WithContext(ctx))
	}}
	return queue.New(queue.Config{Kind: models.JobAnalyze, Workers: workers, MaxAttempts: 3, Lease: 5 * time.Minute,
		PollInterval: time.Second, MaxBackoff: 5 * time.Minute},
		func(ctx context.Context) *repositories.Jobs { return repositories.New(s.App.DB.WithContext(ctx)).Jobs },
		w.Handle, w.GiveUp, testenv.Logger(t))
}

// startLog is an analyzer (the built-in one) that notes when the analysis
// of each image (by its SHA-256) starts.
type startLog struct {
	mu     sync.Mutex
	starts map[string]time.Time
}

func (l *startLog) Name() string { return "vessels" }

func (l *startLog) Analyze(ctx context.Context, im analysis.Image) (*analysis.Result, error) {
	sum := sha256.Sum256(im.Bytes)
	l.mu.Lock()
	l.starts[hex.EncodeToString(sum[:])] = time.Now()
	l.mu.Unlock()
	return vessels.Analyzer{}.Analyze(ctx, im)
}

// TestFairQueue: with the upload limit raised, patient A floods the queue
// with N uploads while two workers run, then patient B uploads one. B's
// analysis starts before any of A's that was still waiting once B's job
// is queued: no more than one analysis per worker (those already running)
// stands between B's upload and B's own analysis. The victim's wait (B's upload to B's result)
// is logged; AURA_TEST_FLOOD sets N (40 by default).
func TestFairQueue(t *testing.T) {
	t.Parallel()
	n := 40
	if v := os.Getenv("AURA_TEST_FLOOD"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	const workers = 2
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		a, b := signUp(t, s, "flood@patient.example"), signUp(t, s, "victim@patient.example")
		log := &startLog{starts: map[string]time.Time{}}
		s.App.Screenings.Analyzer = log
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			pacedRunner(t, s, workers).Run(ctx)
		}()
		defer func() { cancel(); wg.Wait() }()

		imgs := make([][]byte, n+1)
		for i := range imgs { // all different, so each is known by its SHA-256
			imgs[i] = encodeJPEG(t, 384+16*(i/60), 384, 40+i%60)
		}
		floodStart := time.Now()
		shaA := make([]string, n)
		for i := range n {
			var sc screening
			upload(t, s, a.Token, form{image: imgs[i], fields: map[string]string{"eye": "left"}}, nil).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			shaA[i] = sc.Image.SHA256
		}
		floodTook := time.Since(floodStart)
		var victim screening
		uploaded := time.Now() // B sends
		upload(t, s, b.Token, form{image: imgs[n], fields: map[string]string{"eye": "right"}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &victim)
		queued := time.Now() // B's job is committed: from here the order is the queue's
		waitFor(t, 10*time.Minute, "the victim's screening was not analysed", func() bool {
			var sc models.Screening
			err := s.App.DB.Select("status").Where("id = ?", victim.ID).First(&sc).Error
			return err == nil && sc.Status == models.StatusAwaitingReview
		})
		wait := time.Since(uploaded)

		log.mu.Lock()
		started := log.starts[victim.Image.SHA256]
		ahead, doneBefore := 0, 0
		for _, sha := range shaA {
			if at, ok := log.starts[sha]; ok && at.After(queued) && at.Before(started) {
				ahead++
			}
			if at, ok := log.starts[sha]; ok && at.Before(uploaded) {
				doneBefore++
			}
		}
		log.mu.Unlock()
		t.Logf("%s: A uploaded %d in %v; B's upload waited %v for its result (%v to start); %d of A's analyses started between B's 202 and B's start (%d had started before B sent)",
			e.Name, n, floodTook.Round(10*time.Millisecond), wait.Round(10*time.Millisecond), started.Sub(uploaded).Round(10*time.Millisecond), ahead, doneBefore)
		if started.IsZero() || ahead > workers {
			t.Fatalf("%d of A's waiting analyses started before B's (at most %d, one per worker)", ahead, workers)
		}
	})
}

// TestUploadLimit: a patient may upload limits.upload.max screenings per
// limits.upload.window (3 per hour here) across every instance sharing the
// database; the next answers 429 RATE_LIMITED with Retry-After before its
// body is read, and leaves no screening. A replay of an earlier upload
// (Idempotency-Key) takes no slot, and is answered even at the limit;
// another patient has slots of its own.
func TestUploadLimit(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		sharedDatabase(t, e)
		uri, store := e.URI(t), "file://"+t.TempDir()
		env := map[string]string{"AURA_STORAGE_URI": store, "AURA_LIMITS_UPLOAD_MAX": "3", "AURA_LIMITS_UPLOAD_WINDOW": "1h"}
		apps := []*testenv.Server{testenv.Start(t, testenv.Config(t, uri, env)), testenv.Start(t, testenv.Config(t, uri, env))}
		adm := makeAdmin(t, apps[0], "admin@clinic.example")
		createClinic(t, apps[0], adm, "Only Clinic")
		a, b := signUp(t, apps[0], "an@patient.example"), signUp(t, apps[0], "binh@patient.example")
		jpg := encodeJPEG(t, 320, 320, 70)
		send := func(s *testenv.Server, p person, key string) *testenv.Response {
			h := map[string]string{}
			if key != "" {
				h["Idempotency-Key"] = key
			}
			return upload(t, s, p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, h)
		}
		var first, again screening
		send(apps[0], a, "k-1").Expect(t, http.StatusAccepted, "").Data(t, &first)
		send(apps[1], a, "k-1").Expect(t, http.StatusAccepted, "").Data(t, &again) // a replay: no slot
		if again.ID != first.ID {
			t.Fatalf("replay gave %s, want %s", again.ID, first.ID)
		}
		send(apps[1], a, "").Expect(t, http.StatusAccepted, "")
		send(apps[0], a, "").Expect(t, http.StatusAccepted, "")
		for i, s := range apps {
			r := send(s, a, "").Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
			ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || ra < 3500 || ra > 3600 {
				t.Fatalf("instance %d: Retry-After %q", i+1, r.Header.Get("Retry-After"))
			}
		}
		// Refused before the body is looked at: not a 415 for a non-image.
		upload(t, apps[0], a.Token, form{image: []byte("not an image at all"), fields: map[string]string{"eye": "left"}}, nil).
			Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
		// A replay still gets its screening at the limit.
		send(apps[1], a, "k-1").Expect(t, http.StatusAccepted, "").Data(t, &again)
		if again.ID != first.ID {
			t.Fatalf("replay at the limit gave %s, want %s", again.ID, first.ID)
		}
		if n := countScreenings(t, apps[0]); n != 3 {
			t.Fatalf("%d screenings, want 3", n)
		}
		send(apps[1], b, "").Expect(t, http.StatusAccepted, "")
	})
}

// TestFairQueueBatch: a clinic's batch of N items (AURA_TEST_BATCH, 16 by
// default) waits while two workers run; a patient then uploads six
// screenings of their own, one after the other. Batch items queue behind
// single uploads: for each of the patient's uploads, no more of the
// batch's waiting analyses start between its 202 and its own start than
// there are workers (those already claimed). Without the priority, the fair
// order alone would put one batch item before each of the patient's
// uploads in turn, so the sixth would wait behind several.
func TestFairQueueBatch(t *testing.T) {
	t.Parallel()
	n := 16
	if v := os.Getenv("AURA_TEST_BATCH"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	const workers, own = 2, 6
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@clinic.example")
		clinicID := createClinic(t, s, adm, "Only Clinic")
		tech := staffMember(t, s, clinicID, "tech@clinic.example", models.RoleTechnician)
		pat := enrol(t, s, tech.Token, clinicID, map[string]any{"fullName": "Batch Patient", "externalId": "B-1"})
		b := signUp(t, s, "victim@patient.example")
		log := &startLog{starts: map[string]time.Time{}}
		s.App.Screenings.Analyzer = log

		imgs := make([][]byte, n+own)
		for i := range imgs { // all different, so each is known by its SHA-256; small, so each analysis is quick
			imgs[i] = encodeJPEG(t, 256+8*(i/60), 256, 40+i%60)
		}
		manifest := "file,eye,patientCode\n"
		files := make([]batchFile, n)
		for i := range n {
			files[i] = batchFile{fmt.Sprintf("%03d.jpg", i), imgs[i]}
			manifest += fmt.Sprintf("%03d.jpg,left,%s\n", i, pat.PatientCode)
		}
		var batch batchOut
		s.Do(t, "POST", "/api/clinics/"+clinicID+"/batches", map[string]any{}, tech.Token).Expect(t, http.StatusCreated, "").Data(t, &batch)
		ct, body := batchBody(manifest, false, files...)
		var v batchVerdict
		sent := time.Now()
		postItems(t, s, tech.Token, batch.ID, ct, body).Expect(t, http.StatusAccepted, "").Data(t, &v)
		if len(v.Accepted) != n {
			t.Fatalf("batch: %+v", v.Rejected)
		}
		accept := time.Since(sent)
		batchSHA := map[string]bool{}
		for i := range n {
			sum := sha256.Sum256(imgs[i])
			batchSHA[hex.EncodeToString(sum[:])] = true
		}

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			pacedRunner(t, s, workers).Run(ctx)
		}()
		defer func() { cancel(); wg.Wait() }()
		// The workers are busy with the batch before the patient sends.
		waitFor(t, time.Minute, "the batch did not start", func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return len(log.starts) >= workers
		})
		type mine struct {
			sc     screening
			queued time.Time
		}
		var ups []mine
		for i := range own {
			var sc screening
			upload(t, s, b.Token, form{image: imgs[n+i], fields: map[string]string{"eye": "right"}}, nil).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			ups = append(ups, mine{sc, time.Now()})
		}
		last := ups[own-1]
		ids := make([]string, own)
		for i, u := range ups {
			ids[i] = u.sc.ID
		}
		waitFor(t, 10*time.Minute, "the patient's screenings were not analysed", func() bool {
			var k int64
			err := s.App.DB.Model(&models.Screening{}).Where("id IN ? AND status = ?", ids, models.StatusAwaitingReview).Count(&k).Error
			return err == nil && k == own
		})
		done := time.Since(last.queued)
		log.mu.Lock()
		defer log.mu.Unlock()
		for i, u := range ups {
			started := log.starts[u.sc.Image.SHA256]
			ahead := 0
			for sha := range batchSHA {
				if at, ok := log.starts[sha]; ok && at.After(u.queued) && at.Before(started) {
					ahead++
				}
			}
			t.Logf("%s: upload %d of the patient started %v after its 202; %d batch analyses started in between",
				e.Name, i+1, started.Sub(u.queued).Round(10*time.Millisecond), ahead)
			if started.IsZero() || ahead > workers {
				t.Fatalf("upload %d: %d of the batch's waiting analyses started before it (at most %d, one per worker)", i+1, ahead, workers)
			}
		}
		t.Logf("%s: batch of %d accepted in %v; the patient's last upload analysed %v after its 202", e.Name, n,
			accept.Round(10*time.Millisecond), done.Round(10*time.Millisecond))
	})
}
