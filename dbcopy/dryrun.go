package dbcopy

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"aura/config"
	"aura/database"
)

// dryRun prints what a copy would do and returns the error the copy itself
// would stop on before writing (a target holding AURA rows without --force),
// so a dry run's exit status predicts the real one. It writes nothing: a
// SQLite target is opened read-only (and not created), a PostgreSQL one is
// only read.
func dryRun(ctx context.Context, o Options, rep *Report) error {
	w := o.Out
	fmt.Fprintf(w, "dry run: nothing will be written\nfrom: %s\nto:   %s\n", o.From.Redacted(), o.To.Redacted())
	fmt.Fprintf(w, "%-16s %10s\n", "table", "rows")
	for _, t := range rep.Tables {
		note := ""
		switch {
		case t.Absent:
			note = "  (not in the source: created empty" + rolesNote(t.Table) + ")"
		case len(t.MissingColumns) > 0:
			note = "  (source lacks " + strings.Join(t.MissingColumns, ", ") + ": filled by migration)"
		}
		fmt.Fprintf(w, "%-16s %10d%s\n", t.Table, t.Rows, note)
	}
	fmt.Fprintf(w, "total: %d rows in %d tables\n", rep.Rows(), len(rep.Tables))
	if len(rep.Ignored) > 0 {
		fmt.Fprintf(w, "not copied (not AURA tables): %s\n", strings.Join(rep.Ignored, ", "))
	}

	held, state, err := inspectTarget(ctx, o)
	if err != nil {
		return err
	}
	switch {
	case held == "":
		fmt.Fprintf(w, "target: %s; the copy would proceed\n", state)
		return nil
	case o.Force:
		fmt.Fprintf(w, "target holds AURA data (%s); --force: it would be replaced\n", held)
		return nil
	}
	fmt.Fprintf(w, "target holds AURA data (%s); the copy would be refused without --force\n", held)
	return fmt.Errorf("%w (%s): %s; add --force to replace it", ErrTargetNotEmpty, o.To.Redacted(), held)
}

func rolesNote(table string) string {
	if table == "roles" || table == "user_roles" {
		return "; migration seeds the roles and makes every user a PATIENT"
	}
	return ""
}

// inspectTarget counts the AURA rows of the target without writing to it.
func inspectTarget(ctx context.Context, o Options) (held, state string, err error) {
	if o.To.Engine == config.EngineSQLite && o.To.Memory {
		return "", "in-memory database (gone when the command ends)", nil
	}
	if o.To.Engine == config.EngineSQLite && !exists(o.To.Path) {
		return "", "does not exist yet; it would be created", nil
	}
	db, err := database.OpenReadOnly(ctx, o.To, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return "", "", fmt.Errorf("target: %w", err)
	}
	defer database.Close(db)
	tx := db.WithContext(ctx).Begin(&sql.TxOptions{ReadOnly: o.To.Engine == config.EnginePostgres})
	if tx.Error != nil {
		return "", "", fmt.Errorf("target %s: begin: %w", o.To.Redacted(), tx.Error)
	}
	defer tx.Rollback()
	tables, err := auraTables(tx)
	if err != nil {
		return "", "", err
	}
	var plans []tablePlan
	for _, t := range tables {
		if tx.Migrator().HasTable(t.name) {
			plans = append(plans, tablePlan{table: t})
		}
	}
	if len(plans) == 0 {
		return "", "exists, has no AURA tables yet", nil
	}
	held, err = auraRows(tx, plans)
	if err != nil {
		return "", "", fmt.Errorf("target %s: %w", o.To.Redacted(), err)
	}
	return held, "exists, holds no AURA rows", nil
}
