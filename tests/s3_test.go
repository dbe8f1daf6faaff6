package tests

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"aura/internal/testenv"
	"aura/models"
)

// s3Fake serves the S3 protocol from memory (gofakes3) on a loopback port
// with one bucket; while down is set it answers every request 503
// ServiceUnavailable, as a store in trouble does.
type s3Fake struct {
	srv    *httptest.Server
	bucket string
	down   atomic.Bool
	calls  atomic.Int64
}

// startS3 starts the fake and points the AWS SDK's environment at test
// credentials (no file or metadata service of the machine is read).
func startS3(t *testing.T) *s3Fake {
	t.Helper()
	f := &s3Fake{bucket: "aura-images"}
	mem := s3mem.New()
	testenv.Must(t, mem.CreateBucket(f.bucket), "bucket")
	h := gofakes3.New(mem).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.down.Load() {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>down for a while</Message></Error>`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_CONFIG_FILE": none,
		"AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	return f
}

func (f *s3Fake) uri() string {
	return "s3://" + f.bucket + "?endpoint=" + url.QueryEscape(f.srv.URL) + "&region=us-east-1&use_path_style=true"
}

// keys lists every object key of the bucket, read from the fake itself.
func (f *s3Fake) keys(t *testing.T) []string {
	t.Helper()
	res, err := http.Get(f.srv.URL + "/" + f.bucket + "?list-type=2")
	testenv.Must(t, err, "list")
	defer res.Body.Close()
	var list struct {
		Contents []struct{ Key string }
	}
	if res.StatusCode != 200 || xml.NewDecoder(res.Body).Decode(&list) != nil {
		t.Fatalf("list: %s", res.Status)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

func countScreenings(t *testing.T, s *testenv.Server) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, s.App.DB.Model(&models.Screening{}).Count(&n).Error, "count")
	return n
}

// TestS3Storage: with storage.uri pointing at an S3 protocol server, an
// upload is stored there, analysed from there, and its image and vessel map
// served from there; the object keys hold opaque ids only, never the
// patient's email or name. While the store is down an upload answers 503
// and leaves no row and no object, image reads answer 503, and an analysis
// waits the outage out (using up no attempt) and finishes once the store is
// back.
func TestS3Storage(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s3 := startS3(t)
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_STORAGE_URI": s3.uri()}))
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		pat := signUp(t, s, "an.nguyen@patient.example")
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Văn An"}, pat.Token).Expect(t, http.StatusOK, "")
		jpg := encodeJPEG(t, 512, 512, 88)
		send := func() *testenv.Response {
			return upload(t, s, pat.Token, form{image: jpg, filename: "an.nguyen@patient.example.jpg", fields: map[string]string{"eye": "left"}}, nil)
		}

		var sc screening
		send().Expect(t, http.StatusAccepted, "").Data(t, &sc)
		status, _, body := rawGet(t, s, "/api/screenings/"+sc.ID+"/image", pat.Token, nil)
		if status != 200 || !bytes.Equal(body, jpg) {
			t.Fatalf("image from S3: %d (%d bytes)", status, len(body))
		}
		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run: %d", n)
		}
		if got := getScreening(t, s, pat.Token, sc.ID); got.Status != "awaiting_review" || got.Analysis == nil {
			t.Fatalf("analysed from S3: %+v", got)
		}
		status, _, body = rawGet(t, s, "/api/screenings/"+sc.ID+"/vessels", pat.Token, nil)
		if vm, err := png.Decode(bytes.NewReader(body)); status != 200 || err != nil || vm.Bounds().Dx() != 512 {
			t.Fatalf("vessel map from S3: %d %v", status, err)
		}
		keyRule := regexp.MustCompile(`^screenings/[0-9a-f]{2}/[0-9a-f-]{36}/(image\.jpg|vessels\.png|av\.png|overlay\.jpg)$`)
		keys := s3.keys(t)
		dir := "screenings/" + sc.ID[:2] + "/" + sc.ID + "/"
		want := map[string]bool{dir + "image.jpg": true, dir + "vessels.png": true, dir + "av.png": true, dir + "overlay.jpg": true}
		for _, k := range keys {
			low := strings.ToLower(k)
			if !keyRule.MatchString(k) || !want[k] || strings.Contains(low, "nguyen") || strings.Contains(low, "patient") || strings.Contains(k, "@") {
				t.Errorf("object key %q", k)
			}
		}
		if len(keys) != 4 {
			t.Fatalf("keys %v", keys)
		}

		// The store goes down.
		var queued screening
		send().Expect(t, http.StatusAccepted, "").Data(t, &queued)
		s3.down.Store(true)
		start := time.Now()
		r := send()
		// The S3 client retries each request a few times before it gives up.
		t.Logf("upload with the store down answered %d in %v", r.Status, time.Since(start).Round(time.Millisecond))
		r.Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
		if n := countScreenings(t, s); n != 2 {
			t.Fatalf("%d screenings after the refused upload", n)
		}
		s.Do(t, "GET", "/api/screenings/"+sc.ID+"/image", nil, pat.Token).Expect(t, http.StatusServiceUnavailable, "")
		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run with the store down: %d", n)
		}
		// An outage uses up no attempt.
		j := analysisJob(t, s, queued.ID)
		if j.Attempts != 0 || j.FinishedAt != nil || j.OutageSince == nil || !strings.Contains(j.LastError, "storage unavailable") {
			t.Fatalf("job with the store down: %+v", j)
		}
		if got := getScreening(t, s, pat.Token, queued.ID); got.Status != "processing" || got.Failure != nil {
			t.Fatalf("screening with the store down: %+v", got)
		}

		// Back: the retry finishes it; nothing of the refused upload is there.
		s3.down.Store(false)
		skipBackoff(s, 10*time.Minute)
		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run after the store came back: %d", n)
		}
		if got := getScreening(t, s, pat.Token, queued.ID); got.Status != "awaiting_review" || got.Analysis == nil {
			t.Fatalf("after the store came back: %+v", got)
		}
		if j := analysisJob(t, s, queued.ID); j.Attempts != 1 || j.FinishedAt == nil || j.Failed {
			t.Fatalf("job after the store came back: %+v", j)
		}
		if keys := s3.keys(t); len(keys) != 8 { // two screenings: image, vessel map, A/V map, overlay
			t.Fatalf("keys after the outage %v", keys)
		}
	})
}
