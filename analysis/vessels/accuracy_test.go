package vessels

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"strings"
	"testing"

	"aura/analysis"
)

// accuracyCase is one synthetic photograph of the accuracy test: seeded,
// with an illumination gradient, sensor noise and JPEG compression, the
// number of vessel trees and their winding varying with the seed.
func accuracyCase(size int, k int) SynthOptions {
	return SynthOptions{
		Width: size, Height: size,
		Seed:      uint64(100 + k),
		Vessels:   2 + k%3,
		Curviness: []float64{0.2, 0.45, 0.3}[k%3],
		Gradient:  0.3,
		Noise:     3,
	}
}

// accuracyJPEGQuality is the JPEG quality the test images are saved at (a
// camera's or a phone's usual setting).
const accuracyJPEGQuality = 85

type accuracyRow struct {
	opts             SynthOptions
	dice, baseDice   float64
	sens, baseSens   float64
	truth, got, base analysis.Metrics
	quality          float64
	gradable         bool
}

// TestAccuracyAgainstBaseline measures the analyzer and the textbook
// baseline (baseline_test.go) on seeded synthetic photographs of 1024² and
// 2048² against their ground truth: Dice inside the field of view, and each
// metric against the same metric computed by the same code (measure) from the
// true vessel mask in the true field of view. It asserts, per size, mean
// Dice >= 0.8, the analyzer's mean Dice >= the baseline's, and every
// image's vesselDensity within 20% of the truth. Run with -v for the table
// (docs/analysis.md quotes it):
//
//	go test ./analysis/vessels -run AccuracyAgainstBaseline -v
func TestAccuracyAgainstBaseline(t *testing.T) {
	sizes, seeds := []int{1024, 2048}, 3
	if testing.Short() || raceOn {
		sizes, seeds = []int{1024}, 2
	}
	var table strings.Builder
	table.WriteString("\n| image | seed | Dice: vessels / baseline | sensitivity: vessels / baseline | density: truth / vessels / baseline | fractal dim.: truth / vessels / baseline | tortuosity: truth / vessels / baseline | width px: truth / vessels / baseline |\n")
	table.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	// The photographs are analysed in parallel subtests (as many at once as
	// -parallel allows, GOMAXPROCS by default), the figures gathered after.
	all := make(map[int][]accuracyRow)
	for _, size := range sizes {
		all[size] = make([]accuracyRow, seeds)
	}
	t.Run("images", func(t *testing.T) {
		for _, size := range sizes {
			for k := 0; k < seeds; k++ {
				o := accuracyCase(size, k)
				t.Run(fmt.Sprintf("%d/seed%d", size, o.Seed), func(t *testing.T) {
					t.Parallel()
					all[size][k] = accuracyOne(t, o)
				})
			}
		}
	})
	if t.Failed() {
		return
	}
	var summary strings.Builder
	for _, size := range sizes {
		rows := all[size]
		for _, r := range rows {
			fmt.Fprintf(&table, "| %d² | %d | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.2f / %.2f / %.2f |\n",
				size, r.opts.Seed, r.dice, r.baseDice, r.sens, r.baseSens,
				r.truth.VesselDensity, r.got.VesselDensity, r.base.VesselDensity,
				r.truth.FractalDimension, r.got.FractalDimension, r.base.FractalDimension,
				r.truth.Tortuosity, r.got.Tortuosity, r.base.Tortuosity,
				r.truth.MeanVesselWidthPx, r.got.MeanVesselWidthPx, r.base.MeanVesselWidthPx)
			if !r.gradable {
				t.Errorf("%d² seed %d: not gradable (quality %.2f)", size, r.opts.Seed, r.quality)
				continue
			}
			if e := relErr(r.got.VesselDensity, r.truth.VesselDensity); math.Abs(e) > 0.20 {
				t.Errorf("%d² seed %d: vesselDensity %.4f, truth %.4f: error %+.0f%%, want within 20%%",
					size, r.opts.Seed, r.got.VesselDensity, r.truth.VesselDensity, 100*e)
			}
		}
		// Means over the seeds: Dice, and the mean absolute error of each
		// metric (relative for density and width, absolute for the
		// dimensionless fractal dimension and tortuosity).
		var m, mb struct{ dice, dens, fd, tort, width float64 }
		n := float64(len(rows))
		for _, r := range rows {
			m.dice += r.dice / n
			mb.dice += r.baseDice / n
			m.dens += math.Abs(relErr(r.got.VesselDensity, r.truth.VesselDensity)) / n
			mb.dens += math.Abs(relErr(r.base.VesselDensity, r.truth.VesselDensity)) / n
			m.fd += math.Abs(r.got.FractalDimension-r.truth.FractalDimension) / n
			mb.fd += math.Abs(r.base.FractalDimension-r.truth.FractalDimension) / n
			m.tort += math.Abs(r.got.Tortuosity-r.truth.Tortuosity) / n
			mb.tort += math.Abs(r.base.Tortuosity-r.truth.Tortuosity) / n
			m.width += math.Abs(relErr(r.got.MeanVesselWidthPx, r.truth.MeanVesselWidthPx)) / n
			mb.width += math.Abs(relErr(r.base.MeanVesselWidthPx, r.truth.MeanVesselWidthPx)) / n
		}
		fmt.Fprintf(&summary, "| %d² vessels | %.3f | %.1f%% | %.3f | %.3f | %.1f%% |\n", size, m.dice, 100*m.dens, m.fd, m.tort, 100*m.width)
		fmt.Fprintf(&summary, "| %d² baseline | %.3f | %.1f%% | %.3f | %.3f | %.1f%% |\n", size, mb.dice, 100*mb.dens, mb.fd, mb.tort, 100*mb.width)
		if m.dice < 0.8 {
			t.Errorf("%d²: mean Dice %.3f, want >= 0.8", size, m.dice)
		}
		if m.dice < mb.dice {
			t.Errorf("%d²: mean Dice %.3f below the baseline's %.3f", size, m.dice, mb.dice)
		}
	}
	t.Log(table.String())
	t.Logf("\n| size, method | mean Dice | density error | fractal dim. error | tortuosity error | width error |\n| --- | --- | --- | --- | --- | --- |\n%s", summary.String())
}

// accuracyOne makes one photograph, saves it as JPEG, and measures the
// analyzer and the baseline on the decoded JPEG against the truth.
func accuracyOne(t *testing.T, o SynthOptions) accuracyRow {
	t.Helper()
	s := Synth(o)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, s.Image, &jpeg.Options{Quality: accuracyJPEGQuality}); err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	res := mustAnalyze(t, img)
	base := baseline(img, s.FOV)
	a := compare(s.Vessels, s.FOV, res.VesselMap)
	ab := compare(s.Vessels, s.FOV, base)
	r := accuracyRow{
		opts: s.Options, dice: a.dice, baseDice: ab.dice, sens: a.sensitivity, baseSens: ab.sensitivity,
		truth:    maskMetrics(s.Vessels, s.FOV),
		base:     maskMetrics(base, s.FOV),
		quality:  res.Quality,
		gradable: res.Gradable,
	}
	if res.Metrics != nil {
		r.got = *res.Metrics
	}
	return r
}

// maskMetrics measures a full-resolution vessel mask v (255 = vessel) in the
// field of view fovMask with the analyzer's own measurement code: both are
// reduced to the working resolution as the analyzer reduces a photograph
// (area averaging; a working pixel is set when at least half covered), the
// vessels are kept inside the analysed (eroded) field of view, and measure
// computes the metrics.
func maskMetrics(v, fovMask *image.Gray) analysis.Metrics {
	W, H := v.Rect.Dx(), v.Rect.Dy()
	w, h, scale := workingSize(W, H, WorkingMaxSide)
	f := fovOf(reduceMask(fovMask, w, h))
	vm := reduceMask(v, w, h)
	for i, in := range f.analysed.m {
		vm.m[i] = vm.m[i] && in
	}
	return measure(vm, f, scale)
}

// reduceMask resamples a 0/255 mask to w x h by area averaging and sets the
// pixels more than half covered, and half of those exactly half covered (in
// a checkerboard): setting them all would widen every vessel by about half a
// pixel when the image is halved (an edge splits many 2 x 2 blocks in two),
// setting none would narrow it as much.
func reduceMask(g *image.Gray, w, h int) *mask {
	p := newPlane(g.Rect.Dx(), g.Rect.Dy())
	for i, v := range g.Pix {
		if v != 0 {
			p.p[i] = 1
		}
	}
	r := resample(p, w, h)
	m := newMask(w, h)
	for i, v := range r.p {
		m.m[i] = v > 0.5+1e-4 || v > 0.5-1e-4 && (i%w+i/w)%2 == 0
	}
	return m
}

func relErr(got, truth float64) float64 {
	if truth == 0 {
		return math.Inf(1)
	}
	return got/truth - 1
}
