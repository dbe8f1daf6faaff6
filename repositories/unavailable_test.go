package repositories

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"
	"gorm.io/gorm"

	"aura/internal/fakepg"
	"aura/models"
)

// The errors below are the ones pgx, database/sql and SQLite really return:
// each case makes its error happen against a scripted PostgreSQL server
// (internal/fakepg) or a real SQLite file. Only the kernel's broken pipe,
// which needs a race to provoke, is built by hand.

func connectFake(t *testing.T, script func(s *fakepg.Session)) *pgx.Conn {
	t.Helper()
	srv := fakepg.Start(t, script)
	conn, err := pgx.Connect(context.Background(), srv.URL())
	if err != nil {
		t.Fatalf("connect to fake server: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// dieOn serves until stop matches, then runs die.
func dieOn(stop func(pgproto3.FrontendMessage) bool, die func(s *fakepg.Session)) func(s *fakepg.Session) {
	return func(s *fakepg.Session) {
		s.Accept()
		if s.Serve(stop) != nil {
			die(s)
		}
	}
}

func isBegin(m pgproto3.FrontendMessage) bool  { return fakepg.IsQuery(m, "begin") }
func isCommit(m pgproto3.FrontendMessage) bool { return fakepg.IsQuery(m, "commit") }

const withArg = "select $1::text"

// execArg runs a statement with an argument (extended protocol) and returns
// its error.
func execArg(conn *pgx.Conn) error {
	_, err := conn.Exec(context.Background(), withArg, "x")
	return err
}

func pgxErr(stop func(pgproto3.FrontendMessage) bool, die func(s *fakepg.Session)) func(t *testing.T) error {
	return func(t *testing.T) error { return execArg(connectFake(t, dieOn(stop, die))) }
}

func connectErr(script func(s *fakepg.Session)) func(t *testing.T) error {
	return func(t *testing.T) error {
		srv := fakepg.Start(t, script)
		conn, err := pgx.Connect(context.Background(), srv.URL())
		if err == nil {
			conn.Close(context.Background())
			t.Fatal("connected")
		}
		return err
	}
}

func sqliteFile(t *testing.T, path, opts string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?"+opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUnavailableClassifiesRealErrors(t *testing.T) {
	cases := []struct {
		name string
		err  func(t *testing.T) error
		want bool
	}{
		// The database cannot answer now: 503 UNAVAILABLE.
		{"connection refused", func(t *testing.T) error {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := ln.Addr().String()
			ln.Close()
			_, err := pgx.Connect(context.Background(), "postgres://x@"+addr+"/x?sslmode=disable")
			return err
		}, true},
		{"57P03 at startup (shutting down, starting up)", connectErr(func(s *fakepg.Session) {
			s.Fatal("57P03", "the database system is shutting down")
		}), true},
		{"53300 at startup (too many connections)", connectErr(func(s *fakepg.Session) {
			s.Fatal("53300", "sorry, too many clients already")
		}), true},
		{"closed during startup", connectErr(func(s *fakepg.Session) { s.Close() }), true},
		{"closed before the answer: unexpected EOF", pgxErr(fakepg.IsExecute, (*fakepg.Session).Close), true},
		{"reset before the answer: connection reset by peer", pgxErr(fakepg.IsExecute, (*fakepg.Session).Reset), true},
		{"immediate shutdown: WARNING 57P01, then EOF", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Notice("57P01", "terminating connection due to immediate shutdown command")
			s.Close()
		}), true},
		{"crash of another backend: WARNING 57P02, then EOF", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Notice("57P02", "terminating connection because of crash of another server process")
			s.Close()
		}), true},
		{"terminated backend: FATAL 57P01", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Fatal("57P01", "terminating connection due to administrator command")
		}), true},
		{"crash shutdown: FATAL 57P02", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Fatal("57P02", "terminating connection because of crash of another server process")
		}), true},
		{"idle session timeout: FATAL 57P05", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Fatal("57P05", "terminating connection due to idle-session timeout")
		}), true},
		{"idle in transaction timeout: FATAL 25P03", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Fatal("25P03", "terminating connection due to idle-in-transaction timeout")
		}), true},
		{"connection failure: 08006", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Fatal("08006", "connection failure")
		}), true},
		{"simple query on a dying connection: conn closed", func(t *testing.T) error {
			conn := connectFake(t, dieOn(func(m pgproto3.FrontendMessage) bool { return fakepg.IsQuery(m, "select 1") },
				(*fakepg.Session).Close))
			_, err := conn.Exec(context.Background(), "select 1")
			return err
		}, true},
		{"statement after pgx closed the connection: failed to deallocate ...: conn closed", func(t *testing.T) error {
			conn := connectFake(t, dieOn(fakepg.IsExecute, (*fakepg.Session).Reset))
			if execArg(conn) == nil {
				t.Fatal("first statement succeeded")
			}
			return execArg(conn)
		}, true},
		{"write to a reset connection", func(t *testing.T) error {
			conn := connectFake(t, func(s *fakepg.Session) { s.Accept(); s.Reset() })
			time.Sleep(100 * time.Millisecond)
			return execArg(conn)
		}, true},
		{"BEGIN on a dying connection", func(t *testing.T) error {
			conn := connectFake(t, dieOn(isBegin, (*fakepg.Session).Close))
			_, err := conn.Begin(context.Background())
			return err
		}, true},
		{"COMMIT on a dying connection", func(t *testing.T) error {
			conn := connectFake(t, dieOn(isCommit, (*fakepg.Session).Reset))
			tx, err := conn.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return tx.Commit(context.Background())
		}, true},
		{"failed to deallocate cached statement(s): connection reset", func(t *testing.T) error {
			var executes atomic.Int32
			conn := connectFake(t, func(s *fakepg.Session) {
				s.Accept()
				for {
					m := s.Serve(func(m pgproto3.FrontendMessage) bool {
						_, closing := m.(*pgproto3.Close)
						return closing || fakepg.IsExecute(m) && executes.Load() == 1
					})
					switch m.(type) {
					case nil:
						return
					case *pgproto3.Close:
						s.Reset()
						return
					default: // the second execution fails: pgx drops the statement from its cache
						executes.Add(1)
						s.Error("42P01", `relation "gone" does not exist`)
					}
				}
			})
			if err := execArg(conn); err != nil {
				t.Fatal(err)
			}
			executes.Store(1)
			if err := execArg(conn); err == nil {
				t.Fatal("second execution succeeded")
			}
			return execArg(conn)
		}, true},
		{"no answer within the deadline", func(t *testing.T) error {
			conn := connectFake(t, dieOn(fakepg.IsExecute, func(s *fakepg.Session) { s.Hang(time.Second) }))
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := conn.Exec(ctx, withArg, "x")
			return err
		}, true},
		{"database/sql: connection already returned", func(t *testing.T) error {
			srv := fakepg.Start(t, dieOn(nil, nil))
			db := sql.OpenDB(stdlib.GetConnector(*mustParse(t, srv.URL())))
			defer db.Close()
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			_, err = c.ExecContext(context.Background(), "select 1")
			return err
		}, true},
		{"database/sql: pool closed", func(t *testing.T) error {
			srv := fakepg.Start(t, dieOn(nil, nil))
			db := sql.OpenDB(stdlib.GetConnector(*mustParse(t, srv.URL())))
			db.Close()
			_, err := db.Exec("select 1")
			return err
		}, true},
		{"database/sql: bad connection after its retries", func(*testing.T) error { return driver.ErrBadConn }, true},
		{"broken pipe (as the kernel reports it)", func(*testing.T) error {
			return &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}
		}, true},
		{"end of stream", func(*testing.T) error { return io.EOF }, true},
		{"SQLite busy beyond its timeout", func(t *testing.T) error {
			path := filepath.Join(t.TempDir(), "busy.db")
			a := sqliteFile(t, path, "_busy_timeout=0")
			b := sqliteFile(t, path, "_busy_timeout=0")
			if _, err := a.Exec("CREATE TABLE t (x)"); err != nil {
				t.Fatal(err)
			}
			tx, err := a.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			_, err = b.Exec("INSERT INTO t VALUES (2)")
			return err
		}, true},

		// The statement is at fault: these must stay what they are.
		{"unique violation 23505", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Error("23505", "duplicate key value violates unique constraint")
			s.Serve(nil)
		}), false},
		{"syntax error 42601", func(t *testing.T) error {
			conn := connectFake(t, dieOn(func(m pgproto3.FrontendMessage) bool { return fakepg.IsQuery(m, "selec 1") },
				func(s *fakepg.Session) { s.Fail("42601", `syntax error at or near "selec"`); s.Serve(nil) }))
			_, err := conn.Exec(context.Background(), "selec 1")
			return err
		}, false},
		{"undefined table 42P01", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Error("42P01", `relation "nope" does not exist`)
			s.Serve(nil)
		}), false},
		{"invalid input 22P02", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Error("22P02", "invalid input syntax for type uuid")
			s.Serve(nil)
		}), false},
		{"serialization failure 40001", pgxErr(fakepg.IsExecute, func(s *fakepg.Session) {
			s.Error("40001", "could not serialize access due to concurrent update")
			s.Serve(nil)
		}), false},
		{"argument pgx cannot encode", func(t *testing.T) error {
			conn := connectFake(t, dieOn(nil, nil))
			_, err := conn.Exec(context.Background(), withArg, make(chan int))
			return err
		}, false},
		{"SQLite unique violation", func(t *testing.T) error {
			db := sqliteFile(t, filepath.Join(t.TempDir(), "u.db"), "")
			if _, err := db.Exec("CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			_, err := db.Exec("INSERT INTO t VALUES (1)")
			return err
		}, false},
		{"SQLite syntax error", func(t *testing.T) error {
			_, err := sqliteFile(t, filepath.Join(t.TempDir(), "s.db"), "").Exec("SELEC 1")
			return err
		}, false},
		{"record not found", func(*testing.T) error { return gorm.ErrRecordNotFound }, false},
		{"duplicated key", func(*testing.T) error { return gorm.ErrDuplicatedKey }, false},
		{"any other error", func(*testing.T) error { return errors.New("something else") }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err(t)
			if err == nil {
				t.Fatal("no error happened")
			}
			t.Logf("%T: %v", err, err)
			if got := unavailable(err); got != c.want {
				t.Fatalf("unavailable(%T %q) = %v, want %v", err, err, got, c.want)
			}
			if c.want && !errors.Is(translate(err), models.ErrUnavailable) {
				t.Fatalf("translate(%q) = %v, want ErrUnavailable", err, translate(err))
			}
		})
	}
	if unavailable(nil) {
		t.Fatal("nil is unavailable")
	}
}

func mustParse(t *testing.T, url string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
