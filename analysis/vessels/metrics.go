package vessels

import (
	"math"
)

// Neighbour offsets around a pixel in Zhang-Suen's order P2..P9: N, NE, E,
// SE, S, SW, W, NW.
var ring = [8][2]int{{0, -1}, {1, -1}, {1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}}

// neighbours returns the 8 neighbours of (x, y) in ring order (false outside
// the frame).
func (m *mask) neighbours(x, y int) (n [8]bool) {
	for k, d := range ring {
		xx, yy := x+d[0], y+d[1]
		if xx >= 0 && yy >= 0 && xx < m.w && yy < m.h {
			n[k] = m.m[yy*m.w+xx]
		}
	}
	return n
}

// crossings is the number of unset-to-set transitions around the ring: 1 at
// the end of a line, 2 inside one, 3 or more where lines meet.
func crossings(n [8]bool) int {
	c := 0
	for k := 0; k < 8; k++ {
		if !n[k] && n[(k+1)%8] {
			c++
		}
	}
	return c
}

func countSet(n [8]bool) int {
	c := 0
	for _, v := range n {
		if v {
			c++
		}
	}
	return c
}

// thin returns the skeleton of m by Zhang & Suen's thinning (1984): pixels
// are peeled from the boundary in two alternating sub-iterations until none
// can be removed without breaking connectivity or shortening a line.
func thin(m *mask) *mask {
	s := &mask{w: m.w, h: m.h, m: append([]bool(nil), m.m...)}
	var cand []int
	for i, v := range s.m {
		if v {
			cand = append(cand, i)
		}
	}
	var del []int
	for changed := true; changed; {
		changed = false
		for step := 0; step < 2; step++ {
			del = del[:0]
			for _, i := range cand {
				n := s.neighbours(i%s.w, i/s.w)
				b := countSet(n)
				if b < 2 || b > 6 || crossings(n) != 1 {
					continue
				}
				// n[0]=P2 N, n[2]=P4 E, n[4]=P6 S, n[6]=P8 W.
				if step == 0 && (n[0] && n[2] && n[4] || n[2] && n[4] && n[6]) {
					continue
				}
				if step == 1 && (n[0] && n[2] && n[6] || n[0] && n[4] && n[6]) {
					continue
				}
				del = append(del, i)
			}
			for _, i := range del {
				s.m[i] = false
			}
			if len(del) > 0 {
				changed = true
				keep := cand[:0]
				for _, i := range cand {
					if s.m[i] {
						keep = append(keep, i)
					}
				}
				cand = keep
			}
		}
	}
	// Zhang-Suen leaves 4-connected staircases (an L at every step of a
	// diagonal line). Remove, in one sequential pass, each pixel whose set
	// neighbours stay connected without it and that is not an end, so that
	// the skeleton is 8-connected and one pixel thin: then a line's pixels
	// have two neighbours, an end one, and a branch point three or more.
	for _, i := range cand {
		n := s.neighbours(i%s.w, i/s.w)
		if countSet(n) >= 2 && neighbourGroups(n) == 1 {
			s.m[i] = false
		}
	}
	return s
}

// neighbourGroups is the number of 8-connected groups that the set
// neighbours in n form among themselves (around the removed centre).
func neighbourGroups(n [8]bool) int {
	// Two ring neighbours touch when they are consecutive in the ring, or
	// when both are 4-neighbours one apart (N and E touch through a corner).
	var seen [8]bool
	groups := 0
	for k := 0; k < 8; k++ {
		if !n[k] || seen[k] {
			continue
		}
		groups++
		stack := []int{k}
		seen[k] = true
		for len(stack) > 0 {
			a := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for b := 0; b < 8; b++ {
				if !n[b] || seen[b] || !ringTouch(a, b) {
					continue
				}
				seen[b] = true
				stack = append(stack, b)
			}
		}
	}
	return groups
}

// ringTouch says whether ring positions a and b are 8-adjacent pixels.
func ringTouch(a, b int) bool {
	dx := ring[a][0] - ring[b][0]
	dy := ring[a][1] - ring[b][1]
	return dx >= -1 && dx <= 1 && dy >= -1 && dy <= 1
}

// linkLength is the length of the skeleton s by Kulpa's estimator (1977):
// 0.948 for each pair of 4-adjacent pixels and 1.343 for each pair of
// diagonal pixels not already joined through a shared 4-neighbour. Counting
// 1 and sqrt 2 would overestimate a digital line's length by up to 8%
// depending on its angle; Kulpa's weights are unbiased over all angles
// (within about 5% for any one angle).
func linkLength(s *mask) float64 {
	const kulpaEven, kulpaOdd = 0.948, 1.343
	w, h := s.w, s.h
	at := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h && s.m[y*w+x] }
	var l float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if !s.m[y*w+x] {
				continue
			}
			if at(x+1, y) {
				l += kulpaEven
			}
			if at(x, y+1) {
				l += kulpaEven
			}
			if at(x+1, y+1) && !at(x+1, y) && !at(x, y+1) {
				l += kulpaOdd
			}
			if at(x-1, y+1) && !at(x-1, y) && !at(x, y+1) {
				l += kulpaOdd
			}
		}
	}
	return l
}

// splitAtBranches returns the skeleton s (one pixel thin, see thin) without
// its branch points (pixels with three or more neighbours), leaving one
// component per segment.
func splitAtBranches(s *mask) *mask {
	out := &mask{w: s.w, h: s.h, m: append([]bool(nil), s.m...)}
	for i, v := range s.m {
		if v && countSet(s.neighbours(i%s.w, i/s.w)) >= 3 {
			out.m[i] = false
		}
	}
	return out
}

// prune removes spurs from the skeleton s: segments shorter than maxLen
// pixels with a free end that hang off a branch point (the small side-shoots
// that thinning grows from bumps on a vessel's edge).
func prune(s *mask, maxLen int) *mask {
	seg := splitAtBranches(s)
	labels, sizes := components(seg)
	free := make([]bool, len(sizes))   // has a free end in the skeleton
	attach := make([]bool, len(sizes)) // touches a branch point
	for i, l := range labels {
		if l == 0 {
			continue
		}
		x, y := i%s.w, i/s.w
		if countSet(s.neighbours(x, y)) == 1 {
			free[l] = true
		}
		for _, d := range ring {
			xx, yy := x+d[0], y+d[1]
			if xx >= 0 && yy >= 0 && xx < s.w && yy < s.h {
				j := yy*s.w + xx
				if s.m[j] && !seg.m[j] {
					attach[l] = true
				}
			}
		}
	}
	out := &mask{w: s.w, h: s.h, m: append([]bool(nil), s.m...)}
	for i, l := range labels {
		if l != 0 && free[l] && attach[l] && sizes[l] < maxLen {
			out.m[i] = false
		}
	}
	return out
}

// segmentTortuosities returns arc length / chord length for each segment of
// the skeleton s (split at branch points) whose chord is at least minChord
// pixels. A segment is walked from one end to the other; its arc length is
// measured on the path smoothed by a moving average over 2*smooth+1 pixels,
// which removes the staircase of a digital line (a straight line at any
// angle then measures close to 1).
func segmentTortuosities(s *mask, minChord float64, smooth int) []float64 {
	seg := splitAtBranches(s)
	labels, sizes := components(seg)
	w, h := s.w, s.h
	// One end per segment: a pixel with at most one neighbour in its segment.
	start := make([]int, len(sizes))
	for i := range start {
		start[i] = -1
	}
	inSeg := func(x, y int, l int32) bool {
		return x >= 0 && y >= 0 && x < w && y < h && labels[y*w+x] == l
	}
	for i, l := range labels {
		if l == 0 || start[l] >= 0 {
			continue
		}
		x, y := i%w, i/w
		var n [8]bool
		for k, d := range ring {
			n[k] = inSeg(x+d[0], y+d[1], l)
		}
		// An end: its neighbours in the segment form one run around it
		// (one neighbour, or two adjacent ones at an L-shaped corner).
		if crossings(n) <= 1 {
			start[l] = i
		}
	}
	visited := make([]bool, w*h)
	var out []float64
	var px, py []float64
	for l := 1; l < len(sizes); l++ {
		if start[l] < 0 || sizes[l] < 3 {
			continue // a closed loop, or too small
		}
		px, py = px[:0], py[:0]
		i := start[l]
		for i >= 0 {
			visited[i] = true
			x, y := i%w, i/w
			px = append(px, float64(x))
			py = append(py, float64(y))
			next := -1
			// Prefer 4-neighbours, then diagonals.
			for _, k := range [8]int{0, 2, 4, 6, 1, 3, 5, 7} {
				xx, yy := x+ring[k][0], y+ring[k][1]
				if inSeg(xx, yy, int32(l)) && !visited[yy*w+xx] {
					next = yy*w + xx
					break
				}
			}
			i = next
		}
		n := len(px)
		chord := math.Hypot(px[n-1]-px[0], py[n-1]-py[0])
		if chord < minChord {
			continue
		}
		arc := 0.0
		qx, qy := px[0], py[0]
		for j := 1; j < n; j++ {
			k := min(smooth, j, n-1-j)
			var sx, sy float64
			for t := j - k; t <= j+k; t++ {
				sx += px[t]
				sy += py[t]
			}
			sx /= float64(2*k + 1)
			sy /= float64(2*k + 1)
			arc += math.Hypot(sx-qx, sy-qy)
			qx, qy = sx, sy
		}
		out = append(out, math.Max(1, arc/chord))
	}
	return out
}

// boxCountingDimension is the box-counting (Minkowski-Bouligand) dimension of
// m: the slope of log N(s) against log(1/s), where N(s) is the number of s x s
// boxes of a grid that hold at least one set pixel, fitted by least squares
// over s = 2, 4, 8, ... up to maxBox. It is clamped to 1..2; 1 when m is
// empty or too small to fit.
func boxCountingDimension(m *mask, maxBox int) float64 {
	var xs, ys []float64
	for s := 2; s <= maxBox; s *= 2 {
		bw, bh := (m.w+s-1)/s, (m.h+s-1)/s
		occ := make([]bool, bw*bh)
		n := 0
		for y := 0; y < m.h; y++ {
			row := m.m[y*m.w : (y+1)*m.w]
			by := (y / s) * bw
			for x, v := range row {
				if v && !occ[by+x/s] {
					occ[by+x/s] = true
					n++
				}
			}
		}
		if n == 0 {
			return 1
		}
		xs = append(xs, math.Log(1/float64(s)))
		ys = append(ys, math.Log(float64(n)))
	}
	if len(xs) < 3 {
		return 1
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	return math.Min(2, math.Max(1, sxy/sxx))
}
