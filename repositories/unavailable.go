package repositories

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// unavailable reports whether err means the database cannot answer now, as
// opposed to a bug or a refused statement. It is true for every way a
// connection can be refused or die:
//   - no connection at all: refused, unreachable, a server that is starting
//     or shutting down (57P03) or full (class 53), all inside ConnectError;
//   - the connection lost while in use: end of stream (io.EOF,
//     io.ErrUnexpectedEOF), a reset or broken pipe (*net.OpError,
//     ECONNRESET, EPIPE), a server that ended the backend (class 08, 57P01
//     terminated or fast/immediate shutdown, 57P02 crash of another backend,
//     57P05 idle session, 25P03 idle in transaction);
//   - a connection pgx had already given up: pgconn.ErrConnClosed ("conn
//     closed", also what a simple-protocol statement such as BEGIN or COMMIT
//     reports when its connection dies under it, and what "failed to
//     deallocate cached statement(s)" wraps);
//   - database/sql's bad or closed connections and closed pool; a
//     deadline inside pgx; SQLite busy or locked beyond its timeout.
//
// Any other server error (a constraint, a syntax error, a bad value, a
// serialization failure) is the statement's, and stays what it is.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		var connErr *pgconn.ConnectError
		return errors.As(err, &connErr) || lostCode(pgErr.Code)
	}
	var liteErr sqlite3.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code == sqlite3.ErrBusy || liteErr.Code == sqlite3.ErrLocked
	}
	for _, target := range lostErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connErr) || pgconn.Timeout(err) {
		return true
	}
	// A chain that was flattened to text (GORM joins a second error to a
	// first one with %v) keeps only the words.
	msg := err.Error()
	for _, s := range lostTexts {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// lostCode reports whether a server error code means the connection or the
// server is gone or cannot take work now.
func lostCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "57P"): // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57P05 idle session
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources: too many connections, out of memory, disk full
		return true
	case code == "25P03": // idle_in_transaction_session_timeout: the server closed the connection
		return true
	}
	return false
}

var lostErrors = []error{
	driver.ErrBadConn, sql.ErrConnDone, pgconn.ErrConnClosed, io.ErrUnexpectedEOF, io.EOF,
	syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
}

var lostTexts = []string{
	"sql: database is closed", "driver: bad connection", "conn closed", "unexpected EOF",
	"connection reset by peer", "broken pipe", "connection refused",
}
