package vessels

import (
	"math"
	"slices"
)

// Optic disc parameters, in units of the field of view's diameter D.
// discScales multiply discScale: the scales the brightness is scored at.
var discScales = [...]float64{0.7, 1, 1.5}

const (
	// discScale is the half side of the window that scores a candidate
	// centre's brightness: about the disc's radius in a 45° photograph (the
	// disc is about D/7 across at 45°, D/5 at 30°, D/9 at 50°).
	discScale = 1.0 / 16
	// discMinRadius, discMaxRadius bound the radius found.
	discMinRadius, discMaxRadius = 0.03, 0.16
	// discSearchSide is the field's diameter, in pixels, of the shrunk
	// copy the disc is searched on.
	discSearchSide = 256
	// discEdge: the disc's edge is where its radial profile has come down
	// to discEdge of the way from its surround to its brightest part.
	discEdge = 0.2
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
func findDisc(wk *working, f fov, v *mask, dist *plane) *disc {
	w, h := wk.g.w, wk.g.h
	D := math.Max(f.diameter, 1)
	if f.area == 0 || D < 40 {
		return nil
	}
	// The search runs on a copy shrunk so that the field is about
	// discSearchSide pixels across: the disc is a broad feature.
	k := max(1, int(D/discSearchSide))
	sw, sh := max(1, (w+k-1)/k), max(1, (h+k-1)/k)
	lum := newPlane(w, h)
	lit := newPlane(w, h)
	free := newPlane(w, h) // 1 on vessel-free field pixels
	analysed := newPlane(w, h)
	var dv []float32
	for i := range lum.p {
		lum.p[i] = 0.1*wk.r.p[i] + 0.6*wk.g.p[i] + 0.3*wk.b.p[i]
		if f.lit.m[i] {
			lit.p[i] = 1
			if !v.m[i] {
				free.p[i] = 1
			}
		}
		if f.analysed.m[i] {
			analysed.p[i] = 1
			if v.m[i] {
				dv = append(dv, dist.p[i])
			}
		}
	}
	if len(dv) == 0 {
		return nil
	}
	// The wide vessels: their cores (pixels farther from the vessel's edge
	// than half the widest vessels' half width) crowd round the disc, where
	// the trunks enter the eye.
	core := float32(math.Max(1.5, 0.5*quantile(dv, 0.95)))
	cores := newPlane(w, h)
	var nCore int
	for i, on := range v.m {
		if on && f.analysed.m[i] && dist.p[i] >= core {
			cores.p[i] = 1
			nCore++
		}
	}
	for i := range lum.p {
		lum.p[i] *= lit.p[i]
	}
	sLum, sLit, sFree := shrinkBy(lum, k), shrinkBy(lit, k), shrinkBy(free, k)
	sAn, sCore := shrinkBy(analysed, k), shrinkBy(cores, k)
	// Luma over the field's smooth illumination (a normalised convolution
	// of the lit pixels), then weighted by the vessel-free share.
	bgNum, bgDen := smoothLarge(sLum, D/8/float64(k)), smoothLarge(sLit, D/8/float64(k))
	bg := newPlane(sw, sh)
	rel := newPlane(sw, sh)
	for i := range rel.p {
		bg.p[i] = bgNum.p[i] / max(bgDen.p[i], 1e-3)
		if sLit.p[i] > 0 {
			rel.p[i] = sLum.p[i] / sLit.p[i] / max(bg.p[i], 0.02)
		}
	}
	a := max(1, int(math.Round(D*discScale/float64(k))))
	vden := maskedMean(sCore, sAn, 3*a)
	in := newMask(sw, sh)
	for i := range in.m {
		in.m[i] = sAn.p[i] > 0.99
	}
	// Brightness at three scales (discs are D/9 to D/5 across from 50° to
	// 30° fields, and larger in myopic eyes): the largest contrast.
	bright := newPlane(sw, sh)
	for _, f := range discScales {
		sa := max(1, int(math.Round(float64(a)*f)))
		inner := maskedMean(rel, sFree, sa)
		outer := maskedMean(rel, sFree, 3*sa)
		for i := range bright.p {
			if in.m[i] && outer.p[i] > 0 {
				bright.p[i] = max(bright.p[i], inner.p[i]/outer.p[i]-1)
			}
		}
	}
	score := newPlane(sw, sh)
	addStandardised(score, bright, in)
	addStandardised(score, vden, in)
	best, bestS := -1, float32(math.Inf(-1))
	for i, ok := range in.m {
		if ok && score.p[i] > bestS {
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
	// Back to working pixels: the centre of the small pixel.
	cx := (float64(best%sw)+0.5)*float64(w)/float64(sw) - 0.5
	cy := (float64(best/sw)+0.5)*float64(h)/float64(sh) - 0.5
	A := D * discScale
	R := int(math.Ceil(4 * A))
	x0, x1 := max(0, int(cx)-R), min(w-1, int(cx)+R)
	y0, y1 := max(0, int(cy)-R), min(h-1, int(cy)+R)
	cw, ch := x1-x0+1, y1-y0+1
	cRel, cFree := newPlane(cw, ch), newPlane(cw, ch)
	cLit := newMask(cw, ch)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			i, j := y*w+x, (y-y0)*cw+x-x0
			cFree.p[j] = free.p[i]
			cLit.m[j] = f.lit.m[i]
			if f.lit.m[i] {
				b := sampleAt(bg, (float64(x)+0.5)*float64(sw)/float64(w)-0.5, (float64(y)+0.5)*float64(sh)/float64(h)-0.5)
				cRel.p[j] = lum.p[i] / max(b, 0.02)
			}
		}
	}
	// Measured again from the centre found: a start on the bright cup,
	// off the disc's centre, gives a profile that falls too soon.
	d := discExtent(cRel, cFree, cLit, cx-float64(x0), cy-float64(y0), A, D)
	for it := 0; it < 2 && d != nil; it++ {
		if again := discExtent(cRel, cFree, cLit, d.x, d.y, A, D); again != nil {
			d = again
		}
	}
	if d != nil {
		d.x += float64(x0)
		d.y += float64(y0)
	}
	return d
}

// shrinkBy averages a over k x k cells (the last row and column of cells
// may be partial): a copy ceil(w/k) x ceil(h/k).
func shrinkBy(a *plane, k int) *plane {
	if k <= 1 {
		return a.clone()
	}
	sw, sh := (a.w+k-1)/k, (a.h+k-1)/k
	out := newPlane(sw, sh)
	cnt := make([]float32, sw*sh)
	for y := 0; y < a.h; y++ {
		row := a.p[y*a.w : (y+1)*a.w]
		o := (y / k) * sw
		for x, v := range row {
			out.p[o+x/k] += v
			cnt[o+x/k]++
		}
	}
	for i, n := range cnt {
		out.p[i] /= n
	}
	return out
}

// sampleAt is a at the fractional pixel (x, y), bilinear, clamped to the
// edges.
func sampleAt(a *plane, x, y float64) float32 {
	x = math.Min(math.Max(x, 0), float64(a.w-1))
	y = math.Min(math.Max(y, 0), float64(a.h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, a.w-1), min(y0+1, a.h-1)
	tx, ty := float32(x-float64(x0)), float32(y-float64(y0))
	top := a.p[y0*a.w+x0]*(1-tx) + a.p[y0*a.w+x1]*tx
	bot := a.p[y1*a.w+x0]*(1-tx) + a.p[y1*a.w+x1]*tx
	return top*(1-ty) + bot*ty
}

// discExtent measures the disc around (cx, cy) in a crop of the working
// image: rel is the relative luma (valid where free is 1), lit the field of
// view, a the scoring window's half side, in working pixels.
func discExtent(rel, free *plane, lit *mask, cx, cy, a, D float64) *disc {
	num, den := rel.clone(), free.clone()
	for i := range num.p {
		num.p[i] *= den.p[i]
	}
	// A light smoothing (two box means, about a Gaussian of a/6).
	br := max(1, int(math.Round(a/8)))
	num, den = boxMean(boxMean(num, br), br), boxMean(boxMean(den, br), br)
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
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			switch {
			case d <= a:
				peakVals = append(peakVals, fill.p[i])
			case d >= 2.5*a && d <= 4*a && lit.m[i]:
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
			b := int(math.Round(math.Hypot(float64(x)-cx, float64(y)-cy)))
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
	edge := float64(surround) + discEdge*(top-float64(surround))
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
			if math.Hypot(float64(x)-cx, float64(y)-cy) <= 1.2*float64(r) {
				sx += float64(x)
				sy += float64(y)
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
