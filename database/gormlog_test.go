package database

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// unencodable is an error JSON cannot encode, like pgx's, which holds its
// connection config (functions included).
type unencodable struct{ Fn func() time.Time }

func (unencodable) Error() string { return "dial error" }

// TestGormLoggerRendersMessages: GORM's printf-style messages are rendered,
// so the log holds text, not "%v" and an argument list the JSON handler
// cannot encode.
func TestGormLoggerRendersMessages(t *testing.T) {
	var buf bytes.Buffer
	l := newGormLogger(slog.New(slog.NewJSONHandler(&buf, nil)), time.Second)
	l.Error(context.Background(), "failed to initialize database, got error %v", errors.Join(unencodable{}))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %q", buf.String())
	}
	if rec["msg"] != "failed to initialize database, got error dial error" || rec["args"] != nil {
		t.Fatalf("record: %v", rec)
	}
}
