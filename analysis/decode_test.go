package analysis

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// TestDecode16BitPNGTo8Bits: the worker's decode reads a 16-bit PNG into
// 8 bits per sample (4 bytes a pixel, not 8); a damaged file is
// ErrUnreadable.
func TestDecode16BitPNGTo8Bits(t *testing.T) {
	src := image.NewNRGBA64(image.Rect(0, 0, 300, 200))
	for i := range src.Pix {
		src.Pix[i] = byte(i * 31)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, src); err != nil {
		t.Fatal(err)
	}
	img, err := Image{Bytes: b.Bytes(), ContentType: "image/png"}.Decode()
	if err != nil {
		t.Fatal(err)
	}
	n, ok := img.(*image.NRGBA)
	if !ok || n.Bounds() != src.Bounds() {
		t.Fatalf("decoded to %T %v", img, img.Bounds())
	}
	got := color.NRGBAModel.Convert(n.At(7, 5)).(color.NRGBA)
	want := src.NRGBA64At(7, 5)
	if got.R != uint8(want.R>>8) || got.A != uint8(want.A>>8) {
		t.Fatalf("pixel %v, want %v", got, want)
	}
	if _, err := (Image{Bytes: b.Bytes()[:b.Len()/2]}).Decode(); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("truncated: %v", err)
	}
}
