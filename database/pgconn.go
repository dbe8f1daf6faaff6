package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres opens a database/sql pool on pgx whose connections report
// driver.ErrBadConn, so that database/sql retries on another (or a new)
// connection, in the two cases where the dead connection provably did
// nothing:
//   - a statement outside a transaction answered by a backend that the
//     server terminated (pg_terminate_backend, a fast or immediate shutdown,
//     a crash of another backend, an idle-session timeout);
//   - a BEGIN that meets a dead connection, whatever the way it died: a
//     BEGIN has no effect, so running it again elsewhere is always safe.
//
// So a client never sees the error of a connection that died while idle.
// pgx already pings connections idle for more than a second before reuse;
// this covers the ones reused sooner. Statements inside a transaction, and
// COMMIT, are never retried: the transaction fails and is rolled back as a
// whole. (pgx itself turns errors it marks safe to retry into ErrBadConn for
// statements outside a transaction.)
func openPostgres(url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(retryConnector{stdlib.GetConnector(*cfg)}), nil
}

type retryConnector struct{ driver.Connector }

func (c retryConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &retryConn{Conn: conn.(*stdlib.Conn)}, nil
}

// retryConn is a pgx connection with the error translation above; every
// other method is pgx's own.
type retryConn struct{ *stdlib.Conn }

// PgxConn is the pgx connection, for the hot queries that read rows through
// pgx itself (repositories: Users.ForSession). The embedded field's name
// hides stdlib.Conn's own Conn method.
func (c *retryConn) PgxConn() *pgx.Conn { return c.Conn.Conn() }

func (c *retryConn) idle() bool { return c.Conn.Conn().PgConn().TxStatus() == 'I' }

func (c *retryConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	idle := c.idle()
	rows, err := c.Conn.QueryContext(ctx, q, args)
	return rows, retryable(idle, err)
}

func (c *retryConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	idle := c.idle()
	res, err := c.Conn.ExecContext(ctx, q, args)
	return res, retryable(idle, err)
}

// BeginTx begins on this connection, or reports driver.ErrBadConn when the
// connection turns out dead (and the caller's context is still live).
func (c *retryConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil && ctx.Err() == nil && connLost(err) {
		return nil, driver.ErrBadConn
	}
	return tx, err
}

// retryable turns "the server ended this backend" into driver.ErrBadConn for
// statements outside a transaction: the backend was gone before the
// statement could take effect.
func retryable(outsideTx bool, err error) error {
	var pgErr *pgconn.PgError
	if outsideTx && errors.As(err, &pgErr) && terminated(pgErr.Code) {
		return driver.ErrBadConn
	}
	return err
}

// terminated reports whether a server error code says the server ended the
// backend: 57P01 admin shutdown (pg_terminate_backend, fast or immediate
// shutdown), 57P02 crash of another backend, 57P05 idle-session timeout.
func terminated(code string) bool {
	return code == "57P01" || code == "57P02" || code == "57P05"
}

// connLost reports whether err says the connection itself is gone: ended by
// the server, reset, closed, or already given up by pgx. A timeout is not a
// loss (the context decides), nor is any other server error.
func connLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return terminated(pgErr.Code) || strings.HasPrefix(pgErr.Code, "08")
	}
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && !netErr.Timeout()
}
