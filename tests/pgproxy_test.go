package tests

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// pgProxy is a TCP forwarder between AURA and PostgreSQL that a test uses to
// make the database die the way a crash does (stop -m immediate, a killed
// host, a dropped link) without touching the shared server: Cut drops every
// connection at once, Refuse stops listening so that new connections are
// refused, Accept listens again on the same address.
//
// The server-to-client direction is forwarded message by message (the
// connection must not negotiate TLS: sslmode=disable), so Cut can end a
// connection with what a dying server sends between two messages.
type pgProxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	links map[*proxyLink]struct{}
	wg    sync.WaitGroup
}

// proxyLink is one forwarded connection.
type proxyLink struct {
	client, server net.Conn
	wmu            sync.Mutex // whole messages to the client
	once           sync.Once
}

// cutMode is how Cut ends a connection.
type cutMode int

const (
	cutEOF    cutMode = iota // orderly close: the client reads end of stream
	cutReset                 // TCP reset: "connection reset by peer", "broken pipe"
	cutNotice                // stop -m immediate: a WARNING 57P01 notice, then the end
	cutFatal                 // stop -m fast, pg_terminate_backend: FATAL 57P01, then the end
	cutCrash                 // another backend crashed: a WARNING 57P02 notice, then the end
	cutModes
)

func (m cutMode) String() string {
	return [...]string{"eof", "reset", "notice 57P01", "fatal 57P01", "notice 57P02"}[m]
}

func startPGProxy(t testing.TB, target string) *pgProxy {
	t.Helper()
	p := &pgProxy{t: t, target: target, links: map[*proxyLink]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.Refuse()
		p.wg.Wait()
	})
	return p
}

func (p *pgProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			l := &proxyLink{client: c, server: up}
			p.mu.Lock()
			p.links[l] = struct{}{}
			p.mu.Unlock()
			p.wg.Add(2)
			go func() {
				defer p.wg.Done()
				_, _ = io.Copy(up, c)
				p.end(l, cutEOF)
			}()
			go func() {
				defer p.wg.Done()
				l.forwardMessages()
				p.end(l, cutEOF)
			}()
		}
	}()
}

// forwardMessages copies the server's messages (type byte, length, body) to
// the client, each in one write under wmu.
func (l *proxyLink) forwardMessages() {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(l.server, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 || n > 64<<20 {
			return
		}
		msg := make([]byte, 1+n)
		copy(msg, hdr[:])
		if _, err := io.ReadFull(l.server, msg[5:]); err != nil {
			return
		}
		l.wmu.Lock()
		_, err := l.client.Write(msg)
		l.wmu.Unlock()
		if err != nil {
			return
		}
	}
}

// end closes both sides of l once, the client's the way mode says.
func (p *pgProxy) end(l *proxyLink, mode cutMode) {
	l.once.Do(func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		_ = l.server.Close()
		l.wmu.Lock()
		defer l.wmu.Unlock()
		var last pgproto3.BackendMessage
		switch mode {
		case cutReset:
			if tc, ok := l.client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		case cutNotice:
			last = &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "57P01",
				Message: "terminating connection due to immediate shutdown command"}
		case cutFatal:
			last = &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01",
				Message: "terminating connection due to administrator command"}
		case cutCrash:
			last = &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "57P02",
				Message: "terminating connection because of crash of another server process"}
		}
		if last != nil {
			if b, err := last.Encode(nil); err == nil {
				_ = l.client.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = l.client.Write(b)
			}
		}
		_ = l.client.Close()
	})
}

// Cut ends every forwarded connection at once, the way mode says, and
// returns how many there were.
func (p *pgProxy) Cut(mode cutMode) int {
	p.mu.Lock()
	links := make([]*proxyLink, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		p.end(l, mode)
	}
	return len(links)
}

// Refuse stops listening (new connections are refused) and resets the
// existing ones.
func (p *pgProxy) Refuse() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.Cut(cutReset)
}

// Accept listens again on the proxy's address.
func (p *pgProxy) Accept() {
	p.t.Helper()
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
}
