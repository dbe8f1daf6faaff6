package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"aura/app"
	"aura/internal/testenv"
	"aura/storage"
)

// encMagic starts every encrypted object (docs/storage.md).
const encMagic = "AURAENC"

func newMasterKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// storedObjects maps every object of the file store in dir, by its key, to
// its bytes as stored.
func storedObjects(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".attrs") {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	testenv.Must(t, err, "walk the store")
	return out
}

// encWorld is a server on a file store in dir, with a patient who uploaded
// one fundus photograph, analysed, whose report was read.
type encWorld struct {
	s      *testenv.Server
	dir    string
	uri    string
	pat    person
	id     string
	image  []byte
	vessel []byte
	report []byte
}

func startEnc(t *testing.T, uri, dir, key string) *testenv.Server {
	t.Helper()
	env := map[string]string{"AURA_STORAGE_URI": "file://" + dir}
	if key != "" {
		env["AURA_STORAGE_ENCRYPTION_KEY"] = key
	}
	return testenv.Start(t, testenv.Config(t, uri, env))
}

func newEncWorld(t *testing.T, uri, key string) *encWorld {
	t.Helper()
	w := &encWorld{dir: t.TempDir(), uri: uri}
	w.s = startEnc(t, uri, w.dir, key)
	s := w.s
	adm := makeAdmin(t, s, "admin@clinic.example")
	createClinic(t, s, adm, "Phòng khám Mắt")
	w.pat = signUp(t, s, "lan.nguyen@patient.example")
	w.image, _ = fundusLarge(t)
	var sc screening
	upload(t, s, w.pat.Token, form{image: w.image, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &sc)
	w.id = sc.ID
	if n := analyse(t, s); n != 1 {
		t.Fatalf("jobs run: %d", n)
	}
	w.expectReadable(t, s, true)
	return w
}

// expectReadable checks that image, vessel map and report answer 200 with
// the bytes first read (first: record them).
func (w *encWorld) expectReadable(t *testing.T, s *testenv.Server, first bool) {
	t.Helper()
	base := "/api/screenings/" + w.id
	status, h, img := rawGet(t, s, base+"/image", w.pat.Token, nil)
	if status != 200 || !bytes.Equal(img, w.image) || h.Get("Content-Length") != strconv.Itoa(len(w.image)) {
		t.Fatalf("image: %d, %d bytes (Content-Length %s), same %v", status, len(img), h.Get("Content-Length"), bytes.Equal(img, w.image))
	}
	status, _, vm := rawGet(t, s, base+"/vessels", w.pat.Token, nil)
	if m, err := png.Decode(bytes.NewReader(vm)); status != 200 || err != nil || m.Bounds().Dx() != 1024 {
		t.Fatalf("vessel map: %d %v", status, err)
	}
	status, _, pdf := rawGet(t, s, base+"/report", w.pat.Token, nil)
	if status != 200 || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("report: %d %.40q", status, pdf)
	}
	if first {
		w.vessel, w.report = vm, pdf
		return
	}
	if !bytes.Equal(vm, w.vessel) || !bytes.Equal(pdf, w.report) {
		t.Fatalf("vessel map or report changed: %v %v", bytes.Equal(vm, w.vessel), bytes.Equal(pdf, w.report))
	}
}

// expect503 checks that image, vessel map and report answer 503 UNAVAILABLE.
func (w *encWorld) expect503(t *testing.T, s *testenv.Server) {
	t.Helper()
	base := "/api/screenings/" + w.id
	for _, p := range []string{"/image", "/vessels", "/report"} {
		s.Do(t, "GET", base+p, nil, w.pat.Token).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
	}
	// The screening itself (database only) is still served.
	getScreening(t, s, w.pat.Token, w.id)
}

// TestEncryptionAtRest: with storage.encryption_key, an upload, its
// analysis and its report go through end to end; every stored object
// (image, vessel maps, overlay, report) is encrypted on disk and holds no
// run of the photograph's bytes; reads give back the exact bytes. Started
// again with another key, or with none, the image, vessel map and report
// answer 503 UNAVAILABLE (never the stored bytes) while the screening
// itself is still served; with the right key again, all is back.
func TestEncryptionAtRest(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		key := newMasterKey(t)
		w := newEncWorld(t, e.URI(t), key)
		objs := storedObjects(t, w.dir)
		kinds := map[string]bool{}
		for k, b := range objs {
			if !bytes.HasPrefix(b, []byte(encMagic)) {
				t.Errorf("%s is stored in the clear", k)
			}
			if bytes.Contains(b, w.image[1000:1064]) || bytes.Contains(b, w.report[:64]) {
				t.Errorf("%s holds plaintext", k)
			}
			kinds[filepath.Ext(k)+":"+strings.SplitN(filepath.Base(k), "-", 2)[0]] = true
		}
		if len(objs) != 5 || !kinds[".pdf:report"] || !kinds[".jpg:image.jpg"] || !kinds[".png:vessels.png"] {
			t.Fatalf("objects: %d %v", len(objs), kinds)
		}
		if e.Name == "sqlite-memory" {
			return // the restarts below need the database to outlive the server
		}

		w.s.Stop(t)
		wrong := startEnc(t, w.uri, w.dir, newMasterKey(t))
		w.expect503(t, wrong)
		wrong.Stop(t)
		none := startEnc(t, w.uri, w.dir, "")
		w.expect503(t, none)
		none.Stop(t)
		right := startEnc(t, w.uri, w.dir, key)
		w.expectReadable(t, right, false)
	})
}

// TestEncryptionTampered: an encrypted image altered in its first chunk
// answers 503 (and the failure is logged as an error); altered further on,
// too: every chunk is authenticated before the answer begins, so no
// download is a 200 with a cut body. The next reads are unaffected.
func TestEncryptionTampered(t *testing.T) {
	w := newEncWorld(t, testenv.Engines()[1].URI(t), newMasterKey(t))
	var path string
	for k := range storedObjects(t, w.dir) {
		if strings.HasSuffix(k, "/image.jpg") {
			path = filepath.Join(w.dir, filepath.FromSlash(k))
		}
	}
	orig, err := os.ReadFile(path)
	testenv.Must(t, err, "read the image")
	base := "/api/screenings/" + w.id

	first := append([]byte(nil), orig...)
	first[200] ^= 0x01 // within the first 64 KiB chunk
	testenv.Must(t, os.WriteFile(path, first, 0o640), "alter")
	w.s.Do(t, "GET", base+"/image", nil, w.pat.Token).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")

	if len(orig) < (64<<10)+1000 {
		t.Fatalf("the photograph (%d bytes) is too small for a later chunk", len(orig))
	}
	later := append([]byte(nil), orig...)
	later[len(later)-100] ^= 0x01 // in the last chunk
	testenv.Must(t, os.WriteFile(path, later, 0o640), "alter")
	w.s.Do(t, "GET", base+"/image", nil, w.pat.Token).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")

	testenv.Must(t, os.WriteFile(path, orig, 0o640), "restore")
	w.expectReadable(t, w.s, false)
}

// TestPlaintextThenEncrypt: objects stored before encryption was turned on
// are still read with it on (and new ones are encrypted); the conversion of
// `aura storage encrypt` (app.OpenStore + EncryptAll) then encrypts them
// in place, all still reading the same; a second run converts nothing.
func TestPlaintextThenEncrypt(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		if e.Name == "sqlite-memory" {
			t.Skip("needs the database to outlive the server")
		}
		w := newEncWorld(t, e.URI(t), "")
		before := storedObjects(t, w.dir)
		for k, b := range before {
			if bytes.HasPrefix(b, []byte(encMagic)) {
				t.Fatalf("%s encrypted without a key", k)
			}
		}
		w.s.Stop(t)

		key := newMasterKey(t)
		s := startEnc(t, w.uri, w.dir, key)
		w.expectReadable(t, s, false)
		jpg := encodeJPEG(t, 512, 512, 88)
		var sc screening
		upload(t, s, w.pat.Token, form{image: jpg, fields: map[string]string{"eye": "right"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &sc)
		if status, _, b := rawGet(t, s, "/api/screenings/"+sc.ID+"/image", w.pat.Token, nil); status != 200 || !bytes.Equal(b, jpg) {
			t.Fatalf("new upload: %d", status)
		}
		plain, enc := 0, 0
		for _, b := range storedObjects(t, w.dir) {
			if bytes.HasPrefix(b, []byte(encMagic)) {
				enc++
			} else {
				plain++
			}
		}
		if plain != len(before) || enc != 1 {
			t.Fatalf("%d objects in the clear, %d encrypted", plain, enc)
		}

		// The conversion, as `aura storage encrypt` runs it, with the server up.
		ctx := testenv.Ctx(t)
		st, err := app.OpenStore(ctx, s.App.Cfg, testenv.Logger(t))
		testenv.Must(t, err, "open the store")
		defer st.Close()
		c, err := st.EncryptAll(ctx, "", nil)
		if err != nil || c != (storage.Counts{Scanned: len(before) + 1, Converted: len(before), Already: 1}) {
			t.Fatalf("encrypt: %v %v", c, err)
		}
		for k, b := range storedObjects(t, w.dir) {
			if !bytes.HasPrefix(b, []byte(encMagic)) {
				t.Fatalf("%s still in the clear", k)
			}
		}
		w.expectReadable(t, s, false)
		if c, err := st.EncryptAll(ctx, "", nil); err != nil || c.Converted != 0 || c.Already != len(before)+1 {
			t.Fatalf("second run: %v %v", c, err)
		}
	})
}

// TestEncryptionOnS3: with an S3 store, the objects in the bucket are
// encrypted (as the bucket itself serves them) and the API reads back the
// exact photograph; the analysis reads it from there too.
func TestEncryptionOnS3(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s3 := startS3(t)
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_STORAGE_URI": s3.uri(),
			"AURA_STORAGE_ENCRYPTION_KEY": newMasterKey(t)}))
		createClinic(t, s, makeAdmin(t, s, "admin@clinic.example"), "Only Clinic")
		pat := signUp(t, s, "an.nguyen@patient.example")
		jpg, _ := fundusLarge(t)
		var sc screening
		upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &sc)
		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run: %d", n)
		}
		if status, _, body := rawGet(t, s, "/api/screenings/"+sc.ID+"/image", pat.Token, nil); status != 200 || !bytes.Equal(body, jpg) {
			t.Fatalf("image: %d, %d bytes", status, len(body))
		}
		keys := s3.keys(t)
		if len(keys) != 4 {
			t.Fatalf("keys %v", keys)
		}
		for _, k := range keys {
			res, err := http.Get(s3.srv.URL + "/" + s3.bucket + "/" + k)
			testenv.Must(t, err, "get from the bucket")
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.HasPrefix(raw, []byte(encMagic)) || bytes.Contains(raw, jpg[1000:1064]) {
				t.Errorf("%s as the bucket holds it: %d, %.10q", k, res.StatusCode, raw)
			}
		}
	})
}
