package tests

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
)

// The figures of the live update streams (docs/live-updates.md). They are
// measurements, not assertions, and run only when asked:
//
//	AURA_TEST_MEASURE=1 AURA_TEST_POSTGRES_URI=... go test ./tests -run 'TestMeasureEvent' -count=1 -v
//
// TestMeasureEventStreams opens 2,000 streams on one instance (PostgreSQL
// when configured, else SQLite) with raw connections that read nothing
// after the headers, and prints the heap, stack and RSS they cost per
// stream and the CPU the process spends over 30 s at rest (the shipped
// heartbeat and session check). TestMeasureEventLatency prints the
// latency from a screening status change requested on instance A to its
// event on a stream of instance B (PostgreSQL), over 200 changes.

func memNow() (heapStack uint64, rssKB float64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &rssKB)
		}
	}
	return ms.HeapInuse + ms.StackInuse, rssKB
}

func TestMeasureEventStreams(t *testing.T) {
	measuring(t)
	const n = 2000
	uri, engine := "sqlite:///"+t.TempDir()+"/aura.db", "sqlite-file"
	if os.Getenv(testenv.PostgresEnv) != "" {
		uri, engine = testenv.PostgresURI(t), "postgres"
	}
	s := testenv.Start(t, testenv.Config(t, uri, nil))
	p := signUp(t, s, "many.streams@patient.example")
	addr := strings.TrimPrefix(s.URL, "http://")
	before, rssBefore := memNow()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	buf := make([]byte, 1024)
	for i := range n {
		c, err := net.Dial("tcp", addr)
		testenv.Must(t, err, "dial %d", i)
		fmt.Fprintf(c, "GET /api/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, p.Token)
		r := bufio.NewReaderSize(c, 16)
		line, err := r.ReadString('\n')
		if err != nil || !strings.Contains(line, "200") {
			t.Fatalf("stream %d: %q %v", i, line, err)
		}
		_, _ = c.Read(buf) // the rest of the headers and "retry:", whatever arrived
		conns = append(conns, c)
	}
	opened := time.Since(start)
	waitSubscribed(t, s, n)
	after, rssAfter := memNow()
	cpu0, wall0 := cpuTime(t), time.Now()
	time.Sleep(30 * time.Second)
	cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
	t.Logf("engine %s: %d streams opened in %v", engine, n, opened.Round(time.Millisecond))
	t.Logf("heap+stack per stream: %.1f KiB (%.1f MiB for %d)", float64(after-before)/n/1024, float64(after-before)/(1<<20), n)
	t.Logf("RSS per stream: %.1f KiB (%.1f MiB -> %.1f MiB)", (rssAfter-rssBefore)/n, rssBefore/1024, rssAfter/1024)
	t.Logf("CPU at rest over %v with %d streams: %v (%.2f%% of one core)", wall.Round(time.Second), n, cpu.Round(time.Millisecond),
		100*cpu.Seconds()/wall.Seconds())
}

func TestMeasureEventLatency(t *testing.T) {
	measuring(t)
	uri := testenv.PostgresURI(t)
	a := testenv.Start(t, testenv.Config(t, uri, nil))
	b := testenv.Start(t, testenv.Config(t, uri, nil))
	w := worldOn(t, a)
	onB := bearerStream(t, b, w.p1.Token, nil)
	const n = 200
	lat := make([]time.Duration, 0, n)
	for i := range n {
		path := "/api/screenings/" + w.screen1 + "/claim"
		if i%2 == 1 {
			path = "/api/screenings/" + w.screen1 + "/release"
		}
		t0 := time.Now()
		a.Do(t, "POST", path, nil, w.d1.Token).Expect(t, http.StatusOK, "")
		onB.next(t, "screening", 10*time.Second)
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	t.Logf("status change requested on A -> its event on B's stream, %d changes: p50 %v, p99 %v, max %v (includes the request itself)",
		n, lat[n/2].Round(10*time.Microsecond), lat[n*99/100].Round(10*time.Microsecond), lat[n-1].Round(10*time.Microsecond))
}
