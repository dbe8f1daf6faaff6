package database_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"aura/config"
	"aura/database"
)

// TestOpenFailureIsOneError: a database that cannot be opened is reported
// once, by the error OpenDB returns (one line, password hidden); GORM
// writes nothing to the log, in text or JSON.
func TestOpenFailureIsOneError(t *testing.T) {
	pg, err := config.ParseURI("postgresql://u:secretpw@127.0.0.1:1/x?sslmode=prefer")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]config.DSN{
		"postgres refused":      pg,
		"sqlite on a directory": {Engine: config.EngineSQLite, Path: t.TempDir()},
	}
	for name, dsn := range cases {
		for format, handler := range map[string]func(*bytes.Buffer) slog.Handler{
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			t.Run(name+"/"+format, func(t *testing.T) {
				var logs bytes.Buffer
				cfg := &config.Config{Database: config.DatabaseConfig{DSN: dsn}}
				db, err := database.OpenDB(context.Background(), cfg, slog.New(handler(&logs)))
				if err == nil {
					database.Close(db)
					t.Fatal("opened")
				}
				msg := err.Error()
				if strings.ContainsAny(msg, "\n\t") || strings.Contains(msg, "secretpw") || strings.Contains(msg, "%v") {
					t.Fatalf("error should be one clean line without the password: %q", msg)
				}
				if logs.Len() != 0 {
					t.Fatalf("open failure was logged as well: %s", logs.String())
				}
			})
		}
	}
}
