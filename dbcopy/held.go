package dbcopy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"aura/config"
	"aura/database"
)

// Held describes the AURA rows the database dsn already holds ("" when it
// holds none, has no AURA tables yet, or is a SQLite file that does not
// exist), the way a copy would refuse it: the seeded roles and the
// rate_limits counters and leases do not count. It only reads, and creates
// nothing.
func Held(ctx context.Context, dsn config.DSN) (string, error) {
	if dsn.Engine == config.EngineSQLite && !dsn.Memory {
		if _, err := os.Stat(dsn.Path); os.IsNotExist(err) {
			return "", nil
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := database.OpenReadOnly(ctx, dsn, quiet)
	if err != nil {
		return "", err
	}
	defer database.Close(db)
	db = db.WithContext(ctx)
	tables, err := auraTables(db)
	if err != nil {
		return "", err
	}
	have, err := db.Migrator().GetTables()
	if err != nil {
		return "", fmt.Errorf("%s: list tables: %w", dsn.Redacted(), err)
	}
	set := map[string]bool{}
	for _, h := range have {
		set[strings.ToLower(h)] = true
	}
	var plans []tablePlan
	for _, t := range tables {
		if set[t.name] {
			plans = append(plans, tablePlan{table: t})
		}
	}
	held, err := auraRows(db, plans)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dsn.Redacted(), err)
	}
	return held, nil
}
