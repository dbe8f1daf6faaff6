package config

import (
	"strings"
	"testing"
	"time"
)

func TestHousekeepingSettings(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Housekeeping; !h.Enabled || h.Interval != time.Hour || h.Retention != 30*24*time.Hour {
		t.Fatalf("defaults: %+v", h)
	}
	cfg, err = load(t, "", map[string]string{"AURA_HOUSEKEEPING_ENABLED": "false",
		"AURA_HOUSEKEEPING_INTERVAL": "10m", "AURA_HOUSEKEEPING_RETENTION": "72h"})
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Housekeeping; h.Enabled || h.Interval != 10*time.Minute || h.Retention != 72*time.Hour {
		t.Fatalf("environment: %+v", h)
	}
	for key, mention := range map[string]string{
		"AURA_HOUSEKEEPING_INTERVAL":  "housekeeping.interval (AURA_HOUSEKEEPING_INTERVAL)",
		"AURA_HOUSEKEEPING_RETENTION": "housekeeping.retention (AURA_HOUSEKEEPING_RETENTION)",
	} {
		for _, bad := range []string{"0s", "-1h"} {
			_, err := load(t, "", map[string]string{key: bad})
			if err == nil || !strings.Contains(err.Error(), mention) {
				t.Errorf("%s=%s: got %v, want an error naming %s", key, bad, err, mention)
			}
		}
	}
}
