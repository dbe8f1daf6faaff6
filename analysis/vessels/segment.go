package vessels

import (
	"context"
	"math"
)

// Segmentation parameters, in units of the field of view's diameter D (in
// working pixels) so that they follow the image's scale. They were chosen on
// generated photographs and on the development split of CHASE_DB1
// (real_test.go), never on its held-out split.
const (
	// presmooth is the Gaussian sigma that takes the noise off the green
	// channel (at least 0.6 px).
	presmooth = 1.0 / 700
	// closeRadius is the half side of the square of the closing that
	// estimates the background: the widest vessel (about D/55) fits well
	// inside its side, and so do the merged trunks on the optic disc.
	closeRadius = 1.0 / 50
	// fillSigma is the reach of the normalised convolution that continues
	// the field of view's green channel beyond its rim, so that the rim is
	// no dark-to-black edge for the filters.
	fillSigma = 1.0 / 60
	// lesionClip, lesionRadius: the green channel is clipped at lesionClip
	// above a ceiling, the background's opening with a square of half side
	// D*lesionRadius, which removes bright spots narrower than about D/12
	// (exudates, light reflexes) and keeps the optic disc. A bright lesion
	// then does not raise the background around it, which would make the
	// normal retina beside it look like a vessel.
	lesionClip, lesionRadius = 0.06, 1.0 / 25
	// lineWindow is the side W of the window of the line detector, about
	// twice the widest vessel; the lines have lengths W/3, 2W/3 and W.
	lineWindow = 1.0 / 30
	// lineOrientations is the number of orientations of the lines (15°).
	lineOrientations = 12
	// tHigh and tLow are the hysteresis thresholds on the combined
	// standardised response: seeds above tHigh, grown over tLow.
	tHigh, tLow = 2.2, 0.75
	// halfMax, peakRadius: a vessel pixel's contrast is at least halfMax of
	// the largest contrast within W*peakRadius, which keeps the width near
	// the vessel's visible edge whatever its contrast (the line detector
	// alone widens thin vessels).
	halfMax, peakRadius = 0.4, 1.0 / 3
	// holeArea: holes in the vessel map smaller than D^2*holeArea are filled
	// (the gap of a vessel's central light reflex, the eye of a crossing).
	holeArea = 1.0 / 20000
	// minArea is the smallest vessel component kept, as a fraction of D^2.
	minArea = 1.0 / 20000
	// pruneLength is the longest skeleton spur pruned before measuring, as
	// a fraction of D (the half side of vessels-1's closing).
	pruneLength = 1.0 / 80
)

// segmentation holds the intermediate planes, for tests and examples.
type segmentation struct {
	contrast *plane // relative darkness against the closed background
	response *plane // combined standardised line response
	vessels  *mask
}

// segment finds the vessels in the analysed field of view of the working
// image:
//
//  1. green channel (vessels contrast best there); beyond the field of view's
//     rim continued by a normalised convolution of the inside, so the rim is
//     no edge; lightly smoothed;
//  2. bright lesions clipped: the green is limited to a little above its
//     smooth background;
//  3. background by a greyscale closing with a square wider than any vessel;
//     contrast = (background - green) / background, the relative darkness
//     of a pixel (a black top-hat);
//  4. multi-scale line detector (Ricci and Perfetti 2007; Nguyen et al.
//  2013. on the contrast: for lines of three lengths, the largest mean
//     along a line through the pixel over 12 orientations less the mean of
//     the square window; each response and the contrast itself are
//     standardised over the field of view and averaged;
//  5. hysteresis on that combined response: seeds above a high threshold,
//     grown over every connected pixel above a low one;
//  6. components smaller than minArea are dropped.
func segment(ctx context.Context, wk *working, f fov) (*segmentation, error) {
	return segmentWith(ctx, wk, f, defaultSeg)
}

// segParams are the segmentation's tunable constants (defaultSeg); tests
// vary them to measure alternatives.
type segParams struct {
	tHigh, tLow, halfMax, minArea, holeArea float64
}

var defaultSeg = segParams{tHigh: tHigh, tLow: tLow, halfMax: halfMax, minArea: minArea, holeArea: holeArea}

// segPlanes are the planes the thresholds are applied to.
type segPlanes struct {
	c, comb, peak *plane
}

func segmentWith(ctx context.Context, wk *working, f fov, p segParams) (*segmentation, error) {
	sp, err := segmentPlanes(ctx, wk, f, p)
	if err != nil {
		return nil, err
	}
	out := thresholdPlanes(sp, f, p)
	return &segmentation{contrast: sp.c, response: sp.comb, vessels: out}, nil
}

func segmentPlanes(ctx context.Context, wk *working, f fov, p segParams) (*segPlanes, error) {
	D := math.Max(f.diameter, 1)
	w, h := wk.g.w, wk.g.h
	g := fillOutside(wk.g, f.lit, D*fillSigma)
	g = blur(g, math.Max(0.6, D*presmooth))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := max(2, int(math.Round(D*closeRadius)))
	bg := closing(g, r)
	ceil := coarseOpening(bg, max(r+1, int(math.Round(D*lesionRadius))))
	for i, v := range g.p {
		g.p[i] = min(v, ceil.p[i]+lesionClip)
	}
	bg = closing(g, r)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := newPlane(w, h)
	for i := range c.p {
		b := max(bg.p[i], 0.05)
		c.p[i] = (bg.p[i] - g.p[i]) / b
	}
	W := max(3, int(math.Round(D*lineWindow))|1)
	lens := []int{max(1, W/3) | 1, max(3, 2*W/3) | 1, W}
	resp := lineResponses(ctx, c, f.analysed, lens, lineOrientations)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	box := boxMean(c, W/2)
	comb := newPlane(w, h)
	for _, rl := range resp {
		for i := range rl.p {
			rl.p[i] -= box.p[i]
		}
		addStandardised(comb, rl, f.analysed)
	}
	addStandardised(comb, c, f.analysed)
	k := float32(len(resp) + 1)
	for i := range comb.p {
		comb.p[i] /= k
	}
	peak := squareFilter(c, max(1, int(math.Round(float64(W)*peakRadius))), true)
	return &segPlanes{c: c, comb: comb, peak: peak}, nil
}

// thresholdPlanes is the hysteresis: candidates above tLow and near their
// local peak contrast, kept when seeded above tHigh and large enough.
func thresholdPlanes(sp *segPlanes, f fov, p segParams) *mask {
	D := math.Max(f.diameter, 1)
	c, comb, peak := sp.c, sp.comb, sp.peak
	w, h := c.w, c.h
	tl, th, hm := float32(p.tLow), float32(p.tHigh), float32(p.halfMax)
	grow := newMask(w, h)
	for i, in := range f.analysed.m {
		grow.m[i] = in && comb.p[i] > tl && c.p[i] >= hm*peak.p[i]
	}
	labels, sizes := components(grow)
	seeded := make([]bool, len(sizes))
	for i, l := range labels {
		if l != 0 && comb.p[i] > th {
			seeded[l] = true
		}
	}
	minA := max(6, int(D*D*p.minArea))
	out := newMask(w, h)
	for i, l := range labels {
		out.m[i] = l != 0 && seeded[l] && sizes[l] >= minA
	}
	fillHoles(out, max(2, int(D*D*p.holeArea)))
	return out
}

// fillOutside returns a copy of a whose pixels outside in are the
// normalised convolution of the inside (Gaussian of sigma): the field of
// view continued smoothly beyond its rim.
func fillOutside(a *plane, in *mask, sigma float64) *plane {
	num := newPlane(a.w, a.h)
	den := newPlane(a.w, a.h)
	var sum float64
	var n int
	for i, v := range in.m {
		if v {
			num.p[i] = a.p[i]
			den.p[i] = 1
			sum += float64(a.p[i])
			n++
		}
	}
	mean := float32(0)
	if n > 0 {
		mean = float32(sum / float64(n))
	}
	num = smoothLarge(num, sigma)
	den = smoothLarge(den, sigma)
	out := a.clone()
	for i, v := range in.m {
		if !v {
			if den.p[i] > 1e-3 {
				out.p[i] = num.p[i] / den.p[i]
			} else {
				out.p[i] = mean
			}
		}
	}
	return out
}

// smoothLarge is a Gaussian blur of a wide sigma done cheaply: a is shrunk
// by an integer factor (area averaging), blurred there, and enlarged back
// (bilinear).
func smoothLarge(a *plane, sigma float64) *plane {
	k := max(1, int(sigma/3))
	if k == 1 {
		return blur(a, sigma)
	}
	w, h := max(1, (a.w+k-1)/k), max(1, (a.h+k-1)/k)
	s := blur(resample(a, w, h), sigma/float64(k))
	return resample(s, a.w, a.h)
}

// boxMean is the mean of a over the (2r+1)-square around each pixel (the
// square clipped to the image).
func boxMean(a *plane, r int) *plane {
	w, h := a.w, a.h
	tmp := newPlane(w, h)
	for y := 0; y < h; y++ {
		row := a.p[y*w : (y+1)*w]
		dst := tmp.p[y*w : (y+1)*w]
		var s float32
		for x := 0; x < min(r, w); x++ {
			s += row[x]
		}
		for x := 0; x < w; x++ {
			if x+r < w {
				s += row[x+r]
			}
			if x-r-1 >= 0 {
				s -= row[x-r-1]
			}
			dst[x] = s / float32(min(x+r, w-1)-max(x-r, 0)+1)
		}
	}
	out := newPlane(w, h)
	acc := make([]float32, w)
	for y := 0; y < min(r, h); y++ {
		for x, v := range tmp.p[y*w : (y+1)*w] {
			acc[x] += v
		}
	}
	for y := 0; y < h; y++ {
		if y+r < h {
			for x, v := range tmp.p[(y+r)*w : (y+r+1)*w] {
				acc[x] += v
			}
		}
		if y-r-1 >= 0 {
			for x, v := range tmp.p[(y-r-1)*w : (y-r)*w] {
				acc[x] -= v
			}
		}
		n := float32(min(y+r, h-1) - max(y-r, 0) + 1)
		dst := out.p[y*w : (y+1)*w]
		for x := range dst {
			dst[x] = acc[x] / n
		}
	}
	return out
}

// lineResponses returns, for each odd length in lens (ascending), the
// largest mean of c along a centred line of that length over n orientations
// (0 in a border of half the longest length, and where in is unset). The
// lines of one orientation are nested, so one pass over the longest gives
// all lengths; the sums run a row at a time over shifted rows, which keeps
// the memory reads sequential.
func lineResponses(ctx context.Context, c *plane, in *mask, lens []int, n int) []*plane {
	w, h := c.w, c.h
	out := make([]*plane, len(lens))
	for k := range out {
		out[k] = newPlane(w, h)
		for i := range out[k].p {
			out[k].p[i] = float32(math.Inf(-1))
		}
	}
	half := lens[len(lens)-1] / 2
	if w <= 2*half || h <= 2*half {
		for _, p := range out {
			clear(p.p)
		}
		return out
	}
	// Rows of the field of view: the first and last row with a pixel set.
	y0, y1 := h, -1
	for y := 0; y < h; y++ {
		for _, v := range in.m[y*w : (y+1)*w] {
			if v {
				y0, y1 = min(y0, y), max(y1, y)
				break
			}
		}
	}
	y0, y1 = max(y0, half), min(y1, h-1-half)
	inv := make([]float32, len(lens))
	for k, L := range lens {
		inv[k] = 1 / float32(L)
	}
	xs, xe := half, w-half
	acc := make([]float32, xe-xs)
	for o := 0; o < n; o++ {
		if ctx.Err() != nil {
			return out
		}
		th := math.Pi * float64(o) / float64(n)
		cs, sn := math.Cos(th), math.Sin(th)
		dxs := make([]int, half+1)
		dys := make([]int, half+1)
		for t := 1; t <= half; t++ {
			dxs[t], dys[t] = int(math.Round(float64(t)*cs)), int(math.Round(float64(t)*sn))
		}
		for y := y0; y <= y1; y++ {
			copy(acc, c.p[y*w+xs:y*w+xe])
			t := 1
			for k, L := range lens {
				for ; 2*t+1 <= L; t++ {
					a := (y+dys[t])*w + dxs[t] + xs
					b := (y-dys[t])*w - dxs[t] + xs
					pa, pb := c.p[a:a+len(acc)], c.p[b:b+len(acc)]
					for x := range acc {
						acc[x] += pa[x] + pb[x]
					}
				}
				dst := out[k].p[y*w+xs : y*w+xe]
				iv := inv[k]
				for x, v := range acc {
					dst[x] = max(dst[x], v*iv)
				}
			}
		}
	}
	for _, p := range out {
		for i, v := range p.p {
			if !in.m[i] || math.IsInf(float64(v), -1) {
				p.p[i] = 0
			}
		}
	}
	return out
}

// addStandardised adds (a - mean) / sd to dst, mean and sd of a over in.
func addStandardised(dst, a *plane, in *mask) {
	var s, ss float64
	var n int
	for i, v := range in.m {
		if v {
			x := float64(a.p[i])
			s += x
			ss += x * x
			n++
		}
	}
	if n == 0 {
		return
	}
	mean := s / float64(n)
	sd := math.Sqrt(math.Max(ss/float64(n)-mean*mean, 1e-12))
	m, k := float32(mean), float32(1/sd)
	for i, v := range a.p {
		dst.p[i] += (v - m) * k
	}
}

// fillHoles sets the unset components of m smaller than maxArea pixels that
// do not touch the frame's edge (the gap a vessel's central light reflex
// leaves, or the eye of a crossing).
func fillHoles(m *mask, maxArea int) {
	inv := newMask(m.w, m.h)
	for i, v := range m.m {
		inv.m[i] = !v
	}
	labels, sizes := components(inv)
	for i, l := range labels {
		if l != 0 && sizes[l] < maxArea {
			m.m[i] = true
		}
	}
}

// coarseOpening is a greyscale opening of a with a (2r+1)-square, done on a
// copy shrunk by up to 4 (it removes bright structures narrower than the
// square; a coarse estimate is all it serves for), enlarged back.
func coarseOpening(a *plane, r int) *plane {
	k := min(4, max(1, r/6))
	w, h := max(1, (a.w+k-1)/k), max(1, (a.h+k-1)/k)
	s := resample(a, w, h)
	rk := max(1, r/k)
	s = squareFilter(squareFilter(s, rk, false), rk, true)
	return resample(s, a.w, a.h)
}
