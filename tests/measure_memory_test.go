package tests

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
)

// The figures of issue 17 on memory and reports (docs/screening.md,
// docs/report.md). They are measurements, not assertions, and run only when
// asked:
//
//	AURA_TEST_MEASURE=1 go test ./tests -run 'TestMeasure' -count=1 -v
//
// TestMeasureUploadRSS prints the peak RSS of the process (server and
// client) while 8 patients upload a 40 MP 16-bit RGBA PNG at once;
// TestMeasureReportLatency prints another patient's report latency, idle
// and while 40 requests for one large screening's report are in flight.

func measuring(t *testing.T) {
	if os.Getenv("AURA_TEST_MEASURE") == "" {
		t.Skip("a measurement: set AURA_TEST_MEASURE=1 to run it")
	}
}

// png16 is a w×h RGBA PNG of 16 bits per sample, one flat colour, written
// row by row (it never holds the pixels): a few hundred KB that decode to
// w×h×8 bytes.
func png16(w, h int) []byte { return flatPNG(w, h, 16) }

// flatPNG is a w×h RGBA PNG of depth (8 or 16) bits per sample, one flat
// colour, written row by row.
func flatPNG(w, h, depth int) []byte {
	bpp := 4 * depth / 8
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], c.Sum32())
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), 6 // RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	px := []byte{0x90, 0x00, 0x40, 0x00, 0x20, 0x00, 0xFF, 0xFF}
	if depth == 8 {
		px = []byte{0x90, 0x40, 0x20, 0xFF}
	}
	row := make([]byte, 1+w*bpp)
	for x := 0; x < w; x++ {
		copy(row[1+x*bpp:], px)
	}
	row[0] = 2 // "up": every row after the first is all zeros once filtered
	first := append([]byte{0}, row[1:]...)
	zw.Write(first)
	zero := make([]byte, len(row))
	zero[0] = 2
	for y := 1; y < h; y++ {
		zw.Write(zero)
	}
	zw.Close()
	for b := z.Bytes(); len(b) > 0; {
		n := min(len(b), 1<<20)
		chunk("IDAT", b[:n])
		b = b[n:]
	}
	chunk("IEND", nil)
	return out.Bytes()
}

// peakRSS is the process's peak resident set since resetPeak, in MiB.
func peakRSS(t *testing.T, field string) float64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// resetPeak returns memory to the OS and resets the peak RSS (Linux's
// clear_refs 5), so the next peak is the measured work's.
func resetPeak(t *testing.T) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
}

func TestMeasureUploadRSS(t *testing.T) {
	measuring(t)
	img := png16(8000, 5000)
	t.Logf("image: 8000×5000 RGBA 16-bit PNG, %d KB (%.0f MB of pixels)", len(img)/1000, 8000*5000*8/1e6)
	s := testenv.Start(t, testenv.Config(t, "sqlite:///"+t.TempDir()+"/aura.db", nil))
	adm := makeAdmin(t, s, "admin@rss.example")
	createClinic(t, s, adm, "RSS Clinic")
	const n = 8
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = signUp(t, s, fmt.Sprintf("p%d@rss.example", i)).Token
	}
	ct, body := form{image: img, filename: "big.png", fields: map[string]string{"eye": "left"}}.body()
	resetPeak(t)
	base := peakRSS(t, "VmRSS")
	start := time.Now()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.URL+"/api/screenings", bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			res, err := http.DefaultClient.Do(req)
			if err != nil { // the server cut it: status 0
				t.Logf("upload %d: %v", i, err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		}()
	}
	wg.Wait()
	t.Logf("8 parallel uploads: answers %v in %.1f s; RSS before %.0f MiB, peak %.0f MiB",
		codes, time.Since(start).Seconds(), base, peakRSS(t, "VmHWM"))
}

func TestMeasureReportLatency(t *testing.T) {
	measuring(t)
	s := testenv.Start(t, testenv.Config(t, "sqlite:///"+t.TempDir()+"/aura.db", nil))
	adm := makeAdmin(t, s, "admin@lat.example")
	createClinic(t, s, adm, "Latency Clinic")
	big, other := signUp(t, s, "big@lat.example"), signUp(t, s, "other@lat.example")
	large, desc := bigFundusJPEG(t)
	small, _ := fundus(t)
	var a, b1, b2 screening
	upload(t, s, big.Token, form{image: large, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &a)
	upload(t, s, other.Token, form{image: small, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &b1)
	upload(t, s, other.Token, form{image: small, fields: map[string]string{"eye": "right"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &b2)
	analyse(t, s)
	get := func(tok, id string) (int, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequest("GET", s.URL+"/api/screenings/"+id+"/report", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil { // the server cut it: status 0, with the time it took
			t.Logf("report: %v", err)
			return 0, time.Since(start)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		res.Body.Close()
		return res.StatusCode, time.Since(start)
	}
	code, idle := get(other.Token, b1.ID)
	t.Logf("another patient's report, idle: %d in %.3f s", code, idle.Seconds())

	resetPeak(t)
	var wg sync.WaitGroup
	counts := map[int]int{}
	var mu sync.Mutex
	start := time.Now()
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := get(big.Token, a.ID)
			mu.Lock()
			counts[c]++
			mu.Unlock()
		}()
	}
	time.Sleep(200 * time.Millisecond)
	code, busy := get(other.Token, b2.ID)
	wg.Wait()
	t.Logf("large screening (%s): 40 concurrent reports answered %v in %.1f s", desc, counts, time.Since(start).Seconds())
	t.Logf("another patient's report during them: %d in %.3f s; peak RSS %.0f MiB", code, busy.Seconds(), peakRSS(t, "VmHWM"))
}
