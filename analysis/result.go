// Package analysis holds the types shared by AURA's image analyzers and the
// risk rules that read their output: the Result of analysing one fundus
// photograph and its Metrics.
//
// AURA measures; it does not diagnose. A Result describes what was measured
// on one image (how much of the field of view is vessel, how branched and how
// winding the vessels are, how wide they are on average, whether the image
// is good enough to be read). It is a screening aid for a clinician, who
// makes every clinical decision.
//
// This package and its sub-packages import nothing else of AURA but vocab
// (the contract's words), so that the job worker, the report builder and
// tests can use them freely.
package analysis

import (
	"image"
	"image/color"

	"aura/vocab"
)

// Metric names, as they appear in the API contract and in risk rules (the
// vocabulary's).
const (
	MetricVesselDensity     = vocab.MetricVesselDensity
	MetricFractalDimension  = vocab.MetricFractalDimension
	MetricTortuosity        = vocab.MetricTortuosity
	MetricMeanVesselWidthPx = vocab.MetricMeanVesselWidthPx
	MetricCRAE              = vocab.MetricCRAE
	MetricCRVE              = vocab.MetricCRVE
	MetricAVR               = vocab.MetricAVR
	MetricArteryDensity     = vocab.MetricArteryDensity
	MetricVeinDensity       = vocab.MetricVeinDensity
)

// IsMetric says whether name is a metric name (one of MetricNames).
func IsMetric(name string) bool { return vocab.IsMetric(name) }

// MetricNames lists the metric names in their documented order.
func MetricNames() []string { return vocab.MetricNames() }

// Metrics are the measurements of the vessels of one gradable image.
type Metrics struct {
	// VesselDensity is vessel pixels / field-of-view pixels, in 0..1.
	VesselDensity float64 `json:"vesselDensity"`
	// FractalDimension is the box-counting dimension of the vessel map, in 1..2.
	FractalDimension float64 `json:"fractalDimension"`
	// Tortuosity is the mean over vessel segments of arc length / chord length (>= 1).
	Tortuosity float64 `json:"tortuosity"`
	// MeanVesselWidthPx is vessel area / centre-line length, in pixels of the
	// original image.
	MeanVesselWidthPx float64 `json:"meanVesselWidthPx"`

	// The measurements around the optic disc; each is nil when the disc was
	// not found (or, for CRAE, CRVE and AVR, when too few arteries or veins
	// cross zone B), and for results of analyzers that do not make them.

	// CRAE and CRVE are the central retinal arteriolar and venular
	// equivalents (revised Knudtson formulas over the six widest arterioles
	// and venules crossing zone B), in pixels of the original image.
	CRAE *float64 `json:"crae"`
	CRVE *float64 `json:"crve"`
	// AVR is CRAE / CRVE.
	AVR *float64 `json:"avr"`
	// ArteryDensity and VeinDensity are artery and vein pixels / field-of-view
	// pixels, in 0..1.
	ArteryDensity *float64 `json:"arteryDensity"`
	VeinDensity   *float64 `json:"veinDensity"`
}

// Value returns the metric called name (one of MetricNames) and whether it
// has a value: false for an unknown name and for a metric that is null.
func (m Metrics) Value(name string) (float64, bool) {
	opt := func(p *float64) (float64, bool) {
		if p == nil {
			return 0, false
		}
		return *p, true
	}
	switch name {
	case MetricCRAE:
		return opt(m.CRAE)
	case MetricCRVE:
		return opt(m.CRVE)
	case MetricAVR:
		return opt(m.AVR)
	case MetricArteryDensity:
		return opt(m.ArteryDensity)
	case MetricVeinDensity:
		return opt(m.VeinDensity)
	case MetricVesselDensity:
		return m.VesselDensity, true
	case MetricFractalDimension:
		return m.FractalDimension, true
	case MetricTortuosity:
		return m.Tortuosity, true
	case MetricMeanVesselWidthPx:
		return m.MeanVesselWidthPx, true
	}
	return 0, false
}

// Quality says how readable the image is, and why not when it is not. Every
// score is in 0..1, 1 being best.
type Quality struct {
	// Score is the overall quality: the geometric mean of Exposure, Focus and
	// FieldOfView.
	Score float64 `json:"score"`
	// Exposure scores the field of view's mean brightness, the fraction of
	// its pixels clipped to black or white, and its noise.
	Exposure float64 `json:"exposure"`
	// Focus scores the sharpness (variance of the Laplacian) of the field of view.
	Focus float64 `json:"focus"`
	// FieldOfView scores whether a round, lit field of view with a dark
	// surround is visible and large enough.
	FieldOfView float64 `json:"fieldOfView"`

	// Brightness is the field of view's mean luma (0 black, 1 white).
	Brightness float64 `json:"brightness"`
	// Clipped is the fraction of field-of-view pixels that are clipped.
	Clipped float64 `json:"clipped"`
	// Sharpness is the raw focus measure that Focus is scored from.
	Sharpness float64 `json:"sharpness"`
	// Noise is the standard deviation of the pixel noise over the mean
	// brightness of the green channel, at the working resolution.
	Noise float64 `json:"noise"`
	// FOVFraction is the fraction of the frame covered by the field of view.
	FOVFraction float64 `json:"fovFraction"`

	// Reasons says, in plain English, why the image is not gradable (empty
	// when it is).
	Reasons []string `json:"reasons,omitempty"`
}

// Result is what an analyzer returns for one image.
type Result struct {
	// Analyzer names the analyzer ("vessels").
	Analyzer string `json:"analyzer"`
	// Version is the analyzer's version (e.g. "vessels-1.1.0"); a result
	// records it so that a change of method can be traced.
	Version string `json:"version"`
	// Gradable is false when the image is too poor to be measured reliably;
	// Metrics and Confidence are nil then.
	Gradable bool `json:"gradable"`
	// Quality is the overall image quality, 0..1 (QualityDetail.Score).
	Quality float64 `json:"quality"`
	// QualityDetail breaks Quality down.
	QualityDetail Quality `json:"qualityDetail"`
	// Confidence is how much the measurements can be trusted, 0..1; nil when
	// the image is not gradable. It is not a probability of disease.
	Confidence *float64 `json:"confidence"`
	// Metrics are the measurements; nil when the image is not gradable.
	Metrics *Metrics `json:"metrics"`
	// VesselMap has the width and height of the analysed image: 255 where a
	// vessel is, 0 elsewhere. It is set for ungradable images too (possibly
	// empty). Encode it with image/png.
	VesselMap *image.Gray `json:"-"`
	// OpticDisc is where the optic disc is, in pixels of the analysed image;
	// nil when it was not found in the field of view (or not looked for).
	OpticDisc *OpticDisc `json:"opticDisc"`
	// AVMap, when the analyzer classifies vessels, has the image's width and
	// height and is opaque RGB: ColorArtery, ColorVein, ColorUnknownVessel
	// on the vessel pixels, black elsewhere. Encode it with image/png.
	AVMap image.Image `json:"-"`
	// Overlay, when the analyzer makes one, is the photograph (possibly
	// reduced) with the vessel types and the optic disc drawn on it.
	Overlay image.Image `json:"-"`
}

// OpticDisc is the optic disc's centre and radius, in pixels of the image.
type OpticDisc struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Radius float64 `json:"radius"`
}

// The colours of the artery/vein map (docs/analysis.md, "Optic disc, arteries and veins").
var (
	ColorArtery        = color.RGBA{255, 0, 0, 255}
	ColorVein          = color.RGBA{0, 0, 255, 255}
	ColorUnknownVessel = color.RGBA{0, 255, 0, 255}
)
