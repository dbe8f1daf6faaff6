package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"aura/analysis/vessels"
	"aura/internal/testenv"
	"aura/models"
)

// The screening pipeline's speed figures of docs/performance.md ("Screening
// pipeline"), through real HTTP against a listening server on file SQLite
// and PostgreSQL (when AURA_TEST_POSTGRES_URI is set):
//
//	go test ./tests -run '^$' -bench 'Upload|MeDuringAnalysis|AnalysisThroughput' -benchtime 1x -count 2 -timeout 30m
//
// Each benchmark does a fixed amount of work per iteration and reports its
// own percentiles and rates with b.ReportMetric; ns/op is not the figure.

// benchEngines are the engines the pipeline figures are taken on: file
// SQLite always, PostgreSQL when configured (in-memory SQLite is no
// deployment).
func benchEngines(b *testing.B) []testenv.Engine {
	if testing.Short() {
		b.Skip("screening pipeline benchmarks are slow; not under -short")
	}
	var out []testenv.Engine
	for _, e := range testenv.Engines() {
		if e.Name != "sqlite-memory" {
			out = append(out, e)
		}
	}
	return out
}

var (
	bigFundusOnce sync.Once
	bigFundus     []byte
	bigFundusDesc string
)

// bigFundusJPEG is a fundus photograph as a 10-megapixel retinal camera
// saves it (3888×2592) at the lowest high quality that makes it about 5 MiB.
func bigFundusJPEG(b testing.TB) ([]byte, string) {
	b.Helper()
	bigFundusOnce.Do(func() {
		syn := vessels.Synth(vessels.SynthOptions{Width: 3888, Height: 2592, Seed: 12, Noise: 3})
		for q := 98; q <= 100; q++ {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, syn.Image, &jpeg.Options{Quality: q}); err != nil {
				panic(err)
			}
			bigFundus, bigFundusDesc = buf.Bytes(), fmt.Sprintf("3888×2592 JPEG q%d, %.2f MiB", q, float64(buf.Len())/(1<<20))
			if buf.Len() >= 9<<19 { // 4.5 MiB
				break
			}
		}
	})
	return bigFundus, bigFundusDesc
}

// pct is the p-th percentile (0 < p <= 1) of ds, in milliseconds.
func pct(ds []time.Duration, p float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}

// cpuTime is the CPU time (user and system) this process has used so far.
func cpuTime(b testing.TB) time.Duration {
	var ru syscall.Rusage
	testenv.Must(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru), "getrusage")
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bodyClock is a request body that notes when the client has read its last
// byte into the connection: latency after that is the server's, not the
// transfer's (on loopback, little of the body can still be in flight).
type bodyClock struct {
	r   *bytes.Reader
	eof time.Time
}

func (c *bodyClock) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF && c.eof.IsZero() {
		c.eof = time.Now()
	}
	return n, err
}

// benchWorld is a served app with one clinic and a signed-in patient.
type benchWorld struct {
	s       *testenv.Server
	patient string
}

func newBenchWorld(b testing.TB, s *testenv.Server) benchWorld {
	b.Helper()
	adm := makeAdmin(b, s, "admin@bench.example")
	s.Do(b, "POST", "/api/admin/clinics", map[string]any{"name": "Bench Clinic"}, adm).Expect(b, http.StatusCreated, "")
	return benchWorld{s: s, patient: register(b, s, "patient@bench.example").AccessToken}
}

// post uploads img to s as the patient; it returns the whole latency and
// the latency after the body was sent.
func (w benchWorld) post(b testing.TB, s *testenv.Server, client *http.Client, img []byte) (total, afterBody time.Duration) {
	b.Helper()
	ct, body := form{image: img, fields: map[string]string{"eye": "left"}}.body()
	clock := &bodyClock{r: bytes.NewReader(body)}
	req, err := http.NewRequest("POST", s.URL+"/api/screenings", clock)
	testenv.Must(b, err, "request")
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+w.patient)
	start := time.Now()
	res, err := client.Do(req)
	testenv.Must(b, err, "upload")
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	end := time.Now()
	if res.StatusCode != http.StatusAccepted {
		b.Fatalf("upload: %d %s", res.StatusCode, out)
	}
	return end.Sub(start), end.Sub(clock.eof)
}

// uploadRounds is how many 5 MiB uploads one iteration of BenchmarkUpload
// sends (p99 of so few is close to their maximum).
const uploadRounds = 20

// BenchmarkUpload: POST /api/screenings with a ~5 MiB fundus JPEG, one at a
// time, p50 and p99 of the whole request and of the part after the body was
// sent (the server's work: the last bytes spooled, the header check, the
// full decode, the store, the transaction). Interleaved with each upload,
// the same bytes go through the upload's image check alone (Spool: temp
// file, SHA-256, header, decode) and image.Decode alone, so the share of
// the decode is measured under the same load.
func BenchmarkUpload(b *testing.B) {
	engines := benchEngines(b)
	img, desc := bigFundusJPEG(b)
	b.Logf("image: %s", desc)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(img)))
		for b.Loop() {
			if _, _, err := image.Decode(bytes.NewReader(img)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, e := range engines {
		b.Run(e.Name, func(b *testing.B) {
			s := testenv.Start(b, testenv.Config(b, e.URI(b), nil))
			w := newBenchWorld(b, s)
			w.post(b, s, s.Client, img) // warm: connection, statements, clinic
			var total, after, spool, decode, hash []time.Duration
			b.ResetTimer()
			for b.Loop() {
				for range uploadRounds {
					t, a := w.post(b, s, s.Client, img)
					total, after = append(total, t), append(after, a)

					t0 := time.Now()
					sp, err := s.App.Screenings.Spool(context.Background(), bytes.NewReader(img))
					testenv.Must(b, err, "spool")
					spool = append(spool, time.Since(t0))
					sp.Close()

					t0 = time.Now()
					_, _, err = image.Decode(bytes.NewReader(img))
					testenv.Must(b, err, "decode")
					decode = append(decode, time.Since(t0))

					t0 = time.Now()
					sha256.Sum256(img)
					hash = append(hash, time.Since(t0))
				}
			}
			b.ReportMetric(pct(total, .5), "total_p50_ms")
			b.ReportMetric(pct(total, .99), "total_p99_ms")
			b.ReportMetric(pct(after, .5), "p50_ms")
			b.ReportMetric(pct(after, .99), "p99_ms")
			b.ReportMetric(pct(spool, .5), "check_p50_ms")
			b.ReportMetric(pct(decode, .5), "decode_p50_ms")
			b.ReportMetric(pct(hash, .5), "sha256_p50_ms")
			b.ReportMetric(pct(decode, .5)/pct(after, .5), "decode/p50")
			b.ReportMetric(float64(len(img))/(1<<20), "image_MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// meClients and meRequests shape each /me phase of BenchmarkMeDuringAnalysis.
const (
	meClients  = 8
	meRequests = 4000
	// meJobs keeps the workers busy for longer than a busy phase lasts on
	// this machine (about 1 s of CPU per 1024² analysis).
	meJobs = 16
)

// BenchmarkMeDuringAnalysis: GET /api/auth/me throughput from meClients
// parallel clients for meRequests requests, first with the analysis workers
// idle, then while analysis.workers (1, this machine's default, and 2, one
// per core) analyse 1024² uploads, in one run. busy_workers is the mean
// number of analyses running during the busy phase (equal to the workers
// when they were saturated throughout).
func BenchmarkMeDuringAnalysis(b *testing.B) {
	engines := benchEngines(b)
	jpg, _ := fundus(b)
	for _, e := range engines {
		for _, workers := range []int64{1, 2} {
			for _, nice := range []int{0, 10} {
				b.Run(fmt.Sprintf("%s/workers=%d/nice=%d", e.Name, workers, nice), func(b *testing.B) {
					if nice > 0 {
						// As aura serve does (app.applyWorkerProcs): one more
						// processor per worker, for the request threads.
						prev := runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + int(workers))
						defer runtime.GOMAXPROCS(prev)
					}
					meDuringAnalysis(b, e, workers, nice, jpg)
				})
			}
		}
	}
}

func meDuringAnalysis(b *testing.B, e testenv.Engine, workers int64, nice int, jpg []byte) {
	s := testenv.Start(b, testenv.Config(b, e.URI(b), map[string]string{
		"AURA_ANALYSIS_WORKERS": fmt.Sprint(workers), "AURA_ANALYSIS_NICE": fmt.Sprint(nice)}))
	w := newBenchWorld(b, s)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: meClients}}
	defer client.CloseIdleConnections()
	phase := func(n int) time.Duration {
		var next atomic.Int64
		var failed atomic.Value
		start := time.Now()
		var wg sync.WaitGroup
		for range meClients {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					req, _ := http.NewRequest("GET", s.URL+"/api/auth/me", nil)
					req.Header.Set("Authorization", "Bearer "+w.patient)
					res, err := client.Do(req)
					if err != nil {
						failed.Store(err.Error())
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						failed.Store(res.Status)
						return
					}
				}
			})
		}
		wg.Wait()
		if f := failed.Load(); f != nil {
			b.Fatalf("/me: %v", f)
		}
		return time.Since(start)
	}
	var idleRPS, busyRPS, busyWorkers []float64
	for b.Loop() {
		phase(meClients * 20) // warm connections
		idleRPS = append(idleRPS, meRequests/phase(meRequests).Seconds())

		for range meJobs {
			w.post(b, s, s.Client, jpg)
		}
		deadline := time.Now().Add(30 * time.Second)
		for s.App.Analysis.Running.Load() < workers {
			if time.Now().After(deadline) {
				b.Fatal("the workers did not start")
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop := make(chan struct{})
		var samples, running atomic.Int64
		var sampler sync.WaitGroup
		sampler.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					samples.Add(1)
					running.Add(s.App.Analysis.Running.Load())
				}
			}
		})
		busyRPS = append(busyRPS, meRequests/phase(meRequests).Seconds())
		close(stop)
		sampler.Wait()
		busyWorkers = append(busyWorkers, float64(running.Load())/float64(max(samples.Load(), 1)))
	}
	idle, busy := slices.Min(idleRPS), slices.Min(busyRPS)
	b.ReportMetric(idle, "idle_rps")
	b.ReportMetric(busy, "busy_rps")
	b.ReportMetric(busy/idle, "busy/idle")
	b.ReportMetric(slices.Min(busyWorkers), "busy_workers")
	b.ReportMetric(0, "ns/op")
}

// throughputJobs is how many 1024² uploads each layout of
// BenchmarkAnalysisThroughput analyses.
const throughputJobs = 8

// BenchmarkAnalysisThroughput: analyses per minute for throughputJobs
// uploads sent through the API one after another, with one worker, two
// workers, an API process without workers beside a worker process
// (aura worker's layout: two Apps on one database and one image store, in
// this test process), and an API with one worker beside a worker process.
// The clock runs from the first claim to the last finished job.
func BenchmarkAnalysisThroughput(b *testing.B) {
	engines := benchEngines(b)
	jpg, _ := fundus(b)
	layouts := []struct {
		name    string
		workers []int // analysis.workers of each instance; the first takes the uploads
	}{
		{"1worker", []int{1}},
		{"2workers", []int{2}},
		{"api+1worker-process", []int{0, 1}},
		{"api1worker+1worker-process", []int{1, 1}},
	}
	for _, e := range engines {
		for _, l := range layouts {
			b.Run(e.Name+"/"+l.name, func(b *testing.B) {
				var perMin, cores []float64
				for b.Loop() {
					rate, c := analysisRate(b, e, l.workers, jpg)
					perMin, cores = append(perMin, rate), append(cores, c)
				}
				b.ReportMetric(slices.Min(perMin), "jobs/min")
				b.ReportMetric(slices.Min(cores), "cpu_cores")
				b.ReportMetric(slices.Min(cores)*60/slices.Min(perMin), "cpu_s/job")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// analysisRate serves one database and image store from one App per entry
// of workers, uploads throughputJobs images through the first, and returns
// the analyses per minute from the first claim to the last finish, and the
// cores this process kept busy meanwhile (uploads included).
func analysisRate(b *testing.B, e testenv.Engine, workers []int, img []byte) (perMin, cores float64) {
	b.StopTimer()
	uri := e.URI(b)
	store := "file://" + b.TempDir()
	var apps []*testenv.Server
	for _, n := range workers {
		apps = append(apps, testenv.Start(b, testenv.Config(b, uri, map[string]string{
			"AURA_ANALYSIS_WORKERS": fmt.Sprint(n), "AURA_STORAGE_URI": store})))
	}
	defer func() {
		for _, s := range slices.Backward(apps) {
			s.Stop(b)
		}
	}()
	w := newBenchWorld(b, apps[0])
	b.StartTimer()
	cpu0, wall0 := cpuTime(b), time.Now()

	firstClaim := make(chan time.Time, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			for _, s := range apps {
				if s.App.Analysis.Running.Load() > 0 {
					firstClaim <- time.Now()
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	for range throughputJobs {
		w.post(b, apps[0], apps[0].Client, img)
	}
	db := apps[0].App.DB
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var done []models.Job
		testenv.Must(b, db.Where("kind = ? AND finished_at IS NOT NULL", models.JobAnalyze).Find(&done).Error, "jobs")
		if len(done) == throughputJobs {
			var last time.Time
			for _, j := range done {
				if j.Failed {
					b.Fatalf("job %d failed: %s", j.ID, j.LastError)
				}
				if j.FinishedAt.After(last) {
					last = *j.FinishedAt
				}
			}
			cores = float64(cpuTime(b)-cpu0) / float64(time.Since(wall0))
			return throughputJobs / last.Sub(<-firstClaim).Minutes(), cores
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d jobs done after 5 minutes", len(done), throughputJobs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
