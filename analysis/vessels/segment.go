package vessels

import (
	"context"
	"math"
)

// Segmentation parameters, in units of the field of view's diameter D (in
// working pixels) so that they follow the image's scale.
const (
	// presmooth is the Gaussian sigma that takes the noise off the green
	// channel (at least 0.7 px). It is kept small: a vessel's edge is where
	// its contrast falls to half the peak, and smoothing widens a thin
	// vessel's profile (at D/900 thin vessels came out about a pixel too
	// wide, the mean width 8-12% too large on the accuracy test's images; at
	// D/1400, 2-4%).
	presmooth = 1.0 / 1400
	// closeRadius is the half side of the square of the closing: twice the
	// widest vessel expected (about D/55) fits comfortably inside its side.
	closeRadius = 1.0 / 80
	// lineScale is the smallest Hessian scale; scales are 1, 2 and 4 times it
	// (at least 0.7 px).
	lineScale = 1.0 / 920
	// kHigh and kLow are the hysteresis thresholds in robust standard
	// deviations of the contrast over the field of view; highFloor and
	// lowFloor are floors on the relative contrast itself.
	kHigh, highFloor = 3.5, 0.035
	kLow, lowFloor   = 1.5, 0.015
	// minArea is the smallest vessel component kept, as a fraction of D^2.
	minArea = 1.0 / 20000
)

// segmentation holds the intermediate planes, for tests and examples.
type segmentation struct {
	contrast *plane // relative darkness against the closed background
	vessels  *mask
	lo, hi   float64
}

// segment finds the vessels in the analysed field of view of the working
// image:
//
//  1. green channel (vessels contrast best there), outside the field of view
//     set to black, lightly smoothed;
//  2. background by a greyscale closing with a square wider than any vessel
//     (the closing fills dark structures narrower than the square and keeps
//     broad shading, the optic disc's edge and the macula); contrast =
//     (background - green) / background, the relative darkness of a pixel;
//  3. robust noise level: median and MAD of the contrast in the field of view;
//  4. Hessian line measure at three scales: a pixel is line-like where the
//     contrast has a ridge (one strongly negative eigenvalue, the other
//     small);
//  5. hysteresis: seeds are line-like pixels whose contrast is above a high
//     threshold; the vessel is every pixel connected to a seed whose contrast
//     is above a low threshold and at least half the local peak contrast
//     (the full width at half maximum of the vessel's profile);
//  6. components smaller than minArea are dropped.
func segment(ctx context.Context, wk *working, f fov) (*segmentation, error) {
	D := math.Max(f.diameter, 1)
	w, h := wk.g.w, wk.g.h
	g := wk.g.clone()
	for i, in := range f.lit.m {
		if !in {
			g.p[i] = 0
		}
	}
	g = blur(g, math.Max(0.7, D*presmooth))
	r := max(2, int(math.Round(D*closeRadius)))
	bg := closing(g, r)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := newPlane(w, h)
	for i := range c.p {
		b := max(bg.p[i], 0.05)
		c.p[i] = (bg.p[i] - g.p[i]) / b
	}
	med, mad := medianMAD(sampleIn(c, f.analysed, 200000))
	sd := 1.4826 * mad
	hi := math.Max(med+kHigh*sd, highFloor)
	lo := math.Max(med+kLow*sd, lowFloor)

	line := lineLike(ctx, c, math.Max(0.7, D*lineScale))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	peak := squareFilter(c, max(1, (r*3+4)/5), true)

	grow := newMask(w, h)
	for i, in := range f.analysed.m {
		v := float64(c.p[i])
		grow.m[i] = in && v > lo && v >= 0.5*float64(peak.p[i])
	}
	labels, sizes := components(grow)
	seeded := make([]bool, len(sizes))
	for i, l := range labels {
		if l != 0 && float64(c.p[i]) > hi && line.m[i] {
			seeded[l] = true
		}
	}
	minA := max(6, int(D*D*minArea))
	out := newMask(w, h)
	for i, l := range labels {
		out.m[i] = l != 0 && seeded[l] && sizes[l] >= minA
	}
	return &segmentation{contrast: c, vessels: out, lo: lo, hi: hi}, nil
}

// lineLike marks the pixels where the contrast c has a bright ridge at one of
// the scales s, 2s, 4s: the Hessian's most negative eigenvalue l2 < 0 and the
// other eigenvalue |l1| < |l2|/2 at the scale where s^2 |l2| is largest.
func lineLike(ctx context.Context, c *plane, s float64) *mask {
	w, h := c.w, c.h
	best := make([]float32, w*h)
	out := newMask(w, h)
	for _, sigma := range []float64{s, 2 * s, 4 * s} {
		if ctx.Err() != nil {
			return out
		}
		b := blur(c, sigma)
		norm := float32(sigma * sigma)
		for y := 1; y < h-1; y++ {
			for x := 1; x < w-1; x++ {
				i := y*w + x
				dxx := b.p[i-1] - 2*b.p[i] + b.p[i+1]
				dyy := b.p[i-w] - 2*b.p[i] + b.p[i+w]
				dxy := (b.p[i+w+1] - b.p[i+w-1] - b.p[i-w+1] + b.p[i-w-1]) / 4
				m := (dxx + dyy) / 2
				d := float32(math.Sqrt(float64((dxx-dyy)*(dxx-dyy)/4 + dxy*dxy)))
				l2 := m - d // most negative
				l1 := m + d
				if l2 >= 0 {
					continue
				}
				v := -l2 * norm
				if v > best[i] {
					best[i] = v
					out.m[i] = abs32(l1) < -l2/2
				}
			}
		}
	}
	return out
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
