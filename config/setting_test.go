package config

import (
	"testing"
	"time"
)

// TestSetting: a setting is read by its key, as Config holds it; a section
// or an unknown key is nil.
func TestSetting(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, "", map[string]string{"AURA_ANALYSIS_OIP_URL": "http://model:8080", "AURA_ANALYSIS_OIP_TIMEOUT": "3s"})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"analysis.oip.url": "http://model:8080", "analysis.oip.timeout": 3 * time.Second, "analysis.analyzer": "vessels",
		"analysis.max_attempts": 3, "analysis.oip": nil, "analysis.oip.nope": nil, "nope": nil, "": nil, "analysis.oip.url.x": nil,
	} {
		if got := cfg.Setting(key); got != want {
			t.Errorf("Setting(%q) = %#v, want %#v", key, got, want)
		}
	}
}
