package database

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"aura/internal/fakepg"
)

// openFake opens AURA's PostgreSQL pool on a scripted server whose first
// connection runs first and every later one serves normally.
func openFake(t *testing.T, first func(s *fakepg.Session)) *sql.DB {
	t.Helper()
	srv := fakepg.Start(t, func(s *fakepg.Session) {
		if s.N == 1 {
			first(s)
			return
		}
		s.Accept()
		s.Serve(nil)
	})
	db, err := openPostgres(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil { // opens the first connection
		t.Fatal(err)
	}
	return db
}

func isBegin(m pgproto3.FrontendMessage) bool { return fakepg.IsQuery(m, "begin") }

// A BEGIN that meets a dead connection has done nothing: the pool retries it
// on a new connection instead of failing the request.
func TestBeginRetriesOnADeadConnection(t *testing.T) {
	deaths := map[string]func(s *fakepg.Session){
		"terminated backend (FATAL 57P01)": func(s *fakepg.Session) {
			s.Fatal("57P01", "terminating connection due to administrator command")
		},
		"immediate shutdown (notice, then EOF)": func(s *fakepg.Session) {
			s.Notice("57P01", "terminating connection due to immediate shutdown command")
			s.Close()
		},
		"connection reset": (*fakepg.Session).Reset,
		"end of stream":    (*fakepg.Session).Close,
	}
	for name, die := range deaths {
		t.Run(name, func(t *testing.T) {
			db := openFake(t, func(s *fakepg.Session) {
				s.Accept()
				if s.Serve(isBegin) != nil {
					die(s)
				}
			})
			tx, err := db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			if _, err := tx.Exec("select $1::text", "x"); err != nil {
				t.Fatalf("statement: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("commit: %v", err)
			}
		})
	}
}

// Inside a transaction nothing is retried: a statement or COMMIT that meets
// a dead connection fails, and the transaction with it.
func TestNoRetryInsideATransaction(t *testing.T) {
	for name, stop := range map[string]func(pgproto3.FrontendMessage) bool{
		"statement": fakepg.IsExecute,
		"commit":    func(m pgproto3.FrontendMessage) bool { return fakepg.IsQuery(m, "commit") },
	} {
		t.Run(name, func(t *testing.T) {
			db := openFake(t, func(s *fakepg.Session) {
				s.Accept()
				if s.Serve(stop) != nil {
					s.Fatal("57P01", "terminating connection due to administrator command")
				}
			})
			tx, err := db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			_, err = tx.Exec("select $1::text", "x")
			if err == nil {
				err = tx.Commit()
			} else {
				_ = tx.Rollback()
			}
			if err == nil {
				t.Fatal("the transaction succeeded on a dead connection")
			}
		})
	}
}

// Outside a transaction, a statement that meets a terminated backend is
// retried on a new connection (the server ended the backend before it ran
// the statement).
func TestStatementRetriesOnATerminatedBackend(t *testing.T) {
	for _, code := range []string{"57P01", "57P02", "57P05"} {
		t.Run(code, func(t *testing.T) {
			db := openFake(t, func(s *fakepg.Session) {
				s.Accept()
				if s.Serve(fakepg.IsExecute) != nil {
					s.Fatal(code, "terminating connection")
				}
			})
			if _, err := db.Exec("select $1::text", "x"); err != nil {
				t.Fatalf("exec: %v", err)
			}
		})
	}
}
