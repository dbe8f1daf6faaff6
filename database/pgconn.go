package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres opens a database/sql pool on pgx whose connections report a
// backend that the server terminated (pg_terminate_backend, a restart) as
// driver.ErrBadConn when the failed statement ran outside a transaction.
// database/sql then retries the statement on another (or a new) connection,
// so a client never sees the error of a connection that died while idle.
//
// pgx already pings connections idle for more than a second before reuse;
// this covers the ones reused sooner. Statements inside a transaction are
// never retried: the transaction fails and is rolled back as a whole.
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

// retryable turns "the server ended this backend" into driver.ErrBadConn for
// statements outside a transaction: the backend was gone before the
// statement could take effect (57P01 admin shutdown, 57P02 crash shutdown).
func retryable(outsideTx bool, err error) error {
	var pgErr *pgconn.PgError
	if outsideTx && errors.As(err, &pgErr) && (pgErr.Code == "57P01" || pgErr.Code == "57P02") {
		return driver.ErrBadConn
	}
	return err
}
