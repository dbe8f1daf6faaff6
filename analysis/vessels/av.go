package vessels

import (
	"image"
	"image/color"
	"math"
	"slices"

	"aura/analysis"
)

// Vessel classes of the artery/vein map.
const (
	avNone    uint8 = 0
	avArtery  uint8 = 1
	avVein    uint8 = 2
	avUnknown uint8 = 3
)

// Artery/vein parameters.
const (
	// avMinWidth is the narrowest segment (mean width, fraction of D, at
	// least 2 working px) whose colour is used: thinner ones are a few
	// pixels of mostly background and take their class from the segments
	// they join.
	avMinWidth = 0.003
	// avZoneIn, avZoneOut bound the zone, in disc radii from its centre,
	// whose segments are clustered (the widest, most contrasted vessels,
	// where arteries and veins differ most); with fewer than avMinSegments
	// there, every segment wide enough is.
	avZoneIn, avZoneOut, avMinSegments = 1.0, 6.0, 6
	// avMargin: a segment whose score (distance to the vein centre less
	// distance to the artery centre, over their sum) is within avMargin of
	// 0 is too close to call and takes its neighbours' class.
	avMargin = 0.06
)

// avResult is the classification of the working vessel map.
type avResult struct {
	labels []uint8 // per working pixel: avNone, avArtery, avVein, avUnknown
	owner  []int32 // per vessel pixel: its centre-line segment (0: none)
	seg    []int32 // per skeleton pixel: its segment (0: not a segment pixel)
	nSeg   int
	class  []uint8 // per segment
}

// classifyAV splits the skeleton skel of the vessel map v into segments
// (at branch points), describes each segment by the colour of its centre
// line (green and red over the local background of the vessel-free
// retina: arteries are lighter and redder, with a central light reflex;
// veins darker), clusters the segments wide enough to be read into two
// groups by k-means (weighted by length; in the zone around the disc d when
// it is known), calls the lighter group arteries, classifies every such
// segment by its nearest centre, and lets thin or undecided segments take
// the length-weighted class of the segments they join at bifurcations
// (never across a crossing, where four or more meet). Every vessel pixel
// then takes the class of the nearest centre-line segment (unknown when
// none decided).
func classifyAV(wk *working, f fov, v, skel *mask, dist *plane, d *disc) *avResult {
	w, h := v.w, v.h
	D := math.Max(f.diameter, 1)
	segMask := splitAtBranches(skel)
	seg, sizes := components(segMask)
	nSeg := len(sizes) - 1
	res := &avResult{labels: make([]uint8, w*h), owner: make([]int32, w*h), seg: seg, nSeg: nSeg, class: make([]uint8, nSeg+1)}
	for i, on := range v.m {
		if on {
			res.labels[i] = avUnknown
		}
	}
	if nSeg == 0 {
		return res
	}
	// Local background of the vessel-free field, per channel: a
	// normalised convolution (Gaussian of D/40) computed on a copy shrunk
	// by k, read back at the centre-line pixels only.
	k := max(1, int(D/40/3))
	sw, sh := max(1, (w+k-1)/k), max(1, (h+k-1)/k)
	fr, fg, fw := newPlane(w, h), newPlane(w, h), newPlane(w, h)
	for i, in := range f.lit.m {
		if in && !v.m[i] {
			fr.p[i], fg.p[i], fw.p[i] = wk.r.p[i], wk.g.p[i], 1
		}
	}
	sig := D / 40 / float64(k)
	sR, sG, sW := blur(shrinkBy(fr, k), sig), blur(shrinkBy(fg, k), sig), blur(shrinkBy(fw, k), sig)
	for i := range sW.p {
		wt := max(sW.p[i], 1e-3)
		sR.p[i] /= wt
		sG.p[i] /= wt
	}
	bgAt := func(bg *plane, i int) float32 {
		return sampleAt(bg, (float64(i%w)+0.5)*float64(sw)/float64(w)-0.5, (float64(i/w)+0.5)*float64(sh)/float64(h)-0.5)
	}
	type segStat struct {
		n, g, r, width, x, y float64
	}
	st := make([]segStat, nSeg+1)
	for i, l := range seg {
		if l == 0 {
			continue
		}
		s := &st[l]
		s.n++
		s.g += float64(wk.g.p[i] / max(bgAt(sG, i), 0.01))
		s.r += float64(wk.r.p[i] / max(bgAt(sR, i), 0.01))
		s.width += 2*float64(dist.p[i]) - 1
		s.x += float64(i % w)
		s.y += float64(i / w)
	}
	minW := math.Max(2, avMinWidth*D)
	minN := math.Max(4, D/150)
	eligible := make([]bool, nSeg+1)
	var zone []int
	var all []int
	for l := 1; l <= nSeg; l++ {
		s := &st[l]
		if s.n == 0 {
			continue
		}
		s.g, s.r, s.width, s.x, s.y = s.g/s.n, s.r/s.n, s.width/s.n, s.x/s.n, s.y/s.n
		if s.width < minW || s.n < minN {
			continue
		}
		if d != nil && math.Hypot(s.x-d.x, s.y-d.y) < d.r {
			continue // on the disc: its brightness, not the vessel's, sets the colour
		}
		eligible[l] = true
		all = append(all, l)
		if d != nil {
			if dd := math.Hypot(s.x-d.x, s.y-d.y) / d.r; dd >= avZoneIn && dd <= avZoneOut {
				zone = append(zone, l)
			}
		}
	}
	if len(zone) < avMinSegments {
		zone = all
	}
	// A thin vessel looks lighter than a wide one of the same kind (less
	// blood on the light's path): the colours are taken relative to the
	// line fitted, over the segments, against the logarithm of the width.
	for _, ch := range []func(*segStat) *float64{func(s *segStat) *float64 { return &s.g }, func(s *segStat) *float64 { return &s.r }} {
		var sw, sx, sy, sxx, sxy float64
		for _, l := range all {
			x, y := math.Log(st[l].width), *ch(&st[l])
			sw += st[l].n
			sx += st[l].n * x
			sy += st[l].n * y
			sxx += st[l].n * x * x
			sxy += st[l].n * x * y
		}
		if sw == 0 {
			break
		}
		den := sw*sxx - sx*sx
		if den <= 0 {
			continue
		}
		slope := (sw*sxy - sx*sy) / den
		for _, l := range all {
			*ch(&st[l]) -= slope * math.Log(st[l].width)
		}
	}
	score := make([]float64, nSeg+1)
	decided := make([]bool, nSeg+1)
	if len(zone) >= 2 {
		// Features standardised over the clustered segments.
		var mg, mr, sg, sr, wsum float64
		for _, l := range zone {
			mg += st[l].n * st[l].g
			mr += st[l].n * st[l].r
			wsum += st[l].n
		}
		mg, mr = mg/wsum, mr/wsum
		for _, l := range zone {
			sg += st[l].n * (st[l].g - mg) * (st[l].g - mg)
			sr += st[l].n * (st[l].r - mr) * (st[l].r - mr)
		}
		sg, sr = math.Sqrt(sg/wsum)+1e-6, math.Sqrt(sr/wsum)+1e-6
		feat := func(l int) [2]float64 { return [2]float64{(st[l].g - mg) / sg, (st[l].r - mr) / sr} }
		// k-means, k = 2, started from the darker and the lighter half.
		order := slices.Clone(zone)
		slices.SortFunc(order, func(a, b int) int {
			fa, fb := feat(a), feat(b)
			return cmpFloat(fa[0]+fa[1], fb[0]+fb[1])
		})
		var c [2][2]float64
		for k := 0; k < 2; k++ {
			part := order[:len(order)/2]
			if k == 1 {
				part = order[len(order)/2:]
			}
			c[k] = centroid(part, feat, func(l int) float64 { return st[l].n })
		}
		for it := 0; it < 20; it++ {
			var groups [2][]int
			for _, l := range zone {
				fl := feat(l)
				k := 0
				if dist2(fl, c[1]) < dist2(fl, c[0]) {
					k = 1
				}
				groups[k] = append(groups[k], l)
			}
			if len(groups[0]) == 0 || len(groups[1]) == 0 {
				break
			}
			nc := [2][2]float64{centroid(groups[0], feat, func(l int) float64 { return st[l].n }),
				centroid(groups[1], feat, func(l int) float64 { return st[l].n })}
			if nc == c {
				break
			}
			c = nc
		}
		art, vein := c[1], c[0]
		if art[0]+art[1] < vein[0]+vein[1] {
			art, vein = vein, art
		}
		if dist2(art, vein) > 0.25 { // two groups that differ, not one split in half
			for _, l := range all {
				fl := feat(l)
				da, dv := math.Sqrt(dist2(fl, art)), math.Sqrt(dist2(fl, vein))
				score[l] = (dv - da) / (dv + da + 1e-9)
				decided[l] = math.Abs(score[l]) >= avMargin
			}
		}
	}
	// Propagation along bifurcations.
	nbrs := segmentNeighbours(skel, segMask, seg, nSeg)
	for it := 0; it < 50; it++ {
		changed := false
		for l := 1; l <= nSeg; l++ {
			if decided[l] || len(nbrs[l]) == 0 {
				continue
			}
			var s, n float64
			for _, k := range nbrs[l] {
				if decided[k] {
					s += score[k] * st[k].n
					n += st[k].n
				}
			}
			if n > 0 && math.Abs(s/n) >= avMargin {
				score[l] = s / n
				decided[l] = true
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for l := 1; l <= nSeg; l++ {
		switch {
		case !decided[l]:
			res.class[l] = avUnknown
		case score[l] > 0:
			res.class[l] = avArtery
		default:
			res.class[l] = avVein
		}
	}
	// Every vessel pixel takes the class of the nearest segment (breadth
	// first from the segments' pixels through the vessel map).
	queue := make([]int32, 0, 1024)
	for i, l := range seg {
		if l != 0 && v.m[i] {
			res.owner[i] = l
			res.labels[i] = res.class[l]
			queue = append(queue, int32(i))
		}
	}
	for q := 0; q < len(queue); q++ {
		i := int(queue[q])
		x, y := i%w, i/w
		for _, dd := range ring {
			xx, yy := x+dd[0], y+dd[1]
			if xx < 0 || yy < 0 || xx >= w || yy >= h {
				continue
			}
			j := yy*w + xx
			if v.m[j] && res.owner[j] == 0 {
				res.owner[j] = res.owner[i]
				res.labels[j] = res.labels[i]
				queue = append(queue, int32(j))
			}
		}
	}
	return res
}

// segmentNeighbours lists, per segment, the segments it meets at a
// junction of branch points touching two or three segments (a bifurcation,
// or a branch point whose spur was pruned); a crossing, four or more, joins
// none.
func segmentNeighbours(skel, segMask *mask, seg []int32, nSeg int) [][]int {
	w, h := skel.w, skel.h
	branch := newMask(w, h)
	for i, on := range skel.m {
		branch.m[i] = on && !segMask.m[i]
	}
	jl, js := components(branch)
	touch := make([][]int32, len(js))
	for i, j := range jl {
		if j == 0 {
			continue
		}
		x, y := i%w, i/w
		for _, dd := range ring {
			xx, yy := x+dd[0], y+dd[1]
			if xx < 0 || yy < 0 || xx >= w || yy >= h {
				continue
			}
			if l := seg[yy*w+xx]; l != 0 && !slices.Contains(touch[j], l) {
				touch[j] = append(touch[j], l)
			}
		}
	}
	nbrs := make([][]int, nSeg+1)
	for _, ls := range touch {
		if len(ls) < 2 || len(ls) > 3 {
			continue
		}
		for _, a := range ls {
			for _, b := range ls {
				if a != b {
					nbrs[a] = append(nbrs[a], int(b))
				}
			}
		}
	}
	return nbrs
}

func centroid(ls []int, feat func(int) [2]float64, wt func(int) float64) [2]float64 {
	var c [2]float64
	var n float64
	for _, l := range ls {
		f := feat(l)
		c[0] += wt(l) * f[0]
		c[1] += wt(l) * f[1]
		n += wt(l)
	}
	if n > 0 {
		c[0] /= n
		c[1] /= n
	}
	return c
}

func dist2(a, b [2]float64) float64 {
	return (a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1])
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// calibre is what is measured in zone B.
type calibre struct {
	crae, crve      *float64 // original pixels
	arteries, veins []float64
}

// Knudtson's revised formulas (Knudtson et al., Curr Eye Res 27(3), 2003):
// the branching coefficients of arterioles and venules, and the number of
// the widest vessels summarised.
const (
	knudtsonArtery, knudtsonVein = 0.88, 0.95
	knudtsonVessels              = 6
)

// knudtson summarises widths by the revised Knudtson formula: of the six
// widest (fewer when there are fewer), the widest is paired with the
// narrowest, the next widest with the next narrowest, ..., each pair
// replaced by k*sqrt(w1^2 + w2^2), an odd one out carried to the next round,
// until one value remains. It returns nil for no widths.
func knudtson(ws []float64, k float64) *float64 {
	if len(ws) == 0 {
		return nil
	}
	cur := slices.Clone(ws)
	slices.SortFunc(cur, func(a, b float64) int { return cmpFloat(b, a) })
	if len(cur) > knudtsonVessels {
		cur = cur[:knudtsonVessels]
	}
	for len(cur) > 1 {
		n := len(cur)
		next := make([]float64, 0, (n+1)/2)
		for i := 0; i < n/2; i++ {
			next = append(next, k*math.Sqrt(cur[i]*cur[i]+cur[n-1-i]*cur[n-1-i]))
		}
		if n%2 == 1 {
			next = append(next, cur[n/2])
		}
		slices.SortFunc(next, func(a, b float64) int { return cmpFloat(b, a) })
		cur = next
	}
	return &cur[0]
}

// measureCalibre finds the vessels crossing zone B (the ring 0.5 to 1 disc
// diameter from the disc's margin: 2 to 3 disc radii from its centre): the
// segments met on the circle through its middle. Each one's width is its
// area over its centre line's length inside the ring (the definition of
// meanVesselWidthPx, locally), in original pixels (scale is working over
// original). CRAE and CRVE are Knudtson's summaries of the arteries' and
// the veins' widths; each needs at least two vessels of its kind.
func measureCalibre(v *mask, f fov, d *disc, av *avResult, scale float64) calibre {
	var out calibre
	w, h := v.w, v.h
	rin, rout := 2*d.r, 3*d.r
	mid := 2.5 * d.r
	crossing := map[int32]bool{}
	steps := int(math.Ceil(2 * math.Pi * mid * 2))
	for k := 0; k < steps; k++ {
		t := 2 * math.Pi * float64(k) / float64(steps)
		x := int(math.Round(d.x + mid*math.Cos(t)))
		y := int(math.Round(d.y + mid*math.Sin(t)))
		if x < 0 || y < 0 || x >= w || y >= h {
			continue
		}
		i := y*w + x
		if v.m[i] && f.analysed.m[i] && av.owner[i] != 0 {
			crossing[av.owner[i]] = true
		}
	}
	if len(crossing) == 0 {
		return out
	}
	area := map[int32]float64{}
	length := map[int32]float64{}
	x0, x1 := max(0, int(d.x-rout)-1), min(w-1, int(d.x+rout)+1)
	y0, y1 := max(0, int(d.y-rout)-1), min(h-1, int(d.y+rout)+1)
	inRing := func(x, y int) bool {
		r := math.Hypot(float64(x)-d.x, float64(y)-d.y)
		return r >= rin && r <= rout
	}
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			i := y*w + x
			o := av.owner[i]
			if !crossing[o] || !inRing(x, y) {
				continue
			}
			area[o]++
			if av.seg[i] != o {
				continue
			}
			// Kulpa's weights, each link counted half from either end.
			for _, dd := range ring {
				xx, yy := x+dd[0], y+dd[1]
				if xx < 0 || yy < 0 || xx >= w || yy >= h || av.seg[yy*w+xx] != o {
					continue
				}
				if dd[0] == 0 || dd[1] == 0 {
					length[o] += 0.948 / 2
				} else if av.seg[y*w+xx] != o && av.seg[yy*w+x] != o {
					length[o] += 1.343 / 2
				}
			}
		}
	}
	for o := range crossing {
		l := length[o]
		if l < math.Max(2, 0.3*d.r) {
			continue
		}
		wd := area[o] / l / scale
		switch av.class[o] {
		case avArtery:
			out.arteries = append(out.arteries, wd)
		case avVein:
			out.veins = append(out.veins, wd)
		}
	}
	slices.Sort(out.arteries)
	slices.Sort(out.veins)
	if len(out.arteries) >= 2 {
		out.crae = knudtson(out.arteries, knudtsonArtery)
	}
	if len(out.veins) >= 2 {
		out.crve = knudtson(out.veins, knudtsonVein)
	}
	return out
}

// avPalette are the map's colours by class, as interface values made once
// (At is called once a pixel by the PNG encoder).
var avPalette = [4]color.Color{color.RGBA{0, 0, 0, 255}, analysis.ColorArtery, analysis.ColorVein, analysis.ColorUnknownVessel}

// avImage is the artery/vein map at the original size, read from the
// working labels by nearest neighbour (as the vessel map): it holds no
// pixel of its own, so a 40-megapixel map costs nothing until encoded.
type avImage struct {
	labels     []uint8
	w          int
	xmap, ymap []int
	rect       image.Rectangle
}

func (m *avImage) ColorModel() color.Model { return color.RGBAModel }
func (m *avImage) Bounds() image.Rectangle { return m.rect }
func (m *avImage) Opaque() bool            { return true }
func (m *avImage) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(m.rect)) {
		return avPalette[0]
	}
	return avPalette[m.labels[m.ymap[y]*m.w+m.xmap[x]]]
}

// overlay draws, on the working copy of the photograph, the vessels in
// their classes' colours (blended, so the vessel stays visible under the
// colour), the optic disc's outline in yellow and zone B's bounds in white.
func overlay(wk *working, labels []uint8, d *disc) *image.RGBA {
	w, h := wk.g.w, wk.g.h
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	const a = 0.6
	for i := 0; i < w*h; i++ {
		p := out.Pix[4*i : 4*i+4]
		r, g, b := float64(wk.r.p[i]), float64(wk.g.p[i]), float64(wk.b.p[i])
		if l := labels[i]; l != avNone {
			c := avPalette[l].(color.RGBA)
			r = (1-a)*r + a*float64(c.R)/255
			g = (1-a)*g + a*float64(c.G)/255
			b = (1-a)*b + a*float64(c.B)/255
		}
		p[0], p[1], p[2], p[3] = to8(r), to8(g), to8(b), 255
	}
	if d != nil {
		t := math.Max(1, math.Round(float64(max(w, h))/400))
		circle(out, d.x, d.y, d.r, t, color.RGBA{255, 230, 0, 255}, false)
		circle(out, d.x, d.y, 2*d.r, math.Max(1, t/2), color.RGBA{255, 255, 255, 255}, true)
		circle(out, d.x, d.y, 3*d.r, math.Max(1, t/2), color.RGBA{255, 255, 255, 255}, true)
	}
	return out
}

// circle draws a circle of radius r and line width t around (cx, cy),
// dashed if asked.
func circle(img *image.RGBA, cx, cy, r, t float64, c color.RGBA, dashed bool) {
	b := img.Bounds()
	x0, x1 := max(b.Min.X, int(cx-r-t)-1), min(b.Max.X-1, int(cx+r+t)+1)
	y0, y1 := max(b.Min.Y, int(cy-r-t)-1), min(b.Max.Y-1, int(cy+r+t)+1)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			if math.Abs(math.Hypot(dx, dy)-r) > t/2+0.25 {
				continue
			}
			if dashed {
				ang := math.Atan2(dy, dx)
				if int(math.Floor(ang*r/(4*t+4)))%2 == 0 {
					continue
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
}
