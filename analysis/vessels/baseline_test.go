package vessels

import (
	"image"
	"math"
)

// The textbook baseline the analyzer is compared with in accuracy_test.go:
// CLAHE on the green channel, multi-scale Frangi vesselness, Otsu's threshold
// inside the field of view. It runs at the image's full resolution and is
// given the true field of view (as the DRIVE data set gives its masks), an
// advantage the analyzer, which finds the field of view itself, does not
// have.

// Baseline parameters: the usual defaults (OpenCV's clip limit 2 on an 8 x 8
// grid of tiles; Frangi's beta 0.5 and c = half the largest Hessian norm at
// each scale, as in Frangi et al. 1998 and scikit-image).
const (
	claheTiles   = 8
	claheClip    = 2.0
	frangiBeta   = 0.5
	frangiScales = 5
)

// baseline segments the vessels of img in the field of view fovMask (255
// inside) and returns a vessel map of img's size (255 = vessel).
func baseline(img image.Image, fovMask *image.Gray) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	g := newPlane(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			_, gg, _, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			g.p[y*w+x] = float32(gg) / 0xffff
		}
	}
	lit := newMask(w, h)
	for i, v := range fovMask.Pix {
		lit.m[i] = v != 0
	}
	f := fovOf(lit)
	e := clahe(g, claheTiles, claheClip)
	// Scales from about the thinnest to the widest vessel (sigma near
	// width / 2 sqrt 3 for a bar), in proportion to the field of view.
	s0 := math.Max(1, f.diameter/940)
	v := newPlane(w, h)
	for k := 0; k < frangiScales; k++ {
		frangiMax(v, e, f.analysed, s0*math.Pow(1.5, float64(k)))
	}
	t := otsu(sampleIn(v, f.analysed, 1<<22), 0, maxIn(v, f.analysed))
	vm := newMask(w, h)
	for i, in := range f.analysed.m {
		vm.m[i] = in && float64(v.p[i]) > t
	}
	// Drop specks (the same minimum size as the analyzer's).
	labels, sizes := components(vm)
	minA := max(6, int(f.diameter*f.diameter*minArea))
	out := image.NewGray(image.Rect(0, 0, w, h))
	for i, l := range labels {
		if l != 0 && sizes[l] >= minA {
			out.Pix[i] = 255
		}
	}
	return out
}

func maxIn(a *plane, m *mask) float64 {
	var mx float32
	for i, in := range m.m {
		if in && a.p[i] > mx {
			mx = a.p[i]
		}
	}
	return float64(mx)
}

// clahe is contrast-limited adaptive histogram equalisation (Zuiderveld
// 1994) of a (values 0..1) on a tiles x tiles grid with 256 bins: each tile's
// histogram is clipped at clip times the mean bin count, the excess spread
// evenly over all bins, and each pixel mapped through the bilinear
// interpolation of the four nearest tiles' cumulative histograms.
func clahe(a *plane, tiles int, clip float64) *plane {
	w, h := a.w, a.h
	tw, th := (w+tiles-1)/tiles, (h+tiles-1)/tiles
	bin := func(v float32) int { return min(max(int(v*255+0.5), 0), 255) }
	maps := make([][256]float32, tiles*tiles)
	for ty := 0; ty < tiles; ty++ {
		for tx := 0; tx < tiles; tx++ {
			var hist [256]float64
			n := 0
			for y := ty * th; y < min(h, (ty+1)*th); y++ {
				for x := tx * tw; x < min(w, (tx+1)*tw); x++ {
					hist[bin(a.p[y*w+x])]++
					n++
				}
			}
			if n == 0 {
				continue
			}
			limit := math.Max(1, clip*float64(n)/256)
			excess := 0.0
			for i, c := range hist {
				if c > limit {
					excess += c - limit
					hist[i] = limit
				}
			}
			var cdf float64
			m := &maps[ty*tiles+tx]
			for i := range hist {
				cdf += hist[i] + excess/256
				m[i] = float32(cdf / float64(n))
			}
		}
	}
	out := newPlane(w, h)
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)/float64(th) - 0.5
		y0 := min(max(int(math.Floor(fy)), 0), tiles-1)
		y1 := min(y0+1, tiles-1)
		wy := float32(math.Min(1, math.Max(0, fy-float64(y0))))
		for x := 0; x < w; x++ {
			fx := (float64(x)+0.5)/float64(tw) - 0.5
			x0 := min(max(int(math.Floor(fx)), 0), tiles-1)
			x1 := min(x0+1, tiles-1)
			wx := float32(math.Min(1, math.Max(0, fx-float64(x0))))
			k := bin(a.p[y*w+x])
			top := maps[y0*tiles+x0][k]*(1-wx) + maps[y0*tiles+x1][k]*wx
			bot := maps[y1*tiles+x0][k]*(1-wx) + maps[y1*tiles+x1][k]*wx
			out.p[y*w+x] = top*(1-wy) + bot*wy
		}
	}
	return out
}

// frangiMax raises v to Frangi's vesselness of a at scale sigma where it is
// larger, for dark vessels on a bright background: with the eigenvalues of
// the scale-normalised Hessian ordered |l1| <= |l2|, zero where l2 < 0, else
// exp(-Rb^2 / 2 beta^2) (1 - exp(-S^2 / 2 c^2)) with Rb = l1 / l2,
// S = sqrt(l1^2 + l2^2) and c half the largest S at this scale in the
// field of view in (not on its rim, whose step would dwarf every vessel).
func frangiMax(v, a *plane, in *mask, sigma float64) {
	w, h := a.w, a.h
	b := blur(a, sigma)
	n2 := float32(sigma * sigma)
	l1s := make([]float32, w*h)
	l2s := make([]float32, w*h)
	var maxS float64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			dxx := (b.p[i-1] - 2*b.p[i] + b.p[i+1]) * n2
			dyy := (b.p[i-w] - 2*b.p[i] + b.p[i+w]) * n2
			dxy := (b.p[i+w+1] - b.p[i+w-1] - b.p[i-w+1] + b.p[i-w-1]) / 4 * n2
			m := (dxx + dyy) / 2
			d := float32(math.Sqrt(float64((dxx-dyy)*(dxx-dyy)/4 + dxy*dxy)))
			l1, l2 := m-d, m+d
			if abs32(l1) > abs32(l2) {
				l1, l2 = l2, l1
			}
			l1s[i], l2s[i] = l1, l2
			if in.m[i] {
				maxS = math.Max(maxS, math.Hypot(float64(l1), float64(l2)))
			}
		}
	}
	if maxS == 0 {
		return
	}
	c := maxS / 2
	for i := range l2s {
		l1, l2 := float64(l1s[i]), float64(l2s[i])
		if l2 <= 0 {
			continue
		}
		rb := l1 / l2
		s2 := l1*l1 + l2*l2
		val := float32(math.Exp(-rb*rb/(2*frangiBeta*frangiBeta)) * (1 - math.Exp(-s2/(2*c*c))))
		if val > v.p[i] {
			v.p[i] = val
		}
	}
}
