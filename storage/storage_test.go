package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	testBucket = "aura-test"
	screening  = "3f2a9c1e-7b4d-4e8a-9f0c-1d2e3f4a5b6c"
)

// backend is one real store the suite runs on; empty reports whether the
// store holds no object and no half-written upload, as seen by the backend
// itself rather than through Store.
type backend struct {
	name  string
	store *Store
	empty func(t *testing.T) bool
}

// fileBackend is a file store in a fresh temporary directory.
func fileBackend(t *testing.T) backend {
	dir := t.TempDir()
	st, err := Open(context.Background(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatalf("open file store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return backend{name: "file", store: st, empty: func(t *testing.T) bool {
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > 0 {
			t.Logf("files left: %v", files)
		}
		return len(files) == 0
	}}
}

// s3Server serves the S3 protocol from memory (gofakes3) on a loopback
// port, with one bucket, and sets the AWS environment the SDK reads so no
// file or metadata service of the machine is consulted.
func s3Server(t *testing.T) *httptest.Server {
	mem := s3mem.New()
	if err := mem.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return srv
}

func s3URI(srv *httptest.Server, bucket string) string {
	return "s3://" + bucket + "?endpoint=" + url.QueryEscape(srv.URL) + "&region=us-east-1&use_path_style=true"
}

// s3Backend is an S3 store opened through its s3:// URI on s3Server.
func s3Backend(t *testing.T) backend {
	srv := s3Server(t)
	st, err := Open(context.Background(), s3URI(srv, testBucket))
	if err != nil {
		t.Fatalf("open s3 store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return backend{name: "s3", store: st, empty: func(t *testing.T) bool {
		objects := s3List(t, srv.URL+"/"+testBucket+"?list-type=2", false)
		uploads := s3List(t, srv.URL+"/"+testBucket+"?uploads", true)
		if len(objects)+len(uploads) > 0 {
			t.Logf("objects left: %v; multipart uploads left: %v", objects, uploads)
		}
		return len(objects)+len(uploads) == 0
	}}
}

// s3List returns the <Key> elements of a bucket or multipart-upload
// listing, read straight from the server. The fake answers 404 to the
// upload listing of a bucket that never had one: notFoundIsEmpty.
func s3List(t *testing.T, u string, notFoundIsEmpty bool) []string {
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && notFoundIsEmpty {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	var keys []string
	dec := xml.NewDecoder(resp.Body)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Key" {
			var k string
			if err := dec.DecodeElement(&k, &se); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
	}
}

// pattern is a reader of n deterministic bytes made on the fly, so a large
// object never sits whole in the test's memory. After failAt bytes (when
// failAt >= 0) it returns errBroken instead, like a client that hangs up.
type pattern struct {
	n, off, failAt int64
}

var errBroken = errors.New("client went away")

func (p *pattern) Read(b []byte) (int, error) {
	if p.failAt >= 0 && p.off >= p.failAt {
		return 0, errBroken
	}
	if p.off >= p.n {
		return 0, io.EOF
	}
	end := min(p.n, p.off+int64(len(b)))
	if p.failAt >= 0 {
		end = min(end, p.failAt)
	}
	for i := p.off; i < end; i++ {
		b[i-p.off] = byte(i*7 + i>>12)
	}
	k := int(end - p.off)
	p.off = end
	return k, nil
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	if _, err := io.Copy(h, &pattern{n: n, failAt: -1}); err != nil {
		panic(err)
	}
	return [32]byte(h.Sum(nil))
}

// must returns a key built from a known-good id.
func must(k string, err error) string {
	if err != nil {
		panic(err)
	}
	return k
}

// TestStore runs the same cases on the file store and on the S3 store.
func TestStore(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"list by prefix", func(t *testing.T, b backend) {
			a := must(ReportKey(screening, "aa01"))
			c := must(ReportKey(screening, "bb02"))
			for _, k := range []string{a, c, must(VesselMapKey(screening))} {
				if _, err := b.store.Put(ctx, k, strings.NewReader("x"), ""); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := b.store.List(ctx, must(ReportPrefix(screening)))
			if err != nil || len(keys) != 2 || !slices.Contains(keys, a) || !slices.Contains(keys, c) {
				t.Fatalf("List = %v, %v; want the two reports", keys, err)
			}
		}},
		{"put and get round trip", func(t *testing.T, b backend) {
			key := must(ScreeningImageKey(screening, "jpg"))
			body := []byte("\xff\xd8\xff\xe0 not really a jpeg")
			before := time.Now().Add(-time.Minute)
			n, err := b.store.Put(ctx, key, bytes.NewReader(body), "image/jpeg")
			if err != nil || n != int64(len(body)) {
				t.Fatalf("Put = %d, %v; want %d, nil", n, err, len(body))
			}
			rc, attrs, err := b.store.Get(ctx, key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			got, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read %q, %v; want %q", got, err, body)
			}
			if attrs.Size != int64(len(body)) || attrs.ContentType != "image/jpeg" {
				t.Errorf("attributes %+v: want size %d, image/jpeg", attrs, len(body))
			}
			if attrs.ModTime.Before(before) || attrs.ModTime.After(time.Now().Add(time.Minute)) {
				t.Errorf("ModTime %v is not about now", attrs.ModTime)
			}
			if ok, err := b.store.Exists(ctx, key); !ok || err != nil {
				t.Errorf("Exists = %v, %v; want true", ok, err)
			}
		}},
		{"empty content type is octet-stream, empty object is kept", func(t *testing.T, b backend) {
			key := must(VesselMapKey(screening))
			if n, err := b.store.Put(ctx, key, strings.NewReader(""), ""); n != 0 || err != nil {
				t.Fatalf("Put = %d, %v", n, err)
			}
			rc, attrs, err := b.store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			_ = rc.Close()
			if attrs.Size != 0 || attrs.ContentType != "application/octet-stream" {
				t.Errorf("attributes %+v", attrs)
			}
		}},
		{"put replaces", func(t *testing.T, b backend) {
			key := must(VesselMapKey(screening))
			for _, s := range []string{"first version", "second"} {
				if _, err := b.store.Put(ctx, key, strings.NewReader(s), "image/png"); err != nil {
					t.Fatal(err)
				}
			}
			rc, attrs, err := b.store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			_ = rc.Close()
			if string(got) != "second" || attrs.Size != 6 {
				t.Errorf("got %q (size %d), want the second version", got, attrs.Size)
			}
		}},
		{"large object is streamed", func(t *testing.T, b backend) {
			const size = 25 << 20
			key := must(ScreeningImageKey(screening, "tif"))
			n, err := b.store.Put(ctx, key, &pattern{n: size, failAt: -1}, "image/tiff")
			if err != nil || n != size {
				t.Fatalf("Put = %d, %v; want %d", n, err, size)
			}
			rc, attrs, err := b.store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			h := sha256.New()
			if _, err := io.Copy(h, rc); err != nil {
				t.Fatal(err)
			}
			if attrs.Size != size || [32]byte(h.Sum(nil)) != patternSum(size) {
				t.Errorf("read back %d bytes with another content than was written", attrs.Size)
			}
		}},
		{"a reader failing midway leaves no object", func(t *testing.T, b backend) {
			key := must(ScreeningImageKey(screening, "png"))
			// Early; after two parts' worth, still buffered by the S3 SDK for
			// a single request; and in the middle of a multipart upload (the
			// SDK starts one from 16 MiB), which must then be aborted.
			for _, failAt := range []int64{1000, 2*partSize + 1000, 20 << 20} {
				n, err := b.store.Put(ctx, key, &pattern{n: 25 << 20, failAt: failAt}, "image/png")
				if !errors.Is(err, errBroken) || n != failAt {
					t.Fatalf("Put = %d, %v; want %d, the reader's error", n, err, failAt)
				}
				if ok, err := b.store.Exists(ctx, key); ok || err != nil {
					t.Fatalf("after failing at %d: Exists = %v, %v; want false", failAt, ok, err)
				}
				if !b.empty(t) {
					t.Fatalf("after failing at %d the store is not empty", failAt)
				}
			}
		}},
		{"a failed replace keeps the previous object", func(t *testing.T, b backend) {
			key := must(ScreeningImageKey(screening, "png"))
			if _, err := b.store.Put(ctx, key, strings.NewReader("good"), "image/png"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.store.Put(ctx, key, &pattern{n: 1 << 20, failAt: 4096}, "image/png"); !errors.Is(err, errBroken) {
				t.Fatalf("Put: %v, want the reader's error", err)
			}
			rc, _, err := b.store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			_ = rc.Close()
			if string(got) != "good" {
				t.Errorf("got %q, want the previous object", got)
			}
		}},
		{"a context ending before the end of the reader leaves no object", func(t *testing.T, b backend) {
			key := must(ScreeningImageKey(screening, "jpg"))
			// Small (one request) and large (a multipart upload on S3); the
			// context ends just as the reader reaches its end.
			for _, size := range []int64{7, 20 << 20} {
				cctx, cancel := context.WithCancel(ctx)
				r := io.MultiReader(&pattern{n: size, failAt: -1}, readerFunc(func([]byte) (int, error) {
					cancel()
					return 0, io.EOF
				}))
				if n, err := b.store.Put(cctx, key, r, "image/jpeg"); !errors.Is(err, context.Canceled) {
					t.Fatalf("Put of %d bytes = %d, %v; want context.Canceled", size, n, err)
				}
				if ok, err := b.store.Exists(ctx, key); ok || err != nil {
					t.Fatalf("Exists = %v, %v; want false", ok, err)
				}
				if !b.empty(t) {
					t.Fatalf("after a cancelled Put of %d bytes the store is not empty", size)
				}
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if n, err := b.store.Put(cctx, key, strings.NewReader("x"), "image/jpeg"); n != 0 || !errors.Is(err, context.Canceled) {
				t.Errorf("Put with an ended context = %d, %v; want 0, context.Canceled", n, err)
			}
		}},
		{"get of a missing key is ErrNotFound", func(t *testing.T, b backend) {
			rc, _, err := b.store.Get(ctx, "screenings/00/missing/image.jpg")
			if !errors.Is(err, ErrNotFound) || rc != nil {
				t.Fatalf("Get = %v, %v; want nil, ErrNotFound", rc, err)
			}
			if ok, err := b.store.Exists(ctx, "screenings/00/missing/image.jpg"); ok || err != nil {
				t.Errorf("Exists = %v, %v; want false, nil", ok, err)
			}
		}},
		{"delete is idempotent", func(t *testing.T, b backend) {
			key := must(VesselMapKey(screening))
			if _, err := b.store.Put(ctx, key, strings.NewReader("map"), "image/png"); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := b.store.Delete(ctx, key); err != nil {
					t.Fatalf("Delete #%d: %v", i+1, err)
				}
			}
			if _, _, err := b.store.Get(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Delete: %v, want ErrNotFound", err)
			}
			if err := b.store.Delete(ctx, "screenings/00/never/vessels.png"); err != nil {
				t.Errorf("Delete of a key never written: %v", err)
			}
			if !b.empty(t) {
				t.Error("store not empty after Delete")
			}
		}},
		{"bad keys are refused", func(t *testing.T, b backend) {
			for _, key := range badKeys {
				if _, err := b.store.Put(ctx, key, strings.NewReader("x"), "text/plain"); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
				}
				if _, _, err := b.store.Get(ctx, key); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("Get(%q): %v, want ErrInvalidKey", key, err)
				}
				if _, err := b.store.Exists(ctx, key); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("Exists(%q): %v, want ErrInvalidKey", key, err)
				}
				if err := b.store.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("Delete(%q): %v, want ErrInvalidKey", key, err)
				}
			}
			if !b.empty(t) {
				t.Error("a refused key wrote something")
			}
		}},
		{"ping", func(t *testing.T, b backend) {
			if err := b.store.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		}},
	}
	for _, mk := range []func(*testing.T) backend{fileBackend, s3Backend, encrypted(fileBackend), encrypted(s3Backend)} {
		for _, c := range cases {
			b := mk(t)
			t.Run(b.name+"/"+c.name, func(t *testing.T) { c.run(t, b) })
		}
	}
}

// encrypted is mk's store with encryption at rest on: every case of
// TestStore (atomic writes, aborted uploads leaving nothing, sizes) holds
// for encrypted objects too.
func encrypted(mk func(*testing.T) backend) func(*testing.T) backend {
	return func(t *testing.T) backend {
		b := mk(t)
		b.store.keeper, _ = testKeeper(t)
		b.name += "-encrypted"
		return b
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

var badKeys = []string{
	"",
	"/screenings/ab/x/image.jpg",
	"screenings/../../etc/passwd",
	"screenings/ab/../image.jpg",
	"screenings/./image.jpg",
	"screenings//image.jpg",
	"screenings/ab/",
	"screenings/ab/.hidden",
	"Screenings/AB/image.jpg",
	"screenings/jane doe/image.jpg",
	"screenings/jane.doe@example.org/image.jpg",
	"screenings/ab\\..\\x",
	"screenings/ab/x/image.jpg.attrs",
	"screenings/ab/x/image.jpg.123.tmp",
	"screenings/é/image.jpg",
	"screenings/ab/x/image.jpg\x00",
	strings.Repeat("a", maxKeyLen+1),
}

func TestValidateKey(t *testing.T) {
	good := []string{
		"screenings/3f/" + screening + "/image.jpg",
		"a",
		"exports/2026-01-01_report.v2.csv",
		strings.Repeat("a", maxKeyLen),
	}
	for _, k := range good {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range badKeys {
		err := ValidateKey(k)
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
			continue
		}
		if k != "" && strings.Contains(err.Error(), k) {
			t.Errorf("the error for %q repeats the key: %v", k, err)
		}
	}
	if err := ValidateKey("screenings/jane.doe@example.org/x"); strings.Contains(err.Error(), "jane") {
		t.Errorf("the error repeats part of the refused key: %v", err)
	}
}

func TestScreeningKeys(t *testing.T) {
	for _, c := range []struct{ ext, want string }{
		{"jpg", "image.jpg"}, {".png", "image.png"}, {"JPEG", "image.jpeg"}, {".TIFF", "image.tiff"},
	} {
		k, err := ScreeningImageKey(screening, c.ext)
		want := "screenings/3f/" + screening + "/" + c.want
		if err != nil || k != want {
			t.Errorf("ScreeningImageKey(%q) = %q, %v; want %q", c.ext, k, err, want)
		}
		if err := ValidateKey(k); err != nil {
			t.Errorf("built key %q is refused: %v", k, err)
		}
	}
	if k, err := VesselMapKey(screening); err != nil || k != "screenings/3f/"+screening+"/vessels.png" {
		t.Errorf("VesselMapKey = %q, %v", k, err)
	}
	if k, err := AVMapKey(screening); err != nil || k != "screenings/3f/"+screening+"/av.png" || ValidateKey(k) != nil {
		t.Errorf("AVMapKey = %q, %v", k, err)
	}
	if k, err := OverlayKey(screening); err != nil || k != "screenings/3f/"+screening+"/overlay.jpg" || ValidateKey(k) != nil {
		t.Errorf("OverlayKey = %q, %v", k, err)
	}
	for _, f := range []func(string) (string, error){AVMapKey, OverlayKey} {
		if k, err := f("../x"); !errors.Is(err, ErrInvalidKey) || k != "" {
			t.Errorf("a bad id gave %q, %v", k, err)
		}
	}
	if k, err := ReportKey(screening, "0123abcd"); err != nil || k != "screenings/3f/"+screening+"/report-0123abcd.pdf" || ValidateKey(k) != nil {
		t.Errorf("ReportKey = %q, %v", k, err)
	}
	for _, fp := range []string{"", "ABCD", "../x", strings.Repeat("a", 65), "12 34"} {
		if k, err := ReportKey(screening, fp); !errors.Is(err, ErrInvalidKey) || k != "" {
			t.Errorf("ReportKey(fingerprint %q) = %q, %v; want ErrInvalidKey", fp, k, err)
		}
	}
	for _, id := range []string{
		"", "jane-doe", "jane.doe@example.org", strings.ToUpper(screening), "../" + screening[3:],
		"{" + screening[1:35] + "}", screening + "0", "3f2a9c1e07b4d-4e8a-9f0c-1d2e3f4a5b6c", "3f2a9c1e-7b4d-4e8a-9f0c-1d2e3f4a5b6g",
	} {
		if k, err := ScreeningImageKey(id, "jpg"); !errors.Is(err, ErrInvalidKey) || k != "" {
			t.Errorf("ScreeningImageKey(%q) = %q, %v; want ErrInvalidKey", id, k, err)
		}
		if k, err := VesselMapKey(id); !errors.Is(err, ErrInvalidKey) || k != "" {
			t.Errorf("VesselMapKey(%q) = %q, %v; want ErrInvalidKey", id, k, err)
		}
	}
	for _, ext := range []string{"", ".", "j/pg", "../x", "jpg.attrs", "verylongext", "jp g"} {
		if k, err := ScreeningImageKey(screening, ext); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ScreeningImageKey(ext %q) = %q, %v; want ErrInvalidKey", ext, k, err)
		}
	}
}

// TestRelativeFileURI: file://DIR is DIR under the working directory,
// created on Open, and so is the default.
func TestRelativeFileURI(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	ctx := context.Background()
	for _, c := range []struct{ uri, dir string }{
		{DefaultURI, "aura-data"},
		{"file://images/fundus", "images/fundus"},
		{"file://./dot-relative", "dot-relative"},
	} {
		st, err := Open(ctx, c.uri)
		if err != nil {
			t.Fatalf("Open(%q): %v", c.uri, err)
		}
		want := filepath.Join(wd, filepath.FromSlash(c.dir))
		if st.String() != "file://"+filepath.ToSlash(want) {
			t.Errorf("Open(%q) is %s, want the directory %s", c.uri, st, want)
		}
		if fi, err := os.Stat(want); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o007 != 0 {
			t.Fatalf("directory %s: %v, %v (want it created, closed to others)", want, fi, err)
		}
		key := must(VesselMapKey(screening))
		if _, err := st.Put(ctx, key, strings.NewReader("map"), "image/png"); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(want, filepath.FromSlash(key)))
		if err != nil {
			t.Fatalf("the object is not a file under %s: %v", want, err)
		}
		if fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("object mode %v is open to other users", fi.Mode().Perm())
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestPingFailures: a health check fails when the directory or bucket is
// gone.
func TestPingFailures(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := Open(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx); err == nil {
		t.Error("Ping of a removed directory succeeded")
	}

	srv := s3Server(t)
	s3, err := Open(ctx, s3URI(srv, "no-such-bucket"))
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if err := s3.Ping(ctx); err == nil {
		t.Error("Ping of a missing bucket succeeded")
	}
}

// TestOpenErrors: a wrong URI gives one error that names the wrong part and
// never repeats a secret.
func TestOpenErrors(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG"
	for _, c := range []struct{ uri, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"gs://bucket", `scheme "gs" is not supported`},
		{"aura-data", "no scheme"},
		{"s3://", "needs a bucket name"},
		{"s3:///images", "needs a bucket name"},
		{"s3:bucket", "needs a bucket name"},
		{"s3://Bad_Bucket", "bucket name"},
		{"s3://bucket:9000", "bucket name"},
		{"s3://bucket/images", "takes no path"},
		{"s3://AKIAEXAMPLE:" + secret + "@bucket?region=us-east-1", "credentials in the URI"},
		{"s3://bucket?secret_key=" + secret, `query parameter "secret_key" is not known`},
		{"s3://bucket?endpoint=ftp%3A%2F%2Fhost", "endpoint must be an http"},
		{"s3://bucket?endpoint=http%3A%2F%2Fuser%3A" + secret + "%40host", "credentials in the endpoint"},
		{"s3://bucket?region=a&region=b", "more than once"},
		{"s3://bucket?prefix=../", "prefix must be"},
		{"s3://bucket?prefix=clinic", "prefix must be"},
		{"s3://bucket?use_path_style=maybe", "use_path_style"},
		{"s3://bucket#" + secret, "fragment"},
		{"file://", "needs a directory"},
		{"file:///", "not the root"},
		{"file:aura-data", "file:///ABSOLUTE/DIR"},
		{"file:///tmp/x?create_dir=1", `takes no query parameters (found "create_dir")`},
		{"file://host:80/x", "port"},
		{"s3://bucket\x7f" + secret, "not a URL"},
		{"s3://%zz" + secret, "not a URL"},
	} {
		st, err := Open(context.Background(), c.uri)
		if err == nil {
			_ = st.Close()
			t.Errorf("Open(%q) succeeded, want an error about %s", c.uri, c.want)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "storage.uri") || !strings.Contains(msg, c.want) {
			t.Errorf("Open(%q) = %q, want it to start with storage.uri and say %q", c.uri, msg, c.want)
		}
		if strings.Contains(msg, secret) {
			t.Errorf("Open(%q) error repeats the secret: %q", c.uri, msg)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("Open(%q) error is on more than one line: %q", c.uri, msg)
		}
	}
}

// TestOpenFileIsNotADirectory: a file where the directory should be is
// reported with the path.
func TestOpenFileIsNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), "file://"+filepath.ToSlash(f))
	if err == nil || !strings.Contains(err.Error(), f) {
		t.Errorf("Open over a plain file: %v, want an error naming %s", err, f)
	}
}
