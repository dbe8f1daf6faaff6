package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"aura/config"
)

// Waiting for the database at start: the first retry after connectFirstWait,
// doubled after each failed attempt up to connectMaxWait.
const (
	connectFirstWait = 250 * time.Millisecond
	connectMaxWait   = 5 * time.Second
	attemptTimeout   = 10 * time.Second
)

// connect pings db until it answers. With timeout > 0 a transient failure
// (see Transient) is retried with capped exponential backoff until timeout
// has passed since the first attempt, logging one line per failed attempt
// that will be retried; any other failure, or timeout 0, ends at once. The
// error returned is the last attempt's.
func connect(ctx context.Context, db *sql.DB, dsn config.DSN, timeout time.Duration, log *slog.Logger) error {
	start := time.Now()
	deadline := start.Add(timeout)
	wait := connectFirstWait
	for attempt := 1; ; attempt++ {
		limit := attemptTimeout
		if left := time.Until(deadline); timeout > 0 && left < limit {
			limit = max(left, time.Second)
		}
		pctx, cancel := context.WithTimeout(ctx, limit)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info("database is up", "attempt", attempt, "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return nil
		}
		if ctx.Err() != nil || timeout <= 0 || !Transient(err) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w (gave up after %d attempts in %s; database.connect_timeout is %s)",
				err, attempt, time.Since(start).Round(time.Millisecond), timeout)
		}
		next := min(wait, left)
		log.Warn("database not reachable yet; will retry", "attempt", attempt, "err", Describe(err, dsn), "retry_in", next.String())
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(wait*2, connectMaxWait)
	}
}

// Transient reports whether a failure to connect may go away by itself, so
// that a start waits for the database instead of failing: the server
// refuses or resets connections, does not answer in time, cannot be reached
// (yet), its name does not resolve (yet: a container platform adds a
// service's name when it starts), or it answers that it is starting up,
// shutting down, in recovery (57P03) or out of connection slots (53300).
// A wrong password, an unknown role or database, a TLS or URI error are
// not: waiting would only delay the message an operator needs.
func Transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EHOSTUNREACH,
		syscall.ENETUNREACH, syscall.ETIMEDOUT, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
