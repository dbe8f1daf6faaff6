package vessels

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"aura/analysis"
)

// avAgreement compares an artery/vein map with a generated photograph's
// truth: of the true artery and vein pixels the map classifies (red or
// blue), the fraction classified right, and the fraction of the true
// vessel pixels it classifies at all.
func avAgreement(t *testing.T, m image.Image, s Synthetic) (accuracy, classified float64) {
	t.Helper()
	b := m.Bounds()
	var right, wrong, truth int
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			i := y*b.Dx() + x
			art, vein := s.Arteries.Pix[i] != 0, s.Veins.Pix[i] != 0
			if !art && !vein {
				continue
			}
			truth++
			r, _, bl, _ := m.At(x, y).RGBA()
			switch {
			case r > 0x8000 && bl < 0x8000: // red: artery
				if art {
					right++
				} else {
					wrong++
				}
			case bl > 0x8000 && r < 0x8000: // blue: vein
				if vein {
					right++
				} else {
					wrong++
				}
			}
		}
	}
	if right+wrong == 0 || truth == 0 {
		return 0, 0
	}
	return float64(right) / float64(right+wrong), float64(right+wrong) / float64(truth)
}

// trueCalibre is Knudtson's summary of the generated vessels crossing the
// middle of zone B.
func trueCalibre(s Synthetic) (crae, crve *float64) {
	var a, v []float64
	for _, c := range s.ZoneB {
		if c.Artery {
			a = append(a, c.Width)
		} else {
			v = append(v, c.Width)
		}
	}
	return knudtson(a, knudtsonArtery), knudtson(v, knudtsonVein)
}

// saveTmp writes img as PNG to $AURA_TEST_SAVE/name when that is set (to
// look at the results).
func saveTmp(t *testing.T, name string, img image.Image) {
	dir := os.Getenv("AURA_TEST_SAVE")
	if dir == "" || img == nil {
		return
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func ptrVal(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// TestDiscAndArteriesVeinsOnGenerated analyses generated photographs whose
// generator draws the optic disc, and arteries and veins in distinct
// colours (veins wider and darker, arteries lighter with a central
// reflex), and checks the disc's place and size, the classification, and
// CRAE, CRVE and AVR against the generator's own vessels.
func TestDiscAndArteriesVeinsOnGenerated(t *testing.T) {
	t.Parallel()
	cases := []SynthOptions{
		{Width: 768, Height: 768, Seed: 11, Vessels: 4, ArteriesVeins: true},
		{Width: 1024, Height: 1024, Seed: 12, Vessels: 6, ArteriesVeins: true},
		{Width: 1024, Height: 900, Seed: 13, Vessels: 4, ArteriesVeins: true, Gradient: 0.25},
		{Width: 2048, Height: 2048, Seed: 14, Vessels: 6, ArteriesVeins: true},
	}
	var accSum float64
	defer func() {
		mean := accSum / float64(len(cases))
		t.Logf("mean A/V accuracy %.3f", mean)
		if mean < 0.82 {
			t.Errorf("mean A/V accuracy %.3f, want >= 0.82", mean)
		}
	}()
	for _, o := range cases {
		s := Synth(o)
		res, err := Analyze(context.Background(), s.Image)
		if err != nil {
			t.Fatal(err)
		}
		name := func(suffix string) string {
			return "synth_" + string(rune('0'+o.Seed%10)) + "_" + suffix + ".png"
		}
		saveTmp(t, name("overlay"), res.Overlay)
		if !res.Gradable || res.Metrics == nil {
			t.Fatalf("seed %d: not gradable: %v", o.Seed, res.QualityDetail.Reasons)
		}
		d := res.OpticDisc
		if d == nil {
			t.Fatalf("seed %d: disc not found (truth %+v)", o.Seed, s.Disc)
		}
		off := math.Hypot(d.X-s.Disc.X, d.Y-s.Disc.Y)
		t.Logf("seed %d %dx%d: disc (%.0f, %.0f) r %.1f, truth (%.0f, %.0f) r %.1f: off %.1f px (%.0f%% of r), radius %+.0f%%",
			o.Seed, o.Width, o.Height, d.X, d.Y, d.Radius, s.Disc.X, s.Disc.Y, s.Disc.Radius, off, 100*off/s.Disc.Radius,
			100*(d.Radius/s.Disc.Radius-1))
		if off > 0.5*s.Disc.Radius {
			t.Errorf("seed %d: disc centre %.1f px off, more than half its radius", o.Seed, off)
		}
		if math.Abs(d.Radius/s.Disc.Radius-1) > 0.3 {
			t.Errorf("seed %d: disc radius %.1f against %.1f", o.Seed, d.Radius, s.Disc.Radius)
		}
		acc, cls := avAgreement(t, res.AVMap, s)
		m := res.Metrics
		tcrae, tcrve := trueCalibre(s)
		t.Logf("seed %d: A/V accuracy %.3f of the classified true vessel pixels (%.0f%% classified); crae %.2f (truth %.2f) crve %.2f (truth %.2f) avr %.3f (truth %.3f); densities artery %.3f vein %.3f",
			o.Seed, acc, 100*cls, ptrVal(m.CRAE), ptrVal(tcrae), ptrVal(m.CRVE), ptrVal(tcrve), ptrVal(m.AVR),
			ptrVal(tcrae)/ptrVal(tcrve), ptrVal(m.ArteryDensity), ptrVal(m.VeinDensity))
		accSum += acc
		if acc < 0.75 || cls < 0.6 {
			t.Errorf("seed %d: A/V accuracy %.3f (want >= 0.75) over %.2f classified (want >= 0.6)", o.Seed, acc, cls)
		}
		if m.CRAE == nil || m.CRVE == nil || m.AVR == nil || m.ArteryDensity == nil || m.VeinDensity == nil {
			t.Fatalf("seed %d: disc metrics missing: %+v", o.Seed, m)
		}
		if math.Abs(*m.AVR/(*tcrae / *tcrve)-1) > 0.25 {
			t.Errorf("seed %d: AVR %.3f against the generator's %.3f", o.Seed, *m.AVR, *tcrae / *tcrve)
		}
		if *m.AVR >= 1 {
			t.Errorf("seed %d: AVR %.3f: the generator's arteries are narrower than its veins", o.Seed, *m.AVR)
		}
	}
}

// TestDiscOutsideTheField: a photograph whose optic disc is beyond the
// field of view's rim reports no disc, and null disc metrics.
func TestDiscOutsideTheField(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{21, 22, 23} {
		s := Synth(SynthOptions{Width: 768, Height: 768, Seed: seed, Vessels: 4, ArteriesVeins: true, DiscOutside: true})
		res, err := Analyze(context.Background(), s.Image)
		if err != nil {
			t.Fatal(err)
		}
		saveTmp(t, "outside_"+string(rune('0'+seed%10))+".png", res.Overlay)
		if !res.Gradable {
			t.Fatalf("seed %d: not gradable", seed)
		}
		if res.OpticDisc != nil {
			t.Errorf("seed %d: disc found at %+v, outside the field at %+v", seed, *res.OpticDisc, s.Disc)
		}
		m := res.Metrics
		if m.CRAE != nil || m.CRVE != nil || m.AVR != nil || m.ArteryDensity != nil || m.VeinDensity != nil {
			t.Errorf("seed %d: disc metrics without a disc: %+v", seed, m)
		}
	}
}

// TestKnudtson checks the revised formulas on hand-worked figures.
func TestKnudtson(t *testing.T) {
	if knudtson(nil, knudtsonArtery) != nil {
		t.Error("no widths: want nil")
	}
	if got := *knudtson([]float64{10}, knudtsonArtery); got != 10 {
		t.Errorf("one width: %v", got)
	}
	// Two: 0.88 * sqrt(3^2 + 4^2) = 4.4.
	if got := *knudtson([]float64{3, 4}, knudtsonArtery); math.Abs(got-4.4) > 1e-9 {
		t.Errorf("two widths: %v", got)
	}
	// Six equal widths w: round 1 gives three of 0.95*sqrt2*w; round 2
	// pairs two of them and carries one; round 3 pairs the two left.
	w := 10.0
	k := knudtsonVein
	r1 := k * math.Sqrt2 * w
	r2 := k * math.Sqrt2 * r1
	want := k * math.Sqrt(r2*r2+r1*r1)
	if got := *knudtson([]float64{w, w, w, w, w, w, 1, 2}, k); math.Abs(got-want) > 1e-9 {
		t.Errorf("six of eight: %v, want %v", got, want)
	}
}

var _ = analysis.ColorArtery

// TestDiscAmongBrightLesions: bright yellow-white exudate-like patches (as
// bright as the disc, some as large as a third of it, one large cluster)
// do not take the disc's place.
func TestDiscAmongBrightLesions(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{31, 32, 33} {
		s := Synth(SynthOptions{Width: 1024, Height: 1024, Seed: seed, Vessels: 4, ArteriesVeins: true})
		b := s.Image.Bounds()
		img := image.NewRGBA(b)
		copy(img.Pix, s.Image.Pix)
		rng := rand.New(rand.NewPCG(seed, 3))
		R := 0.92 * 512.0
		n := 0
		for tries := 0; n < 14 && tries < 2000; tries++ {
			// Lesions within 0.8 R of the centre, at least 3 disc radii from the disc.
			a, d := rng.Float64()*2*math.Pi, 0.8*R*math.Sqrt(rng.Float64())
			x, y := 512+d*math.Cos(a), 512+d*math.Sin(a)
			if math.Hypot(x-s.Disc.X, y-s.Disc.Y) < 3*s.Disc.Radius {
				continue
			}
			r := s.Disc.Radius * (0.15 + 0.2*rng.Float64())
			for yy := int(y - r); yy <= int(y+r); yy++ {
				for xx := int(x - r); xx <= int(x+r); xx++ {
					if math.Hypot(float64(xx)-x, float64(yy)-y) <= r {
						img.Set(xx, yy, color.RGBA{250, 235, 160, 255})
					}
				}
			}
			n++
		}
		res, err := Analyze(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		saveTmp(t, "lesions_"+string(rune('0'+seed%10))+".png", res.Overlay)
		d := res.OpticDisc
		if d == nil {
			t.Errorf("seed %d: %d lesions: no disc found", seed, n)
			continue
		}
		off := math.Hypot(d.X-s.Disc.X, d.Y-s.Disc.Y)
		t.Logf("seed %d: %d lesions; disc %.1f px off (radius %.1f, truth %.1f)", seed, n, off, d.Radius, s.Disc.Radius)
		if off > 0.5*s.Disc.Radius {
			t.Errorf("seed %d: disc found %.1f px from the true one, among %d bright lesions", seed, off, n)
		}
	}
}
