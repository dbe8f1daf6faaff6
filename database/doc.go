// Package database opens AURA's database: the GORM dialector and connection
// pool of each engine (in-memory SQLite, file SQLite, PostgreSQL), the pgx
// connector that replaces connections the server terminated, a read-only open
// for sources that must not change, the schema migration, and the GORM logger.
// app, dbcopy, the CLI and the tests all open databases here; nothing else
// builds a dialector.
package database

import (
	"net/url"
	"strings"

	"gorm.io/gorm"

	"aura/config"
)

// Scrub removes the DSN's password (plain or URL-escaped) from msg, in case a
// driver error echoes it.
func Scrub(msg string, dsn config.DSN) string {
	u, err := url.Parse(dsn.URL)
	if err != nil || u.User == nil {
		return msg
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		if q := url.QueryEscape(pw); q != pw {
			msg = strings.ReplaceAll(msg, q, "xxxxx")
		}
	}
	return msg
}

// Describe is err as one line for a message: the DSN's password scrubbed and
// the driver's line breaks (pgx puts each address it tried on its own
// line) folded, so a start-up error stays the one line the CLI promises.
func Describe(err error, dsn config.DSN) string {
	var b strings.Builder
	for _, line := range strings.Split(Scrub(err.Error(), dsn), "\n") {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// Close closes db's connection pool; errors are of no use to a caller that is
// done with it.
func Close(db *gorm.DB) {
	if s, err := db.DB(); err == nil {
		_ = s.Close()
	}
}
