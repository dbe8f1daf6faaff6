package database_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"aura/database"
)

// TestTransient: what a start waits for (refused, unreachable, not yet
// resolvable, starting up) and what it does not (a wrong password, a
// missing database).
func TestTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := pgx.Connect(context.Background(), "postgres://u:p@"+addr+"/x?sslmode=disable&connect_timeout=2")
	_, dns := pgx.Connect(context.Background(), "postgres://u:p@no-such-host.invalid:5432/x?sslmode=disable&connect_timeout=2")
	cases := map[string]struct {
		err  error
		want bool
	}{
		"refused":       {refused, true},
		"unresolvable":  {dns, true},
		"starting up":   {&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, true},
		"too many":      {&pgconn.PgError{Code: "53300"}, true},
		"deadline":      {context.DeadlineExceeded, true},
		"bad password":  {&pgconn.PgError{Code: "28P01"}, false},
		"no database":   {&pgconn.PgError{Code: "3D000"}, false},
		"anything else": {errors.New("tls: bad certificate"), false},
	}
	if base := os.Getenv("AURA_TEST_POSTGRES_URI"); base != "" {
		i := strings.LastIndex(base, "/")
		j := strings.Index(base[i:], "?")
		uri := base[:i] + "/aura_no_such_database"
		if j >= 0 {
			uri += base[i+j:]
		}
		_, missing := pgx.Connect(context.Background(), uri)
		cases["real missing database"] = struct {
			err  error
			want bool
		}{missing, false}
	}
	for name, c := range cases {
		if c.err == nil {
			t.Fatalf("%s: no error", name)
		}
		if got := database.Transient(c.err); got != c.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", name, c.err, got, c.want)
		}
	}
}
