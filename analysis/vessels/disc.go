package vessels

import (
	"math"
	"slices"
)

// Optic disc parameters, in units of the field of view's diameter D.
const (
	// discScale is the half side of the window that scores a candidate
	// centre's brightness: about the disc's radius in a 45° photograph (the
	// disc is about D/7 across at 45°, D/5 at 30°, D/9 at 50°).
	discScale = 1.0 / 16
	// discMinRadius, discMaxRadius bound the radius found.
	discMinRadius, discMaxRadius = 0.03, 0.16
	// discMinContrast is the least relative brightness of the disc over its
	// surround for a disc to be reported; discMinVessels the least density
	// of wide vessels around it, as a multiple of the whole field's.
	discMinContrast, discMinVessels = 0.08, 1.1
)

// disc is the optic disc found in the working image.
type disc struct {
	x, y, r float64 // centre and radius, working pixels
}

// findDisc locates the optic disc in the working image wk with field of
// view f and vessel map v, or returns nil when no disc is in the field.
//
// The disc is the place where the brightest broad patch of the field (a
// centre-surround contrast of the vessel-free luma, normalised by the
// field's smooth illumination) and the densest convergence of vessels (the
// vessel fraction in a window twice as wide) meet: each score is
// standardised over the field and the two are added, so a bright lesion (an
// exudate, a reflex), which has no vessels converging on it, or a crowd of
// vessels without a bright patch, scores lower than the disc. It must be
// discMinContrast brighter than its surround and hold discMinVessels times
// the field's vessel density, else there is no disc in the field. Its
// radius is
// the first radius where its radial profile (vessels filled in from their
// neighbours) has fallen 70% of the way from the disc's brightest part to
// its surround; its centre the centroid of the bright pixels within 1.2
// radii.
func findDisc(wk *working, f fov, v *mask) *disc {
	w, h := wk.g.w, wk.g.h
	D := math.Max(f.diameter, 1)
	if f.area == 0 || D < 40 {
		return nil
	}
	// Luma, continued beyond the rim, over its smooth illumination.
	lum := newPlane(w, h)
	for i := range lum.p {
		lum.p[i] = 0.3*wk.r.p[i] + 0.6*wk.g.p[i] + 0.1*wk.b.p[i]
	}
	bg := fillOutside(lum, f.lit, D/8)
	bg = smoothLarge(bg, D/8)
	rel := newPlane(w, h)
	free := newPlane(w, h) // 1 on vessel-free field pixels
	for i := range rel.p {
		if f.lit.m[i] && !v.m[i] {
			rel.p[i] = lum.p[i] / max(bg.p[i], 0.02)
			free.p[i] = 1
		}
	}
	a := max(2, int(math.Round(D*discScale)))
	inner := maskedMean(rel, free, a)
	outer := maskedMean(rel, free, 3*a)
	// The wide vessels: their cores (pixels farther from the vessel's edge
	// than half the widest vessels' half width) crowd round the disc, where
	// the trunks enter the eye.
	dist := distanceInside(v)
	var dv []float32
	for i, on := range v.m {
		if on && f.analysed.m[i] {
			dv = append(dv, dist.p[i])
		}
	}
	if len(dv) == 0 {
		return nil
	}
	core := float32(math.Max(1.5, 0.5*quantile(dv, 0.95)))
	vm := newPlane(w, h)
	lit := newPlane(w, h)
	var nCore int
	for i, on := range v.m {
		if on && f.analysed.m[i] && dist.p[i] >= core {
			vm.p[i] = 1
			nCore++
		}
		if f.analysed.m[i] {
			lit.p[i] = 1
		}
	}
	vden := maskedMean(vm, lit, 3*a)
	bright := newPlane(w, h)
	for i := range bright.p {
		if f.analysed.m[i] && outer.p[i] > 0 {
			bright.p[i] = inner.p[i]/outer.p[i] - 1
		}
	}
	score := newPlane(w, h)
	addStandardised(score, bright, f.analysed)
	addStandardised(score, vden, f.analysed)
	best, bestS := -1, float32(math.Inf(-1))
	for i, in := range f.analysed.m {
		if in && score.p[i] > bestS {
			best, bestS = i, score.p[i]
		}
	}
	if best < 0 {
		return nil
	}
	fieldDensity := float64(nCore) / float64(max(1, f.analysed.count()))
	if float64(bright.p[best]) < discMinContrast || float64(vden.p[best]) < discMinVessels*fieldDensity {
		return nil
	}
	cx, cy := best%w, best/w
	return discExtent(rel, free, f, float64(cx), float64(cy), float64(a), D)
}

// discExtent measures the disc around (cx, cy): rel is the relative luma
// (valid where free is 1), a the scoring window's half side.
func discExtent(rel, free *plane, f fov, cx, cy, a, D float64) *disc {
	w, h := rel.w, rel.h
	R := int(math.Ceil(4 * a))
	x0, x1 := max(0, int(cx)-R), min(w-1, int(cx)+R)
	y0, y1 := max(0, int(cy)-R), min(h-1, int(cy)+R)
	// Vessels filled in: a normalised convolution of the free pixels.
	sub := func(p *plane) *plane {
		out := newPlane(x1-x0+1, y1-y0+1)
		for y := y0; y <= y1; y++ {
			copy(out.p[(y-y0)*out.w:(y-y0+1)*out.w], p.p[y*w+x0:y*w+x1+1])
		}
		return out
	}
	num, den := sub(rel), sub(free)
	for i := range num.p {
		num.p[i] *= den.p[i]
	}
	sig := math.Max(1, a/6)
	num, den = blur(num, sig), blur(den, sig)
	sw, sh := num.w, num.h
	fill := newPlane(sw, sh)
	var peakVals, ringVals []float32
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			i := y*sw + x
			if den.p[i] < 0.05 {
				continue
			}
			fill.p[i] = num.p[i] / den.p[i]
			d := math.Hypot(float64(x+x0)-cx, float64(y+y0)-cy)
			switch {
			case d <= a:
				peakVals = append(peakVals, fill.p[i])
			case d >= 2.5*a && d <= 4*a && f.lit.m[(y+y0)*w+x+x0]:
				ringVals = append(ringVals, fill.p[i])
			}
		}
	}
	if len(peakVals) == 0 || len(ringVals) == 0 {
		return nil
	}
	slices.Sort(peakVals)
	slices.Sort(ringVals)
	peak := peakVals[len(peakVals)*9/10]
	surround := ringVals[len(ringVals)/2]
	if peak <= surround {
		return nil
	}
	// The radial profile of the vessel-filled luma: its steepest fall is
	// the disc's edge.
	nb := int(math.Ceil(4*a)) + 1
	sum := make([]float64, nb)
	cnt := make([]float64, nb)
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			i := y*sw + x
			if den.p[i] < 0.05 {
				continue
			}
			b := int(math.Round(math.Hypot(float64(x+x0)-cx, float64(y+y0)-cy)))
			if b < nb {
				sum[b] += float64(fill.p[i])
				cnt[b]++
			}
		}
	}
	prof := make([]float64, nb)
	for b := range prof {
		if cnt[b] > 0 {
			prof[b] = sum[b] / cnt[b]
		} else if b > 0 {
			prof[b] = prof[b-1]
		}
	}
	k := max(1, int(math.Round(a/8)))
	smooth := make([]float64, nb)
	for b := range smooth {
		var s, n float64
		for j := max(0, b-k); j <= min(nb-1, b+k); j++ {
			s += prof[j]
			n++
		}
		smooth[b] = s / n
	}
	// The edge: the first radius where the profile has fallen 70% of the
	// way from the disc's brightest to its surround (a pale cup inside the
	// disc falls less than that to the rim).
	var top, n0 float64
	for b := 0; b <= max(1, int(a/3)); b++ {
		top += smooth[b]
		n0++
	}
	top = math.Max(top/n0, float64(peak))
	edge := float64(surround) + 0.3*(top-float64(surround))
	lo := max(1, int(discMinRadius*D))
	hi := min(nb-1, int(discMaxRadius*D))
	r := 0
	for b := lo; b <= hi; b++ {
		if smooth[b] <= edge {
			r = b
			break
		}
	}
	if r == 0 {
		return nil
	}
	// The centre: the centroid of the pixels within 1.2 r brighter than
	// half way between the profile inside and outside the edge.
	t := float32((smooth[r/2] + smooth[min(nb-1, r+r/2)]) / 2)
	var sx, sy, n float64
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			i := y*sw + x
			if den.p[i] < 0.05 || fill.p[i] < t {
				continue
			}
			if math.Hypot(float64(x+x0)-cx, float64(y+y0)-cy) <= 1.2*float64(r) {
				sx += float64(x + x0)
				sy += float64(y + y0)
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	return &disc{x: sx / n, y: sy / n, r: float64(r)}
}

// maskedMean is the mean of a over the pixels where wt is 1 in the
// (2r+1)-square around each pixel (0 where there is none).
func maskedMean(a, wt *plane, r int) *plane {
	num := a.clone()
	for i := range num.p {
		num.p[i] *= wt.p[i]
	}
	num = boxMean(num, r)
	den := boxMean(wt, r)
	for i := range num.p {
		if den.p[i] > 1e-3 {
			num.p[i] /= den.p[i]
		} else {
			num.p[i] = 0
		}
	}
	return num
}
