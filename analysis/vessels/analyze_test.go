package vessels

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"aura/analysis"
)

// TestAccuracy measures the segmentation against the ground truth of
// synthetic images of several sizes and seeds (run with -v to see the
// figures; docs/analysis.md quotes them).
func TestAccuracy(t *testing.T) {
	cases := []SynthOptions{
		{Width: 512, Height: 512, Seed: 1},
		{Width: 512, Height: 512, Seed: 2},
		{Width: 1024, Height: 1024, Seed: 3},
		{Width: 1024, Height: 768, Seed: 4},
		{Width: 2048, Height: 2048, Seed: 5},
	}
	if testing.Short() || raceOn {
		cases = cases[:2]
	}
	var sumDice float64
	for _, c := range cases {
		s := Synth(c)
		res := mustAnalyze(t, s.Image)
		a := compare(s.Vessels, s.FOV, res.VesselMap)
		sumDice += a.dice
		t.Logf("%4dx%-4d seed %d: Dice %.3f sensitivity %.3f specificity %.3f density %.3f (truth %.3f) quality %.2f",
			c.Width, c.Height, c.Seed, a.dice, a.sensitivity, a.specificity, res.Metrics.VesselDensity, a.gtDensity, res.Quality)
		if !res.Gradable {
			t.Errorf("%dx%d seed %d: a clean synthetic image is not gradable: %v", c.Width, c.Height, c.Seed, res.QualityDetail.Reasons)
			continue
		}
		if a.dice < 0.75 || a.sensitivity < 0.7 || a.specificity < 0.95 {
			t.Errorf("%dx%d seed %d: Dice %.3f sensitivity %.3f specificity %.3f, want >= 0.75, 0.7, 0.95", c.Width, c.Height, c.Seed, a.dice, a.sensitivity, a.specificity)
		}
		if r := res.Metrics.VesselDensity / a.gtDensity; r < 0.7 || r > 1.3 {
			t.Errorf("%dx%d seed %d: density %.3f is %.0f%% of the truth %.3f, want within 30%%", c.Width, c.Height, c.Seed, res.Metrics.VesselDensity, 100*r, a.gtDensity)
		}
		m := res.Metrics
		if m.FractalDimension < 1 || m.FractalDimension > 2 || m.Tortuosity < 1 || m.MeanVesselWidthPx <= 0 {
			t.Errorf("metrics out of range: %+v", *m)
		}
	}
	t.Logf("mean Dice %.3f over %d images", sumDice/float64(len(cases)), len(cases))
}

// TestAccuracyDegraded reports how the segmentation holds up on noisier and
// softer images that are still gradable.
func TestAccuracyDegraded(t *testing.T) {
	for _, c := range []SynthOptions{
		{Width: 512, Height: 512, Seed: 1, Noise: 5},
		{Width: 512, Height: 512, Seed: 1, Blur: 1.5},
		{Width: 1024, Height: 1024, Seed: 3, Noise: 8, Blur: 2},
	} {
		s := Synth(c)
		res := mustAnalyze(t, s.Image)
		a := compare(s.Vessels, s.FOV, res.VesselMap)
		t.Logf("%4dx%-4d noise %.0f blur %.1f: Dice %.3f sensitivity %.3f specificity %.3f density %.3f (truth %.3f) quality %.2f gradable %v",
			c.Width, c.Height, c.Noise, c.Blur, a.dice, a.sensitivity, a.specificity, a.density, a.gtDensity, res.Quality, res.Gradable)
		if res.Gradable && a.dice < 0.6 {
			t.Errorf("gradable but Dice %.3f < 0.6", a.dice)
		}
	}
}

// meanMetrics analyses the images of opts over seeds and averages their metrics.
func meanMetrics(t *testing.T, opts SynthOptions, seeds ...uint64) analysis.Metrics {
	t.Helper()
	var m analysis.Metrics
	for _, seed := range seeds {
		opts.Seed = seed
		res := mustAnalyze(t, Synth(opts).Image)
		if !res.Gradable {
			t.Fatalf("%+v: not gradable: %v", opts, res.QualityDetail.Reasons)
		}
		m.VesselDensity += res.Metrics.VesselDensity / float64(len(seeds))
		m.FractalDimension += res.Metrics.FractalDimension / float64(len(seeds))
		m.Tortuosity += res.Metrics.Tortuosity / float64(len(seeds))
		m.MeanVesselWidthPx += res.Metrics.MeanVesselWidthPx / float64(len(seeds))
	}
	return m
}

// TestMetricsRespond: more vessels, wider vessels and curvier vessels move
// the metrics the right way.
func TestMetricsRespond(t *testing.T) {
	base := SynthOptions{Width: 768, Height: 768}
	seeds := []uint64{11, 12}

	few, many := base, base
	few.Vessels, many.Vessels = 2, 7
	mf, mm := meanMetrics(t, few, seeds...), meanMetrics(t, many, seeds...)
	t.Logf("2 trunks: %+v", mf)
	t.Logf("7 trunks: %+v", mm)
	if mm.VesselDensity <= mf.VesselDensity*1.3 {
		t.Errorf("more vessels: density %.3f -> %.3f, want clearly higher", mf.VesselDensity, mm.VesselDensity)
	}
	if mm.FractalDimension <= mf.FractalDimension {
		t.Errorf("more vessels: fractal dimension %.3f -> %.3f, want higher", mf.FractalDimension, mm.FractalDimension)
	}

	thin, wide := base, base
	thin.VesselWidth, wide.VesselWidth = 0.009, 0.02
	mt, mw := meanMetrics(t, thin, seeds...), meanMetrics(t, wide, seeds...)
	t.Logf("thin: %+v", mt)
	t.Logf("wide: %+v", mw)
	if mw.VesselDensity <= mt.VesselDensity*1.2 {
		t.Errorf("wider vessels: density %.3f -> %.3f, want clearly higher", mt.VesselDensity, mw.VesselDensity)
	}
	if mw.MeanVesselWidthPx <= mt.MeanVesselWidthPx*1.1 {
		t.Errorf("wider vessels: width %.2f -> %.2f px, want clearly higher", mt.MeanVesselWidthPx, mw.MeanVesselWidthPx)
	}

	straight, curvy := base, base
	straight.Curviness, curvy.Curviness = 1e-9, 0.8
	ms, mc := meanMetrics(t, straight, seeds...), meanMetrics(t, curvy, seeds...)
	t.Logf("straight: %+v", ms)
	t.Logf("curvy: %+v", mc)
	if mc.Tortuosity <= ms.Tortuosity+0.05 {
		t.Errorf("curvier vessels: tortuosity %.3f -> %.3f, want clearly higher", ms.Tortuosity, mc.Tortuosity)
	}
	if ms.Tortuosity > 1.1 {
		t.Errorf("nearly straight vessels: tortuosity %.3f, want close to 1", ms.Tortuosity)
	}
}

// TestWidthInOriginalPixels: the same picture at twice the resolution has
// vessels twice as wide in pixels.
func TestWidthInOriginalPixels(t *testing.T) {
	small := mustAnalyze(t, Synth(SynthOptions{Width: 640, Height: 640, Seed: 7}).Image)
	large := mustAnalyze(t, Synth(SynthOptions{Width: 1600, Height: 1600, Seed: 7}).Image)
	r := large.Metrics.MeanVesselWidthPx / small.Metrics.MeanVesselWidthPx
	t.Logf("width %.2f px at 640, %.2f px at 1600 (ratio %.2f, expected 2.5)", small.Metrics.MeanVesselWidthPx, large.Metrics.MeanVesselWidthPx, r)
	if r < 2 || r > 3 {
		t.Errorf("width ratio %.2f, want about 2.5", r)
	}
}

func uniform(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r, g, b, a := c.RGBA()
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(r>>8), uint8(g>>8), uint8(b>>8), uint8(a>>8)
	}
	return img
}

// TestQuality: poor images score lower and are not gradable, with a reason;
// a clean one is gradable.
func TestQuality(t *testing.T) {
	clean := mustAnalyze(t, Synth(SynthOptions{Seed: 21}).Image)
	t.Logf("clean: quality %.2f %+v", clean.Quality, clean.QualityDetail)
	if !clean.Gradable || clean.Quality < 0.9 || clean.Metrics == nil || clean.Confidence == nil {
		t.Fatalf("clean synthetic: gradable %v quality %.2f, want gradable with quality >= 0.9", clean.Gradable, clean.Quality)
	}
	for _, c := range []struct {
		name   string
		img    image.Image
		reason string
	}{
		{"blurred", Synth(SynthOptions{Seed: 21, Blur: 5}).Image, "focus"},
		{"very dark", Synth(SynthOptions{Seed: 21, Exposure: 0.12}).Image, "dark"},
		{"overexposed", Synth(SynthOptions{Seed: 21, Exposure: 3}).Image, "overexposed"},
		{"very noisy", Synth(SynthOptions{Seed: 21, Noise: 25}).Image, "noisy"},
		{"no field of view (uniform grey)", uniform(512, 512, color.Gray{128}), "field of view"},
		{"small field of view", Synth(SynthOptions{Seed: 21, FOVRadius: 0.3}).Image, "too small"},
	} {
		res := mustAnalyze(t, c.img)
		t.Logf("%s: quality %.2f gradable %v %+v", c.name, res.Quality, res.Gradable, res.QualityDetail)
		if res.Gradable {
			t.Errorf("%s: gradable, want not", c.name)
		}
		if res.Quality >= clean.Quality {
			t.Errorf("%s: quality %.2f, want below the clean image's %.2f", c.name, res.Quality, clean.Quality)
		}
		if res.Metrics != nil || res.Confidence != nil {
			t.Errorf("%s: metrics or confidence set on an ungradable image", c.name)
		}
		found := false
		for _, r := range res.QualityDetail.Reasons {
			found = found || bytes.Contains([]byte(r), []byte(c.reason))
		}
		if !found {
			t.Errorf("%s: reasons %q, want one about %q", c.name, res.QualityDetail.Reasons, c.reason)
		}
	}
	// Mild defocus lowers quality but stays gradable.
	soft := mustAnalyze(t, Synth(SynthOptions{Seed: 21, Blur: 1.5}).Image)
	if !soft.Gradable || soft.QualityDetail.Sharpness >= clean.QualityDetail.Sharpness {
		t.Errorf("mild blur: gradable %v sharpness %.2g (clean %.2g)", soft.Gradable, soft.QualityDetail.Sharpness, clean.QualityDetail.Sharpness)
	}
}

// enlarge returns img scaled to w x h by nearest neighbour (a quick way to a
// 40-megapixel fundus image).
func enlarge(img *image.RGBA, w, h int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sw, sh := img.Rect.Dx(), img.Rect.Dy()
	for y := 0; y < h; y++ {
		sy := y * sh / h
		row := out.Pix[y*out.Stride:]
		for x := 0; x < w; x++ {
			sx := x * sw / w
			copy(row[4*x:4*x+4], img.Pix[sy*img.Stride+4*sx:])
		}
	}
	return out
}

func jpegOf(t *testing.T, img image.Image) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRobustness: odd inputs give a result of the right size, never a panic.
func TestRobustness(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}
	gray := image.NewGray(image.Rect(0, 0, 300, 300))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(rng.IntN(256))
	}
	synth := Synth(SynthOptions{Width: 700, Height: 600, Seed: 5}).Image
	nrgba := image.NewNRGBA(synth.Rect)
	copy(nrgba.Pix, synth.Pix)
	pal := image.NewPaletted(image.Rect(0, 0, 400, 400), color.Palette{color.Black, color.RGBA{200, 90, 40, 255}})
	for y := 40; y < 360; y++ {
		for x := 40; x < 360; x++ {
			if (x-200)*(x-200)+(y-200)*(y-200) < 150*150 {
				pal.SetColorIndex(x, y, 1)
			}
		}
	}
	big := enlarge(Synth(SynthOptions{Width: 1000, Height: 625, Seed: 6}).Image, 8000, 5000)
	cases := []struct {
		name     string
		img      image.Image
		gradable *bool
	}{
		{"random noise", noise, ptr(false)},
		{"all black", uniform(512, 512, color.Black), ptr(false)},
		{"all white", uniform(512, 512, color.White), ptr(false)},
		{"grey noise", gray, ptr(false)},
		{"256x256 synthetic", Synth(SynthOptions{Width: 256, Height: 256, Seed: 3}).Image, nil},
		{"1x1", uniform(1, 1, color.White), ptr(false)},
		{"3x2000", uniform(3, 2000, color.RGBA{200, 90, 40, 255}), ptr(false)},
		{"4000x40 synthetic", Synth(SynthOptions{Width: 4000, Height: 40, Seed: 3}).Image, ptr(false)},
		{"JPEG (YCbCr 4:2:0)", jpegOf(t, synth), ptr(true)},
		{"NRGBA", nrgba, ptr(true)},
		{"sub-image with an offset origin", synth.SubImage(image.Rect(50, 20, 650, 590)), nil},
		{"paletted flat disc", pal, nil},
		{"8000x5000 (40 MP)", big, ptr(true)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res, err := analyze(context.Background(), c.img)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			b := c.img.Bounds()
			if res.VesselMap == nil || res.VesselMap.Rect.Dx() != b.Dx() || res.VesselMap.Rect.Dy() != b.Dy() {
				t.Fatalf("vessel map %v, want %dx%d", res.VesselMap.Rect, b.Dx(), b.Dy())
			}
			for _, v := range res.VesselMap.Pix {
				if v != 0 && v != 255 {
					t.Fatalf("vessel map has value %d, want 0 or 255", v)
				}
			}
			if res.Quality < 0 || res.Quality > 1 || math.IsNaN(res.Quality) {
				t.Errorf("quality %v out of 0..1", res.Quality)
			}
			if c.gradable != nil && res.Gradable != *c.gradable {
				t.Errorf("gradable %v, want %v (%v)", res.Gradable, *c.gradable, res.QualityDetail.Reasons)
			}
			if res.Gradable != (res.Metrics != nil) {
				t.Errorf("gradable %v but metrics %v", res.Gradable, res.Metrics)
			}
			t.Logf("gradable %v quality %.2f reasons %q metrics %+v (%v)", res.Gradable, res.Quality, res.QualityDetail.Reasons, res.Metrics, time.Since(start).Round(time.Millisecond))
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestErrors: what Analyze refuses, and cancellation.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Analyze(ctx, nil); !errors.Is(err, ErrNoImage) {
		t.Errorf("nil image: %v", err)
	}
	if _, err := Analyze(ctx, image.NewRGBA(image.Rect(0, 0, 0, 10))); !errors.Is(err, ErrNoImage) {
		t.Errorf("empty image: %v", err)
	}
	// image.Uniform is "infinitely" large.
	if _, err := Analyze(ctx, image.NewUniform(color.White)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("uniform image: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Analyze(cancelled, Synth(SynthOptions{}).Image); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// A deadline that expires during the analysis stops it.
	img := Synth(SynthOptions{Width: 2048, Height: 2048, Seed: 1}).Image
	short, cancel2 := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel2()
	if _, err := Analyze(short, img); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
}

// TestExamples writes input | vessel map | ground truth images to
// /tmp/vessels-*.png for a person to look at.
func TestExamples(t *testing.T) {
	if testing.Short() || raceOn {
		t.Skip("examples")
	}
	for _, c := range []SynthOptions{
		{Width: 768, Height: 768, Seed: 1},
		{Width: 1024, Height: 768, Seed: 4, Curviness: 0.8},
		{Width: 768, Height: 768, Seed: 9, Blur: 1.5, Noise: 4},
	} {
		s := Synth(c)
		res := mustAnalyze(t, s.Image)
		path := fmt.Sprintf("/tmp/vessels-example-%dx%d-seed%d.png", c.Width, c.Height, c.Seed)
		saveSideBySide(t, path, s.Image, res.VesselMap, s.Vessels)
		t.Logf("%s: %+v", path, res.Metrics)
	}
}
