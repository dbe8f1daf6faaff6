// Package fakepg is a scripted PostgreSQL server for tests: it speaks just
// enough of the wire protocol (startup without authentication, simple and
// extended queries that return no rows, transactions) for pgx to connect and
// run statements, and lets a test end any connection the ways a real server
// or network does (close, reset, FATAL error, notice). Tests use it to get
// the exact errors pgx produces when a connection dies, without a database.
package fakepg

import (
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Server accepts connections on a loopback port and hands each to script.
type Server struct {
	Addr string
	ln   net.Listener
	wg   sync.WaitGroup

	mu sync.Mutex
	n  int // connections accepted (cancel requests not counted)
}

// Start serves until t ends. script runs once per connection (a CancelRequest
// that pgx sends while giving up a connection is answered by closing).
func Start(t testing.TB, script func(s *Session)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakepg: listen: %v", err)
	}
	srv := &Server{Addr: ln.Addr().String(), ln: ln}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv.wg.Add(1)
			go func() {
				defer srv.wg.Done()
				defer c.Close()
				s := &Session{conn: c, be: pgproto3.NewBackend(c, c), txStatus: 'I'}
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				msg, err := s.be.ReceiveStartupMessage()
				if err != nil {
					return
				}
				if _, ok := msg.(*pgproto3.StartupMessage); !ok {
					return // CancelRequest, SSLRequest, GSSEncRequest: not served
				}
				srv.mu.Lock()
				srv.n++
				s.N = srv.n
				srv.mu.Unlock()
				script(s)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		srv.wg.Wait()
	})
	return srv
}

// URL is a connection URI for the server.
func (srv *Server) URL() string {
	return "postgres://fake@" + srv.Addr + "/fake?sslmode=disable&connect_timeout=5"
}

// Session is one client connection after its startup message.
type Session struct {
	// N numbers the connections of a Server from 1.
	N        int
	conn     net.Conn
	be       *pgproto3.Backend
	txStatus byte
	params   map[string]int // parameter count of each prepared statement
	skip     bool           // an extended-protocol error: ignore messages until Sync
}

// Accept completes the startup: no authentication, a backend key, ready.
func (s *Session) Accept() {
	s.be.Send(&pgproto3.AuthenticationOk{})
	s.be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
	s.be.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"})
	s.be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	s.be.Send(&pgproto3.BackendKeyData{ProcessID: uint32(1000 + s.N), SecretKey: []byte{1, 2, 3, 4}})
	s.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	_ = s.be.Flush()
}

var paramRef = regexp.MustCompile(`\$(\d+)`)

// Serve answers the client until stop returns true for a message it sent;
// that message is returned unanswered. Queries succeed with no rows; BEGIN,
// COMMIT and ROLLBACK move the transaction status. Serve returns nil when
// the client leaves.
func (s *Session) Serve(stop func(msg pgproto3.FrontendMessage) bool) pgproto3.FrontendMessage {
	if s.params == nil {
		s.params = map[string]int{}
	}
	var lastParse string
	for {
		msg, err := s.be.Receive()
		if err != nil {
			return nil
		}
		if _, sync := msg.(*pgproto3.Sync); s.skip && !sync {
			continue
		}
		if stop != nil && stop(msg) {
			return msg
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			s.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(s.tag(m.String))})
			s.be.Send(&pgproto3.ReadyForQuery{TxStatus: s.txStatus})
			_ = s.be.Flush()
		case *pgproto3.Parse:
			n := 0
			for _, ref := range paramRef.FindAllStringSubmatch(m.Query, -1) {
				if i, _ := strconv.Atoi(ref[1]); i > n {
					n = i
				}
			}
			s.params[m.Name] = n
			lastParse = m.Query
			s.be.Send(&pgproto3.ParseComplete{})
		case *pgproto3.Describe:
			if m.ObjectType == 'S' {
				oids := make([]uint32, s.params[m.Name])
				for i := range oids {
					oids[i] = 25 // text
				}
				s.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: oids})
			}
			s.be.Send(&pgproto3.NoData{})
		case *pgproto3.Bind:
			s.be.Send(&pgproto3.BindComplete{})
		case *pgproto3.Execute:
			s.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(s.tag(lastParse))})
		case *pgproto3.Close:
			delete(s.params, m.Name)
			s.be.Send(&pgproto3.CloseComplete{})
		case *pgproto3.Sync:
			s.skip = false
			s.be.Send(&pgproto3.ReadyForQuery{TxStatus: s.txStatus})
			_ = s.be.Flush()
		case *pgproto3.Flush:
			_ = s.be.Flush()
		case *pgproto3.Terminate:
			return nil
		}
	}
}

func (s *Session) tag(q string) string {
	switch q {
	case "begin", "BEGIN":
		s.txStatus = 'T'
		return "BEGIN"
	case "commit", "COMMIT":
		s.txStatus = 'I'
		return "COMMIT"
	case "rollback", "ROLLBACK":
		s.txStatus = 'I'
		return "ROLLBACK"
	}
	return "SELECT 0"
}

// Send writes messages to the client at once.
func (s *Session) Send(msgs ...pgproto3.BackendMessage) {
	for _, m := range msgs {
		s.be.Send(m)
	}
	_ = s.be.Flush()
}

// Fail answers a simple query with an ERROR of code, and is ready for the
// next (in a transaction, the transaction has failed).
func (s *Session) Fail(code, message string) {
	s.Error(code, message)
	s.skip = false
	s.Send(&pgproto3.ReadyForQuery{TxStatus: s.txStatus})
}

// Error answers an extended-protocol message with an ERROR of code; Serve
// then ignores the client's messages up to its Sync, as a server does.
func (s *Session) Error(code, message string) {
	if s.txStatus == 'T' {
		s.txStatus = 'E'
	}
	s.skip = true
	s.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: message})
}

// Fatal sends a FATAL error of code and closes the connection, as a backend
// that the server terminates does.
func (s *Session) Fatal(code, message string) {
	s.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message})
	s.Close()
}

// Notice sends a WARNING notice of code, as a backend does on an immediate
// shutdown before it exits.
func (s *Session) Notice(code, message string) {
	s.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: code, Message: message})
}

// Close ends the connection in order (the client reads end of stream).
func (s *Session) Close() { _ = s.conn.Close() }

// Reset ends the connection with a TCP reset.
func (s *Session) Reset() {
	if tc, ok := s.conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = s.conn.Close()
}

// Hang stops answering without closing until d has passed.
func (s *Session) Hang(d time.Duration) { time.Sleep(d) }

// IsQuery reports whether msg is the simple query q.
func IsQuery(msg pgproto3.FrontendMessage, q string) bool {
	m, ok := msg.(*pgproto3.Query)
	return ok && m.String == q
}

// IsExecute reports whether msg executes a portal (extended protocol).
func IsExecute(msg pgproto3.FrontendMessage) bool {
	_, ok := msg.(*pgproto3.Execute)
	return ok
}
