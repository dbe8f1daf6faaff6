package analysis

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"aura/fault"
)

type named struct{ name string }

func (n named) Name() string { return n.name }

func (n named) Analyze(context.Context, Image) (*Result, error) {
	return &Result{Analyzer: n.name}, nil
}

// TestRegistry: an analyzer registered under a name is built by New with its
// settings; an unknown name is refused naming the registered ones; a name
// cannot be taken twice or be empty.
func TestRegistry(t *testing.T) {
	var got Settings
	Register("test-one", func(s Settings) (Analyzer, error) {
		got = s
		if s.String("url") == "" {
			return nil, errors.New("analysis.test-one.url: required")
		}
		return named{"test-one"}, nil
	})
	Register("test-liar", func(Settings) (Analyzer, error) { return named{"someone-else"}, nil })
	settings := map[string]any{"url": "http://x", "timeout": 2 * time.Second, "n": 3}
	a, err := New("test-one", func(k string) any { return settings[k] })
	if err != nil || a.Name() != "test-one" {
		t.Fatalf("New: %v %v", a, err)
	}
	if got.String("url") != "http://x" || got.Duration("timeout") != 2*time.Second || got.String("n") != "" ||
		got.Duration("url") != 0 || got.String("missing") != "" {
		t.Errorf("settings read back wrong")
	}
	if _, err := New("test-one", nil); err == nil || !strings.Contains(err.Error(), "test-one.url") {
		t.Errorf("a factory's refusal: %v", err)
	}
	if _, err := New("test-liar", nil); err == nil {
		t.Error("an analyzer answering to another name was accepted")
	}
	_, err = New("nope", nil)
	if err == nil || !strings.Contains(err.Error(), "analysis.analyzer") || !strings.Contains(err.Error(), "test-liar, test-one") {
		t.Errorf("unknown name: %v", err)
	}
	for _, name := range []string{"test-one", "", " padded"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			Register(name, func(Settings) (Analyzer, error) { return named{name}, nil })
		}()
	}
}

// TestImage: Decode reads the pixels and calls a file that is not an image
// unreadable and permanent; Size takes the recorded size, else the header.
func TestImage(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 5, 3))); err != nil {
		t.Fatal(err)
	}
	im := Image{Bytes: buf.Bytes(), ContentType: "image/png"}
	img, err := im.Decode()
	if err != nil || img.Bounds() != image.Rect(0, 0, 5, 3) {
		t.Fatalf("Decode: %v %v", img, err)
	}
	if w, h, err := im.Size(); w != 5 || h != 3 || err != nil {
		t.Errorf("Size from the header: %d×%d %v", w, h, err)
	}
	im.Width, im.Height = 50, 30
	if w, h, err := im.Size(); w != 50 || h != 30 || err != nil {
		t.Errorf("Size from the record: %d×%d %v", w, h, err)
	}
	bad := Image{Bytes: buf.Bytes()[:30]}
	if _, err := bad.Decode(); !errors.Is(err, ErrUnreadable) || !fault.IsPermanent(err) {
		t.Errorf("truncated file: %v", err)
	}
	if _, _, err := (Image{Bytes: []byte("text")}).Size(); !errors.Is(err, ErrUnreadable) {
		t.Errorf("Size of a non-image: %v", err)
	}
}
