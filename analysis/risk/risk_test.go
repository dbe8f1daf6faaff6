package risk

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"aura/analysis"
)

func num(v float64) *float64 { return &v }

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Profile
		want map[string]string // field -> a word the message must contain
	}{
		{"default", DefaultProfile(), nil},
		{"no rules", Profile{Version: 2, Rules: []Rule{}}, nil},
		{"rules missing", Profile{Version: 2}, map[string]string{"rules": "required"}},
		{"every metric", Profile{Rules: []Rule{
			{Metric: "vesselDensity", Below: num(0.1), RiskLevel: "low"},
			{Metric: "fractalDimension", Below: num(1.2), RiskLevel: "medium"},
			{Metric: "tortuosity", Above: num(1.4), RiskLevel: "high"},
			{Metric: "meanVesselWidthPx", Above: num(12), RiskLevel: "critical"},
		}}, nil},
		{"unknown metric", Profile{Rules: []Rule{{Metric: "cupToDisc", Below: num(1), RiskLevel: "high"}}},
			map[string]string{"rules[0].metric": "unknown metric"}},
		{"metric is case-sensitive", Profile{Rules: []Rule{{Metric: "VesselDensity", Below: num(1), RiskLevel: "high"}}},
			map[string]string{"rules[0].metric": "vesselDensity"}},
		{"neither below nor above", Profile{Rules: []Rule{{Metric: "tortuosity", RiskLevel: "high"}}},
			map[string]string{"rules[0].below": "one of below or above"}},
		{"both below and above", Profile{Rules: []Rule{{Metric: "tortuosity", Below: num(1), Above: num(2), RiskLevel: "high"}}},
			map[string]string{"rules[0].below": "only one"}},
		{"not finite", Profile{Rules: []Rule{{Metric: "tortuosity", Above: num(math.Inf(1)), RiskLevel: "high"}}},
			map[string]string{"rules[0].above": "finite"}},
		{"unknown level", Profile{Rules: []Rule{{Metric: "tortuosity", Above: num(1.3), RiskLevel: "severe"}}},
			map[string]string{"rules[0].riskLevel": "unknown risk level"}},
		{"several problems, by rule", Profile{Rules: []Rule{
			{Metric: "tortuosity", Above: num(1.3), RiskLevel: "medium"},
			{Metric: "x", RiskLevel: ""},
		}}, map[string]string{"rules[1].metric": "unknown", "rules[1].below": "required", "rules[1].riskLevel": "unknown"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.p.Validate()
			if len(got) != len(c.want) {
				t.Fatalf("Validate() = %v, want problems on %v", got, c.want)
			}
			for field, word := range c.want {
				if !strings.Contains(got[field], word) {
					t.Errorf("%s: %q, want it to mention %q", field, got[field], word)
				}
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	def := DefaultProfile()
	normal := analysis.Metrics{VesselDensity: 0.12, FractalDimension: 1.5, Tortuosity: 1.1, MeanVesselWidthPx: 6}
	with := func(f func(*analysis.Metrics)) *analysis.Metrics {
		m := normal
		f(&m)
		return &m
	}
	for _, c := range []struct {
		name  string
		p     Profile
		m     *analysis.Metrics
		level string // "" for nil
		codes []string
		msgs  []string
	}{
		{"nothing met", def, &normal, "low", nil, nil},
		{"one medium", def, with(func(m *analysis.Metrics) { m.VesselDensity = 0.07 }), "medium",
			[]string{"VESSEL_DENSITY_LOW"}, []string{"Vessel density 0.07 is below 0.08"}},
		{"highest wins, one finding per rule met", def, with(func(m *analysis.Metrics) { m.VesselDensity = 0.043 }), "high",
			[]string{"VESSEL_DENSITY_LOW", "VESSEL_DENSITY_LOW"},
			[]string{"Vessel density 0.043 is below 0.05", "Vessel density 0.043 is below 0.08"}},
		{"several metrics", def, with(func(m *analysis.Metrics) { m.Tortuosity = 1.42; m.FractalDimension = 1.25 }), "medium",
			[]string{"TORTUOSITY_HIGH", "FRACTAL_DIMENSION_LOW"},
			[]string{"Tortuosity 1.42 is above 1.3", "Fractal dimension 1.25 is below 1.3"}},
		{"below is strict", def, with(func(m *analysis.Metrics) { m.VesselDensity = 0.08 }), "low", nil, nil},
		{"above is strict", def, with(func(m *analysis.Metrics) { m.Tortuosity = 1.3 }), "low", nil, nil},
		{"just past a boundary shows enough digits", def, with(func(m *analysis.Metrics) { m.VesselDensity = 0.07996 }), "medium",
			[]string{"VESSEL_DENSITY_LOW"}, []string{"Vessel density 0.07996 is below 0.08"}},
		{"critical and width", Profile{Version: 7, Rules: []Rule{
			{Metric: "meanVesselWidthPx", Above: num(9), RiskLevel: "critical"},
			{Metric: "tortuosity", Above: num(1.05), RiskLevel: "low"},
		}}, with(func(m *analysis.Metrics) { m.MeanVesselWidthPx = 11.26 }), "critical",
			[]string{"MEAN_VESSEL_WIDTH_PX_HIGH", "TORTUOSITY_HIGH"},
			[]string{"Mean vessel width 11.3 px is above 9 px", "Tortuosity 1.1 is above 1.05"}},
		{"a met low rule keeps low", Profile{Rules: []Rule{{Metric: "tortuosity", Above: num(1), RiskLevel: "low"}}}, &normal, "low",
			[]string{"TORTUOSITY_HIGH"}, nil},
		{"invalid rules are skipped", Profile{Rules: []Rule{
			{Metric: "nope", Below: num(10), RiskLevel: "high"},
			{Metric: "tortuosity", Below: num(10), Above: num(0), RiskLevel: "high"},
			{Metric: "tortuosity", Below: num(10), RiskLevel: "severe"},
		}}, &normal, "low", nil, nil},
		{"ungradable", def, nil, "", []string{CodeUngradable}, []string{"could not be graded"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := c.p.Evaluate(c.m)
			if ev.ProfileVersion != c.p.Version {
				t.Errorf("profile version %d, want %d", ev.ProfileVersion, c.p.Version)
			}
			switch {
			case c.level == "" && ev.RiskLevel != nil:
				t.Errorf("risk level %q, want nil", *ev.RiskLevel)
			case c.level != "" && (ev.RiskLevel == nil || *ev.RiskLevel != c.level):
				t.Errorf("risk level %v, want %q", ev.RiskLevel, c.level)
			}
			var codes []string
			for _, f := range ev.Findings {
				codes = append(codes, f.Code)
				if Rank(f.Severity) == 0 {
					t.Errorf("finding %+v has an unknown severity", f)
				}
			}
			if !reflect.DeepEqual(codes, c.codes) {
				t.Errorf("codes %v, want %v", codes, c.codes)
			}
			for i, msg := range c.msgs {
				if i >= len(ev.Findings) || !strings.Contains(ev.Findings[i].Message, msg) {
					t.Errorf("findings %+v, want message %d to contain %q", ev.Findings, i, msg)
				}
			}
		})
	}
}

func TestSeverityIsTheRulesLevel(t *testing.T) {
	ev := DefaultProfile().Evaluate(&analysis.Metrics{VesselDensity: 0.01, FractalDimension: 1.1, Tortuosity: 1.6})
	if *ev.RiskLevel != High {
		t.Fatalf("level %s, want high", *ev.RiskLevel)
	}
	want := []string{"high", "high", "medium", "medium", "medium"} // highest first
	var got []string
	for _, f := range ev.Findings {
		got = append(got, f.Severity)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("severities %v, want %v", got, want)
	}
}

func TestEvaluateResult(t *testing.T) {
	p := DefaultProfile()
	un := p.EvaluateResult(&analysis.Result{Gradable: false, QualityDetail: analysis.Quality{Reasons: []string{"the image is too dark"}}})
	if un.RiskLevel != nil || len(un.Findings) != 1 || un.Findings[0].Code != CodeUngradable ||
		!strings.Contains(un.Findings[0].Message, "too dark") {
		t.Errorf("ungradable: %+v", un)
	}
	ok := p.EvaluateResult(&analysis.Result{Gradable: true, Metrics: &analysis.Metrics{VesselDensity: 0.2, FractalDimension: 1.6, Tortuosity: 1.05}})
	if ok.RiskLevel == nil || *ok.RiskLevel != Low || len(ok.Findings) != 0 {
		t.Errorf("normal: %+v", ok)
	}
	if ev := p.EvaluateResult(nil); ev.RiskLevel != nil {
		t.Errorf("nil result: %+v", ev)
	}
}

// TestJSON: a profile reads and writes in the API's shape, and an
// evaluation's findings are a list even when empty.
func TestJSON(t *testing.T) {
	in := `{"version": 3, "rules": [
	  {"metric": "vesselDensity", "below": 0.08, "riskLevel": "medium"},
	  {"metric": "tortuosity", "above": 1.3, "riskLevel": "medium"}]}`
	var p Profile
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 || len(p.Rules) != 2 || *p.Rules[0].Below != 0.08 || p.Rules[0].Above != nil || p.Validate() != nil {
		t.Fatalf("parsed %+v", p)
	}
	out, _ := json.Marshal(p.Evaluate(&analysis.Metrics{VesselDensity: 0.1, FractalDimension: 1.5, Tortuosity: 1.1}))
	if string(out) != `{"riskLevel":"low","findings":[],"profileVersion":3,"recommendation":null}` {
		t.Errorf("evaluation JSON %s", out)
	}
}

// TestRulesOnDiscMetrics: rules on the disc metrics validate; a rule on a
// null metric is not met, the same rule on a measured value is.
func TestRulesOnDiscMetrics(t *testing.T) {
	p := Profile{Version: 2, Rules: []Rule{
		{Metric: analysis.MetricAVR, Below: f64(0.65), RiskLevel: High},
		{Metric: analysis.MetricCRAE, Below: f64(10), RiskLevel: Medium},
		{Metric: analysis.MetricVeinDensity, Above: f64(0.2), RiskLevel: Medium},
	}}
	if problems := p.Validate(); problems != nil {
		t.Fatalf("validate: %v", problems)
	}
	if problems := (Profile{Rules: []Rule{{Metric: "cupDiscRatio", Above: f64(0.6), RiskLevel: High}}}).Validate(); problems["rules[0].metric"] == "" {
		t.Fatalf("unknown metric accepted: %v", problems)
	}
	m := analysis.Metrics{VesselDensity: 0.12, FractalDimension: 1.5, Tortuosity: 1.1, MeanVesselWidthPx: 5}
	ev := p.Evaluate(&m)
	if *ev.RiskLevel != Low || len(ev.Findings) != 0 {
		t.Fatalf("null metrics fired: %+v", ev)
	}
	m.AVR, m.CRAE = f64(0.6), f64(12.5)
	ev = p.Evaluate(&m)
	if *ev.RiskLevel != High || len(ev.Findings) != 1 || ev.Findings[0].Code != "AVR_LOW" ||
		ev.Findings[0].Message != "Arteriole-to-venule ratio 0.6 is below 0.65" {
		t.Fatalf("avr rule: %+v", ev)
	}
}

// TestRecommendation: the evaluation carries the advice of the highest-level
// rule met that has one (the first of that level in the profile's order),
// none when no rule with advice is met; Validate wants both languages,
// within the limit, without control characters; every rule of the default
// profile has advice.
func TestRecommendation(t *testing.T) {
	med := &Recommendation{VI: "Chụp lại sau 6 tháng", EN: "Re-screen in 6 months"}
	high := &Recommendation{VI: "Gặp bác sĩ nhãn khoa trong 1 tháng", EN: "See an eye doctor within 1 month"}
	p := Profile{Version: 4, Rules: []Rule{
		{Metric: analysis.MetricTortuosity, Above: f64(1.3), RiskLevel: Medium, Recommendation: med},
		{Metric: analysis.MetricVesselDensity, Below: f64(0.05), RiskLevel: High},
		{Metric: analysis.MetricVesselDensity, Below: f64(0.06), RiskLevel: High, Recommendation: high},
		{Metric: analysis.MetricFractalDimension, Below: f64(1.3), RiskLevel: High, Recommendation: &Recommendation{VI: "x", EN: "later"}},
	}}
	if problems := p.Validate(); problems != nil {
		t.Fatal(problems)
	}
	m := analysis.Metrics{VesselDensity: 0.04, FractalDimension: 1.2, Tortuosity: 1.4}
	if ev := p.Evaluate(&m); ev.Recommendation == nil || *ev.Recommendation != *high || *ev.Recommendation.In("en") != high.EN || *ev.Recommendation.In("vi") != high.VI {
		t.Errorf("highest level, first in order: %+v", ev.Recommendation)
	}
	m = analysis.Metrics{VesselDensity: 0.1, FractalDimension: 1.5, Tortuosity: 1.4}
	if ev := p.Evaluate(&m); ev.Recommendation == nil || *ev.Recommendation != *med {
		t.Errorf("medium only: %+v", ev.Recommendation)
	}
	m = analysis.Metrics{VesselDensity: 0.1, FractalDimension: 1.5, Tortuosity: 1.1}
	if ev := p.Evaluate(&m); ev.Recommendation != nil {
		t.Errorf("no rule met: %+v", ev.Recommendation)
	}
	if ev := p.Evaluate(nil); ev.Recommendation != nil {
		t.Errorf("ungradable: %+v", ev.Recommendation)
	}
	for name, c := range map[string]struct {
		r     Recommendation
		field string
	}{
		"no en":   {Recommendation{VI: "a"}, "rules[0].recommendation.en"},
		"no vi":   {Recommendation{VI: "  ", EN: "a"}, "rules[0].recommendation.vi"},
		"long":    {Recommendation{VI: "a", EN: strings.Repeat("é", MaxRecommendation+1)}, "rules[0].recommendation.en"},
		"newline": {Recommendation{VI: "a\nb", EN: "a"}, "rules[0].recommendation.vi"},
		"bidi":    {Recommendation{VI: "a", EN: "a\u202eb"}, "rules[0].recommendation.en"},
	} {
		r := c.r
		bad := Profile{Rules: []Rule{{Metric: analysis.MetricTortuosity, Above: f64(1.3), RiskLevel: Medium, Recommendation: &r}}}
		if problems := bad.Validate(); problems[c.field] == "" || len(problems) != 1 {
			t.Errorf("%s: %v", name, problems)
		}
	}
	if (Profile{Rules: []Rule{{Metric: analysis.MetricTortuosity, Above: f64(1.3), RiskLevel: Medium,
		Recommendation: &Recommendation{VI: "a", EN: strings.Repeat("é", MaxRecommendation)}}}}).Validate() != nil {
		t.Error("the limit itself refused")
	}
	for i, r := range DefaultProfile().Rules {
		if r.Recommendation == nil || r.Recommendation.VI == "" || r.Recommendation.EN == "" {
			t.Errorf("default rule %d has no recommendation", i)
		}
	}
}

func TestTrends(t *testing.T) {
	if p := ValidateTrends(DefaultTrends()); p != nil {
		t.Fatalf("default trends: %v", p)
	}
	got := ValidateTrends([]Trend{{Metric: "cupToDisc", MaxRelativeChange: 0.1}, {Metric: "tortuosity", MaxRelativeChange: 0},
		{Metric: "tortuosity", MaxRelativeChange: math.NaN()}, {Metric: "avr", MaxRelativeChange: -1}})
	for _, f := range []string{"trends[0].metric", "trends[1].maxRelativeChange", "trends[2].metric", "trends[2].maxRelativeChange", "trends[3].maxRelativeChange"} {
		if got[f] == "" {
			t.Errorf("no problem on %s: %v", f, got)
		}
	}
	avr := 0.7
	base := analysis.Metrics{VesselDensity: 0.12, FractalDimension: 1.5, Tortuosity: 1.2, MeanVesselWidthPx: 6}
	latest := analysis.Metrics{VesselDensity: 0.09, FractalDimension: 1.6, Tortuosity: 1.38, MeanVesselWidthPx: 9, AVR: &avr}
	ch := Changes(DefaultTrends(), base, latest)
	// vesselDensity -25% exactly: not beyond; fractalDimension +6.7% > 5%;
	// tortuosity +15% exactly: not beyond; avr missing in the baseline.
	if len(ch) != 1 || ch[0].Metric != "fractalDimension" || ch[0].Flag != FlagRise || math.Abs(ch[0].RelativeChange-0.1/1.5) > 1e-12 {
		t.Fatalf("changes %+v", ch)
	}
	latest.VesselDensity = 0.0899
	f := TrendFindings(DefaultTrends(), &base, &latest)
	if len(f) != 2 || f[0].Code != CodeTrendChange || f[0].Severity != High || !strings.Contains(f[0].Message, "fell") {
		t.Fatalf("findings %+v", f)
	}
	if TrendFindings(DefaultTrends(), nil, &latest) != nil {
		t.Error("a first result has no trend")
	}
	if _, ok := RelativeChange(0, 1); ok {
		t.Error("a zero baseline has no relative change")
	}
}
