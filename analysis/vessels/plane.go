package vessels

import (
	"math"
	"slices"
)

// plane is one channel of an image as float32, row-major.
type plane struct {
	w, h int
	p    []float32
}

func newPlane(w, h int) *plane { return &plane{w: w, h: h, p: make([]float32, w*h)} }

func (a *plane) clone() *plane {
	return &plane{w: a.w, h: a.h, p: slices.Clone(a.p)}
}

// mask is a binary image, row-major, true = set.
type mask struct {
	w, h int
	m    []bool
}

func newMask(w, h int) *mask { return &mask{w: w, h: h, m: make([]bool, w*h)} }

func (m *mask) count() int {
	n := 0
	for _, v := range m.m {
		if v {
			n++
		}
	}
	return n
}

// gaussianKernel returns a normalised 1-D Gaussian of standard deviation
// sigma, radius ceil(3 sigma).
func gaussianKernel(sigma float64) []float32 {
	r := int(math.Ceil(3 * sigma))
	if r < 1 {
		r = 1
	}
	k := make([]float32, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		v := math.Exp(-float64(i*i) / (2 * sigma * sigma))
		k[i+r] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] = float32(float64(k[i]) / sum)
	}
	return k
}

// blur returns a Gaussian blur of a (edges clamped). sigma <= 0 copies.
func blur(a *plane, sigma float64) *plane {
	if sigma <= 0 {
		return a.clone()
	}
	k := gaussianKernel(sigma)
	r := len(k) / 2
	tmp := newPlane(a.w, a.h)
	out := newPlane(a.w, a.h)
	w, h := a.w, a.h
	// Rows.
	for y := 0; y < h; y++ {
		row := a.p[y*w : (y+1)*w]
		dst := tmp.p[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			var s float32
			if x >= r && x+r < w {
				seg := row[x-r : x+r+1]
				for i, kv := range k {
					s += kv * seg[i]
				}
			} else {
				for i, kv := range k {
					xx := min(max(x+i-r, 0), w-1)
					s += kv * row[xx]
				}
			}
			dst[x] = s
		}
	}
	// Columns, a row at a time for locality.
	for y := 0; y < h; y++ {
		dst := out.p[y*w : (y+1)*w]
		for i, kv := range k {
			yy := min(max(y+i-r, 0), h-1)
			src := tmp.p[yy*w : (yy+1)*w]
			for x := range dst {
				dst[x] += kv * src[x]
			}
		}
	}
	return out
}

// minMax1D writes into dst the running max (or min) of src over a window of
// radius r centred on each element; outside src is ignored (van Herk /
// Gil-Werman, O(1) per element). g and h are scratch of len(src)+2r.
func minMax1D(dst, src []float32, r int, isMax bool, g, h []float32) {
	if isMax {
		runMax1D(dst, src, r, g, h)
	} else {
		runMin1D(dst, src, r, g, h)
	}
}

// runMax1D is minMax1D's running maximum.
func runMax1D(dst, src []float32, r int, g, h []float32) {
	n := len(src)
	k := 2*r + 1
	m := n + 2*r
	pad := float32(math.Inf(-1))
	g, h = g[:m], h[:m]
	for i := range g {
		v := pad
		if i >= r && i < n+r {
			v = src[i-r]
		}
		if i%k == 0 {
			g[i] = v
		} else {
			g[i] = max(g[i-1], v)
		}
	}
	for i := m - 1; i >= 0; i-- {
		v := pad
		if i >= r && i < n+r {
			v = src[i-r]
		}
		if i == m-1 || (i+1)%k == 0 {
			h[i] = v
		} else {
			h[i] = max(h[i+1], v)
		}
	}
	for j := range dst[:n] {
		dst[j] = max(h[j], g[j+2*r])
	}
}

// runMin1D is minMax1D's running minimum.
func runMin1D(dst, src []float32, r int, g, h []float32) {
	n := len(src)
	k := 2*r + 1
	m := n + 2*r
	pad := float32(math.Inf(1))
	g, h = g[:m], h[:m]
	for i := range g {
		v := pad
		if i >= r && i < n+r {
			v = src[i-r]
		}
		if i%k == 0 {
			g[i] = v
		} else {
			g[i] = min(g[i-1], v)
		}
	}
	for i := m - 1; i >= 0; i-- {
		v := pad
		if i >= r && i < n+r {
			v = src[i-r]
		}
		if i == m-1 || (i+1)%k == 0 {
			h[i] = v
		} else {
			h[i] = min(h[i+1], v)
		}
	}
	for j := range dst[:n] {
		dst[j] = min(h[j], g[j+2*r])
	}
}

// squareFilter is a max (dilation) or min (erosion) filter of a over a
// (2r+1)x(2r+1) square.
func squareFilter(a *plane, r int, isMax bool) *plane {
	w, h := a.w, a.h
	tmp := newPlane(w, h)
	out := newPlane(w, h)
	n := max(w, h)
	g := make([]float32, n+2*r)
	hh := make([]float32, n+2*r)
	for y := 0; y < h; y++ {
		minMax1D(tmp.p[y*w:(y+1)*w], a.p[y*w:(y+1)*w], r, isMax, g, hh)
	}
	col := make([]float32, h)
	res := make([]float32, h)
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			col[y] = tmp.p[y*w+x]
		}
		minMax1D(res, col, r, isMax, g, hh)
		for y := 0; y < h; y++ {
			out.p[y*w+x] = res[y]
		}
	}
	return out
}

// closing is a greyscale morphological closing (dilate then erode) with a
// (2r+1)-square: it fills dark structures narrower than the square.
func closing(a *plane, r int) *plane {
	return squareFilter(squareFilter(a, r, true), r, false)
}

// resample resizes a to w x h by area averaging (shrinking) or bilinear
// interpolation (enlarging).
func resample(a *plane, w, h int) *plane {
	if w == a.w && h == a.h {
		return a.clone()
	}
	tmp := newPlane(w, a.h)
	for y := 0; y < a.h; y++ {
		resample1D(tmp.p[y*w:(y+1)*w], a.p[y*a.w:(y+1)*a.w])
	}
	out := newPlane(w, h)
	src := make([]float32, a.h)
	dst := make([]float32, h)
	for x := 0; x < w; x++ {
		for y := 0; y < a.h; y++ {
			src[y] = tmp.p[y*w+x]
		}
		resample1D(dst, src)
		for y := 0; y < h; y++ {
			out.p[y*w+x] = dst[y]
		}
	}
	return out
}

func resample1D(dst, src []float32) {
	n, m := len(src), len(dst)
	if m >= n {
		// Linear interpolation between sample centres.
		for i := range dst {
			f := (float64(i)+0.5)*float64(n)/float64(m) - 0.5
			i0 := int(math.Floor(f))
			t := float32(f - float64(i0))
			a := src[min(max(i0, 0), n-1)]
			b := src[min(max(i0+1, 0), n-1)]
			dst[i] = a + t*(b-a)
		}
		return
	}
	// Area average: each output cell covers n/m input cells.
	scale := float64(n) / float64(m)
	for i := range dst {
		lo, hi := float64(i)*scale, float64(i+1)*scale
		var s, wsum float64
		for j := int(lo); j < n && float64(j) < hi; j++ {
			wt := math.Min(hi, float64(j+1)) - math.Max(lo, float64(j))
			s += wt * float64(src[j])
			wsum += wt
		}
		if wsum > 0 {
			dst[i] = float32(s / wsum)
		}
	}
}

// sampleIn returns up to about limit values of a where m is set (a regular
// subsample when there are more).
func sampleIn(a *plane, m *mask, limit int) []float32 {
	n := m.count()
	step := 1
	if n > limit {
		step = (n + limit - 1) / limit
	}
	out := make([]float32, 0, n/step+1)
	i := 0
	for idx, v := range m.m {
		if !v {
			continue
		}
		if i%step == 0 {
			out = append(out, a.p[idx])
		}
		i++
	}
	return out
}

// quantile returns the q-quantile (0..1) of vals, sorting vals in place; 0
// for no values.
func quantile(vals []float32, q float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	if !slices.IsSorted(vals) {
		slices.Sort(vals)
	}
	i := int(math.Round(q * float64(len(vals)-1)))
	return float64(vals[min(max(i, 0), len(vals)-1)])
}

// medianMAD returns the median and the median absolute deviation of vals
// (sorting vals in place).
func medianMAD(vals []float32) (med, mad float64) {
	if len(vals) == 0 {
		return 0, 0
	}
	med = quantile(vals, 0.5)
	dev := make([]float32, len(vals))
	for i, v := range vals {
		dev[i] = float32(math.Abs(float64(v) - med))
	}
	return med, quantile(dev, 0.5)
}

// edt1D is the 1-D squared Euclidean distance transform of f (Felzenszwalb &
// Huttenlocher); v and z are scratch of len(f) and len(f)+1. "Infinite"
// entries of f are a large finite value (farAway).
func edt1D(d, f []float64, v []int, z []float64) {
	n := len(f)
	k := 0
	v[0] = 0
	z[0] = math.Inf(-1)
	z[1] = math.Inf(1)
	for q := 1; q < n; q++ {
		s := ((f[q] + float64(q*q)) - (f[v[k]] + float64(v[k]*v[k]))) / float64(2*q-2*v[k])
		for s <= z[k] && k > 0 {
			k--
			s = ((f[q] + float64(q*q)) - (f[v[k]] + float64(v[k]*v[k]))) / float64(2*q-2*v[k])
		}
		if s <= z[k] { // k == 0: q replaces the first parabola
			v[0] = q
			z[0] = math.Inf(-1)
			z[1] = math.Inf(1)
			continue
		}
		k++
		v[k] = q
		z[k] = s
		z[k+1] = math.Inf(1)
	}
	k = 0
	for q := 0; q < n; q++ {
		for z[k+1] < float64(q) {
			k++
		}
		d[q] = float64((q-v[k])*(q-v[k])) + f[v[k]]
	}
}

const farAway = 1e12

// distanceInside returns, for each set pixel of m, its Euclidean distance to
// the nearest unset pixel or to the outside of the frame (0 outside m).
func distanceInside(m *mask) *plane {
	w, h := m.w, m.h
	n := max(w, h)
	f := make([]float64, n)
	d := make([]float64, n)
	v := make([]int, n)
	z := make([]float64, n+1)
	sq := make([]float64, w*h)
	// Columns first, with the frame edge as background beyond.
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			if m.m[y*w+x] {
				f[y] = farAway
			} else {
				f[y] = 0
			}
		}
		edt1D(d[:h], f[:h], v, z)
		for y := 0; y < h; y++ {
			e := float64(min(y+1, h-y))
			sq[y*w+x] = math.Min(d[y], e*e)
		}
	}
	out := newPlane(w, h)
	for y := 0; y < h; y++ {
		copy(f[:w], sq[y*w:(y+1)*w])
		edt1D(d[:w], f[:w], v, z)
		for x := 0; x < w; x++ {
			e := float64(min(x+1, w-x))
			out.p[y*w+x] = float32(math.Sqrt(math.Min(d[x], e*e)))
		}
	}
	return out
}

// components labels the 8-connected components of m. It returns the label of
// each pixel (0 = unset, labels from 1) and the size of each label (index 0
// unused).
func components(m *mask) (labels []int32, sizes []int) {
	w, h := m.w, m.h
	labels = make([]int32, w*h)
	sizes = []int{0}
	var stack []int32
	for start, set := range m.m {
		if !set || labels[start] != 0 {
			continue
		}
		lab := int32(len(sizes))
		size := 0
		labels[start] = lab
		stack = append(stack[:0], int32(start))
		for len(stack) > 0 {
			i := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			size++
			x, y := i%w, i/w
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w {
						continue
					}
					j := yy*w + xx
					if m.m[j] && labels[j] == 0 {
						labels[j] = lab
						stack = append(stack, int32(j))
					}
				}
			}
		}
		sizes = append(sizes, size)
	}
	return labels, sizes
}

// otsu returns Otsu's threshold of vals over [lo, hi] with 256 bins.
func otsu(vals []float32, lo, hi float64) float64 {
	if len(vals) == 0 || hi <= lo {
		return lo
	}
	var hist [256]float64
	for _, v := range vals {
		b := int((float64(v) - lo) / (hi - lo) * 255)
		hist[min(max(b, 0), 255)]++
	}
	total := float64(len(vals))
	var sumAll float64
	for i, c := range hist {
		sumAll += float64(i) * c
	}
	var wB, sumB, best float64
	bestT := 0
	for t := 0; t < 256; t++ {
		wB += hist[t]
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(t) * hist[t]
		mB, mF := sumB/wB, (sumAll-sumB)/wF
		between := wB * wF * (mB - mF) * (mB - mF)
		if between > best {
			best, bestT = between, t
		}
	}
	return lo + (float64(bestT)+0.5)/256*(hi-lo)
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
