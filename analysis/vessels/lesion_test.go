package vessels

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"testing"
)

// TestBrightLesionsAreNotVessels paints bright yellow exudate-like spots on a
// generated photograph, away from its vessels, and counts the pixels marked
// as vessels in a ring around each spot (the normal retina beside a bright
// lesion, which a background estimate raised by the lesion makes look dark).
// The lesions must not add more than 1% of the rings over the photograph
// without them (vessels-1.1.0 added 1.9%, vessels-2.0.0 0.3%).
func TestBrightLesionsAreNotVessels(t *testing.T) {
	t.Parallel()
	s := Synth(SynthOptions{Width: 1024, Height: 1024, Seed: 7, Vessels: 3})
	b := s.Image.Bounds()
	W, H := b.Dx(), b.Dy()
	D := 0.92 * float64(min(W, H))
	rad := D / 60
	ring := D / 30
	rng := rand.New(rand.NewPCG(7, 7))
	type spot struct{ x, y float64 }
	var spots []spot
	far := func(x, y, d float64) bool { // no true vessel within d
		for yy := int(y - d); yy <= int(y+d); yy++ {
			for xx := int(x - d); xx <= int(x+d); xx++ {
				if xx < 0 || yy < 0 || xx >= W || yy >= H {
					return false
				}
				if s.Vessels.Pix[yy*W+xx] != 0 || s.FOV.Pix[yy*W+xx] == 0 {
					return false
				}
			}
		}
		return true
	}
	for tries := 0; len(spots) < 10 && tries < 5000; tries++ {
		x, y := rng.Float64()*float64(W), rng.Float64()*float64(H)
		if !far(x, y, rad+ring/2) {
			continue
		}
		ok := true
		for _, p := range spots {
			if math.Hypot(p.x-x, p.y-y) < 2*(rad+ring) {
				ok = false
			}
		}
		if ok {
			spots = append(spots, spot{x, y})
		}
	}
	if len(spots) < 6 {
		t.Fatalf("only %d places for lesions", len(spots))
	}
	withLesions := image.NewRGBA(b)
	draw.Draw(withLesions, b, s.Image, b.Min, draw.Src)
	inRing := make([]bool, W*H)
	for _, p := range spots {
		for y := int(p.y - rad - ring); y <= int(p.y+rad+ring); y++ {
			for x := int(p.x - rad - ring); x <= int(p.x+rad+ring); x++ {
				d := math.Hypot(float64(x)-p.x, float64(y)-p.y)
				switch {
				case d <= rad:
					withLesions.Set(x, y, color.RGBA{250, 235, 150, 255})
				case d <= rad+ring && s.Vessels.Pix[y*W+x] == 0:
					inRing[y*W+x] = true
				}
			}
		}
	}
	marked := func(m *image.Gray) float64 {
		var n, k float64
		for i, in := range inRing {
			if in {
				n++
				if m.Pix[i] != 0 {
					k++
				}
			}
		}
		return k / n
	}
	clean := marked(mustAnalyze(t, s.Image).VesselMap)
	lesioned := marked(mustAnalyze(t, withLesions).VesselMap)
	t.Logf("%d lesions: %.1f%% of the rings around them marked as vessel (%.1f%% without the lesions)", len(spots), 100*lesioned, 100*clean)
	if lesioned > clean+0.01 {
		t.Errorf("bright lesions: %.1f%% of the retina around them marked as vessel, %.1f%% without them; want at most 1%% more",
			100*lesioned, 100*clean)
	}
}
