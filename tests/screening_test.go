package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"aura/analysis/vessels"
	"aura/internal/testenv"
)

// TestScreeningFlow: a patient uploads a fundus photograph to the only
// clinic; it is queued, analysed by a worker, rated, and the patient and the
// clinic's doctor are told; who may see it sees it, others get 404.
func TestScreeningFlow(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@clinic.example")
		clinic := createClinic(t, s, adm, "Phòng khám Mắt Huế")
		doc := makeDoctor(t, s, adm, "bs.hoa@clinic.example")
		other := makeDoctor(t, s, adm, "bs.other@clinic.example")
		attach(t, s, adm, clinic, doc.ID, "BS-100").Expect(t, http.StatusOK, "")
		pat := signUp(t, s, "thu@patient.example")
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": "vi"}, pat.Token).Expect(t, http.StatusOK, "")
		stranger := signUp(t, s, "khanh@patient.example")
		jpg, _ := fundusLarge(t)

		var sc screening
		up := upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left", "note": "Mắt trái hơi mờ"}},
			map[string]string{"Accept-Language": "vi-VN,vi;q=0.9"}).Expect(t, http.StatusAccepted, "")
		up.Data(t, &sc)
		// Long work: where to poll, and when (no analysis has run yet: 2 s).
		if loc, ra := up.Header.Get("Location"), up.Header.Get("Retry-After"); loc != "/api/screenings/"+sc.ID || ra != "2" {
			t.Fatalf("upload 202: Location %q, Retry-After %q", loc, ra)
		}
		sum := sha256.Sum256(jpg)
		if sc.Status != "queued" || sc.Eye != "left" || *sc.Note != "Mắt trái hơi mờ" || sc.Clinic.ID != clinic ||
			sc.Image.ContentType != "image/jpeg" || sc.Image.Width != 1024 || sc.Image.Height != 1024 ||
			sc.Image.Bytes != int64(len(jpg)) || sc.Image.SHA256 != hex.EncodeToString(sum[:]) || sc.Analysis != nil ||
			sc.Patient.UserID != pat.ID || !strings.HasPrefix(sc.Patient.PatientCode, "AU-") || sc.Disclaimer == "" {
			t.Fatalf("upload answer %+v", sc)
		}
		// The image comes back as sent, with its SHA-256 as ETag.
		status, h, body := rawGet(t, s, "/api/screenings/"+sc.ID+"/image", pat.Token, nil)
		if status != 200 || !bytes.Equal(body, jpg) || h.Get("ETag") != `"`+sc.Image.SHA256+`"` ||
			h.Get("Content-Type") != "image/jpeg" || !strings.Contains(h.Get("Cache-Control"), "private") {
			t.Fatalf("image: %d %v (%d bytes)", status, h, len(body))
		}
		if status, _, _ := rawGet(t, s, "/api/screenings/"+sc.ID+"/image", pat.Token, map[string]string{"If-None-Match": h.Get("ETag")}); status != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", status)
		}
		// Before the analysis the vessel map is "not yet", as the report is.
		s.Do(t, "GET", "/api/screenings/"+sc.ID+"/vessels", nil, pat.Token).Expect(t, http.StatusConflict, "NOT_READY")
		s.Do(t, "GET", "/api/screenings/"+sc.ID+"/report", nil, pat.Token).Expect(t, http.StatusConflict, "NOT_READY")

		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run: %d", n)
		}
		got := getScreening(t, s, pat.Token, sc.ID)
		a := got.Analysis
		if got.Status != "awaiting_review" || a == nil || a.Analyzer != "vessels" || !a.Gradable || a.Metrics == nil ||
			a.RiskLevel == nil || a.ProfileVersion != 1 || a.Metrics.VesselDensity <= 0.02 || a.Metrics.VesselDensity > 0.5 ||
			a.Metrics.FractalDimension < 1 || a.Metrics.FractalDimension > 2 || a.Metrics.Tortuosity < 1 || a.DurationMs <= 0 {
			t.Fatalf("analysis %+v %+v", got, a)
		}
		status, h, body = rawGet(t, s, "/api/screenings/"+sc.ID+"/vessels", pat.Token, nil)
		if status != 200 || h.Get("Content-Type") != "image/png" {
			t.Fatalf("vessels: %d %v", status, h)
		}
		m, err := png.Decode(bytes.NewReader(body))
		if err != nil || m.Bounds().Dx() != 1024 || m.Bounds().Dy() != 1024 {
			t.Fatalf("vessel map: %v %v", err, m.Bounds())
		}

		// Notices: the patient (in Vietnamese) and the clinic's doctor.
		var inbox struct {
			Items  []struct{ ID, Type, Title, Body, ScreeningID string }
			Unread int
		}
		s.Do(t, "GET", "/api/notifications", nil, pat.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
		if len(inbox.Items) != 1 || inbox.Items[0].Type != "SCREENING_ANALYZED" || inbox.Items[0].ScreeningID != sc.ID ||
			!strings.Contains(inbox.Items[0].Body, "không phải chẩn đoán") || inbox.Unread != 1 {
			t.Fatalf("patient inbox %+v", inbox)
		}
		s.Do(t, "POST", "/api/notifications/"+inbox.Items[0].ID+"/read", nil, stranger.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/notifications/"+inbox.Items[0].ID+"/read", nil, pat.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/notifications?unread=true", nil, pat.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
		if len(inbox.Items) != 0 || inbox.Unread != 0 {
			t.Fatalf("after read %+v", inbox)
		}
		s.Do(t, "GET", "/api/notifications", nil, doc.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
		if len(inbox.Items) != 1 || inbox.Items[0].Type != "CASE_WAITING" {
			t.Fatalf("doctor inbox %+v", inbox)
		}
		var upd struct{ Updated int }
		s.Do(t, "POST", "/api/notifications/read-all", nil, doc.Token).Expect(t, http.StatusOK, "").Data(t, &upd)
		if upd.Updated != 1 {
			t.Fatalf("read-all %+v", upd)
		}

		// Who sees it: the patient, the clinic's doctor, admins; not others.
		var list struct {
			Items []screening
			Total int
		}
		s.Do(t, "GET", "/api/screenings?status=awaiting_review", nil, doc.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 1 || list.Total != 1 || list.Items[0].ID != sc.ID || list.Items[0].Patient.PatientCode != sc.Patient.PatientCode {
			t.Fatalf("doctor's list %+v", list)
		}
		getScreening(t, s, doc.Token, sc.ID)
		getScreening(t, s, adm, sc.ID)
		for _, tok := range []string{other.Token, stranger.Token} {
			s.Do(t, "GET", "/api/screenings/"+sc.ID, nil, tok).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "GET", "/api/screenings/"+sc.ID+"/image", nil, tok).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "GET", "/api/screenings/"+sc.ID+"/vessels", nil, tok).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "GET", "/api/screenings", nil, tok).Expect(t, http.StatusOK, "").Data(t, &list)
			if len(list.Items) != 0 {
				t.Fatalf("a stranger lists %+v", list.Items)
			}
		}
		s.Do(t, "GET", "/api/screenings/not-an-id", nil, adm).Expect(t, http.StatusNotFound, "NOT_FOUND")
		// Doctor's and admin's reads are audited; the patient's own are not.
		rows := auditLogs(t, s, adm, "entityType=screening&entityId="+sc.ID+"&pageSize=100")
		seen := map[string]int{}
		for _, r := range rows {
			role := ""
			if r.ActorRole != nil {
				role = *r.ActorRole
			}
			seen[r.Action+"/"+role]++
		}
		if seen["screening.create/PATIENT"] != 1 || seen["screening.analyzed/"] != 1 || seen["screening.read/DOCTOR"] != 1 ||
			seen["screening.read/ADMIN"] != 1 || seen["screening.list/DOCTOR"] != 1 || seen["screening.read/PATIENT"] != 0 {
			t.Fatalf("audit %v", seen)
		}
	})
}

// TestUploadRefusals: every bad upload gets the contract's 4xx and leaves no
// row and no stored file.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s, store, spool := refusalServer(t, e, 400000)
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		pat := signUp(t, s, "ha@patient.example")
		small := encodeJPEG(t, 512, 512, 80)
		var pngBuf bytes.Buffer
		testenv.Must(t, png.Encode(&pngBuf, vessels.Synth(vessels.SynthOptions{Width: 320, Height: 320, Seed: 3}).Image), "png")
		fundusPNG := pngBuf.Bytes()
		tiny := encodeJPEG(t, 100, 100, 80)
		big := encodeJPEG(t, 1024, 1024, 100)
		if len(big) <= 400000 {
			t.Fatalf("the oversized image is only %d bytes", len(big))
		}
		cases := []struct {
			name   string
			f      form
			status int
			code   string
			field  string
		}{
			{"text file", form{image: []byte("hello, this is not an image at all"), filename: "x.jpg", partType: "image/jpeg", fields: map[string]string{"eye": "left"}}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"gif", form{image: []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"), fields: map[string]string{"eye": "left"}}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"truncated jpeg", form{image: small[:len(small)/2], fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"too small", form{image: tiny, fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"60000x60000 header", form{image: pngBomb(60000, 60000), fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"over the size limit", form{image: big, fields: map[string]string{"eye": "left"}}, 413, "PAYLOAD_TOO_LARGE", ""},
			{"no image", form{fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"no eye", form{image: small}, 400, "VALIDATION_FAILED", "eye"},
			{"wrong eye", form{image: small, fields: map[string]string{"eye": "middle"}}, 400, "VALIDATION_FAILED", "eye"},
			{"unknown clinic", form{image: small, fields: map[string]string{"eye": "left", "clinicId": "33333333-3333-4333-8333-333333333333"}}, 400, "VALIDATION_FAILED", "clinicId"},
			{"malformed clinic", form{image: small, fields: map[string]string{"eye": "left", "clinicId": "nope"}}, 400, "VALIDATION_FAILED", "clinicId"},
			{"long note", form{image: small, fields: map[string]string{"eye": "left", "note": strings.Repeat("n", 1001)}}, 400, "VALIDATION_FAILED", "note"},
			{"unknown field", form{image: small, fields: map[string]string{"eye": "left", "weather": "x"}}, 400, "VALIDATION_FAILED", "weather"},
			{"svg named png", form{image: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512"/>`), filename: "eye.png", partType: "image/png", fields: map[string]string{"eye": "left"}}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"pdf named jpg", form{image: []byte("%PDF-1.7\n1 0 obj <<>> endobj\n"), filename: "eye.jpg", partType: "image/jpeg", fields: map[string]string{"eye": "left"}}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"webp", form{image: append([]byte("RIFF\x24\x00\x00\x00WEBPVP8 "), make([]byte, 64)...), filename: "eye.webp", fields: map[string]string{"eye": "left"}}, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
			{"png signature, jpeg inside", form{image: append([]byte("\x89PNG\r\n\x1a\n"), small...), filename: "eye.png", fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"jpeg signature, garbage inside", form{image: append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte("x"), 4096)...), fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"truncated png", form{image: fundusPNG[:len(fundusPNG)*2/3], filename: "eye.png", fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"png cut inside its header", form{image: fundusPNG[:20], filename: "eye.png", fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"empty file", form{image: []byte{}, fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"65000x65000 jpeg header", form{image: jpegBomb(t, small, 65000, 65000), fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"8000x8000 png header (64 MP)", form{image: pngBomb(8000, 8000), fields: map[string]string{"eye": "left"}}, 400, "VALIDATION_FAILED", "image"},
			{"eye in capitals", form{image: small, fields: map[string]string{"eye": "LEFT"}}, 400, "VALIDATION_FAILED", "eye"},
			{"empty eye", form{image: small, fields: map[string]string{"eye": ""}}, 400, "VALIDATION_FAILED", "eye"},
			{"eye of 100 kB", form{image: small, fields: map[string]string{"eye": strings.Repeat("l", 100<<10)}}, 400, "VALIDATION_FAILED", "eye"},
			{"nothing at all", form{}, 400, "VALIDATION_FAILED", "image"},
		}
		for _, c := range cases {
			c.f.invalid = true // every upload here is one AURA refuses
			r := upload(t, s, pat.Token, c.f, nil)
			if r.Status != c.status || r.Env.Code != c.code || (c.field != "" && r.Env.Details[c.field] == "") {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			}
		}
		// A JPEG sent with a PNG name and type is judged by its content.
		var sc screening
		upload(t, s, pat.Token, form{image: small, filename: "eye.png", partType: "image/png", fields: map[string]string{"eye": "right"}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &sc)
		if sc.Image.ContentType != "image/jpeg" {
			t.Fatalf("content type %q", sc.Image.ContentType)
		}
		// Two images in one upload.
		{
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			_ = w.WriteField("eye", "left")
			for range 2 {
				pw, _ := w.CreateFormFile("image", "eye.jpg")
				_, _ = pw.Write(small)
			}
			_ = w.Close()
			r := s.DoHeaders(t, "POST", "/api/screenings", testenv.Invalid(b.Bytes()), map[string]string{"Authorization": "Bearer " + pat.Token, "Content-Type": w.FormDataContentType()})
			if r.Status != 400 || r.Env.Details["image"] == "" {
				t.Errorf("two images: %d %s", r.Status, r.Body)
			}
		}
		// A multipart type without its boundary, and a body that is not the multipart it claims.
		for _, c := range []struct{ ct, body string }{{"multipart/form-data", "--x\r\n"}, {"multipart/form-data; boundary=zzz", "not multipart at all"}} {
			r := s.DoHeaders(t, "POST", "/api/screenings", testenv.Invalid(c.body), map[string]string{"Authorization": "Bearer " + pat.Token, "Content-Type": c.ct})
			if r.Status != 400 || r.Env.Code != "INVALID_MULTIPART" {
				t.Errorf("%q: %d %s", c.ct, r.Status, r.Body)
			}
		}
		// Not multipart; and a doctor uploads only for a patient of their clinic, named.
		s.DoHeaders(t, "POST", "/api/screenings", testenv.Invalid(`{"eye":"left"}`), map[string]string{"Authorization": "Bearer " + pat.Token}).
			Expect(t, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
		doc := makeDoctor(t, s, adm, "bs@clinic.example")
		r := upload(t, s, doc.Token, form{image: small, fields: map[string]string{"eye": "left"}, invalid: true}, nil).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if r.Env.Details["patientId"] == "" || r.Env.Details["clinicId"] == "" {
			t.Errorf("a doctor's upload naming no patient: %s", r.Body)
		}
		// Only the accepted upload left a row and a file.
		var n int64
		testenv.Must(t, s.App.DB.Table("screenings").Count(&n).Error, "count")
		if n != 1 {
			t.Fatalf("%d screenings stored", n)
		}
		files := 0
		_ = filepath.Walk(store, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !strings.HasSuffix(p, ".attrs") {
				files++
			}
			return nil
		})
		if files != 1 {
			t.Fatalf("%d files stored", files)
		}
		testenv.Must(t, s.App.DB.Table("jobs").Count(&n).Error, "count jobs")
		if n != 1 {
			t.Fatalf("%d jobs stored", n)
		}
		assertSpoolEmpty(t, spool)
		// Two clinics: the clinic must be named.
		createClinic(t, s, adm, "Second Clinic")
		upload(t, s, pat.Token, form{image: small, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
	})
}

// TestUploadIdempotencyKey: a retried upload with the same key returns the
// first screening; another patient's key is theirs.
func TestUploadIdempotencyKey(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		p1, p2 := signUp(t, s, "an@patient.example"), signUp(t, s, "binh@patient.example")
		img := encodeJPEG(t, 512, 512, 80)
		f := form{image: img, fields: map[string]string{"eye": "left"}}
		key := map[string]string{"Idempotency-Key": "retry-0001"}
		var a, b, c screening
		upload(t, s, p1.Token, f, key).Expect(t, http.StatusAccepted, "").Data(t, &a)
		upload(t, s, p1.Token, f, key).Expect(t, http.StatusAccepted, "").Data(t, &b)
		upload(t, s, p2.Token, f, key).Expect(t, http.StatusAccepted, "").Data(t, &c)
		if a.ID != b.ID || a.ID == c.ID {
			t.Fatalf("ids %s %s %s", a.ID, b.ID, c.ID)
		}
		long := f
		long.invalid = true
		upload(t, s, p1.Token, long, map[string]string{"Idempotency-Key": strings.Repeat("k", 101)}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		var n int64
		testenv.Must(t, s.App.DB.Table("screenings").Count(&n).Error, "count")
		if n != 2 {
			t.Fatalf("%d screenings", n)
		}
	})
}

// endless is an upload body made on the fly: a multipart head, then fill
// bytes up to n in total, then the closing boundary; sent counts what was
// read of it.
type endless struct {
	head, tail []byte
	n, off     int64
	sent       *atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.off >= e.n+int64(len(e.head)+len(e.tail)) {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && e.off < e.n+int64(len(e.head)+len(e.tail)) {
		switch {
		case e.off < int64(len(e.head)):
			p[k] = e.head[e.off]
		case e.off < int64(len(e.head))+e.n:
			p[k] = 'A'
		default:
			p[k] = e.tail[e.off-int64(len(e.head))-e.n]
		}
		k++
		e.off++
	}
	e.sent.Add(int64(k))
	return k, nil
}

// TestUploadHugeBodies: bodies far over the limit are refused (413) while
// they arrive, whether they declare their length or not and whatever part
// carries the bulk, without the server reading or keeping them whole; a
// body of thousands of unknown fields gets a short 400. Nothing is stored.
func TestUploadHugeBodies(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s, store, spool := refusalServer(t, e, 1<<20)
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		pat := signUp(t, s, "huge@patient.example")
		jpg := encodeJPEG(t, 512, 512, 80)

		const huge = 64 << 20
		send := func(name string, declared bool, partHead string, fill int64) {
			t.Helper()
			boundary := "hugeboundary"
			head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"eye\"\r\n\r\nleft\r\n--" + boundary + "\r\n" + partHead + "\r\n\r\n"
			var sent atomic.Int64
			body := &endless{head: []byte(head), tail: []byte("\r\n--" + boundary + "--\r\n"), n: fill, sent: &sent}
			if strings.Contains(partHead, `name="image"`) {
				body.head = append(body.head, jpg...)
			}
			req, _ := http.NewRequest("POST", s.URL+"/api/screenings", body)
			req = testenv.SkipRequestCheck(req) // over the limit: the check would read it whole
			req.Header.Set("Authorization", "Bearer "+pat.Token)
			req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
			if declared {
				req.ContentLength = int64(len(body.head)+len(body.tail)) + fill
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := s.Client.Do(req)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("%s: %v (after sending %d bytes)", name, err, sent.Load())
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %d after %d MiB sent of %d; %d MiB allocated", name, res.StatusCode, sent.Load()>>20, huge>>20, grew>>20)
			if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "PAYLOAD_TOO_LARGE") {
				t.Fatalf("%s: %d %s", name, res.StatusCode, b)
			}
			if sent.Load() > 16<<20 || grew > 48<<20 {
				t.Fatalf("%s: the server read %d bytes and allocated %d for a body over a 1 MiB limit", name, sent.Load(), grew)
			}
		}
		send("declared length", true, `Content-Disposition: form-data; name="image"; filename="eye.jpg"`, huge)
		send("chunked image", false, `Content-Disposition: form-data; name="image"; filename="eye.jpg"`, huge)
		send("chunked unknown field", false, `Content-Disposition: form-data; name="junk"`, huge)
		send("chunked note", false, `Content-Disposition: form-data; name="note"`, huge)

		// Thousands of unknown fields: one short answer.
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("eye", "left")
		for i := range 5000 {
			_ = w.WriteField(fmt.Sprintf("field%d", i), "x")
		}
		pw, _ := w.CreateFormFile("image", "eye.jpg")
		_, _ = pw.Write(jpg)
		_ = w.Close()
		r := s.DoHeaders(t, "POST", "/api/screenings", testenv.Invalid(b.Bytes()), map[string]string{"Authorization": "Bearer " + pat.Token, "Content-Type": w.FormDataContentType()})
		t.Logf("5000 unknown fields (%d kB): %d, %d bytes of answer", b.Len()>>10, r.Status, len(r.Body))
		if r.Status != 400 || r.Env.Code != "VALIDATION_FAILED" || len(r.Body) > 4096 {
			t.Fatalf("5000 unknown fields: %d, %d bytes: %.300s", r.Status, len(r.Body), r.Body)
		}

		var n int64
		testenv.Must(t, s.App.DB.Table("screenings").Count(&n).Error, "count")
		if n != 0 {
			t.Fatalf("%d screenings stored", n)
		}
		if files, _ := os.ReadDir(store); len(files) != 0 {
			t.Fatalf("%d entries in the store", len(files))
		}
		assertSpoolEmpty(t, spool)
		// The server still serves.
		upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "")
	})
}
