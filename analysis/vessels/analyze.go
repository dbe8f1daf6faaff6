package vessels

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"aura/analysis"
)

// Name is the analyzer's name in results, and the name it is registered
// under (analysis.analyzer: vessels; see analyzer.go).
const Name = "vessels"

// Version is recorded in every result; it changes whenever the method or a
// threshold changes, so that a result can be traced to the method that made
// it.
const Version = "vessels-2.1.0"

// WorkingMaxSide is the longest side, in pixels, of the working copy that the
// segmentation and the metrics run on: a larger image is shrunk (by area
// averaging) to it, so that any image up to MaxPixels takes bounded time and
// memory. The vessel map is returned at the original size.
const WorkingMaxSide = 1024

// MaxPixels is the largest image accepted (width x height); the clinic's
// contract allows 40 megapixels.
const MaxPixels = 64_000_000

// Errors of Analyze (besides the context's).
var (
	ErrNoImage  = errors.New("vessels: no image")
	ErrTooLarge = fmt.Errorf("vessels: image larger than %d pixels", MaxPixels)
)

// Analyze measures the retinal vessels of a decoded colour fundus
// photograph (the screening worker reaches it through Analyzer, which
// decodes the uploaded file first).
//
// It returns a result for any image, however poor: an image that is too
// dark, overexposed, too noisy, out of focus, or whose field of view is
// missing or too small is reported gradable=false with the reasons in
// QualityDetail.Reasons, no metrics and no confidence, and still with its
// vessel map. It fails only for a nil or empty image, one larger than
// MaxPixels, or when ctx is done (it checks ctx between stages and returns
// ctx.Err()). It never panics: an unexpected panic inside is returned as an
// error.
func Analyze(ctx context.Context, img image.Image) (res *analysis.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("vessels: internal error: %v", p)
		}
	}()
	return analyze(ctx, img)
}

func analyze(ctx context.Context, img image.Image) (*analysis.Result, error) {
	if img == nil {
		return nil, ErrNoImage
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, ErrNoImage
	}
	if int64(b.Dx())*int64(b.Dy()) > MaxPixels {
		return nil, ErrTooLarge
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wk, err := load(ctx, img, WorkingMaxSide)
	if err != nil {
		return nil, err
	}
	f := findFOV(wk.r)
	q := assessQuality(wk, f)
	res := &analysis.Result{
		Analyzer:      Name,
		Version:       Version,
		Quality:       q.Score,
		QualityDetail: q,
		Gradable:      q.Exposure >= gradableFloor && q.Focus >= gradableFloor && q.FieldOfView >= gradableFloor,
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vessels := newMask(wk.g.w, wk.g.h)
	if f.surround && f.analysed.count() > 0 {
		seg, err := segment(ctx, wk, f)
		if err != nil {
			return nil, err
		}
		vessels = seg.vessels
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var labels []uint8
	var d *disc
	if res.Gradable {
		skel := skeleton(vessels, f)
		m := measureSkeleton(vessels, skel, f, wk.scale)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dist := distanceInside(vessels)
		d = findDisc(wk, f, vessels, dist)
		av := classifyAV(wk, f, vessels, skel, dist, d)
		labels = av.labels
		if d != nil {
			addDiscMetrics(&m, vessels, f, d, av, wk.scale)
			res.OpticDisc = &analysis.OpticDisc{X: (d.x+0.5)/wk.scale - 0.5, Y: (d.y+0.5)/wk.scale - 0.5, Radius: d.r / wk.scale}
		}
		res.Metrics = &m
		c := q.Score
		res.Confidence = &c
	} else {
		labels = make([]uint8, len(vessels.m))
		for i, on := range vessels.m {
			if on {
				labels[i] = avUnknown
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.VesselMap, err = wk.upscaleMask(ctx, vessels)
	if err != nil {
		return nil, err
	}
	res.AVMap = &avImage{labels: labels, w: wk.g.w, xmap: wk.xmap, ymap: wk.ymap, rect: image.Rect(0, 0, wk.origW, wk.origH)}
	res.Overlay = overlay(wk, labels, d)
	return res, nil
}

// skeleton is the centre line of the vessel map v: thinned, spurs shorter
// than D*pruneLength pruned.
func skeleton(v *mask, f fov) *mask {
	D := math.Max(f.diameter, 1)
	return prune(thin(v), max(3, int(math.Round(D*pruneLength))))
}

// addDiscMetrics sets the metrics that need the optic disc d: the artery
// and vein densities (of the analysed field of view) and CRAE, CRVE, AVR.
func addDiscMetrics(m *analysis.Metrics, v *mask, f fov, d *disc, av *avResult, scale float64) {
	var na, nv, n int
	for i, in := range f.analysed.m {
		if !in {
			continue
		}
		n++
		switch av.labels[i] {
		case avArtery:
			na++
		case avVein:
			nv++
		}
	}
	if n > 0 {
		ad, vd := float64(na)/float64(n), float64(nv)/float64(n)
		m.ArteryDensity, m.VeinDensity = &ad, &vd
	}
	c := measureCalibre(v, f, d, av, scale)
	m.CRAE, m.CRVE = c.crae, c.crve
	if c.crae != nil && c.crve != nil && *c.crve > 0 {
		r := *c.crae / *c.crve
		m.AVR = &r
	}
}

// measure computes the metrics of the working vessel mask v in the field of
// view f; scale is working / original size.
func measure(v *mask, f fov, scale float64) analysis.Metrics {
	return measureSkeleton(v, skeleton(v, f), f, scale)
}

// measureSkeleton is measure with the skeleton of v already made.
func measureSkeleton(v, skel *mask, f fov, scale float64) analysis.Metrics {
	D := math.Max(f.diameter, 1)
	area := v.count()
	var m analysis.Metrics
	if n := f.analysed.count(); n > 0 {
		m.VesselDensity = float64(area) / float64(n)
	}
	m.FractalDimension = boxCountingDimension(v, max(16, int(D/8)))
	if l := linkLength(skel); l > 0 {
		m.MeanVesselWidthPx = float64(area) / l / scale
	}
	m.Tortuosity = 1
	ts := segmentTortuosities(skel, math.Max(8, D/40), max(2, int(math.Round(D/300))))
	if len(ts) > 0 {
		var s float64
		for _, t := range ts {
			s += t
		}
		m.Tortuosity = s / float64(len(ts))
	}
	return m
}
