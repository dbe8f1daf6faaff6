package screenings

import (
	"encoding/json"
	"time"

	"aura/analysis"
	"aura/analysis/risk"
	"aura/i18n"
	"aura/models"
	"aura/report"
)

// AnalysisView is a recorded analysis as the contract's Screening shows it
// ("analysis") and as the PDF report prints it. ViewOf is the one place that
// reads the stored columns.
type AnalysisView struct {
	Analyzer       string            `json:"analyzer"`
	Version        string            `json:"version"`
	ProfileVersion int               `json:"profileVersion"`
	Gradable       bool              `json:"gradable"`
	Quality        float64           `json:"quality"`
	RiskLevel      *string           `json:"riskLevel"`
	Confidence     *float64          `json:"confidence"`
	Metrics        *analysis.Metrics `json:"metrics"`
	// OpticDisc is the optic disc in pixels of the uploaded image; null
	// when it was not found (or not looked for).
	OpticDisc *analysis.OpticDisc `json:"opticDisc"`
	Findings  []risk.Finding      `json:"findings"`
	// Recommendation is the follow-up advice of the highest-level rule met,
	// in the patient's language; null when none (ViewIn sets it).
	Recommendation *string `json:"recommendation"`
	// advice is the recommendation in both languages.
	advice *risk.Recommendation
	// CompletedAt is shown by the handlers in their one form of instants
	// (handlers.AnalysisView), hence not marshalled here.
	CompletedAt time.Time `json:"-"`
	DurationMs  int64     `json:"durationMs"`
}

// ViewOf is the view of a stored analysis; nil until it is done. Metrics are
// shown only when all four were stored (an ungradable image has none).
func ViewOf(a models.Analysis) *AnalysisView {
	if !a.Done() {
		return nil
	}
	v := &AnalysisView{Analyzer: deref(a.Analyzer), Version: deref(a.AnalyzerVersion), RiskLevel: a.RiskLevel,
		Confidence: a.Confidence, Findings: []risk.Finding{}, CompletedAt: a.CompletedAt.UTC()}
	if a.ProfileVersion != nil {
		v.ProfileVersion = *a.ProfileVersion
	}
	if a.Gradable != nil {
		v.Gradable = *a.Gradable
	}
	if a.Quality != nil {
		v.Quality = *a.Quality
	}
	if a.DurationMs != nil {
		v.DurationMs = *a.DurationMs
	}
	if a.VesselDensity != nil && a.FractalDimension != nil && a.Tortuosity != nil && a.MeanVesselWidthPx != nil {
		v.Metrics = &analysis.Metrics{VesselDensity: *a.VesselDensity, FractalDimension: *a.FractalDimension,
			Tortuosity: *a.Tortuosity, MeanVesselWidthPx: *a.MeanVesselWidthPx,
			CRAE: a.CRAE, CRVE: a.CRVE, AVR: a.AVR, ArteryDensity: a.ArteryDensity, VeinDensity: a.VeinDensity}
	}
	if a.OpticDiscX != nil && a.OpticDiscY != nil && a.OpticDiscRadius != nil {
		v.OpticDisc = &analysis.OpticDisc{X: *a.OpticDiscX, Y: *a.OpticDiscY, Radius: *a.OpticDiscRadius}
	}
	if a.FindingsJSON != nil {
		if err := json.Unmarshal([]byte(*a.FindingsJSON), &v.Findings); err != nil || v.Findings == nil {
			v.Findings = []risk.Finding{}
		}
	}
	if a.RecommendationJSON != nil {
		var r risk.Recommendation
		if err := json.Unmarshal([]byte(*a.RecommendationJSON), &r); err == nil && r.VI != "" && r.EN != "" {
			v.advice = &r
			v.Recommendation = r.In(i18n.VI)
		}
	}
	return v
}

// ViewIn is ViewOf with the recommendation in lang, the patient's language
// (the screening's Lang).
func ViewIn(a models.Analysis, lang string) *AnalysisView {
	v := ViewOf(a)
	if v != nil {
		v.Recommendation = v.advice.In(i18n.Lang(lang))
	}
	return v
}

// extraKeys are the storage keys of the images an analysis made.
type extraKeys struct{ vessels, av, overlay *string }

// stored is the analysis to record: the analyzer's result rated by a
// profile (ev), with its images' keys and the analysis's own duration.
func stored(res *analysis.Result, ev risk.Evaluation, keys extraKeys, duration time.Duration, now time.Time) models.Analysis {
	findings, _ := json.Marshal(ev.Findings)
	var advice *string
	if ev.Recommendation != nil {
		b, _ := json.Marshal(ev.Recommendation)
		advice = ptr(string(b))
	}
	a := models.Analysis{RecommendationJSON: advice, VesselKey: keys.vessels, AVKey: keys.av, OverlayKey: keys.overlay, Analyzer: &res.Analyzer, AnalyzerVersion: &res.Version,
		ProfileVersion: &ev.ProfileVersion, Gradable: &res.Gradable, Quality: &res.Quality, RiskLevel: ev.RiskLevel,
		Confidence: res.Confidence, FindingsJSON: ptr(string(findings)), CompletedAt: &now, DurationMs: ptr(duration.Milliseconds())}
	if m := res.Metrics; m != nil {
		a.VesselDensity, a.FractalDimension, a.Tortuosity, a.MeanVesselWidthPx = &m.VesselDensity, &m.FractalDimension, &m.Tortuosity, &m.MeanVesselWidthPx
		a.CRAE, a.CRVE, a.AVR, a.ArteryDensity, a.VeinDensity = m.CRAE, m.CRVE, m.AVR, m.ArteryDensity, m.VeinDensity
	}
	if d := res.OpticDisc; d != nil && res.Gradable {
		a.OpticDiscX, a.OpticDiscY, a.OpticDiscRadius = &d.X, &d.Y, &d.Radius
	}
	return a
}

// reportAnalysis is the view as the report prints it.
func reportAnalysis(v *AnalysisView) *report.Analysis {
	if v == nil {
		return nil
	}
	an := &report.Analysis{Analyzer: v.Analyzer, Version: v.Version, ProfileVersion: v.ProfileVersion, Gradable: v.Gradable,
		Quality: v.Quality, RiskLevel: v.RiskLevel, Confidence: v.Confidence, CompletedAt: v.CompletedAt}
	if v.Recommendation != nil {
		an.Recommendation = *v.Recommendation
	}
	if m := v.Metrics; m != nil {
		an.Metrics = report.Metrics{VesselDensity: &m.VesselDensity, FractalDimension: &m.FractalDimension,
			Tortuosity: &m.Tortuosity, MeanVesselWidthPx: &m.MeanVesselWidthPx,
			CRAE: m.CRAE, CRVE: m.CRVE, AVR: m.AVR, ArteryDensity: m.ArteryDensity, VeinDensity: m.VeinDensity}
	}
	for _, f := range v.Findings {
		an.Findings = append(an.Findings, report.Finding{Code: f.Code, Severity: f.Severity, Message: f.Message})
	}
	return an
}

func ptr[T any](v T) *T { return &v }
