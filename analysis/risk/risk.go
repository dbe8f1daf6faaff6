// Package risk turns an analyzer's metrics into a screening risk level and
// findings, by rules that the clinic sets (a Profile).
//
// AURA measures; it does not diagnose. A risk level says which measurements
// crossed a threshold the clinic chose, so that a clinician looks at the
// screening sooner; it is not a diagnosis, and the thresholds of
// DefaultProfile are screening indicators for the clinic to adjust, not
// validated clinical cut-offs.
package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"aura/analysis"

	"aura/vocab"
)

// Risk levels, lowest first (the vocabulary's).
const (
	Low      = vocab.RiskLow
	Medium   = vocab.RiskMedium
	High     = vocab.RiskHigh
	Critical = vocab.RiskCritical
)

// Levels lists the risk levels, lowest first.
func Levels() []string { return vocab.RiskLevels() }

// Rank orders the levels: 1 for low up to 4 for critical, 0 for an unknown
// level.
func Rank(level string) int { return vocab.RiskRank(level) }

// CodeUngradable is the finding of an image too poor to be measured.
const CodeUngradable = "UNGRADABLE_IMAGE"

// Rule is met when the metric is strictly below Below, or strictly above
// Above (exactly one of them is set); a result that meets it is at least
// RiskLevel.
type Rule struct {
	Metric    string   `json:"metric"`
	Below     *float64 `json:"below,omitempty"`
	Above     *float64 `json:"above,omitempty"`
	RiskLevel string   `json:"riskLevel"`
	// Recommendation is the follow-up advice shown with a result that meets
	// the rule (the patient reads it in their language); nil: none.
	Recommendation *Recommendation `json:"recommendation,omitempty"`
}

// Recommendation is a rule's follow-up advice, in both languages. It is
// advice on what to do next (re-screen, see an eye doctor), never a
// diagnosis.
type Recommendation struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// In is the advice in lang ("en" English, anything else Vietnamese).
func (r *Recommendation) In(lang string) *string {
	if r == nil {
		return nil
	}
	s := r.VI
	if lang == "en" {
		s = r.EN
	}
	return &s
}

// MaxRecommendation is the most characters of a recommendation, per language.
const MaxRecommendation = 300

// Profile is a clinic's set of rules. Version is raised each time the rules
// change; a result records the version it was rated with.
type Profile struct {
	Version int    `json:"version"`
	Rules   []Rule `json:"rules"`
	// Trends are the follow-up thresholds (TREND_CHANGE), at most one per
	// metric.
	Trends []Trend `json:"trends"`
}

// Finding is one thing a rater found: a rule met, or an ungradable image.
type Finding struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Evaluation is the rating of one result.
type Evaluation struct {
	// RiskLevel is the highest level among the rules met, "low" when none;
	// nil when the image is not gradable.
	RiskLevel *string `json:"riskLevel"`
	// Findings has one finding per rule met (highest severity first, then in
	// the profile's order), or the single UNGRADABLE_IMAGE finding.
	Findings []Finding `json:"findings"`
	// ProfileVersion is the version of the profile used.
	ProfileVersion int `json:"profileVersion"`
	// Recommendation is the advice of the highest-level rule met that
	// carries one (the first in the profile's order among rules of that
	// level); nil when no rule met carries one, or the image is ungradable.
	Recommendation *Recommendation `json:"recommendation"`
}

func f64(v float64) *float64 { return &v }

// The default profile's follow-up advice.
var (
	adviceMedium = &Recommendation{
		VI: "Chụp lại ảnh võng mạc sau 6 tháng và mang kết quả này theo khi đi khám mắt định kỳ.",
		EN: "Re-screen in 6 months and bring this result to your next routine eye check-up.",
	}
	adviceHigh = &Recommendation{
		VI: "Gặp bác sĩ nhãn khoa trong vòng 1 tháng để được khám mắt đầy đủ.",
		EN: "See an eye doctor within 1 month for a full eye examination.",
	}
)

// DefaultProfile is the profile AURA ships (version 1). Its thresholds are
// screening indicators chosen to flag images for a closer look, for the
// clinic to adjust to its population and camera; they are not validated
// clinical cut-offs:
//
//   - vesselDensity below 0.08: medium; below 0.05: high (a sparse vessel
//     map: vessel loss, or an image the segmentation could not read well);
//   - tortuosity above 1.3: medium; above 1.5: high (markedly winding vessels);
//   - fractalDimension below 1.3: medium (a poorly branched vessel tree).
//
// meanVesselWidthPx has no default rule: it is in pixels, so its normal
// range depends on the camera and the resolution.
//
// Each rule carries follow-up advice (a recommendation), never a diagnosis:
// a medium rule advises re-screening sooner, a high rule an eye doctor's
// examination within a month.
func DefaultProfile() Profile {
	return Profile{Version: 1, Rules: []Rule{
		{Metric: analysis.MetricVesselDensity, Below: f64(0.08), RiskLevel: Medium, Recommendation: adviceMedium},
		{Metric: analysis.MetricVesselDensity, Below: f64(0.05), RiskLevel: High, Recommendation: adviceHigh},
		{Metric: analysis.MetricTortuosity, Above: f64(1.3), RiskLevel: Medium, Recommendation: adviceMedium},
		{Metric: analysis.MetricTortuosity, Above: f64(1.5), RiskLevel: High, Recommendation: adviceHigh},
		{Metric: analysis.MetricFractalDimension, Below: f64(1.3), RiskLevel: Medium, Recommendation: adviceMedium},
	}, Trends: DefaultTrends()}
}

// Validate returns the profile's problems by field ("rules[2].metric",
// "rules[0].below", ...), nil when there is none: an unknown metric, both or
// neither of below and above, a threshold that is not a finite number, an
// unknown risk level. (Version is the store's business.)
func (p Profile) Validate() map[string]string {
	problems := map[string]string{}
	if p.Rules == nil {
		problems["rules"] = "is required (an empty list for no rules)"
	}
	for i, r := range p.Rules {
		field := fmt.Sprintf("rules[%d].", i)
		if !analysis.IsMetric(r.Metric) {
			problems[field+"metric"] = fmt.Sprintf("unknown metric %q; one of %s", r.Metric, strings.Join(analysis.MetricNames(), ", "))
		}
		switch {
		case r.Below == nil && r.Above == nil:
			problems[field+"below"] = "one of below or above is required"
		case r.Below != nil && r.Above != nil:
			problems[field+"below"] = "give only one of below or above"
		case r.Below != nil && !finite(*r.Below):
			problems[field+"below"] = "must be a finite number"
		case r.Above != nil && !finite(*r.Above):
			problems[field+"above"] = "must be a finite number"
		}
		if r.Recommendation != nil {
			for lang, text := range map[string]string{"vi": r.Recommendation.VI, "en": r.Recommendation.EN} {
				if msg := checkAdvice(text); msg != "" {
					problems[field+"recommendation."+lang] = msg
				}
			}
		}
		if Rank(r.RiskLevel) == 0 {
			problems[field+"riskLevel"] = fmt.Sprintf("unknown risk level %q; one of %s", r.RiskLevel, strings.Join(Levels(), ", "))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

// checkAdvice is what is wrong with one language of a recommendation:
// blank, or what vocab.CheckText (AURA's one rule for typed text) says of
// a one-line text of at most MaxRecommendation characters.
func checkAdvice(s string) string {
	if strings.TrimSpace(s) == "" {
		return "is required in both languages (vi and en)"
	}
	return vocab.CheckText(s, 1, MaxRecommendation, false)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Evaluate rates metrics by the profile's rules. nil metrics mean that the
// image was not gradable: the risk level is then nil and the one finding is
// UNGRADABLE_IMAGE. Otherwise the level is the highest among the rules met
// (strictly below Below, strictly above Above), "low" when none is, with one
// finding per rule met. Rules that Validate would refuse are skipped, and so
// are rules on a metric that is null (crae, avr, ... when the optic disc was
// not found): a rule on a value not measured is not met.
func (p Profile) Evaluate(m *analysis.Metrics) Evaluation {
	ev := Evaluation{ProfileVersion: p.Version, Findings: []Finding{}}
	if m == nil {
		ev.Findings = append(ev.Findings, Finding{
			Code: CodeUngradable, Severity: Medium,
			Message: "The image could not be graded, so no risk level was set; a new photograph may be needed.",
		})
		return ev
	}
	level := Low
	type met struct {
		i int
		f Finding
	}
	var found []met
	var advice *Recommendation
	adviceRank := 0
	for i, r := range p.Rules {
		v, ok := m.Value(r.Metric)
		if !ok || Rank(r.RiskLevel) == 0 || (r.Below == nil) == (r.Above == nil) {
			continue
		}
		var f Finding
		switch {
		case r.Below != nil && v < *r.Below:
			f = Finding{Code: code(r.Metric, "LOW"), Severity: r.RiskLevel,
				Message: fmt.Sprintf("%s %s is below %s", label(r.Metric), show(v, *r.Below, r.Metric), show(*r.Below, v, r.Metric))}
		case r.Above != nil && v > *r.Above:
			f = Finding{Code: code(r.Metric, "HIGH"), Severity: r.RiskLevel,
				Message: fmt.Sprintf("%s %s is above %s", label(r.Metric), show(v, *r.Above, r.Metric), show(*r.Above, v, r.Metric))}
		default:
			continue
		}
		found = append(found, met{i, f})
		if r.Recommendation != nil && Rank(r.RiskLevel) > adviceRank {
			rec := *r.Recommendation
			advice, adviceRank = &rec, Rank(r.RiskLevel)
		}
		if Rank(r.RiskLevel) > Rank(level) {
			level = r.RiskLevel
		}
	}
	slices.SortStableFunc(found, func(a, b met) int {
		return cmp.Compare(Rank(b.f.Severity), Rank(a.f.Severity))
	})
	for _, f := range found {
		ev.Findings = append(ev.Findings, f.f)
	}
	ev.RiskLevel = &level
	ev.Recommendation = advice
	return ev
}

// EvaluateResult rates an analyzer's result: as Evaluate on its metrics,
// and for an ungradable image the finding says why it could not be graded.
func (p Profile) EvaluateResult(r *analysis.Result) Evaluation {
	if r == nil || !r.Gradable || r.Metrics == nil {
		ev := p.Evaluate(nil)
		if r != nil && len(r.QualityDetail.Reasons) > 0 {
			ev.Findings[0].Message = "The image could not be graded (" + strings.Join(r.QualityDetail.Reasons, "; ") +
				"), so no risk level was set; a new photograph may be needed."
		}
		return ev
	}
	return p.Evaluate(r.Metrics)
}

// code is the finding code of a metric's rule: vesselDensity, LOW ->
// VESSEL_DENSITY_LOW.
func code(metric, dir string) string {
	var b strings.Builder
	for i, c := range metric {
		if c >= 'A' && c <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(c)
	}
	return strings.ToUpper(b.String()) + "_" + dir
}

// label is a metric's name in plain English.
func label(metric string) string {
	switch metric {
	case analysis.MetricVesselDensity:
		return "Vessel density"
	case analysis.MetricFractalDimension:
		return "Fractal dimension"
	case analysis.MetricTortuosity:
		return "Tortuosity"
	case analysis.MetricMeanVesselWidthPx:
		return "Mean vessel width"
	case analysis.MetricCRAE:
		return "CRAE"
	case analysis.MetricCRVE:
		return "CRVE"
	case analysis.MetricAVR:
		return "Arteriole-to-venule ratio"
	case analysis.MetricArteryDensity:
		return "Artery density"
	case analysis.MetricVeinDensity:
		return "Vein density"
	}
	return metric
}

// show formats v for a message beside other: three decimals (one for a
// width in pixels), more when needed to tell v from other, trailing zeros of
// a threshold dropped.
func show(v, other float64, metric string) string {
	unit := ""
	digits := 3
	if metric == analysis.MetricMeanVesselWidthPx || metric == analysis.MetricCRAE || metric == analysis.MetricCRVE {
		unit, digits = " px", 1
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	for d := digits + 1; d <= 8 && s == strconv.FormatFloat(other, 'f', d-1, 64) && v != other; d++ {
		s = strconv.FormatFloat(v, 'f', d, 64)
	}
	if short := strconv.FormatFloat(v, 'f', -1, 64); len(short) < len(s) {
		s = short
	}
	return s + unit
}

// CodeTrendChange is the finding of a metric that moved, since the
// patient's first gradable result of the same eye, by more than the
// profile's trend threshold allows.
const CodeTrendChange = "TREND_CHANGE"

// Trend is a follow-up threshold: a result whose Metric differs from the
// patient's first gradable result of the same eye by more than
// MaxRelativeChange (|latest - first| / |first|, e.g. 0.2 for 20%) carries
// the finding TREND_CHANGE (severity high).
type Trend struct {
	Metric            string  `json:"metric"`
	MaxRelativeChange float64 `json:"maxRelativeChange"`
}

// DefaultTrends are the follow-up thresholds AURA ships (screening
// indicators, not validated clinical cut-offs; for the clinic to adjust to
// its camera and the repeatability it sees):
//
//   - vesselDensity: more than 25% away from the first result;
//   - fractalDimension: more than 5% (it moves in a narrow range, 1..2);
//   - tortuosity: more than 15%;
//   - avr: more than 15% (the ratio cancels most of the image's scale).
//
// meanVesselWidthPx, crae and crve are in pixels: a new camera or
// resolution moves them without any change in the eye, so they have no
// default threshold.
func DefaultTrends() []Trend {
	return []Trend{
		{Metric: analysis.MetricVesselDensity, MaxRelativeChange: 0.25},
		{Metric: analysis.MetricFractalDimension, MaxRelativeChange: 0.05},
		{Metric: analysis.MetricTortuosity, MaxRelativeChange: 0.15},
		{Metric: analysis.MetricAVR, MaxRelativeChange: 0.15},
	}
}

// ValidateTrends returns the problems of trend thresholds by field
// ("trends[1].metric", "trends[0].maxRelativeChange"), nil when there is
// none: an unknown metric, a metric listed twice, a threshold that is not
// a positive finite number.
func ValidateTrends(trends []Trend) map[string]string {
	problems := map[string]string{}
	seen := map[string]bool{}
	for i, t := range trends {
		field := fmt.Sprintf("trends[%d].", i)
		switch {
		case !analysis.IsMetric(t.Metric):
			problems[field+"metric"] = fmt.Sprintf("unknown metric %q; one of %s", t.Metric, strings.Join(analysis.MetricNames(), ", "))
		case seen[t.Metric]:
			problems[field+"metric"] = fmt.Sprintf("metric %q is listed twice", t.Metric)
		}
		seen[t.Metric] = true
		if !finite(t.MaxRelativeChange) || t.MaxRelativeChange <= 0 {
			problems[field+"maxRelativeChange"] = "must be a positive number"
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

// RelativeChange is (latest - baseline) / |baseline|; ok is false when the
// baseline is 0 (no relative change can be said).
func RelativeChange(baseline, latest float64) (float64, bool) {
	if baseline == 0 || !finite(baseline) || !finite(latest) {
		return 0, false
	}
	return (latest - baseline) / math.Abs(baseline), true
}

// Change is one metric that moved past its trend threshold.
type Change struct {
	Metric         string  `json:"metric"`
	Baseline       float64 `json:"baseline"`
	Latest         float64 `json:"latest"`
	RelativeChange float64 `json:"relativeChange"`
	// Flag is "decline" (latest below baseline) or "rise".
	Flag string `json:"flag"`
}

// Flags of a Change.
const (
	FlagDecline = "decline"
	FlagRise    = "rise"
)

// Changes compares latest with baseline on each trend threshold, in the
// thresholds' order: a metric measured in both whose relative change is
// strictly beyond MaxRelativeChange is one Change. Metrics not measured in
// one of them (a null crae, avr, ...) and a baseline of 0 are skipped.
func Changes(trends []Trend, baseline, latest analysis.Metrics) []Change {
	out := []Change{}
	for _, t := range trends {
		b, ok1 := baseline.Value(t.Metric)
		l, ok2 := latest.Value(t.Metric)
		if !ok1 || !ok2 || !finite(t.MaxRelativeChange) || t.MaxRelativeChange <= 0 {
			continue
		}
		rel, ok := RelativeChange(b, l)
		if !ok || math.Abs(rel) <= t.MaxRelativeChange {
			continue
		}
		flag := FlagRise
		if rel < 0 {
			flag = FlagDecline
		}
		out = append(out, Change{Metric: t.Metric, Baseline: b, Latest: l, RelativeChange: rel, Flag: flag})
	}
	return out
}

// TrendFindings are the TREND_CHANGE findings of a gradable result compared
// with the patient's first gradable result of the same eye (baseline; nil
// when this is the first): one per metric past its threshold, severity high.
func TrendFindings(trends []Trend, baseline, latest *analysis.Metrics) []Finding {
	if baseline == nil || latest == nil {
		return nil
	}
	var out []Finding
	for _, c := range Changes(trends, *baseline, *latest) {
		out = append(out, Finding{Code: CodeTrendChange, Severity: High,
			Message: fmt.Sprintf("%s %s %.0f%% since the first result (%s to %s); a change over time to look at, not a diagnosis",
				label(c.Metric), map[string]string{FlagDecline: "fell", FlagRise: "rose"}[c.Flag], math.Abs(c.RelativeChange)*100,
				show(c.Baseline, c.Latest, c.Metric), show(c.Latest, c.Baseline, c.Metric))})
	}
	return out
}
