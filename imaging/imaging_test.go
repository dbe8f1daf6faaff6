package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// noisy is a w×h image of model m with random samples (every PNG filter
// gets used) and, for alpha models, random alpha.
func noisy(w, h int, m color.Model, seed uint64) image.Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := image.Rect(0, 0, w, h)
	var img interface {
		image.Image
		Set(x, y int, c color.Color)
	}
	switch m {
	case color.Gray16Model:
		img = image.NewGray16(r)
	case color.RGBA64Model:
		img = image.NewRGBA64(r)
	case color.GrayModel:
		img = image.NewGray(r)
	case color.RGBAModel:
		img = image.NewRGBA(r)
	default:
		img = image.NewNRGBA64(r)
	}
	for y := range h {
		for x := range w {
			// smooth with noise, so that filters other than "none" win
			v := uint16(x*300 + y*150 + rng.IntN(2000))
			a := uint16(40000 + rng.IntN(20000))
			if m == color.RGBA64Model || m == color.RGBAModel {
				a = 0xFFFF
			}
			img.Set(x, y, color.NRGBA64{v, v ^ 0x5555, uint16(y * 97), a})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// same8 fails unless got holds want's pixels at 8 bits per sample.
func same8(t *testing.T, got, want image.Image) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
	}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g := color.NRGBAModel.Convert(got.At(x, y)).(color.NRGBA)
			w := color.NRGBA64Model.Convert(want.At(x, y)).(color.NRGBA64)
			if w.A == 0 {
				if g.A != 0 {
					t.Fatalf("(%d,%d): %v, want transparent", x, y, g)
				}
				continue
			}
			e := color.NRGBA{uint8(w.R >> 8), uint8(w.G >> 8), uint8(w.B >> 8), uint8(w.A >> 8)}
			if d := diff(g, e); d > 1 {
				t.Fatalf("(%d,%d): %v, want %v", x, y, g, e)
			}
		}
	}
}

func diff(a, b color.NRGBA) int {
	d := 0
	for _, p := range [][2]uint8{{a.R, b.R}, {a.G, b.G}, {a.B, b.B}, {a.A, b.A}} {
		d = max(d, abs(int(p[0])-int(p[1])))
	}
	return d
}

func TestDecodePNG16To8Bits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		m    color.Model
		want string
	}{
		{"gray16", color.Gray16Model, "*image.Gray"},
		{"rgb16", color.RGBA64Model, "*image.RGBA"},
		{"rgba16", color.NRGBA64Model, "*image.NRGBA"},
	} {
		src := noisy(301, 77, tc.m, 3)
		data := encodePNG(t, src)
		want, _ := png.Decode(bytes.NewReader(data))
		img, h, release, err := (*Budget)(nil).Decode(context.Background(), bytes.NewReader(data))
		if err != nil || h.Depth != 16 || h.Width != 301 || h.Height != 77 {
			t.Fatalf("%s: %v %+v", tc.name, err, h)
		}
		if got := typeName(img); got != tc.want {
			t.Errorf("%s: decoded to %s, want %s", tc.name, got, tc.want)
		}
		same8(t, img, want)
		release()
	}
}

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.Gray:
		return "*image.Gray"
	case *image.RGBA:
		return "*image.RGBA"
	case *image.NRGBA:
		return "*image.NRGBA"
	}
	return "other"
}

// TestDecodePNG16Interlaced reads Adam7 16-bit PNGs (Go's encoder writes
// none, so adam7PNG does), grey with a tRNS key among them, as image/png
// reads them.
func TestDecodePNG16Interlaced(t *testing.T) {
	t.Parallel()
	for _, ct := range []byte{0, 2, 4, 6} {
		for _, key := range []bool{false, true} {
			if key && (ct == 4 || ct == 6) {
				continue
			}
			data := adam7PNG(37, 23, ct, key)
			want, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("colour type %d: image/png: %v", ct, err)
			}
			img, h, release, err := (*Budget)(nil).Decode(context.Background(), bytes.NewReader(data))
			if err != nil || !h.Interlaced || h.Depth != 16 || h.Transparent != key {
				t.Fatalf("colour type %d: %v %+v", ct, err, h)
			}
			same8(t, img, want)
			release()
			if _, err := (*Budget)(nil).Check(context.Background(), bytes.NewReader(data)); err != nil {
				t.Fatalf("check: %v", err)
			}
		}
	}
}

// adam7PNG writes a w×h interlaced 16-bit PNG of colour type ct with
// varied samples, its rows filtered by none, sub and up in turn; with key,
// a tRNS colour key that some pixels match.
func adam7PNG(w, h int, ct byte, key bool) []byte {
	ch := pngChannels[int(ct)]
	bpp := 2 * ch
	sample := func(x, y, c int) uint16 {
		if (x+y)%5 == 0 {
			return 0x1234 // the key's value
		}
		return uint16(x*2311 + y*977 + c*5003)
	}
	var raw bytes.Buffer
	for _, p := range adam7 {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		prev := make([]byte, pw*bpp)
		for y := range ph {
			row := make([]byte, pw*bpp)
			for x := range pw {
				for c := range ch {
					v := sample(p[0]+x*p[2], p[1]+y*p[3], c)
					row[x*bpp+2*c], row[x*bpp+2*c+1] = byte(v>>8), byte(v)
				}
			}
			f := byte(y % 3)
			out := make([]byte, len(row))
			for i := range row {
				switch f {
				case 0:
					out[i] = row[i]
				case 1:
					var left byte
					if i >= bpp {
						left = row[i-bpp]
					}
					out[i] = row[i] - left
				case 2:
					out[i] = row[i] - prev[i]
				}
			}
			raw.WriteByte(f)
			raw.Write(out)
			prev = row
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	var out bytes.Buffer
	out.Write(pngSig)
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9], ihdr[12] = 16, ct, 1
	chunk("IHDR", ihdr)
	if key {
		chunk("tRNS", bytes.Repeat([]byte{0x12, 0x34}, ch))
	}
	half := z.Len() / 2 // two IDAT chunks
	chunk("IDAT", z.Bytes()[:half])
	chunk("IDAT", z.Bytes()[half:])
	chunk("IEND", nil)
	return out.Bytes()
}

// TestCheckRefusesWhatImagePNGRefuses: every truncation and many damaged
// copies of a 16-bit PNG are refused by Check exactly when image/png
// refuses them.
func TestCheckRefusesWhatImagePNGRefuses(t *testing.T) {
	t.Parallel()
	data := encodePNG(t, noisy(64, 40, color.NRGBA64Model, 9))
	try := func(name string, b []byte) {
		_, goErr := png.Decode(bytes.NewReader(b))
		_, err := (*Budget)(nil).Check(context.Background(), bytes.NewReader(b))
		if (goErr == nil) != (err == nil) {
			t.Fatalf("%s: Check %v, image/png %v", name, err, goErr)
		}
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("%s: %v does not wrap ErrFormat", name, err)
		}
	}
	for n := 0; n < len(data); n += 1 + n/50 {
		try("truncated", data[:n])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		b := bytes.Clone(data)
		b[8+rng.IntN(len(b)-8)] ^= byte(1 + rng.IntN(255))
		try("flipped "+string(rune('a'+i%26)), b)
	}
	try("whole", data)
}

// allocated is the bytes fn allocates.
func allocated(fn func()) int64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return int64(b.TotalAlloc - a.TotalAlloc)
}

// TestDecodeBytesBoundsAllocation: the header's estimate is at least what a
// decode allocates, and not far above it (the budget would waste memory).
func TestDecodeBytesBoundsAllocation(t *testing.T) {
	// not parallel: it reads the process's allocation counter
	w, h := 800, 600
	jpg := func(img image.Image) []byte {
		var b bytes.Buffer
		_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
		return b.Bytes()
	}
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	cases := map[string][]byte{
		"png rgba8":  encodePNG(t, noisy(w, h, color.RGBAModel, 1)),
		"png gray8":  encodePNG(t, gray),
		"png rgba16": encodePNG(t, noisy(w, h, color.NRGBA64Model, 1)),
		"png gray16": encodePNG(t, noisy(w, h, color.Gray16Model, 1)),
		"jpeg 4:2:0": jpg(noisy(w, h, color.RGBAModel, 2)),
		"jpeg gray":  jpg(gray),
	}
	for name, data := range cases {
		hd, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var derr error
		got := allocated(func() { _, _, _, derr = (*Budget)(nil).Decode(context.Background(), bytes.NewReader(data)) })
		if derr != nil {
			t.Fatalf("%s: %v", name, derr)
		}
		est := hd.DecodeBytes()
		t.Logf("%-11s decode allocates %6.1f MiB, estimate %6.1f MiB", name, float64(got)/(1<<20), float64(est)/(1<<20))
		if est < got || est > got*2+2*overhead {
			t.Errorf("%s: estimate %d bytes for %d allocated", name, est, got)
		}
	}
}

// TestCheckPNG16HoldsRows: checking a 40-megapixel 16-bit RGBA PNG (the
// hostile upload of issue 17, 320 MB of pixels) allocates a few MiB.
func TestCheckPNG16HoldsRows(t *testing.T) {
	data := flat16(8000, 5000)
	hd, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var cerr error
	got := allocated(func() { _, cerr = NewBudget(64<<20).Check(context.Background(), bytes.NewReader(data)) })
	if cerr != nil {
		t.Fatal(cerr)
	}
	t.Logf("%d KB file, decode estimate %d MiB, check allocates %.1f MiB (estimate %.1f)", len(data)/1000,
		hd.DecodeBytes()>>20, float64(got)/(1<<20), float64(hd.CheckBytes())/(1<<20))
	if got > 8<<20 || hd.CheckBytes() > 8<<20 {
		t.Fatalf("check allocated %d bytes", got)
	}
	if hd.DecodeBytes() != 8000*5000*4+2*(1+8000*8)+overhead {
		t.Fatalf("decode estimate %d: a 16-bit PNG decodes to 8 bits", hd.DecodeBytes())
	}
}

// flat16 is a w×h 16-bit RGBA PNG of one colour, written row by row
// without holding its pixels: a few hundred KB for 40 megapixels.
func flat16(w, h int) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 1+w*8)
	for x := range w {
		copy(row[1+x*8:], []byte{0x90, 0, 0x40, 0, 0x20, 0, 0xFF, 0xFF})
	}
	zw.Write(row)
	up := make([]byte, 1+w*8)
	up[0] = 2 // "up": each later row repeats the first
	for range h - 1 {
		zw.Write(up)
	}
	zw.Close()
	var out bytes.Buffer
	out.Write(pngSig)
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 16, 6
	chunk("IHDR", ihdr)
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// TestBudgetBoundsConcurrentDecodes: 24 decodes of 3 sizes at once never
// hold more than the budget together; one larger than the whole budget is
// refused with a TooLargeError.
func TestBudgetBoundsConcurrentDecodes(t *testing.T) {
	t.Parallel()
	imgs := [][]byte{
		encodePNG(t, noisy(400, 300, color.RGBAModel, 1)),
		encodePNG(t, noisy(300, 200, color.NRGBA64Model, 2)),
		encodePNG(t, noisy(200, 200, color.GrayModel, 3)),
	}
	b := NewBudget(3 << 20)
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, release, err := b.Decode(context.Background(), bytes.NewReader(imgs[i%3]))
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond) // hold the image a moment, as a caller does
			release()
		}()
	}
	wg.Wait()
	if b.Peak() > b.Total() || b.Peak() == 0 {
		t.Fatalf("peak %d of a budget of %d", b.Peak(), b.Total())
	}
	_, _, _, err := NewBudget(1<<20).Decode(context.Background(), bytes.NewReader(imgs[0]))
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrOverBudget) || tl.Need < 400*300*4 || tl.Budget != 1<<20 {
		t.Fatalf("over budget: %v", err)
	}
	// a decode waiting for a full budget gives up with its context
	hold, _ := b.Acquire(context.Background(), b.Total())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, _, err := b.Decode(ctx, bytes.NewReader(imgs[2])); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for a full budget: %v", err)
	}
	hold()
}
