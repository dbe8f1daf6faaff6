package tests

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"aura/config"
	"aura/internal/testenv"
	"aura/models"
)

// openRaw opens uri with a plain GORM handle for checks behind AURA's back.
func openRaw(t *testing.T, uri string) *gorm.DB {
	t.Helper()
	dsn, err := config.ParseURI(uri)
	testenv.Must(t, err, "parse %s", uri)
	if dsn.Engine == config.EnginePostgres {
		return testenv.AdminDB(t, uri)
	}
	db, err := gorm.Open(sqlite.Open("file:"+dsn.Path+"?_foreign_keys=on&_busy_timeout=10000"), &gorm.Config{Logger: logger.Discard})
	testenv.Must(t, err, "open %s", uri)
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

func closeRaw(db *gorm.DB) {
	if s, err := db.DB(); err == nil {
		s.Close()
	}
}

// dump reads every AURA table of db into sorted, engine-neutral row strings:
// NULL, booleans, integers, text and times (UTC, microseconds: what
// PostgreSQL keeps) print the same whichever engine holds them. A table the
// database lacks is absent from the map.
func dump(t *testing.T, db *gorm.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range models.All() {
		stmt := &gorm.Statement{DB: db}
		testenv.Must(t, stmt.Parse(m), "parse %T", m)
		name := stmt.Schema.Table
		if !db.Migrator().HasTable(name) {
			continue
		}
		cols := stmt.Schema.DBNames
		rows, err := db.Raw("SELECT " + strings.Join(cols, ", ") + " FROM " + name).Rows()
		testenv.Must(t, err, "read %s", name)
		var lines []string
		for rows.Next() {
			dest := make([]any, len(cols))
			for i, c := range cols {
				switch stmt.Schema.FieldsByDBName[c].GORMDataType {
				case schema.Bool:
					dest[i] = new(sql.NullBool)
				case schema.Int, schema.Uint:
					dest[i] = new(sql.NullInt64)
				case schema.Time:
					dest[i] = new(sql.NullTime)
				default:
					dest[i] = new(sql.NullString)
				}
			}
			testenv.Must(t, rows.Scan(dest...), "scan %s", name)
			parts := make([]string, len(cols))
			for i, d := range dest {
				var v any
				switch x := d.(type) {
				case *sql.NullBool:
					if x.Valid {
						v = x.Bool
					}
				case *sql.NullInt64:
					if x.Valid {
						v = x.Int64
					}
				case *sql.NullTime:
					if x.Valid {
						v = x.Time.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
					}
				case *sql.NullString:
					if x.Valid {
						v = fmt.Sprintf("%q", x.String)
					}
				}
				if v == nil {
					v = "NULL"
				}
				parts[i] = fmt.Sprintf("%s=%v", cols[i], v)
			}
			lines = append(lines, strings.Join(parts, " "))
		}
		testenv.Must(t, rows.Err(), "read %s", name)
		rows.Close()
		sort.Strings(lines)
		out[name] = lines
	}
	return out
}

// sameDump fails t unless a and b hold exactly the same tables and rows.
func sameDump(t *testing.T, what string, a, b map[string][]string) {
	t.Helper()
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	for name := range names {
		ra, rb := a[name], b[name]
		if len(ra) != len(rb) {
			t.Errorf("%s: %s has %d rows vs %d", what, name, len(ra), len(rb))
			continue
		}
		for i := range ra {
			if ra[i] != rb[i] {
				t.Errorf("%s: %s row differs:\n  %s\n  %s", what, name, ra[i], rb[i])
			}
		}
	}
}

func sqliteURI(t *testing.T, name string) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), name)
}

func mustDSN(t *testing.T, uri string) config.DSN {
	t.Helper()
	d, err := config.ParseURI(uri)
	testenv.Must(t, err, "parse %s", uri)
	return d
}

func countRows(t *testing.T, db *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, db.Raw("SELECT COUNT(*) FROM "+table).Row().Scan(&n), "count %s", table)
	return n
}
