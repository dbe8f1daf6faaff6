package config

import (
	"strings"
	"testing"
	"time"
)

// TestBackupKeys: backups are off by default with keep 7; every needs a
// location of a known form; bad values stop the start naming the key.
func TestBackupKeys(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		return Load(Options{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }})
	}
	cfg, err := load(nil)
	if err != nil || cfg.Backup.Every != 0 || cfg.Backup.Keep != 7 || cfg.Backup.URI != "" {
		t.Fatalf("defaults: %+v %v", cfg.Backup, err)
	}
	cfg, err = load(map[string]string{"AURA_BACKUP_EVERY": "24h", "AURA_BACKUP_URI": "s3://aura-backups/nightly?region=eu-west-1", "AURA_BACKUP_KEEP": "14"})
	if err != nil || cfg.Backup.Every != 24*time.Hour || cfg.Backup.Keep != 14 {
		t.Fatalf("set: %+v %v", cfg.Backup, err)
	}
	for env, want := range map[string]map[string]string{
		"backup.uri (AURA_BACKUP_URI): required":      {"AURA_BACKUP_EVERY": "1h"},
		"backup.every (AURA_BACKUP_EVERY): must be":   {"AURA_BACKUP_EVERY": "-1h", "AURA_BACKUP_URI": "file:///b"},
		"backup.keep (AURA_BACKUP_KEEP): must be":     {"AURA_BACKUP_KEEP": "0"},
		"backup.uri (AURA_BACKUP_URI): scheme \"gs\"": {"AURA_BACKUP_URI": "gs://b"},
		"backup.every (AURA_BACKUP_EVERY): an in-memory": {"AURA_BACKUP_EVERY": "1h", "AURA_BACKUP_URI": "file:///b",
			"DATABASE_URI": "sqlite://"},
	} {
		if _, err := load(want); err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%v: %v, want %q", want, err, env)
		}
	}
}
