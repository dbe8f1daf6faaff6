package tests

import (
	"net/http"
	"testing"

	"aura/internal/testenv"
)

// TestAnalysisProfile: an admin reads the shipped risk rules (version 1),
// replaces them (version 2, a sent version ignored) and reads them back;
// rules the rater cannot use are refused; other roles get 403.
func TestAnalysisProfile(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "rules@clinic.example")
		pat := register(t, s, "rules.patient@example.com")
		type profile struct {
			Version int
			Rules   []struct {
				Metric, RiskLevel string
				Below, Above      *float64
			}
		}
		var p profile
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 1 || len(p.Rules) == 0 {
			t.Fatalf("shipped profile: %+v", p)
		}
		rules := map[string]any{"version": 41, "rules": []map[string]any{
			{"metric": "vesselDensity", "below": 0.07, "riskLevel": "high"},
			{"metric": "tortuosity", "above": 1.4, "riskLevel": "medium"},
		}}
		s.Do(t, "PUT", "/api/admin/analysis-profile", rules, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 2 || len(p.Rules) != 2 || p.Rules[0].Below == nil || *p.Rules[0].Below != 0.07 {
			t.Fatalf("saved profile: %+v", p)
		}
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 2 || len(p.Rules) != 2 {
			t.Fatalf("read back: %+v", p)
		}
		both := map[string]any{"rules": []map[string]any{{"metric": "tortuosity", "above": 1.4, "below": 1.1, "riskLevel": "medium"}}}
		s.Do(t, "PUT", "/api/admin/analysis-profile", both, adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, pat.AccessToken).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "PUT", "/api/admin/analysis-profile", rules, pat.AccessToken).Expect(t, http.StatusForbidden, "FORBIDDEN")
	})
}
