// Package mailtest runs a real SMTP server in the test process (with
// github.com/emersion/go-smtp) that keeps what it receives, so tests can
// read a delivered message, and the token in its link, as a person would.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From      string
	To        []string
	Raw       []byte
	Header    netmail.Header
	Subject   string
	MessageID string
	Text      string
	HTML      string
	// TLS and User tell how the client connected: over TLS, and as whom.
	TLS  bool
	User string
}

// Options shape the server.
type Options struct {
	// Username and Password, when set, make AUTH PLAIN required.
	Username, Password string
	// TLS, when set, offers STARTTLS with this configuration.
	TLS *tls.Config
	// RejectRcpt refuses a recipient for good (550) when it returns true.
	RejectRcpt func(addr string) bool
}

// Server is an in-process SMTP server on a loopback port.
type Server struct {
	Host string
	Port int
	opts Options

	mu      sync.Mutex
	msgs    []Message
	changed chan struct{}
	srv     *smtp.Server
	ln      net.Listener
}

// Start listens on a free loopback port until t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp listen: %v", err)
	}
	s := &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, opts: opts, changed: make(chan struct{})}
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mailtest.local"
	srv.TLSConfig = s.opts.TLS
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 1 << 20
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = discardLogger{}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the server: connections are refused until Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if ln != nil {
		// Closed here too: Serve may not have registered it with srv yet.
		_ = ln.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart listens again on the same port, keeping what was received.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", s.Addr())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtp relisten on %s: %v", s.Addr(), err)
	}
	s.serve(ln)
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Env is the configuration environment that points AURA's smtp driver at
// this server, with a fast poll and short retries for tests.
func (s *Server) Env() map[string]string {
	env := map[string]string{
		"AURA_MAIL_DRIVER":            "smtp",
		"SMTP_SERVER":                 s.Host,
		"SMTP_PORT":                   strconv.Itoa(s.Port),
		"SMTP_STARTTLS":               "false",
		"AURA_MAIL_SMTP_TIMEOUT":      "5s",
		"AURA_MAIL_FROM":              "AURA Clinic <no-reply@aura.test>",
		"FRONTEND_URL":                "https://app.aura.test",
		"AURA_MAIL_POLL_INTERVAL":     "25ms",
		"AURA_MAIL_RETRY_MAX_BACKOFF": "200ms",
		"AURA_MAIL_LEASE":             "30s",
	}
	if s.opts.Password != "" {
		env["AURA_MAIL_SMTP_USERNAME"] = s.opts.Username
		env["SENDER_PASSWORD"] = s.opts.Password
	}
	return env
}

// Messages returns a copy of everything received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the messages received for addr (compared case-insensitively).
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Wait waits until cond holds for the messages received, or fails t after
// timeout. It returns the messages it last saw.
func (s *Server) Wait(t testing.TB, timeout time.Duration, what string, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, ch := append([]Message(nil), s.msgs...), s.changed
		s.mu.Unlock()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("mailtest: timed out after %s waiting for %s; received %d message(s)", timeout, what, len(msgs))
		}
	}
}

// WaitTo waits for n messages to addr and returns them.
func (s *Server) WaitTo(t testing.TB, addr string, n int) []Message {
	t.Helper()
	s.Wait(t, 20*time.Second, fmt.Sprintf("%d message(s) to %s", n, addr), func([]Message) bool { return len(s.To(addr)) >= n })
	return s.To(addr)
}

var tokenRe = regexp.MustCompile(`\?token=([A-Za-z0-9_\-%]+)`)

// Token returns the token of the link to path ("/verify-email") in m's
// text body, checking that the HTML body carries the same link.
func Token(t testing.TB, m Message, path string) string {
	t.Helper()
	i := strings.Index(m.Text, path+"?token=")
	if i < 0 {
		t.Fatalf("mailtest: no %s link in %q", path, m.Text)
	}
	sm := tokenRe.FindStringSubmatch(m.Text[i:])
	if sm == nil {
		t.Fatalf("mailtest: no token in %q", m.Text[i:])
	}
	if !strings.Contains(m.HTML, path+"?token="+sm[1]) {
		t.Fatalf("mailtest: HTML body lacks the link of the text body")
	}
	return sm[1]
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Password != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.opts.RejectRcpt != nil && ss.s.opts.RejectRcpt(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m.From, m.To, m.TLS, m.User = ss.from, append([]string(nil), ss.to...), isTLS, ss.user
	ss.s.add(m)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// parse reads a message: headers, and the text and HTML parts of a
// multipart/alternative body (or a single text body).
func parse(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: msg.Header, MessageID: msg.Header.Get("Message-Id")}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return m, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(msg.Body)
		m.Text = string(b)
		return m, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		b, err := io.ReadAll(p) // quoted-printable is decoded by NextPart
		if err != nil {
			return m, err
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			m.Text = string(b)
		case "text/html":
			m.HTML = string(b)
		}
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
