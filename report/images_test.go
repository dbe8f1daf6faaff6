package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"
)

func TestShrinkSizes(t *testing.T) {
	for _, tc := range []struct{ w, h, dw, dh int }{
		{4096, 4096, 820, 820}, // factor 5
		{3000, 2000, 1000, 667},
		{1000, 600, 1000, 600}, // small enough: kept
		{1001, 10, 501, 5},
		{1, 1, 1, 1},
	} {
		got, err := shrink(context.Background(), image.NewGray(image.Rect(0, 0, tc.w, tc.h)), MaxImageSide, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if b := got.Bounds(); b.Dx() != tc.dw || b.Dy() != tc.dh {
			t.Errorf("%d×%d shrank to %v, want %d×%d", tc.w, tc.h, b.Size(), tc.dw, tc.dh)
		}
	}
}

// A one-pixel vessel survives as grey: box averaging, not point sampling.
func TestShrinkKeepsThinLines(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 2000, 2000))
	for y := 0; y < 2000; y++ {
		src.SetGray(1001, y, color.Gray{255})
	}
	got, _ := shrink(context.Background(), src, MaxImageSide, 0, true)
	g := got.(*image.Gray)
	if v := g.GrayAt(500, 700).Y; v < 120 || v > 135 {
		t.Errorf("the line's pixel is %d, want about 128", v)
	}
	if v := g.GrayAt(499, 700).Y; v != 0 {
		t.Errorf("beside the line %d, want 0", v)
	}
}

// The fast paths for the usual image types agree with the generic one.
func TestReadRowFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rect := image.Rect(3, 5, 70, 41) // not at the origin
	rgba := image.NewRGBA(rect)
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(rgba.Pix); i += 4 { // valid premultiplied colours
		a := rgba.Pix[i]
		rgba.Pix[i-3], rgba.Pix[i-2], rgba.Pix[i-1] = min(rgba.Pix[i-3], a), min(rgba.Pix[i-2], a), min(rgba.Pix[i-1], a)
	}
	nrgba := image.NewNRGBA(rect)
	draw.Draw(nrgba, rect, rgba, rect.Min, draw.Src)
	gray := image.NewGray(rect)
	draw.Draw(gray, rect, rgba, rect.Min, draw.Src)
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(rng.IntN(256))
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
	}
	for _, src := range []image.Image{rgba, nrgba, gray, ycc} {
		fast := make([]uint8, 4*rect.Dx())
		slow := make([]uint8, 4*rect.Dx())
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			readRow(src, y, fast)
			readRow(struct{ image.Image }{src}, y, slow) // hides the type: the At path
			for i := range fast {
				if d := int(fast[i]) - int(slow[i]); d < -1 || d > 1 {
					t.Fatalf("%T row %d byte %d: fast %d, generic %d", src, y, i, fast[i], slow[i])
				}
			}
		}
	}
}

// The grey fast path gives what the general path gives.
func TestShrinkGrayMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := image.NewGray(image.Rect(2, 7, 2503, 1310))
	for i := range src.Pix {
		src.Pix[i] = uint8(rng.IntN(256))
	}
	fast, err := shrink(context.Background(), src, MaxImageSide, 255, true)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := shrink(context.Background(), struct{ image.Image }{src}, MaxImageSide, 255, true)
	if err != nil {
		t.Fatal(err)
	}
	f, s := fast.(*image.Gray), slow.(*image.Gray)
	if f.Rect != s.Rect {
		t.Fatalf("sizes %v and %v", f.Rect, s.Rect)
	}
	for i := range f.Pix {
		if d := int(f.Pix[i]) - int(s.Pix[i]); d < -1 || d > 1 {
			t.Fatalf("pixel %d: fast %d, general %d", i, f.Pix[i], s.Pix[i])
		}
	}
}

func TestShrinkLaysTransparencyOnBackground(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 4, 4)) // fully transparent
	got, _ := shrink(context.Background(), src, MaxImageSide, 255, false)
	if c := got.(*image.RGBA).RGBAAt(1, 1); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("transparent on white gives %v", c)
	}
	got, _ = shrink(context.Background(), src, MaxImageSide, 0, false)
	if c := got.(*image.RGBA).RGBAAt(1, 1); c != (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("transparent on black gives %v", c)
	}
}

func TestEncodedKinds(t *testing.T) {
	ctx := context.Background()
	p, err := encodePhoto(ctx, fundus(300))
	if err != nil || p.kind != "JPG" || p.w != 300 {
		t.Fatalf("photo %+v, %v", p, err)
	}
	m, err := encodeMap(ctx, vesselMap(300))
	if err != nil || m.kind != "PNG" {
		t.Fatalf("map %+v, %v", m, err)
	}
	if dec, _, err := image.Decode(bytes.NewReader(m.data)); err != nil || dec.ColorModel() != color.GrayModel {
		t.Errorf("a grey map should stay grey: %v", err)
	}
	if p, _ := encodePhoto(ctx, image.NewRGBA(image.Rectangle{})); p != nil {
		t.Error("an empty image should count as none")
	}
}
