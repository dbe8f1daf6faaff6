package database

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"aura/config"
)

// TestSQLitePathWithURICharacters: a file path with '#', '?' or '%' opens
// exactly that file, not a truncated or decoded one.
func TestSQLitePathWithURICharacters(t *testing.T) {
	for _, name := range []string{"clinic#1.db", "what?.db", "100%25.db", "plain.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			cfg := &config.Config{Database: config.DatabaseConfig{DSN: config.DSN{Engine: config.EngineSQLite, Path: path}}}
			db, err := OpenDB(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("CREATE TABLE t (x int)").Error; err != nil {
				t.Fatal(err)
			}
			Close(db)
			entries, _ := os.ReadDir(dir)
			found := false
			for _, e := range entries {
				found = found || e.Name() == name
			}
			if !found {
				t.Fatalf("no file %q in %s: %v", name, dir, entries)
			}
		})
	}
}
