package vessels

import (
	"image"
	"math"
	"math/rand/v2"
)

// SynthOptions describe a synthetic fundus photograph for tests. A zero field
// takes its default; Noise and Vignetting take a negative value for none.
type SynthOptions struct {
	// Width and Height of the frame in pixels (default 512 x 512).
	Width, Height int
	// Seed makes the image reproducible (the same options give the same image).
	Seed uint64
	// Vessels is the number of main vessels leaving the optic disc (default 4);
	// each branches into a tree.
	Vessels int
	// VesselWidth is the width of the main vessels as a fraction of the field
	// of view's diameter (default 0.014; branches are narrower).
	VesselWidth float64
	// Curviness is how much the vessels wind, 0 (smooth arcs) to about 1
	// (very tortuous); default 0.2. Use a tiny value such as 1e-9 for none.
	Curviness float64
	// Blur is the standard deviation in pixels of a Gaussian defocus (default none).
	Blur float64
	// Exposure multiplies the brightness (default 1; 0.15 is very dark, 3
	// overexposed).
	Exposure float64
	// Noise is the standard deviation of the sensor noise, in 0..255 units
	// (default 2).
	Noise float64
	// Vignetting darkens the rim of the field of view: brightness falls by
	// this fraction at the rim (default 0.35).
	Vignetting float64
	// FOVRadius is the field of view's radius as a fraction of half the short
	// side (default 0.92).
	FOVRadius float64
	// Gradient is an illumination gradient across the field of view, in a
	// direction drawn from the seed: brightness is multiplied by 1 - Gradient
	// at one edge of the field and 1 + Gradient at the opposite one (default
	// none; 0.3 is a strongly uneven photograph).
	Gradient float64
	// ArteriesVeins draws the main vessels alternately as arteries and veins
	// (the trees keep their kind): veins wider and darker (they absorb red
	// too), arteries lighter with a central light reflex. The picture is
	// otherwise drawn as without it; Synthetic.Arteries, Veins and ZoneB
	// are set.
	ArteriesVeins bool
	// DiscOutside puts the optic disc outside the field of view (beyond its
	// rim); the vessels still come from it.
	DiscOutside bool
}

// SynthDisc is the generated optic disc, in pixels.
type SynthDisc struct{ X, Y, Radius float64 }

// SynthCrossing is a vessel crossing the middle of zone B (2.5 disc radii
// from the disc's centre) in a generated photograph: its kind and its true
// width in pixels there.
type SynthCrossing struct {
	Artery bool
	Width  float64
}

// Synthetic is a generated fundus photograph and its ground truth.
type Synthetic struct {
	Image *image.RGBA
	// Vessels is the ground-truth vessel mask: 255 where a vessel covers at
	// least half of the pixel (inside the field of view), 0 elsewhere.
	Vessels *image.Gray
	// FOV is 255 inside the field of view, 0 outside.
	FOV *image.Gray
	// Options are the options used, defaults filled in.
	Options SynthOptions
	// Disc is the optic disc (outside the field of view with DiscOutside).
	Disc SynthDisc
	// Arteries and Veins (with ArteriesVeins) are the true vessel pixels of
	// each kind, as Vessels (a pixel takes the kind of the vessel covering
	// it most); ZoneB lists the vessels crossing the middle of zone B.
	Arteries, Veins *image.Gray
	ZoneB           []SynthCrossing
}

func (o SynthOptions) withDefaults() SynthOptions {
	if o.Width <= 0 {
		o.Width = 512
	}
	if o.Height <= 0 {
		o.Height = 512
	}
	if o.Vessels <= 0 {
		o.Vessels = 4
	}
	if o.VesselWidth <= 0 {
		o.VesselWidth = 0.014
	}
	if o.Curviness <= 0 {
		o.Curviness = 0.2
	}
	if o.Exposure <= 0 {
		o.Exposure = 1
	}
	if o.Noise == 0 {
		o.Noise = 2
	}
	if o.Noise < 0 {
		o.Noise = 0
	}
	if o.Vignetting == 0 {
		o.Vignetting = 0.35
	}
	if o.Vignetting < 0 {
		o.Vignetting = 0
	}
	if o.FOVRadius <= 0 {
		o.FOVRadius = 0.92
	}
	return o
}

// synthScene is the geometry of one synthetic fundus.
type synthScene struct {
	w, h       int
	cx, cy, R  float64 // field of view
	dx, dy, dr float64 // optic disc
	mx, my, mr float64 // macula
	cover      []float32
	opacity    []float32
	// With ArteriesVeins: the opacity of veins (opacity holds the
	// arteries'), the kind of the vessel covering each pixel most (1
	// artery, 2 vein), and the crossings of zone B's middle.
	opacityV     []float32
	kind         []uint8
	artery       bool
	zoneB        []SynthCrossing
	texture      [6][4]float64 // background texture: kx, ky, phase, amplitude
	minW, maxLen float64
}

// Synth draws a synthetic colour fundus photograph: a dark surround, an
// orange-red disc (the field of view) with vignetting, a brighter optic disc,
// a darker macula, and trees of darker, winding, branching vessels of known
// widths drawn with anti-aliasing, plus mild background texture, noise and
// optional defocus and exposure error. It returns the image and the exact
// vessel mask, for measuring a segmentation against.
func Synth(opts SynthOptions) Synthetic {
	o := opts.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	W, H := o.Width, o.Height
	s := &synthScene{w: W, h: H}
	s.cx, s.cy = float64(W)/2, float64(H)/2
	s.R = o.FOVRadius * float64(min(W, H)) / 2
	side := 1.0
	if rng.IntN(2) == 0 {
		side = -1
	}
	s.dx, s.dy, s.dr = s.cx+side*0.42*s.R, s.cy+(rng.Float64()-0.5)*0.1*s.R, 0.13*s.R
	if o.DiscOutside {
		s.dx = s.cx + side*1.12*s.R
	}
	s.mx, s.my, s.mr = s.cx-side*0.08*s.R, s.cy, 0.22*s.R
	for i := range s.texture {
		wl := s.R * (0.1 + 0.4*rng.Float64())
		a := rng.Float64() * 2 * math.Pi
		s.texture[i] = [4]float64{math.Cos(a) * 2 * math.Pi / wl, math.Sin(a) * 2 * math.Pi / wl, rng.Float64() * 2 * math.Pi, 0.005 + 0.007*rng.Float64()}
	}
	// The gradient's direction has its own generator, so that adding a
	// gradient leaves the rest of the picture as it was.
	ga := rand.New(rand.NewPCG(o.Seed, 0x9ad)).Float64() * 2 * math.Pi
	gx, gy := math.Cos(ga)*o.Gradient/s.R, math.Sin(ga)*o.Gradient/s.R
	s.cover = make([]float32, W*H)
	s.opacity = make([]float32, W*H)
	if o.ArteriesVeins {
		s.opacityV = make([]float32, W*H)
		s.kind = make([]uint8, W*H)
	}
	D := 2 * s.R
	w0 := o.VesselWidth * D
	s.minW = math.Max(1.2, 0.0025*D)
	s.maxLen = 1.1 * D
	for i := 0; i < o.Vessels; i++ {
		a := (float64(i)+0.5)*2*math.Pi/float64(o.Vessels) + (rng.Float64()-0.5)*0.4
		x := s.dx + math.Cos(a)*s.dr*0.1
		y := s.dy + math.Sin(a)*s.dr*0.1
		w := w0 * (0.85 + 0.3*rng.Float64())
		if o.ArteriesVeins {
			s.artery = i%2 == 0
			if s.artery {
				w *= 0.8
			} else {
				w *= 1.15
			}
		}
		s.vessel(rng, o, x, y, a, w, 0)
	}
	var arteries, veins *image.Gray
	if o.ArteriesVeins {
		arteries = image.NewGray(image.Rect(0, 0, W, H))
		veins = image.NewGray(image.Rect(0, 0, W, H))
	}

	img := image.NewRGBA(image.Rect(0, 0, W, H))
	gt := image.NewGray(image.Rect(0, 0, W, H))
	fov := image.NewGray(image.Rect(0, 0, W, H))
	var planes [3][]float32
	if o.Blur > 0 {
		for c := range planes {
			planes[c] = make([]float32, W*H)
		}
	}
	noise := o.Noise / 255
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			i := y*W + x
			px, py := float64(x)+0.5, float64(y)+0.5
			rr := math.Hypot(px-s.cx, py-s.cy)
			inside := clamp01(s.R - rr + 0.5) // anti-aliased rim
			if rr <= s.R {
				fov.Pix[i] = 255
				if s.cover[i] >= 0.5 {
					gt.Pix[i] = 255
					if s.kind != nil && s.kind[i] == 1 {
						arteries.Pix[i] = 255
					} else if s.kind != nil {
						veins.Pix[i] = 255
					}
				}
			}
			col := [3]float64{0.02, 0.02, 0.02}
			if inside > 0 {
				t := rr / s.R
				v := (1 - o.Vignetting*t*t) * (1 + gx*(px-s.cx) + gy*(py-s.cy))
				tex := 0.0
				for _, k := range s.texture {
					tex += k[3] * math.Cos(k[0]*px+k[1]*py+k[2])
				}
				base := [3]float64{0.80, 0.37, 0.15}
				// Optic disc: a bright, yellowish, soft-edged disc.
				dd := math.Hypot(px-s.dx, py-s.dy) / s.dr
				disc := 1 / (1 + math.Exp((dd-1)*12))
				// Macula: a broad darker patch.
				md := math.Hypot(px-s.mx, py-s.my) / s.mr
				mac := 0.18 * math.Exp(-md*md)
				op := float64(s.opacity[i])
				fall := [3]float64{0.25, 1, 0.7} // vessels absorb green most
				tint := [3]float64{1.0, 0.86, 0.62}
				for c := range col {
					v0 := base[c]*(1+tex)*(1-mac) + disc*(tint[c]-base[c])
					v0 *= v * (1 - fall[c]*op)
					if s.opacityV != nil {
						// Veins: darker, and they absorb red too.
						fallV := [3]float64{0.75, 1, 0.8}
						v0 *= 1 - fallV[c]*float64(s.opacityV[i])
					}
					col[c] = inside*v0 + (1-inside)*col[c]
				}
			}
			if o.Blur > 0 {
				for c := range col {
					planes[c][i] = float32(col[c] * o.Exposure)
				}
				continue
			}
			p := img.Pix[4*i : 4*i+4]
			for c := range col {
				p[c] = to8(col[c]*o.Exposure + noise*rng.NormFloat64())
			}
			p[3] = 255
		}
	}
	if o.Blur > 0 {
		// Defocus blurs the optical image; the sensor's noise comes after.
		for c := range planes {
			planes[c] = blur(&plane{w: W, h: H, p: planes[c]}, o.Blur).p
		}
		for i := 0; i < W*H; i++ {
			p := img.Pix[4*i : 4*i+4]
			for c := range planes {
				p[c] = to8(float64(planes[c][i]) + noise*rng.NormFloat64())
			}
			p[3] = 255
		}
	}
	return Synthetic{Image: img, Vessels: gt, FOV: fov, Options: o, Disc: SynthDisc{s.dx, s.dy, s.dr},
		Arteries: arteries, Veins: veins, ZoneB: s.zoneB}
}

// vessel grows one vessel from (x, y) with heading a and width w, spawning
// branches, and draws it.
func (s *synthScene) vessel(rng *rand.Rand, o SynthOptions, x, y, a, w float64, depth int) {
	D := 2 * s.R
	step := math.Max(1, 0.004*D)
	turn := (rng.Float64() - 0.5) * 2.5 / D // gentle arc
	wave := 0.05*D + 0.07*D*rng.Float64()   // wiggle wavelength
	phase := rng.Float64() * 2 * math.Pi
	amp := o.Curviness * 1.5 // wiggle amplitude of the heading, radians
	// A winding vessel covers more length for the same distance (by 1/J0 of
	// the wiggle's amplitude): space branches and end vessels by distance
	// covered, so that curviness changes the vessels' shape, not their number.
	wind := 1 / math.Max(0.3, math.J0(amp))
	nextBranch := (0.04 + 0.08*rng.Float64()) * D * wind
	branchSide := 1.0
	if rng.IntN(2) == 0 {
		branchSide = -1
	}
	base := a
	length := 0.0
	entered := !o.DiscOutside || math.Hypot(x-s.cx, y-s.cy) <= s.R
	for length < s.maxLen*wind && w >= s.minW {
		base += turn*step + rng.NormFloat64()*0.01
		h := base + amp*math.Sin(2*math.Pi*length/wave+phase)
		nx, ny := x+math.Cos(h)*step, y+math.Sin(h)*step
		if math.Hypot(nx-s.cx, ny-s.cy) > s.R+w {
			if entered || length > 0.5*D {
				break
			}
		} else {
			entered = true
		}
		if s.kind != nil {
			zb := 2.5 * s.dr
			if (math.Hypot(x-s.dx, y-s.dy) < zb) != (math.Hypot(nx-s.dx, ny-s.dy) < zb) {
				s.zoneB = append(s.zoneB, SynthCrossing{Artery: s.artery, Width: w})
			}
		}
		s.capsule(x, y, nx, ny, w)
		x, y = nx, ny
		length += step
		w *= 1 - 0.35*step/(D*wind) // slow taper
		if length >= nextBranch && depth < 7 {
			cw := w * (0.55 + 0.25*rng.Float64())
			if cw >= s.minW {
				ca := h + branchSide*(0.45+0.55*rng.Float64())
				s.vessel(rng, o, x, y, ca, cw, depth+1)
				w *= 0.92
			}
			branchSide = -branchSide
			nextBranch = length + (0.04+0.1*rng.Float64())*D*wind
		}
	}
}

// capsule draws a segment of width w with anti-aliased edges: coverage is
// max'ed into cover and the vessel's opacity (thin vessels are fainter) into
// opacity.
func (s *synthScene) capsule(x0, y0, x1, y1, w float64) {
	r := w/2 + 1
	minX := max(0, int(math.Floor(math.Min(x0, x1)-r)))
	maxX := min(s.w-1, int(math.Ceil(math.Max(x0, x1)+r)))
	minY := max(0, int(math.Floor(math.Min(y0, y1)-r)))
	maxY := min(s.h-1, int(math.Ceil(math.Max(y0, y1)+r)))
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	contrast := 0.30 * math.Min(1, 0.45+0.55*w/(0.012*2*s.R))
	for y := minY; y <= maxY; y++ {
		for x := minX; x <= maxX; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			t := 0.0
			if l2 > 0 {
				t = clamp01(((px-x0)*dx + (py-y0)*dy) / l2)
			}
			d := math.Hypot(px-(x0+t*dx), py-(y0+t*dy))
			c := float32(clamp01(w/2 - d + 0.5))
			if c <= 0 {
				continue
			}
			i := y*s.w + x
			if c > s.cover[i] {
				s.cover[i] = c
			}
			if s.kind != nil {
				if c >= s.cover[i] {
					s.kind[i] = 2
					if s.artery {
						s.kind[i] = 1
					}
				}
				op := c * float32(contrast)
				if s.artery {
					// Lighter, with a central light reflex a fifth of
					// the width across on the wider arteries.
					op *= 0.85
					if w > 4 && d < w/10 {
						op *= 0.6
					}
					s.opacity[i] = max(s.opacity[i], op)
				} else {
					s.opacityV[i] = max(s.opacityV[i], op)
				}
				continue
			}
			if op := c * float32(contrast); op > s.opacity[i] {
				s.opacity[i] = op
			}
		}
	}
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

func to8(v float64) uint8 {
	v = v*255 + 0.5
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
