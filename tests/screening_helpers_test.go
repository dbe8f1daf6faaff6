package tests

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"aura/analysis/vessels"
	"aura/internal/testenv"
)

// generatedFundus is one generated fundus photograph, made once per test
// binary, as an image and as JPEG and PNG.
type generatedFundus struct {
	once     sync.Once
	side     int
	seed     uint64
	jpg, png []byte
	img      image.Image
}

func (g *generatedFundus) get() *generatedFundus {
	g.once.Do(func() {
		syn := vessels.Synth(vessels.SynthOptions{Width: g.side, Height: g.side, Seed: g.seed})
		g.img = syn.Image
		var b bytes.Buffer
		_ = jpeg.Encode(&b, syn.Image, &jpeg.Options{Quality: 90})
		g.jpg = append([]byte(nil), b.Bytes()...)
		b.Reset()
		_ = png.Encode(&b, syn.Image)
		g.png = append([]byte(nil), b.Bytes()...)
	})
	return g
}

var (
	// smallFundus is what most tests upload: they need an analysis, not a
	// particular one, and under the race detector a 1024² analysis costs
	// about 10 s of CPU against about 3 s at 512².
	smallFundus = &generatedFundus{side: 512, seed: 7}
	// largeFundus is for the tests that check what the analysis of a
	// full-size photograph gives (sizes of maps, DICOM pixels, metrics).
	largeFundus = &generatedFundus{side: 1024, seed: 7}
)

// fundus is a generated 512² fundus photograph, as JPEG and PNG.
func fundus(t testing.TB) (jpg, pngBytes []byte) {
	t.Helper()
	g := smallFundus.get()
	return g.jpg, g.png
}

// fundusLarge is a generated 1024² fundus photograph, as JPEG and PNG.
func fundusLarge(t testing.TB) (jpg, pngBytes []byte) {
	t.Helper()
	g := largeFundus.get()
	return g.jpg, g.png
}

// fundusLargeImage is fundusLarge's image.
func fundusLargeImage() image.Image { return largeFundus.get().img }

// form is a multipart upload: the image part (nil: none) and text fields.
type form struct {
	image    []byte
	filename string
	partType string
	fields   map[string]string
	// invalid marks an upload the document refuses (see testenv.Invalid).
	invalid bool
}

func (f form) body() (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range f.fields {
		_ = w.WriteField(k, v)
	}
	if f.image != nil {
		name := f.filename
		if name == "" {
			name = "fundus.jpg"
		}
		h := map[string][]string{"Content-Disposition": {fmt.Sprintf(`form-data; name="image"; filename="%s"`, name)}}
		if f.partType != "" {
			h["Content-Type"] = []string{f.partType}
		}
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write(f.image)
	}
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// upload posts f as the patient with extra headers.
func upload(t *testing.T, s *testenv.Server, token string, f form, headers map[string]string) *testenv.Response {
	t.Helper()
	ct, body := f.body()
	h := map[string]string{"Authorization": "Bearer " + token, "Content-Type": ct}
	for k, v := range headers {
		h[k] = v
	}
	if f.invalid {
		return s.DoHeaders(t, "POST", "/api/screenings", testenv.Invalid(body), h)
	}
	return s.DoHeaders(t, "POST", "/api/screenings", body, h)
}

// screening is the part of a Screening the tests read.
type screening struct {
	ID, Status, Eye string
	Note            *string
	Patient         struct{ UserID, PatientCode, FullName string }
	Clinic          struct{ ID, Name string }
	Image           struct {
		ContentType   string
		Bytes         int64
		Width, Height int
		SHA256        string
	}
	Analysis *struct {
		Analyzer, Version string
		ProfileVersion    int
		Gradable          bool
		Quality           float64
		RiskLevel         *string
		Confidence        *float64
		Metrics           *struct{ VesselDensity, FractalDimension, Tortuosity, MeanVesselWidthPx float64 }
		Findings          []struct{ Code, Severity, Message string }
		DurationMs        int64
	}
	Review *struct {
		Reviewer                         struct{ UserID, FullName string }
		RiskLevel, Notes, Recommendation *string
		ClaimedAt, ReviewedAt            *time.Time
	}
	Failure *struct {
		Code, Message string
		Attempts      int
	}
	Disclaimer string
}

func getScreening(t *testing.T, s *testenv.Server, token, id string) screening {
	t.Helper()
	var sc screening
	s.Do(t, "GET", "/api/screenings/"+id, nil, token).Expect(t, http.StatusOK, "").Data(t, &sc)
	return sc
}

// analyse runs the analysis queue until nothing is due.
func analyse(t *testing.T, s *testenv.Server) int {
	t.Helper()
	n := 0
	for {
		ran, err := s.App.Analysis.RunOne(testenv.Ctx(t))
		if err != nil {
			t.Fatalf("run job: %v", err)
		}
		if !ran {
			return n
		}
		n++
	}
}

// rawGet fetches path with the token and headers, returning status, headers and body.
func rawGet(t *testing.T, s *testenv.Server, path, token string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// encodeJPEG is a generated fundus of w×h at quality q.
func encodeJPEG(t *testing.T, w, h, q int) []byte {
	t.Helper()
	syn := vessels.Synth(vessels.SynthOptions{Width: w, Height: h, Seed: uint64(w*h + q)})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, syn.Image, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBomb is a tiny PNG whose header claims w×h pixels.
func pngBomb(w, h int) []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	raw := b.Bytes()
	// IHDR's width and height are bytes 16..24; its CRC follows the data.
	put := func(off, v int) {
		raw[off], raw[off+1], raw[off+2], raw[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	put(16, w)
	put(20, h)
	crc := crc32.ChecksumIEEE(raw[12:29])
	put(29, int(crc))
	return raw
}

// jpegBomb is jpg with its frame header (SOF0) claiming w×h pixels.
func jpegBomb(t *testing.T, jpg []byte, w, h int) []byte {
	t.Helper()
	out := append([]byte(nil), jpg...)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 in the JPEG")
	}
	// FF C0, length (2), precision (1), height (2), width (2).
	out[i+5], out[i+6] = byte(h>>8), byte(h)
	out[i+7], out[i+8] = byte(w>>8), byte(w)
	return out
}

// refusalServer starts a server whose images go to store and whose uploads
// wait in spool, both directories of the test's, so that a test of refused
// uploads can see that none is kept; maxBytes is screening.max_image_bytes.
func refusalServer(t *testing.T, e testenv.Engine, maxBytes int64) (s *testenv.Server, store, spool string) {
	t.Helper()
	store = t.TempDir()
	s = testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{
		"AURA_STORAGE_URI": "file://" + store, "AURA_SCREENING_MAX_IMAGE_BYTES": fmt.Sprint(maxBytes)}))
	spool = t.TempDir()
	s.App.Screenings.Settings.TempDir = spool
	return s, store, spool
}

// assertSpoolEmpty fails when an upload's temporary file stayed in spool.
func assertSpoolEmpty(t *testing.T, spool string) {
	t.Helper()
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Fatalf("%d uploads left in the spool directory", len(left))
	}
}
