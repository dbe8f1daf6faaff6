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
const Version = "vessels-2.0.0"

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
	if res.Gradable {
		m := measure(vessels, f, wk.scale)
		res.Metrics = &m
		c := q.Score
		res.Confidence = &c
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.VesselMap, err = wk.upscaleMask(ctx, vessels)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// measure computes the metrics of the working vessel mask v in the field of
// view f; scale is working / original size.
func measure(v *mask, f fov, scale float64) analysis.Metrics {
	D := math.Max(f.diameter, 1)
	area := v.count()
	var m analysis.Metrics
	if n := f.analysed.count(); n > 0 {
		m.VesselDensity = float64(area) / float64(n)
	}
	m.FractalDimension = boxCountingDimension(v, max(16, int(D/8)))
	skel := prune(thin(v), max(3, int(math.Round(D*pruneLength))))
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
