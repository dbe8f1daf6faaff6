package vessels

import (
	"math"

	"aura/analysis"
)

// Quality thresholds. They were set on synthetic images (see
// docs/analysis.md) and are deliberately lenient: an image is refused only
// when it is clearly too dark, too bright, out of focus or not a fundus
// photograph with a visible field of view.
const (
	// focusDiameter is the field-of-view diameter, in pixels, at which focus
	// is judged (larger images are shrunk to it first), so that the focus
	// measure does not depend on the image's resolution.
	focusDiameter = 512
	// sharpLow and sharpHigh bound the focus ramp: a sharpness (see
	// sharpness) at or below sharpLow scores 0, at or above sharpHigh scores
	// 1, log-linear between.
	sharpLow  = 3e-5
	sharpHigh = 3e-4
	// noiseLow and noiseHigh bound the noise ramp: relative noise (at the
	// working resolution, where the vessels are segmented) up to noiseLow
	// costs nothing, at noiseHigh the exposure scores 0.
	noiseLow  = 0.06
	noiseHigh = 0.12
	// minFOVFraction is the fraction of the frame the field of view must
	// cover to score 1 (it scores 0 below a third of that).
	minFOVFraction = 0.25
	// gradableFloor: an image is gradable when each of exposure, focus and
	// field of view scores at least this.
	gradableFloor = 0.5
)

// ramp is 0 at or below lo, 1 at or above hi, linear between.
func ramp(v, lo, hi float64) float64 {
	if v <= lo {
		return 0
	}
	if v >= hi {
		return 1
	}
	return (v - lo) / (hi - lo)
}

// assessQuality scores the exposure (brightness, clipping, noise), focus and
// field of view of the working image.
func assessQuality(wk *working, f fov) analysis.Quality {
	var q analysis.Quality
	q.FOVFraction = f.fraction
	// Field of view.
	switch {
	case f.area == 0:
		q.Reasons = append(q.Reasons, "no lit field of view was found (the image is black or nearly so)")
	case !f.surround:
		q.Reasons = append(q.Reasons, "no round field of view with a dark surround was found (not a fundus photograph, or the field of view fills the frame)")
	default:
		q.FieldOfView = ramp(f.fraction, minFOVFraction/3, minFOVFraction)
		if f.diameter < 100 {
			q.FieldOfView = 0
		}
		if q.FieldOfView < gradableFloor {
			q.Reasons = append(q.Reasons, "the field of view is too small in the frame")
		}
	}
	// Exposure over the lit region (the whole frame when none was found).
	region := f.lit
	if f.area == 0 {
		region = &mask{w: f.lit.w, h: f.lit.h, m: make([]bool, len(f.lit.m))}
		for i := range region.m {
			region.m[i] = true
		}
	}
	var sum float64
	var n, clipped int
	for i, in := range region.m {
		if !in {
			continue
		}
		r, g, b := float64(wk.r.p[i]), float64(wk.g.p[i]), float64(wk.b.p[i])
		l := 0.299*r + 0.587*g + 0.114*b
		sum += l
		n++
		if g >= 0.98 || l >= 0.98 || l <= 0.01 {
			clipped++
		}
	}
	if n > 0 {
		q.Brightness = sum / float64(n)
		q.Clipped = float64(clipped) / float64(n)
	}
	if f.surround && f.area > 0 {
		q.Sharpness = sharpness(wk.g, f)
		q.Noise = pixelNoise(wk.g, f.analysed)
	}
	bright := math.Min(ramp(q.Brightness, 0.05, 0.15), 1-ramp(q.Brightness, 0.70, 0.90))
	clip := 1 - ramp(q.Clipped, 0.05, 0.30)
	quiet := 1 - ramp(q.Noise, noiseLow, noiseHigh)
	q.Exposure = bright * clip * quiet
	if q.Exposure < gradableFloor {
		switch {
		case quiet < gradableFloor && bright >= gradableFloor && clip >= gradableFloor:
			q.Reasons = append(q.Reasons, "the image is too noisy")
		case q.Brightness < 0.3:
			q.Reasons = append(q.Reasons, "the image is too dark")
		default:
			q.Reasons = append(q.Reasons, "the image is overexposed")
		}
	}
	// Focus.
	if f.surround && f.area > 0 {
		q.Focus = ramp(math.Log(math.Max(q.Sharpness, 1e-12)), math.Log(sharpLow), math.Log(sharpHigh))
		if q.Focus < gradableFloor {
			q.Reasons = append(q.Reasons, "the image is out of focus")
		}
	}
	q.Score = math.Cbrt(q.Exposure * q.Focus * q.FieldOfView)
	return q
}

// focusSigma is the scale, in pixels at focusDiameter, of the Laplacian of
// Gaussian that focus is measured with: coarse enough that pixel noise does
// not pass for detail, fine enough that a defocus of 1% of the field of view
// removes most of the response.
const focusSigma = 1.5

// sharpness measures focus: the variance of the Laplacian of Gaussian
// (sigma focusSigma, scale-normalised by sigma^4) of the green channel over
// the analysed field of view, less the part that the image's noise explains,
// divided by the squared mean green. The image is first shrunk so that the
// field of view is at most focusDiameter pixels across, so that the measure
// does not depend on the resolution. The noise is estimated from the median
// absolute value of the plain Laplacian (a sharp image's detail is sparse;
// noise is everywhere) and its share of the LoG's variance is computed from
// the operator's gain.
func sharpness(g *plane, f fov) float64 {
	s := math.Min(1, focusDiameter/math.Max(f.diameter, 1))
	w := max(3, int(float64(g.w)*s+0.5))
	h := max(3, int(float64(g.h)*s+0.5))
	gs := resample(g, w, h)
	in := &plane{w: f.analysed.w, h: f.analysed.h, p: make([]float32, len(f.analysed.m))}
	for i, v := range f.analysed.m {
		if v {
			in.p[i] = 1
		}
	}
	ins := resample(in, w, h)
	inside := newMask(w, h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			inside.m[y*w+x] = ins.p[y*w+x] >= 0.999
		}
	}
	n := inside.count()
	if n < 100 {
		return 0
	}
	lap0 := laplacian(gs)
	_, mad := medianMAD(sampleIn(lap0, inside, 200000))
	noiseVar := (1.4826 * mad) * (1.4826 * mad) / 20 // the 4-neighbour Laplacian's gain is 20
	log := laplacian(blur(gs, focusSigma))
	var sum, sum2, sumG float64
	for i, v := range inside.m {
		if v {
			l := float64(log.p[i])
			sum += l
			sum2 += l * l
			sumG += float64(gs.p[i])
		}
	}
	mean := sum / float64(n)
	mg := sumG / float64(n)
	if mg <= 1e-3 {
		return 0
	}
	v := sum2/float64(n) - mean*mean - noiseVar*logGain()
	return math.Max(0, v) * math.Pow(focusSigma, 4) / (mg * mg)
}

// pixelNoise is the standard deviation of the green channel's pixel noise
// over its mean, in the region in of the working image: the MAD of the
// 4-neighbour Laplacian (whose gain on white noise is 20), which detail,
// being sparse, hardly moves.
func pixelNoise(g *plane, in *mask) float64 {
	inner := newMask(in.w, in.h)
	var sumG float64
	for y := 1; y < in.h-1; y++ {
		for x := 1; x < in.w-1; x++ {
			i := y*in.w + x
			if in.m[i] {
				inner.m[i] = true
				sumG += float64(g.p[i])
			}
		}
	}
	n := inner.count()
	if n < 100 || sumG/float64(n) <= 1e-3 {
		return 0
	}
	_, mad := medianMAD(sampleIn(laplacian(g), inner, 200000))
	return 1.4826 * mad / math.Sqrt(20) / (sumG / float64(n))
}

// laplacian is the 4-neighbour Laplacian of a (0 on the frame's edge).
func laplacian(a *plane) *plane {
	w, h := a.w, a.h
	out := newPlane(w, h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			out.p[i] = a.p[i-1] + a.p[i+1] + a.p[i-w] + a.p[i+w] - 4*a.p[i]
		}
	}
	return out
}

// logGain is the sum of the squared coefficients of the Laplacian of
// Gaussian of focusSigma: the factor by which it multiplies the variance of
// white noise.
func logGain() float64 {
	const n = 33
	d := newPlane(n, n)
	d.p[n/2*n+n/2] = 1
	l := laplacian(blur(d, focusSigma))
	var s float64
	for _, v := range l.p {
		s += float64(v) * float64(v)
	}
	return s
}
