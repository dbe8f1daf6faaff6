package app_test

import (
	"context"
	"strings"
	"testing"

	"aura/app"
	"aura/internal/testenv"
)

// TestAnalyzerChosenByName: the analyzer analysis.analyzer names is built
// from the registry with its own settings; an unknown name, or a chosen
// analyzer's bad setting, stops the start saying which.
func TestAnalyzerChosenByName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		want string // "" builds; else the start's error says it
	}{
		{map[string]string{}, ""},
		{map[string]string{"AURA_ANALYSIS_ANALYZER": "oip", "AURA_ANALYSIS_OIP_URL": "http://model:8080", "AURA_ANALYSIS_OIP_MODEL": "retina"}, ""},
		{map[string]string{"AURA_ANALYSIS_ANALYZER": "retinanet"}, "accepted: oip, vessels"},
		{map[string]string{"AURA_ANALYSIS_ANALYZER": "oip", "AURA_ANALYSIS_OIP_MODEL": "retina"}, "analysis.oip.url"},
		{map[string]string{"AURA_ANALYSIS_ANALYZER": "oip", "AURA_ANALYSIS_OIP_URL": "http://m", "AURA_ANALYSIS_OIP_MODEL": "retina",
			"AURA_ANALYSIS_OIP_TIMEOUT": "0s"}, "analysis.oip.timeout"},
	} {
		cfg := testenv.Config(t, "sqlite:///:memory:", c.env)
		a, err := app.New(context.Background(), cfg, testenv.Logger(t))
		if c.want == "" {
			if err != nil || a.Screenings.Analyzer.Name() != cfg.Analysis.Analyzer {
				t.Errorf("%v: %v", c.env, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.env, err, c.want)
		}
		if a != nil {
			a.Close()
		}
	}
}
