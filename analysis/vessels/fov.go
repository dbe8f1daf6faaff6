package vessels

import "math"

// fov is the field of view found in the working image.
type fov struct {
	// lit is the round, lit region: the largest bright component of the red
	// channel, holes filled.
	lit *mask
	// analysed is lit eroded by margin pixels: where vessels are looked for
	// and where the metrics are counted.
	analysed *mask
	// area is the number of lit pixels; diameter the diameter of a disc of
	// that area, in working pixels.
	area     int
	diameter float64
	// fraction is area over the frame's area.
	fraction float64
	// surround is true when the lit region has a dark surround: it does not
	// fill the frame and the rest of the frame is much darker.
	surround bool
	// margin is the erosion in working pixels.
	margin float64
}

// findFOV finds the field of view from the red channel, the brightest in a
// fundus photograph: pixels brighter than max(0.04, 0.3 x the 99th
// percentile), the largest 8-connected component, its holes filled (a dark
// lesion inside stays in the field of view).
func findFOV(r *plane) fov {
	w, h := r.w, r.h
	all := &mask{w: w, h: h, m: make([]bool, w*h)}
	for i := range all.m {
		all.m[i] = true
	}
	vals := sampleIn(r, all, 200000)
	t := math.Max(0.04, 0.3*quantile(vals, 0.99))
	lit := newMask(w, h)
	for i, v := range r.p {
		lit.m[i] = float64(v) > t
	}
	labels, sizes := components(lit)
	best := 0
	for l := 1; l < len(sizes); l++ {
		if best == 0 || sizes[l] > sizes[best] {
			best = l
		}
	}
	for i := range lit.m {
		lit.m[i] = best != 0 && labels[i] == int32(best)
	}
	// Fill holes: unlit components that do not touch the frame's edge.
	holes := newMask(w, h)
	for i, v := range lit.m {
		holes.m[i] = !v
	}
	hl, hs := components(holes)
	touches := make([]bool, len(hs))
	for x := 0; x < w; x++ {
		touches[hl[x]] = true
		touches[hl[(h-1)*w+x]] = true
	}
	for y := 0; y < h; y++ {
		touches[hl[y*w]] = true
		touches[hl[y*w+w-1]] = true
	}
	for i, l := range hl {
		if l != 0 && !touches[l] {
			lit.m[i] = true
		}
	}
	f := fovOf(lit)
	var in, out float64
	var nin, nout int
	for i, v := range lit.m {
		if v {
			in += float64(r.p[i])
			nin++
		} else {
			out += float64(r.p[i])
			nout++
		}
	}
	if nin > 0 && nout > 0 {
		in /= float64(nin)
		out /= float64(nout)
		f.surround = f.fraction < 0.97 && out < 0.5*in
	}
	return f
}

// fovOf returns the field of view whose lit region is lit (surround unset):
// its area, diameter and the analysed region, lit eroded by fovMargin of the
// diameter (at least 2 pixels): the lit region's edge pixels, partly lit,
// are left out. (vessels-1 eroded 2% of the diameter so that the rim was
// not taken for a vessel, and missed the vessels' last stretch; vessels-2
// continues the field of view beyond the rim before filtering instead.)
// The accuracy tests measure the ground truth in the true field of view
// through it.
func fovOf(lit *mask) fov {
	f := fov{lit: lit, area: lit.count()}
	f.fraction = float64(f.area) / float64(lit.w*lit.h)
	f.diameter = 2 * math.Sqrt(float64(f.area)/math.Pi)
	f.margin = math.Max(2, fovMargin*f.diameter)
	dist := distanceInside(lit)
	f.analysed = newMask(lit.w, lit.h)
	for i, d := range dist.p {
		f.analysed.m[i] = float64(d) > f.margin
	}
	return f
}

// fovMargin is the erosion of the lit region, as a fraction of its diameter,
// that gives the analysed field of view.
const fovMargin = 0.002
