package tests

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// The figures of batches and STOW-RS (docs/performance.md#batches). They
// are measurements, not assertions, and run only when asked:
//
//	AURA_TEST_BENCH_BATCH=1 go test ./tests -run TestBenchBatch -count=1 -v -timeout 2h
//
// The server runs as its own process (the aura binary, built here) on a
// SQLite file, so its peak RSS (VmHWM) is the server's alone; the client
// streams every body from files on disk. AURA_BENCH_BATCH_N sets the batch
// (1000 images of 1024×1024 by default), AURA_BENCH_WAIT how long to wait
// for the batch's analyses (15m), AURA_BENCH_ZIP_MB the ZIP's size (1500).
// The files are generated in the test's temporary directory, removed at its end.

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// auraProc is the server running as a process of its own.
type auraProc struct {
	cmd  *exec.Cmd
	base string
}

func startAura(t *testing.T, bin string, env map[string]string) *auraProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "port")
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin, "serve")
	// The process's own settings only: AURA refuses AURA_ variables it
	// does not know (the benchmark's own).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AURA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AURA_SERVER_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "aura.log"))
	testenv.Must(t, err, "log")
	cmd.Stdout, cmd.Stderr = logf, logf
	testenv.Must(t, cmd.Start(), "start aura")
	p := &auraProc{cmd: cmd, base: "http://" + addr}
	t.Cleanup(p.stop) // a failed measurement leaves no server behind
	deadline := time.Now().Add(2 * time.Minute)
	waitFor(t, 2*time.Minute, "aura did not start", func() bool {
		if time.Now().After(deadline.Add(-5 * time.Second)) {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("aura log: %s", out)
		}
		res, err := http.Get(p.base + "/api/health/live")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

func (p *auraProc) stop() {
	if p.cmd.ProcessState != nil {
		return // stopped already
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// mem is the process's peak RSS since it started (VmHWM) and its RSS now, MiB.
func (p *auraProc) mem(t *testing.T) (peak, now int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	testenv.Must(t, err, "status")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "VmHWM:" || f[0] == "VmRSS:") {
			kb, _ := strconv.Atoi(f[1])
			if f[0] == "VmHWM:" {
				peak = kb / 1024
			} else {
				now = kb / 1024
			}
		}
	}
	return peak, now
}

func (p *auraProc) call(t *testing.T, method, path, token, ct string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, body)
	testenv.Must(t, err, "request")
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "%s %s", method, path)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (p *auraProc) login(t *testing.T, email string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": goodPassword})
	req, _ := http.NewRequest("POST", p.base+"/api/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "login")
	defer res.Body.Close()
	var env struct{ Data struct{ AccessToken string } }
	testenv.Must(t, json.NewDecoder(res.Body).Decode(&env), "login answer")
	return env.Data.AccessToken
}

// streamParts is a multipart body written from files on disk as it is
// sent: part name, file name, path (or name, "", value for a text field).
func streamParts(parts [][3]string) (string, io.Reader) {
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			if p[1] == "" { // a text field: name, "", value
				if err := w.WriteField(p[0], p[2]); err != nil {
					_ = pw.CloseWithError(err)
					return
				}
				continue
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, p[0], p[1]))
			h.Set("Content-Type", "application/octet-stream")
			dst, err := w.CreatePart(h)
			if err != nil {
				_ = pw.CloseWithError(err)
				return
			}
			f, err := os.Open(p[2])
			if err != nil {
				_ = pw.CloseWithError(err)
				return
			}
			_, err = io.Copy(dst, bufio.NewReader(f))
			_ = f.Close()
			if err != nil {
				_ = pw.CloseWithError(err)
				return
			}
		}
		_ = pw.CloseWithError(w.Close())
	}()
	return w.FormDataContentType(), pr
}

func countStatus(t *testing.T, p *auraProc, token, batchID string) (done, total int) {
	code, b := p.call(t, "GET", "/api/batches/"+batchID, token, "", nil)
	if code != 200 {
		t.Fatalf("batch: %d %s", code, b)
	}
	var env struct{ Data batchOut }
	testenv.Must(t, json.Unmarshal(b, &env), "batch")
	c := env.Data.Counts
	return c.AwaitingReview + c.InReview + c.Reviewed + c.Failed, c.Queued + c.Processing + c.AwaitingReview + c.InReview + c.Reviewed + c.Failed
}

func TestBenchBatch(t *testing.T) {
	if os.Getenv("AURA_TEST_BENCH_BATCH") == "" {
		t.Skip("a measurement: set AURA_TEST_BENCH_BATCH=1 to run it")
	}
	n, wait, zipMB := benchEnv("AURA_BENCH_BATCH_N", 1000), time.Duration(benchEnv("AURA_BENCH_WAIT", 15))*time.Minute, benchEnv("AURA_BENCH_ZIP_MB", 1500)
	dir := t.TempDir()
	bin := filepath.Join(dir, "aura")
	build := exec.Command("go", "build", "-o", bin, "aura")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	uri := "sqlite://" + filepath.Join(dir, "aura.db")
	store := "file://" + filepath.Join(dir, "store")

	// The accounts, the clinic and a device, in process; then the server
	// alone, on the same database.
	s := testenv.Start(t, testenv.Config(t, uri, map[string]string{"AURA_STORAGE_URI": store}))
	adm := makeAdmin(t, s, "admin@clinic.example")
	clinicID := createClinic(t, s, adm, "Bench Clinic")
	staffMember(t, s, clinicID, "tech@bench.example", models.RoleTechnician)
	ca := staffMember(t, s, clinicID, "ca@bench.example", models.RoleClinicAdmin)
	pat := enrol(t, s, ca.Token, clinicID, map[string]any{"fullName": "Bench Patient", "externalId": "B-1"})
	signUp(t, s, "own@patient.example")
	var dev struct{ Token string }
	s.Do(t, "POST", "/api/clinics/"+clinicID+"/devices", map[string]any{"name": "Camera"}, ca.Token).Expect(t, http.StatusCreated, "").Data(t, &dev)
	s.Stop(t)
	env := map[string]string{"DATABASE_URI": uri, "SECRET_KEY": "test-secret-test-secret-test-secret-0123", "AURA_STORAGE_URI": store,
		"AURA_I18N_DEFAULT_LANGUAGE": "en", "AURA_LIMITS_UPLOAD_MAX": "1000000", "AURA_SERVER_UPLOAD_TIMEOUT": "30m",
		"AURA_AUTH_ARGON2_MEMORY_KIB": "64", "AURA_AUTH_ARGON2_TIME": "1", "TMPDIR": dir}

	// 1. A batch of n 1024×1024 JPEGs (16 distinct pictures, each file its own).
	imgDir := filepath.Join(dir, "imgs")
	testenv.Must(t, os.MkdirAll(imgDir, 0o700), "imgs")
	var pics [][]byte
	for i := range 16 {
		pics = append(pics, encodeJPEG(t, 1024, 1024, 80+i))
	}
	manifest := "file,eye,patientCode\n"
	parts := [][3]string{{"manifest", "manifest.csv", filepath.Join(dir, "manifest.csv")}}
	var bytesSent int64
	for i := range n {
		name := fmt.Sprintf("img-%04d.jpg", i)
		p := filepath.Join(imgDir, name)
		testenv.Must(t, os.WriteFile(p, pics[i%len(pics)], 0o600), "image")
		bytesSent += int64(len(pics[i%len(pics)]))
		manifest += fmt.Sprintf("%s,%s,%s\n", name, []string{"left", "right"}[i%2], pat.PatientCode)
		parts = append(parts, [3]string{"files", name, p})
	}
	testenv.Must(t, os.WriteFile(parts[0][2], []byte(manifest), 0o600), "manifest")

	p := startAura(t, bin, env)
	tech, own := p.login(t, "tech@bench.example"), p.login(t, "own@patient.example")
	code, b := p.call(t, "POST", "/api/clinics/"+clinicID+"/batches", tech, "application/json", strings.NewReader(`{"name":"bench"}`))
	if code != 201 {
		t.Fatalf("batch: %d %s", code, b)
	}
	var created struct{ Data batchOut }
	testenv.Must(t, json.Unmarshal(b, &created), "batch")
	batchID := created.Data.ID
	ct, body := streamParts(parts)
	start := time.Now()
	code, b = p.call(t, "POST", "/api/batches/"+batchID+"/items", tech, ct, body)
	accept := time.Since(start)
	var verdict struct{ Data batchVerdict }
	_ = json.Unmarshal(b, &verdict)
	if code != 202 || len(verdict.Data.Accepted) != n {
		t.Fatalf("items: %d, %d accepted, %.300s", code, len(verdict.Data.Accepted), b)
	}
	peak, _ := p.mem(t)
	t.Logf("BATCH: %d JPEGs 1024x1024 (%.0f MiB) accepted in %v (%.1f items/s); server peak RSS %d MiB",
		n, float64(bytesSent)/(1<<20), accept.Round(time.Millisecond), float64(n)/accept.Seconds(), peak)

	// 2. A patient's own upload while the batch waits.
	jpg := filepath.Join(dir, "own.jpg")
	testenv.Must(t, os.WriteFile(jpg, encodeJPEG(t, 1024, 1024, 77), 0o600), "own")
	time.Sleep(5 * time.Second) // the worker is busy with the batch
	ct, body = streamParts([][3]string{{"eye", "", "left"}, {"image", "own.jpg", jpg}})
	ownStart := time.Now()
	code, b = p.call(t, "POST", "/api/screenings", own, ct, io.MultiReader(body))
	if code != 202 {
		t.Fatalf("own upload: %d %s", code, b)
	}
	var sc struct{ Data struct{ ID string } }
	testenv.Must(t, json.Unmarshal(b, &sc), "own")
	var ownDone time.Duration
	waitFor(t, 10*time.Minute, "the patient's upload was not analysed", func() bool {
		code, b := p.call(t, "GET", "/api/screenings/"+sc.Data.ID, own, "", nil)
		if code == 200 && strings.Contains(string(b), `"status":"awaiting_review"`) {
			ownDone = time.Since(ownStart)
			return true
		}
		return false
	})
	d0, _ := countStatus(t, p, tech, batchID)
	t.Logf("OWN UPLOAD during the batch: analysed %v after it was sent (%d of the batch analysed by then)", ownDone.Round(time.Millisecond), d0)

	// 3. The batch analysed, with the default workers (or as far as it
	// gets within AURA_BENCH_WAIT).
	deadline := time.Now().Add(wait)
	var done int
	for time.Now().Before(deadline) {
		if done, _ = countStatus(t, p, tech, batchID); done >= n {
			break
		}
		time.Sleep(5 * time.Second)
	}
	all := time.Since(start)
	peak, _ = p.mem(t)
	rate := float64(done) / all.Seconds()
	t.Logf("ANALYSED: %d of %d in %v since the batch was sent (%.2f/s; all %d would take about %v); server peak RSS %d MiB",
		done, n, all.Round(time.Second), rate, n, (time.Duration(float64(n)/rate) * time.Second).Round(time.Minute), peak)
	p.stop()

	// 4. STOW-RS: 100 DICOM instances (JPEG baseline, 512×512) in one request,
	// workers off so that only intake is measured.
	env["AURA_ANALYSIS_WORKERS"] = "0"
	p = startAura(t, bin, env)
	small := encodeJPEG(t, 512, 512, 85)
	var stow bytes.Buffer
	mw := multipart.NewWriter(&stow)
	for i := range 100 {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/dicom")
		w, _ := mw.CreatePart(h)
		_, _ = w.Write(dcmJPEG(sopOP8, fmt.Sprintf("1.2.826.0.1.3680043.2.9.%d", i), small, 512, 512,
			map[uint32]string{0x00100020: "B-1", 0x00200062: "L"}))
	}
	_ = mw.Close()
	stowFile := filepath.Join(dir, "stow.bin")
	testenv.Must(t, os.WriteFile(stowFile, stow.Bytes(), 0o600), "stow")
	f, err := os.Open(stowFile)
	testenv.Must(t, err, "stow")
	start = time.Now()
	code, b = p.call(t, "POST", "/api/dicomweb/studies", dev.Token, `multipart/related; type="application/dicom"; boundary=`+mw.Boundary(), f)
	stowTook := time.Since(start)
	_ = f.Close()
	peak, _ = p.mem(t)
	if code != 200 {
		t.Fatalf("stow: %d %.300s", code, b)
	}
	t.Logf("STOW-RS: 100 instances (%.1f MiB) stored in %v; server peak RSS %d MiB", float64(stow.Len())/(1<<20), stowTook.Round(time.Millisecond), peak)
	p.stop()

	// 5. A ZIP of about AURA_BENCH_ZIP_MB MiB (stored, 2048×2048 JPEGs of
	// about 1-2 MiB), workers off.
	big := make([][]byte, 8)
	for i := range big {
		big[i] = encodeJPEG(t, 2048, 2048, 97+i%3)
	}
	zipPath := filepath.Join(dir, "batch.zip")
	zf, err := os.Create(zipPath)
	testenv.Must(t, err, "zip")
	zw := zip.NewWriter(bufio.NewWriter(zf))
	var zman strings.Builder
	zman.WriteString("file,eye,patientCode\n")
	var zbytes int64
	k := 0
	for ; zbytes < int64(zipMB)<<20 && k < 2000; k++ {
		pic := big[k%len(big)]
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("day/img-%04d.jpg", k), Method: zip.Store})
		testenv.Must(t, err, "entry")
		_, _ = w.Write(pic)
		zbytes += int64(len(pic))
		fmt.Fprintf(&zman, "day/img-%04d.jpg,left,%s\n", k, pat.PatientCode)
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "manifest.csv", Method: zip.Deflate})
	_, _ = w.Write([]byte(zman.String()))
	testenv.Must(t, zw.Close(), "zip")
	testenv.Must(t, zf.Close(), "zip")
	st, _ := os.Stat(zipPath)
	_ = os.RemoveAll(imgDir)
	p = startAura(t, bin, env)
	tech = p.login(t, "tech@bench.example")
	code, b = p.call(t, "POST", "/api/clinics/"+clinicID+"/batches", tech, "application/json", strings.NewReader(`{"name":"zip"}`))
	testenv.Must(t, json.Unmarshal(b, &created), "batch")
	ct, body = streamParts([][3]string{{"archive", "batch.zip", zipPath}})
	ctx, cancel := context.WithCancel(context.Background())
	peakDuring := 0
	go func() {
		for ctx.Err() == nil {
			if _, now := p.mem(t); now > peakDuring {
				peakDuring = now
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start = time.Now()
	code, b = p.call(t, "POST", "/api/batches/"+created.Data.ID+"/items", tech, ct, body)
	zipTook := time.Since(start)
	cancel()
	_ = json.Unmarshal(b, &verdict)
	peak, _ = p.mem(t)
	if code != 202 || len(verdict.Data.Accepted) != k {
		t.Fatalf("zip: %d, %d accepted of %d, %.300s", code, len(verdict.Data.Accepted), k, b)
	}
	t.Logf("ZIP: %d images, %.0f MiB archive, accepted in %v; server RSS at most %d MiB while it ran (sampled), peak RSS %d MiB",
		k, float64(st.Size())/(1<<20), zipTook.Round(time.Millisecond), peakDuring, peak)
	p.stop()
}
