package repositories

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// unavailable reports whether err means the database cannot answer now
// (connection refused or lost, server shutting down, pool closed, SQLite busy
// beyond its timeout), as opposed to a bug or a refused statement.
func unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 08: connection exception; 57P0x: admin/crash shutdown, cannot connect now;
		// 53: insufficient resources (too many connections).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "53")
	}
	var liteErr sqlite3.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code == sqlite3.ErrBusy || liteErr.Code == sqlite3.ErrLocked
	}
	return strings.Contains(err.Error(), "sql: database is closed") || pgconn.Timeout(err)
}
