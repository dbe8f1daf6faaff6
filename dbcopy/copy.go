// Package dbcopy copies every AURA table from one database to another, any
// engine to any engine (`aura db copy`): it migrates the target, refuses a
// target that already holds AURA rows unless forced, copies in dependency
// order inside one target transaction, and verifies row counts and a
// per-table checksum before committing, so a failure at any point leaves the
// target as it was.
package dbcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"aura/config"
	"aura/database"
	"aura/models"
)

// DefaultBatchSize is the number of rows sent in one INSERT.
const DefaultBatchSize = 200

// maxParams keeps a batch under the bound-parameter limit of both engines
// (SQLite 32766, PostgreSQL 65535).
const maxParams = 30000

// ErrTargetNotEmpty is returned (wrapped) when the target already holds AURA
// rows and Force is not set.
var ErrTargetNotEmpty = errors.New("target already holds AURA data")

// Options say what to copy where.
type Options struct {
	From, To config.DSN
	// Force replaces the AURA rows a target already holds.
	Force bool
	// DryRun only reports what would be copied; nothing is written.
	DryRun bool
	// BatchSize is the rows per INSERT (DefaultBatchSize when 0).
	BatchSize int
	// Out receives the plan and the final report.
	Out io.Writer
	// Progress receives a progress bar per table when it is a terminal, one
	// line per table otherwise. Nil: nothing.
	Progress io.Writer
	// Log receives warnings from migrations and the database layer.
	Log *slog.Logger
	// AfterBatch, when set, runs after every batch written to the target;
	// an error aborts the copy. Tests use it to fail or kill a copy midway.
	AfterBatch func(table string, copied int64) error
	// Snapshot, when set, runs once the source's snapshot is taken (its
	// tables listed and rows counted inside the read transaction every row
	// is then copied from) and before anything is written; an error aborts
	// the copy. Backups list the stored objects there, so that every row
	// the copy holds has its objects listed (objects are written before
	// their rows).
	Snapshot func() error
}

// TableReport is the outcome for one table.
type TableReport struct {
	Table string
	// Rows copied (source count, verified equal in the target).
	Rows int64
	// Checksum of the copied columns, equal on both sides.
	Checksum string
	// Absent is true when the source has no such table (a first-generation
	// database); MissingColumns lists columns the source lacks.
	Absent         bool
	MissingColumns []string
}

// Report is the outcome of a copy or a dry run.
type Report struct {
	Tables []TableReport
	// Ignored lists source tables that are not AURA tables (left behind).
	Ignored []string
	// Adopted is true when the source lacked AURA tables or columns and the
	// migration filled them in the target (roles, normalised emails).
	Adopted  bool
	Duration time.Duration
}

// Rows is the total of copied rows.
func (r *Report) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// Run copies (or, with DryRun, plans the copy of) every AURA table from
// o.From to o.To. On any error the target is left as it was: its transaction
// is rolled back, and a SQLite file the copy created is removed.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	started := time.Now()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.To.Engine == config.EngineSQLite && o.To.Memory && !o.DryRun {
		return nil, errors.New("--to is an in-memory SQLite database: the copy would vanish when the command ends; give a file (sqlite:///path.db)")
	}
	if sameDatabase(o.From, o.To) {
		return nil, fmt.Errorf("--from and --to are the same database (%s)", o.From.Redacted())
	}
	defer func() {
		if err != nil {
			// One line, no password: drivers report some failures over several.
			msg := strings.Join(strings.Fields(database.Scrub(database.Scrub(err.Error(), o.From), o.To)), " ")
			err = &scrubbed{msg: msg, err: err}
		}
	}()

	// Database errors are returned and reported once, by the caller; the
	// GORM layer logging them too would only repeat them.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	src, err := database.OpenReadOnly(ctx, o.From, quiet)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer database.Close(src)
	srcTx := src.WithContext(ctx).Begin(&sql.TxOptions{ReadOnly: o.From.Engine == config.EnginePostgres,
		Isolation: isolation(o.From)})
	if srcTx.Error != nil {
		return nil, fmt.Errorf("source %s: begin: %w", o.From.Redacted(), srcTx.Error)
	}
	defer srcTx.Rollback()

	rep, plans, err := plan(srcTx, o)
	if err != nil {
		return nil, err
	}
	if o.Snapshot != nil {
		if err := o.Snapshot(); err != nil {
			return nil, err
		}
	}
	if o.DryRun {
		return rep, dryRun(ctx, o, rep)
	}

	created := o.To.Engine == config.EngineSQLite && !o.To.Memory && !exists(o.To.Path)
	tgt, err := database.OpenDB(ctx, &config.Config{Database: config.DatabaseConfig{DSN: o.To}}, quiet)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	// No statement logging on the copy's own handle: the batches are big, and
	// GORM would render each one for the slow-query log.
	err = copyAll(ctx, srcTx.Session(&gorm.Session{Logger: logger.Discard}),
		tgt.Session(&gorm.Session{Logger: logger.Discard, Context: ctx}), o, rep, plans)
	database.Close(tgt)
	if err != nil {
		if created {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				_ = os.Remove(o.To.Path + suffix)
			}
		}
		return nil, err
	}
	rep.Duration = time.Since(started)
	fmt.Fprintf(o.Out, "copied %d rows in %d tables from %s to %s in %s; row counts and checksums match\n",
		rep.Rows(), len(rep.Tables), o.From.Redacted(), o.To.Redacted(), rep.Duration.Round(time.Millisecond))
	if rep.Adopted {
		fmt.Fprintln(o.Out, "the source is a first-generation AURA database: the target's missing columns and roles were filled in (every user is a PATIENT)")
	}
	return rep, nil
}

// tablePlan is one table as the source has it.
type tablePlan struct {
	table  // the columns both sides have
	rows   int64
	absent bool
}

// plan counts the source's rows and finds which AURA tables and columns it has.
func plan(src *gorm.DB, o Options) (*Report, []tablePlan, error) {
	tables, err := auraTables(src)
	if err != nil {
		return nil, nil, err
	}
	have, err := src.Migrator().GetTables()
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: list tables: %w", o.From.Redacted(), err)
	}
	haveSet := map[string]bool{}
	for _, h := range have {
		haveSet[strings.ToLower(h)] = true
	}
	rep := &Report{}
	var plans []tablePlan
	known := map[string]bool{}
	found := 0
	for _, t := range tables {
		known[t.name] = true
		p := tablePlan{table: t}
		tr := TableReport{Table: t.name}
		if !haveSet[t.name] {
			p.absent, tr.Absent = true, true
			p.columns = nil
			rep.Adopted = true
		} else {
			found++
			cols, err := columnsOf(src, t.name)
			if err != nil {
				return nil, nil, fmt.Errorf("source %s: columns of %s: %w", o.From.Redacted(), t.name, err)
			}
			p.table = t.only(cols)
			for _, c := range t.columns {
				if !slices.Contains(p.names(), c.name) {
					tr.MissingColumns = append(tr.MissingColumns, c.name)
					rep.Adopted = true
				}
			}
			if err := src.Raw("SELECT COUNT(*) FROM " + quote(src, t.name)).Row().Scan(&p.rows); err != nil {
				return nil, nil, fmt.Errorf("source %s: count %s: %w", o.From.Redacted(), t.name, err)
			}
			tr.Rows = p.rows
		}
		plans = append(plans, p)
		rep.Tables = append(rep.Tables, tr)
	}
	for _, h := range have {
		if !known[strings.ToLower(h)] && !strings.HasPrefix(h, "sqlite_") {
			rep.Ignored = append(rep.Ignored, h)
		}
	}
	sort.Strings(rep.Ignored)
	if found == 0 || !haveSet["users"] {
		return nil, nil, fmt.Errorf("source %s holds no AURA database (no users table)", o.From.Redacted())
	}
	return rep, plans, nil
}

func columnsOf(db *gorm.DB, name string) ([]string, error) {
	rows, err := db.Raw("SELECT * FROM " + quote(db, name) + " WHERE 1 = 0").Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}

// copyAll runs the whole copy in one transaction of the target.
func copyAll(ctx context.Context, src, tgt *gorm.DB, o Options, rep *Report, plans []tablePlan) error {
	prog := newProgress(o.Progress)
	precision := time.Duration(1)
	if o.From.Engine == config.EnginePostgres || o.To.Engine == config.EnginePostgres {
		precision = time.Microsecond
	}
	err := tgt.Transaction(func(tx *gorm.DB) error {
		// Migration runs inside the transaction: both engines roll DDL back,
		// so a failed copy leaves no half-made schema either.
		if err := database.Migrate(ctx, tx, o.Log); err != nil {
			return fmt.Errorf("target %s: migrate: %w", o.To.Redacted(), err)
		}
		held, err := auraRows(tx, plans)
		if err != nil {
			return fmt.Errorf("target %s: %w", o.To.Redacted(), err)
		}
		if held != "" && !o.Force {
			return fmt.Errorf("%w (%s): %s; add --force to replace it", ErrTargetNotEmpty, o.To.Redacted(), held)
		}
		// Clear every AURA table, children first (the seeded roles too: the
		// source's roles replace them).
		for i := len(plans) - 1; i >= 0; i-- {
			if err := tx.Exec("DELETE FROM " + quote(tx, plans[i].name)).Error; err != nil {
				return fmt.Errorf("target %s: clear %s: %w", o.To.Redacted(), plans[i].name, err)
			}
		}
		for i, p := range plans {
			if p.absent {
				continue
			}
			sum, err := copyTable(src, tx, p, o, prog, precision)
			if err != nil {
				prog.abort()
				return err
			}
			rep.Tables[i].Checksum = sum
		}
		if err := resetSequences(tx, plans, o); err != nil {
			return err
		}
		fmt.Fprintln(prog.w, "verifying row counts and checksums in the target...")
		if err := verify(tx, plans, rep, o, precision); err != nil {
			return err
		}
		if rep.Adopted {
			// A first-generation source: fill what it lacked (roles, normalised
			// emails), as AURA does when it starts on such a database.
			if err := database.Migrate(ctx, tx, o.Log); err != nil {
				return fmt.Errorf("target %s: migrate after copy: %w", o.To.Redacted(), err)
			}
		}
		return nil
	})
	if errors.Is(err, ErrTargetNotEmpty) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("copy interrupted, target left unchanged: %w", err)
	}
	if err != nil {
		return fmt.Errorf("copy aborted, target left unchanged: %w", err)
	}
	return nil
}

// auraRows describes the AURA rows tx holds ("" when none): rows in any AURA
// table, except the seeded roles every migrated database has.
func auraRows(tx *gorm.DB, plans []tablePlan) (string, error) {
	var held []string
	for _, p := range plans {
		if p.name == "rate_limits" {
			// Counters and leases any running server writes (housekeeping's
			// within a minute of start); they hold no data worth protecting.
			continue
		}
		var n int64
		q := "SELECT COUNT(*) FROM " + quote(tx, p.name)
		if p.name == "roles" {
			var ids []uint
			for _, r := range models.SeedRoles {
				ids = append(ids, r.ID)
			}
			var seeded int64
			if err := tx.Raw("SELECT COUNT(*) FROM roles WHERE id IN ? AND name IN ?", ids, seedNames()).Row().Scan(&seeded); err != nil {
				return "", fmt.Errorf("count roles: %w", err)
			}
			if err := tx.Raw(q).Row().Scan(&n); err != nil {
				return "", fmt.Errorf("count roles: %w", err)
			}
			n -= seeded
		} else if err := tx.Raw(q).Row().Scan(&n); err != nil {
			return "", fmt.Errorf("count %s: %w", p.name, err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%s %d", p.name, n))
		}
	}
	return strings.Join(held, ", "), nil
}

func seedNames() []string {
	var n []string
	for _, r := range models.SeedRoles {
		n = append(n, r.Name)
	}
	return n
}

// copyTable streams one table from src into tx in batches and returns the
// checksum of what it read.
func copyTable(src, tx *gorm.DB, p tablePlan, o Options, prog *progress, precision time.Duration) (string, error) {
	prog.begin(p.name, p.rows)
	rows, err := src.Raw(p.selectSQL(src)).Rows()
	if err != nil {
		return "", fmt.Errorf("source: read %s: %w", p.name, err)
	}
	defer rows.Close()
	batch := o.BatchSize
	if n := maxParams / len(p.columns); batch > n {
		batch = n
	}
	sum := checksum{precision: precision}
	args := make([]any, 0, batch*len(p.columns))
	var copied int64
	flush := func() error {
		n := len(args) / len(p.columns)
		if n == 0 {
			return nil
		}
		if err := tx.Exec(p.insertSQL(tx, n), args...).Error; err != nil {
			return fmt.Errorf("target %s: write %s: %w", o.To.Redacted(), p.name, err)
		}
		copied += int64(n)
		args = args[:0]
		prog.add(n)
		if o.AfterBatch != nil {
			if err := o.AfterBatch(p.name, copied); err != nil {
				return err
			}
		}
		return nil
	}
	for rows.Next() {
		vals, err := scanRow(rows, p.table)
		if err != nil {
			return "", fmt.Errorf("source: read %s: %w", p.name, err)
		}
		sum.add(vals)
		args = append(args, vals...)
		if len(args) >= batch*len(p.columns) {
			if err := flush(); err != nil {
				return "", err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("source: read %s: %w", p.name, err)
	}
	if err := flush(); err != nil {
		return "", err
	}
	prog.end(p.name, copied)
	return sum.String(), nil
}

// resetSequences moves PostgreSQL sequences past the copied ids, so the next
// row the server inserts does not collide with a copied one. SQLite's
// AUTOINCREMENT follows explicit ids by itself.
func resetSequences(tx *gorm.DB, plans []tablePlan, o Options) error {
	if o.To.Engine != config.EnginePostgres {
		return nil
	}
	for _, p := range plans {
		if p.serial == "" {
			continue
		}
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE((SELECT MAX(%s) FROM %s), 0) + 1, false)",
			p.name, p.serial, quote(tx, p.serial), quote(tx, p.name))
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("target %s: reset sequence of %s: %w", o.To.Redacted(), p.name, err)
		}
	}
	return nil
}

// verify re-reads every copied table in the target transaction and compares
// its row count and checksum with the source's.
func verify(tx *gorm.DB, plans []tablePlan, rep *Report, o Options, precision time.Duration) error {
	for i, p := range plans {
		var n int64
		if err := tx.Raw("SELECT COUNT(*) FROM " + quote(tx, p.name)).Row().Scan(&n); err != nil {
			return fmt.Errorf("target %s: verify %s: %w", o.To.Redacted(), p.name, err)
		}
		if n != p.rows {
			return fmt.Errorf("verify %s: source has %d rows, target %d", p.name, p.rows, n)
		}
		if p.absent {
			continue
		}
		rows, err := tx.Raw(p.selectSQL(tx)).Rows()
		if err != nil {
			return fmt.Errorf("target %s: verify %s: %w", o.To.Redacted(), p.name, err)
		}
		sum := checksum{precision: precision}
		for rows.Next() {
			vals, err := scanRow(rows, p.table)
			if err != nil {
				rows.Close()
				return fmt.Errorf("target %s: verify %s: %w", o.To.Redacted(), p.name, err)
			}
			sum.add(vals)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("target %s: verify %s: %w", o.To.Redacted(), p.name, err)
		}
		if got := sum.String(); got != rep.Tables[i].Checksum {
			return fmt.Errorf("verify %s: checksum mismatch (source %.12s, target %.12s)", p.name, rep.Tables[i].Checksum, got)
		}
	}
	return nil
}

func isolation(d config.DSN) sql.IsolationLevel {
	if d.Engine == config.EnginePostgres {
		// One snapshot for every table: a consistent copy even if a writer
		// was left running.
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}

func sameDatabase(a, b config.DSN) bool {
	if a.Engine != b.Engine {
		return false
	}
	if a.Engine == config.EngineSQLite {
		if a.Memory || b.Memory {
			return false // two in-memory databases are two databases
		}
		pa, pb := canonicalPath(a.Path), canonicalPath(b.Path)
		return pa == pb
	}
	ua, ea := url.Parse(a.URL)
	ub, eb := url.Parse(b.URL)
	if ea != nil || eb != nil {
		return a.URL == b.URL
	}
	return ua.Host == ub.Host && strings.Trim(ua.Path, "/") == strings.Trim(ub.Path, "/") &&
		ua.Query().Get("search_path") == ub.Query().Get("search_path")
}

func canonicalPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return p
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// scrubbed is an error whose text has no password; errors.Is still sees the cause.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
