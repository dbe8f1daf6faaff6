package report

import (
	"strings"
	"testing"
)

// TestRecommendationBesideTheStatement: the risk rules' recommendation is
// printed, in the report's language, with the statement that AURA measures
// and does not diagnose right under it; no recommendation, no band.
func TestRecommendationBesideTheStatement(t *testing.T) {
	for lang, c := range map[string]struct{ advice, label, note string }{
		"en": {"See an eye doctor within 1 month for a full eye examination.", "Suggested follow-up", "AURA measures the retinal vessels; it does not diagnose."},
		"vi": {"Gặp bác sĩ nhãn khoa trong vòng 1 tháng để được khám mắt đầy đủ.", "Gợi ý theo dõi", "AURA không chẩn đoán."},
	} {
		d := sample(lang)
		d.Analysis.Recommendation = c.advice
		text := strings.Join(strings.Fields(poppler(t, render(t, d), "pdftotext", "-layout")), " ")
		for _, want := range []string{c.advice, c.label, c.note} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: %q not in the report:\n%s", lang, want, text)
			}
		}
		if i, j := strings.Index(text, c.advice), strings.Index(text, c.note); i < 0 || j < i {
			t.Errorf("%s: the statement does not follow the recommendation", lang)
		}
		d.Analysis.Recommendation = ""
		if text := poppler(t, render(t, d), "pdftotext"); strings.Contains(text, c.label) {
			t.Errorf("%s: a band without a recommendation", lang)
		}
	}
}
