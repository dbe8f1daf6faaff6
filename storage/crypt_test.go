package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gocloud.dev/secrets/localsecrets"
)

func testKeeper(t testing.TB) (Keeper, string) {
	t.Helper()
	var k [32]byte
	_, _ = rand.Read(k[:])
	return localsecrets.NewKeeper(k), base64.StdEncoding.EncodeToString(k[:])
}

// cryptStore is a file store in dir with keeper (nil: none) and chunks of
// chunk bytes; failures seen by OnCorrupt are collected.
type cryptStore struct {
	*Store
	mu      sync.Mutex
	corrupt []string
}

func openCrypt(t testing.TB, dir string, keeper Keeper, chunk int) *cryptStore {
	t.Helper()
	cs := &cryptStore{}
	st, err := OpenWith(context.Background(), "file://"+filepath.ToSlash(dir), Options{Keeper: keeper, ChunkSize: chunk,
		OnCorrupt: func(key string, err error) {
			cs.mu.Lock()
			defer cs.mu.Unlock()
			cs.corrupt = append(cs.corrupt, key)
		}})
	if err != nil {
		t.Fatal(err)
	}
	cs.Store = st
	t.Cleanup(func() { _ = st.bucket.Close() })
	return cs
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func readAll(t *testing.T, s *Store, key string) ([]byte, Attributes, error) {
	t.Helper()
	rc, attrs, err := s.Get(context.Background(), key)
	if err != nil {
		return nil, attrs, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, attrs, err
}

// TestEncryptedRoundTrip: objects of every size around the chunk boundaries
// come back as written, with their plaintext size, and are not stored in
// the clear.
func TestEncryptedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	keeper, _ := testKeeper(t)
	const chunk = 64
	s := openCrypt(t, dir, keeper, chunk)
	ctx := context.Background()
	for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3*chunk + 7, 100 * chunk} {
		want := randomBytes(n)
		key := "objects/o-" + strings.Repeat("x", n%5+1) + "-" + strconv.Itoa(n)
		got, err := s.Put(ctx, key, bytes.NewReader(want), "image/jpeg")
		if err != nil || got != int64(n) {
			t.Fatalf("put %d: %d %v", n, got, err)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
		if !bytes.HasPrefix(raw, []byte(magic)) || (n >= 16 && bytes.Contains(raw, want[:16])) {
			t.Fatalf("size %d is stored in the clear", n)
		}
		b, attrs, err := readAll(t, s.Store, key)
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("size %d: read %d bytes, %v", n, len(b), err)
		}
		if attrs.Size != int64(n) || attrs.ContentType != "image/jpeg" {
			t.Fatalf("size %d: attributes %+v", n, attrs)
		}
	}
	// The default chunk size, and a 1 MiB object.
	d := openCrypt(t, dir, keeper, 0)
	want := randomBytes(1<<20 + 3)
	if _, err := d.Put(ctx, "big", bytes.NewReader(want), ""); err != nil {
		t.Fatal(err)
	}
	if b, attrs, err := readAll(t, d.Store, "big"); err != nil || !bytes.Equal(b, want) || attrs.Size != int64(len(want)) {
		t.Fatalf("1 MiB: %d bytes, %+v, %v", len(b), attrs, err)
	}
}

// TestPlaintextStillRead: an object written before encryption was turned
// on is read as it is; with encryption turned off again, encrypted objects
// are refused (never returned as they are stored).
func TestPlaintextStillRead(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clearText := openCrypt(t, dir, nil, 0)
	old := []byte("a JPEG from before")
	if _, err := clearText.Put(ctx, "old", bytes.NewReader(old), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	keeper, _ := testKeeper(t)
	enc := openCrypt(t, dir, keeper, 0)
	if b, _, err := readAll(t, enc.Store, "old"); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("old object with encryption on: %q %v", b, err)
	}
	if _, err := enc.Put(ctx, "new", strings.NewReader("secret"), ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(t, clearText.Store, "new"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("encrypted object without a key: %v", err)
	}
	if len(clearText.corrupt) != 1 {
		t.Fatalf("failures reported: %v", clearText.corrupt)
	}
}

// TestWrongKeyAndTampering: the wrong key, a changed byte in any chunk or
// the header, a chunk cut, dropped or moved, an object copied under
// another key: every read fails with ErrUndecryptable, before any byte is
// returned when the first chunk is at fault, and at the faulty chunk
// otherwise; no unauthenticated byte is returned.
func TestWrongKeyAndTampering(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	keeper, _ := testKeeper(t)
	const chunk = 100
	s := openCrypt(t, dir, keeper, chunk)
	want := randomBytes(5*chunk + 30) // 6 chunks
	if _, err := s.Put(ctx, "obj", bytes.NewReader(want), ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "obj")
	orig, _ := os.ReadFile(path)
	hsize := len(orig) - (5*(chunk+tagSize) + 30 + tagSize)

	other, _ := testKeeper(t)
	if _, _, err := readAll(t, openCrypt(t, dir, other, chunk).Store, "obj"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("wrong key: %v", err)
	}

	cases := map[string]func([]byte) []byte{
		"header byte":          func(b []byte) []byte { b[hsize-1] ^= 1; return b },
		"chunk size in header": func(b []byte) []byte { b[len(magic)+4]++; return b },
		"first chunk byte":     func(b []byte) []byte { b[hsize+3] ^= 0x80; return b },
		"third chunk byte":     func(b []byte) []byte { b[hsize+2*(chunk+tagSize)+5] ^= 1; return b },
		"last tag byte":        func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"last chunk dropped":   func(b []byte) []byte { return b[:len(b)-(30+tagSize)] },
		"cut mid-chunk":        func(b []byte) []byte { return b[:len(b)-70] },
		"chunks swapped": func(b []byte) []byte {
			c1 := hsize + (chunk + tagSize)
			c2 := c1 + (chunk + tagSize)
			x := append([]byte(nil), b[c1:c2]...)
			copy(b[c1:c2], b[c2:c2+chunk+tagSize])
			copy(b[c2:], x)
			return b
		},
		"chunk appended": func(b []byte) []byte { return append(b, b[hsize:hsize+chunk+tagSize]...) },
		"header only":    func(b []byte) []byte { return b[:hsize] },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, change(append([]byte(nil), orig...)), 0o640); err != nil {
				t.Fatal(err)
			}
			got, _, err := readAll(t, s.Store, "obj")
			if !errors.Is(err, ErrUndecryptable) {
				t.Fatalf("read: %d bytes, %v", len(got), err)
			}
			if !bytes.HasPrefix(want, got) {
				t.Fatalf("returned %d bytes that are not the object's", len(got))
			}
		})
	}

	// Copied under another key: refused.
	if err := os.WriteFile(filepath.Join(dir, "copy"), orig, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(t, s.Store, "copy"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("object under another key: %v", err)
	}
}

// TestEncryptAllAndRekey: EncryptAll converts the objects stored in the
// clear and nothing else, a second run converts nothing; Rekey moves every
// object to a new master key, after which the old key no longer reads them.
func TestEncryptAllAndRekey(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clearText := openCrypt(t, dir, nil, 0)
	objs := map[string][]byte{}
	for i, n := range []int{0, 10, 70000, 200000} {
		k := "screenings/ab/obj-" + strconv.Itoa(i)
		objs[k] = randomBytes(n)
		if _, err := clearText.Put(ctx, k, bytes.NewReader(objs[k]), "image/png"); err != nil {
			t.Fatal(err)
		}
	}
	k1, _ := testKeeper(t)
	s := openCrypt(t, dir, k1, 0)
	if _, err := s.Put(ctx, "screenings/ab/new", strings.NewReader("already"), ""); err != nil {
		t.Fatal(err)
	}
	objs["screenings/ab/new"] = []byte("already")
	c, err := s.EncryptAll(ctx, "", nil)
	if err != nil || c != (Counts{Scanned: 5, Converted: 4, Already: 1}) {
		t.Fatalf("first run: %+v %v", c, err)
	}
	check := func(st *Store) {
		t.Helper()
		for k, want := range objs {
			raw, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k)))
			if !bytes.HasPrefix(raw, []byte(magic)) {
				t.Fatalf("%s is in the clear", k)
			}
			got, attrs, err := readAll(t, st, k)
			if err != nil || !bytes.Equal(got, want) || attrs.Size != int64(len(want)) {
				t.Fatalf("%s: %d bytes %v", k, len(got), err)
			}
		}
	}
	check(s.Store)
	if c, err := s.EncryptAll(ctx, "", nil); err != nil || c != (Counts{Scanned: 5, Already: 5}) {
		t.Fatalf("second run: %+v %v", c, err)
	}

	k2, _ := testKeeper(t)
	n := openCrypt(t, dir, k2, 0)
	if c, err := n.Rekey(ctx, "", k1, nil); err != nil || c != (Counts{Scanned: 5, Converted: 5}) {
		t.Fatalf("rekey: %+v %v", c, err)
	}
	check(n.Store)
	if _, _, err := readAll(t, s.Store, "screenings/ab/new"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("old key after rekey: %v", err)
	}
	if c, err := n.Rekey(ctx, "", k1, nil); err != nil || c != (Counts{Scanned: 5, Already: 5}) {
		t.Fatalf("rekey again: %+v %v", c, err)
	}
	k3, _ := testKeeper(t)
	if c, err := openCrypt(t, dir, k3, 0).EncryptAll(ctx, "", nil); err != nil || c != (Counts{Scanned: 5, Foreign: 5}) {
		t.Fatalf("encrypt under a third key: %+v %v", c, err)
	}
}

func TestOpenKeeper(t *testing.T) {
	ctx := context.Background()
	_, b64 := testKeeper(t)
	if k, err := OpenKeeper(ctx, "", ""); k != nil || err != nil {
		t.Fatalf("none: %v %v", k, err)
	}
	for _, in := range [][2]string{{b64, ""}, {"", "base64key://" + strings.NewReplacer("+", "-", "/", "_").Replace(b64)}} {
		k, err := OpenKeeper(ctx, in[0], in[1])
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		w, err := k.Encrypt(ctx, []byte("data key"))
		if err != nil {
			t.Fatal(err)
		}
		if p, err := k.Decrypt(ctx, w); err != nil || string(p) != "data key" {
			t.Fatalf("round trip: %q %v", p, err)
		}
	}
	for _, in := range [][2]string{
		{b64, "base64key://x"}, {"c2hvcnQ=", ""}, {"not base64!", ""},
		{"", "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}, {"", "hashivault://mykey"}, {"", "vault://x"},
		{"", "base64key://c2hvcnQ="},
	} {
		k, err := OpenKeeper(ctx, in[0], in[1])
		if err == nil || k != nil {
			t.Fatalf("%v accepted", in)
		}
		if strings.Contains(err.Error(), b64) || strings.Contains(err.Error(), "c2hvcnQ") {
			t.Fatalf("error repeats the key: %v", err)
		}
		t.Log(err)
	}
}
