package tests

import (
	"net/http"
	"strings"
	"testing"

	"aura/internal/testenv"
)

// TestRecommendation: a risk rule's recommendation is validated (both
// languages, a length limit, no control characters; a refused profile
// changes nothing), kept with the rules, and the analysis shows the advice
// of the highest-level rule met in the patient's language, to the patient
// and to the doctor alike, and prints it in the report beside the statement
// that AURA does not diagnose. The shipped rules carry advice.
func TestRecommendation(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		// The measurements come from a stand-in model server (quick; the
		// real analyzer is not what is tested here).
		model := startOIPModel(t)
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{
			"AURA_ANALYSIS_ANALYZER": "oip", "AURA_ANALYSIS_OIP_URL": model.url(), "AURA_ANALYSIS_OIP_MODEL": "retina"}))
		adm := makeAdmin(t, s, "advice.admin@clinic.example")
		type rule struct {
			Metric, RiskLevel string
			Below, Above      *float64
			Recommendation    *struct{ VI, EN string }
		}
		var p struct {
			Version int
			Rules   []rule
		}
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		for i, r := range p.Rules {
			if r.Recommendation == nil || r.Recommendation.VI == "" || r.Recommendation.EN == "" {
				t.Errorf("shipped rule %d without a recommendation: %+v", i, r)
			}
		}

		// Refusals, field by field; nothing changes.
		for field, advice := range map[string]map[string]any{
			"rules[0].recommendation.en":      {"vi": "Tái khám"},
			"rules[0].recommendation.vi":      {"vi": " ", "en": "Re-screen"},
			"rules[0].recommendation.en:long": {"vi": "Tái khám", "en": strings.Repeat("a", 301)},
			"rules[0].recommendation.vi:ctrl": {"vi": "Tái\tkhám", "en": "Re-screen"},
		} {
			field, _, _ = strings.Cut(field, ":")
			body := map[string]any{"rules": []map[string]any{{"metric": "tortuosity", "above": 1.4, "riskLevel": "medium", "recommendation": advice}}}
			r := s.Do(t, "PUT", "/api/admin/analysis-profile", testenv.Invalid(body), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details[field] == "" {
				t.Errorf("%s: %v", field, r.Env.Details)
			}
		}
		s.Do(t, "PUT", "/api/admin/analysis-profile", testenv.Invalid(map[string]any{"rules": []map[string]any{
			{"metric": "tortuosity", "above": 1.4, "riskLevel": "medium", "recommendation": "Re-screen"}}}), adm).Expect(t, http.StatusBadRequest, "")
		var now struct{ Version int }
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, adm).Expect(t, http.StatusOK, "").Data(t, &now)
		if now.Version != 1 {
			t.Fatalf("a refused profile was saved: version %d", now.Version)
		}

		// Rules every image meets: the high one's advice wins.
		p.Rules = nil
		s.Do(t, "PUT", "/api/admin/analysis-profile", map[string]any{"rules": []map[string]any{
			{"metric": "tortuosity", "above": 0, "riskLevel": "medium",
				"recommendation": map[string]any{"vi": "Chụp lại sau 6 tháng.", "en": "Re-screen in 6 months."}},
			{"metric": "vesselDensity", "above": 0, "riskLevel": "high",
				"recommendation": map[string]any{"vi": "Gặp bác sĩ nhãn khoa trong 1 tháng.", "en": "See an eye doctor within 1 month."}},
			{"metric": "fractalDimension", "above": 0, "riskLevel": "medium"},
		}}, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 2 || p.Rules[1].Recommendation == nil || p.Rules[1].Recommendation.EN != "See an eye doctor within 1 month." || p.Rules[2].Recommendation != nil {
			t.Fatalf("saved %+v", p)
		}

		clinic := createClinic(t, s, adm, "Phòng khám Lời Khuyên")
		doc := makeDoctor(t, s, adm, "bs.advice@clinic.example")
		attach(t, s, adm, clinic, doc.ID, "0099999/HCM-CCHN").Expect(t, http.StatusOK, "")
		jpg := encodeJPEG(t, 512, 384, 85)
		ids := map[string]string{}
		tokens := map[string]string{}
		for _, lang := range []string{"vi", "en"} {
			pat := signUp(t, s, "advice."+lang+"@patient.example")
			s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": lang}, pat.Token).Expect(t, http.StatusOK, "")
			var sc screening
			upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, map[string]string{"Accept-Language": lang}).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			ids[lang], tokens[lang] = sc.ID, pat.Token
		}
		analyse(t, s)
		want := map[string]string{"vi": "Gặp bác sĩ nhãn khoa trong 1 tháng.", "en": "See an eye doctor within 1 month."}
		statement := map[string]string{"vi": "AURA không chẩn đoán", "en": "it does not diagnose"}
		for lang, id := range ids {
			var sc struct {
				Analysis *struct {
					RiskLevel      *string
					Recommendation *string
				}
			}
			for _, tok := range []string{tokens[lang], doc.Token} {
				// The doctor reads it in the patient's language too.
				s.DoHeaders(t, "GET", "/api/screenings/"+id, nil, map[string]string{"Authorization": "Bearer " + tok, "Accept-Language": "en"}).
					Expect(t, http.StatusOK, "").Data(t, &sc)
				if sc.Analysis == nil || sc.Analysis.RiskLevel == nil || *sc.Analysis.RiskLevel != "high" ||
					sc.Analysis.Recommendation == nil || *sc.Analysis.Recommendation != want[lang] {
					t.Fatalf("%s: analysis %+v", lang, sc.Analysis)
				}
			}
			status, _, pdf := rawGet(t, s, "/api/screenings/"+id+"/report", tokens[lang], nil)
			if status != http.StatusOK {
				t.Fatalf("%s report: %d", lang, status)
			}
			text := strings.Join(strings.Fields(pdfText(t, pdf)), " ")
			if i, j := strings.Index(text, want[lang]), strings.Index(text, statement[lang]); i < 0 || j < i {
				t.Errorf("%s: the report lacks the recommendation beside the statement:\n%s", lang, text)
			}
		}

		// Without a rule that carries advice: null.
		s.Do(t, "PUT", "/api/admin/analysis-profile", map[string]any{"rules": []map[string]any{
			{"metric": "tortuosity", "above": 0, "riskLevel": "medium"}}}, adm).Expect(t, http.StatusOK, "")
		pat := signUp(t, s, "advice.none@patient.example")
		var sc screening
		upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &sc)
		analyse(t, s)
		r := s.Do(t, "GET", "/api/screenings/"+sc.ID, nil, pat.Token).Expect(t, http.StatusOK, "")
		if !strings.Contains(string(r.Body), `"recommendation":null`) {
			t.Errorf("no advice: %s", r.Body)
		}
	})
}
