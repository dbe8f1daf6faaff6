package tests

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
)

// TestUploadHostile16BitPNG: the PNG of issue 17 (326 KB, 8000×5000 RGBA
// at 16 bits per sample, 320 MB of pixels) is accepted, checked row by row
// within a few MiB of the decode budget; an 8-bit PNG whose decode alone
// needs more than screening.decode_memory is refused with 400 naming the
// setting, and nothing of it is kept.
func TestUploadHostile16BitPNG(t *testing.T) {
	t.Parallel()
	s, _, spool := refusalServer(t, testenv.Engines()[0], 20<<20)
	adm := makeAdmin(t, s, "admin@png16.example")
	createClinic(t, s, adm, "PNG Clinic")
	p := signUp(t, s, "p@png16.example")
	var sc screening
	upload(t, s, p.Token, form{image: png16(8000, 5000), filename: "big.png", fields: map[string]string{"eye": "left"}}, nil).
		Expect(t, http.StatusAccepted, "").Data(t, &sc)
	if sc.Image.Width != 8000 || sc.Image.Height != 5000 || sc.Image.ContentType != "image/png" {
		t.Fatalf("upload %+v", sc.Image)
	}
	if peak := s.App.Screenings.DecodeBudget().Peak(); peak > 8<<20 {
		t.Fatalf("checking the 16-bit PNG took %d MiB of the budget", peak>>20)
	}

	small := refusalServerWith(t, map[string]string{"AURA_SCREENING_DECODE_MEMORY": "16777216"})
	createClinic(t, small, makeAdmin(t, small, "admin@png16.example"), "PNG Clinic")
	p = signUp(t, small, "p@png16.example")
	r := upload(t, small, p.Token, form{image: flatPNG(3000, 2000, 8), filename: "big.png", fields: map[string]string{"eye": "left"}}, nil).
		Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
	if msg := r.Env.Details["image"]; !strings.Contains(msg, "screening.decode_memory") || !strings.Contains(msg, "16 MiB") {
		t.Fatalf("refusal %q", msg)
	}
	assertSpoolEmpty(t, spool)
}

// refusalServerWith starts a server on in-memory SQLite with extra settings.
func refusalServerWith(t *testing.T, env map[string]string) *testenv.Server {
	t.Helper()
	return testenv.Start(t, testenv.Config(t, testenv.Engines()[0].URI(t), env))
}

// TestUploadDecodesShareTheBudget: 8 uploads at once of images that each
// take a third of a 16 MiB budget to check are all accepted, and the
// decodes never held more than the budget together.
func TestUploadDecodesShareTheBudget(t *testing.T) {
	t.Parallel()
	s := refusalServerWith(t, map[string]string{"AURA_SCREENING_DECODE_MEMORY": "16777216"})
	createClinic(t, s, makeAdmin(t, s, "admin@budget.example"), "Budget Clinic")
	img := flatPNG(1100, 800, 8) // about 4.4 MiB + 1 MiB to check
	errs := testenv.Race(8, func(i int) error {
		p := signUp(t, s, "p"+string(rune('a'+i))+"@budget.example")
		upload(t, s, p.Token, form{image: img, filename: "f.png", fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "")
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b := s.App.Screenings.DecodeBudget()
	if b.Peak() > b.Total() || b.Peak() < 5<<20 {
		t.Fatalf("peak %d of %d", b.Peak(), b.Total())
	}
}

// TestReportRenderedOncePerState: the report is rendered once per state of
// the screening and read back from the store; its ETag names the state
// (If-None-Match gives 304); a change of the patient's name or a review
// makes a new one, and the store keeps only the latest.
func TestReportRenderedOncePerState(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t, testenv.Engines()[1].URI(t))
	s, base := w.s, "/api/screenings/"+w.id
	status, h1, pdf1 := rawGet(t, s, base+"/report", w.p.Token, nil)
	etag := h1.Get("ETag")
	if status != 200 || len(etag) < 10 || h1.Get("Cache-Control") != "private, max-age=0, must-revalidate" {
		t.Fatalf("report: %d %v", status, h1)
	}
	status, h2, pdf2 := rawGet(t, s, base+"/report", w.p.Token, nil)
	if status != 200 || h2.Get("ETag") != etag || !bytes.Equal(pdf1, pdf2) {
		t.Fatalf("second GET: %d %s, same bytes %v", status, h2.Get("ETag"), bytes.Equal(pdf1, pdf2))
	}
	// the doctor reads the same report
	if status, h, pdf := rawGet(t, s, base+"/report", w.d1.Token, nil); status != 200 || h.Get("ETag") != etag || !bytes.Equal(pdf, pdf1) {
		t.Fatalf("doctor's GET: %d %v", status, h)
	}
	if status, h, body := rawGet(t, s, base+"/report", w.p.Token, map[string]string{"If-None-Match": etag}); status != http.StatusNotModified ||
		h.Get("ETag") != etag || len(body) != 0 {
		t.Fatalf("If-None-Match: %d %v %d bytes", status, h, len(body))
	}
	if n := len(reportObjects(t, s)); n != 1 {
		t.Fatalf("%d reports stored", n)
	}

	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Lan Anh"}, w.p.Token).Expect(t, http.StatusOK, "")
	status, h3, pdf3 := rawGet(t, s, base+"/report", w.p.Token, map[string]string{"If-None-Match": etag})
	if status != 200 || h3.Get("ETag") == etag || !strings.Contains(pdfText(t, pdf3), "Nguyễn Thị Lan Anh") {
		t.Fatalf("after a new name: %d %v", status, h3)
	}
	s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
	s.Do(t, "POST", base+"/review", map[string]any{"riskLevel": "critical", "recommendation": "Khám lại ngay trong tuần này."}, w.d1.Token).
		Expect(t, http.StatusOK, "")
	status, h4, pdf4 := rawGet(t, s, base+"/report", w.p.Token, nil)
	if status != 200 || h4.Get("ETag") == h3.Get("ETag") || !strings.Contains(pdfText(t, pdf4), "Khám lại ngay trong tuần này.") {
		t.Fatalf("after the review: %d %v", status, h4)
	}
	if objs := reportObjects(t, s); len(objs) != 1 || !strings.Contains(objs[0], strings.Trim(h4.Get("ETag"), `"`)) {
		t.Fatalf("reports stored after the review: %v", objs)
	}
	// a report read from the store is audited as any other (the doctor's
	// read; the patient's own reads are not audited)
	if rows := auditLogs(t, s, w.adm, "action=screening.report.read&entityId="+w.id); len(rows) != 1 || *rows[0].ActorID != w.d1.ID {
		t.Errorf("%d report reads audited", len(rows))
	}
}

// reportObjects lists the report PDFs in the server's file store.
func reportObjects(t *testing.T, s *testenv.Server) []string {
	t.Helper()
	dir := strings.TrimPrefix(s.App.Blobs.String(), "file://")
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "report-") && strings.HasSuffix(d.Name(), ".pdf") {
			out = append(out, d.Name())
		}
		return nil
	})
	return out
}

// TestReportRendersPerAccount: with one render per account, a second
// report of the same account while the first is being made answers 429
// with Retry-After; the same report asked again waits for the render in
// flight instead, and another account is not held back by the limit.
func TestReportRendersPerAccount(t *testing.T) {
	t.Parallel()
	s := refusalServerWith(t, map[string]string{"AURA_SCREENING_REPORT_RENDERS_PER_ACCOUNT": "1"})
	adm := makeAdmin(t, s, "admin@renders.example")
	clinic := createClinic(t, s, adm, "Render Clinic")
	doc := makeDoctor(t, s, adm, "doc@renders.example")
	attach(t, s, adm, clinic, doc.ID, "R-1").Expect(t, http.StatusOK, "")
	p := signUp(t, s, "p@renders.example")
	jpg, _ := fundus(t)
	var a, b, c screening
	upload(t, s, p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &a)
	upload(t, s, p.Token, form{image: jpg, fields: map[string]string{"eye": "right"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &b)
	upload(t, s, p.Token, form{image: jpg, fields: map[string]string{"eye": "right"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &c)
	analyse(t, s)

	// Renders wait while the test holds the whole decode budget.
	budget := s.App.Screenings.DecodeBudget()
	hold, err := budget.Acquire(context.Background(), budget.Total())
	testenv.Must(t, err, "hold the budget")
	var wg sync.WaitGroup
	got := make([][]byte, 3)
	codes := make([]int, 3)
	for i, who := range []struct{ tok, id string }{{p.Token, a.ID}, {p.Token, a.ID}, {doc.Token, b.ID}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, got[i] = rawGet(t, s, "/api/screenings/"+who.id+"/report", who.tok, nil)
		}()
		want := map[int]int{0: 1, 1: 1, 2: 2}[i] // the second GET joins the first's render
		for deadline := time.Now().Add(10 * time.Second); s.App.Screenings.RendersInFlight() < want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if n := s.App.Screenings.RendersInFlight(); n != 2 {
		t.Fatalf("%d renders in flight, want the patient's and the doctor's", n)
	}
	status, h, _ := rawGet(t, s, "/api/screenings/"+c.ID+"/report", p.Token, nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "2" {
		t.Fatalf("second report of one account: %d %v", status, h)
	}
	hold()
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 200 || !bytes.Equal(got[0], got[1]) {
		t.Fatalf("answers %v, one render for both waiting GETs: %v", codes, bytes.Equal(got[0], got[1]))
	}
}
