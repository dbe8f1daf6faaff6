package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"aura/fault"
)

// Driver delivers messages. Open starts a delivery session (an SMTP
// connection) used for one batch.
type Driver interface {
	Open(ctx context.Context) (Conn, error)
}

// Conn sends messages one by one and is closed after its batch.
type Conn interface {
	Send(m *Message) error
	Close() error
}

// LogDriver writes each message, link included, to the log instead of
// sending it: the development default, so sign-up works with no mail server.
// Production refuses it (config): the links in the log would let whoever
// reads it take over accounts.
type LogDriver struct{ Log *slog.Logger }

// Open returns a session that logs.
func (d LogDriver) Open(context.Context) (Conn, error) { return logConn(d), nil }

// LogOnly tells the Sender that this driver delivers nothing, so that it
// never reports a message as sent.
func (LogDriver) LogOnly() bool { return true }

type logConn LogDriver

func (c logConn) Send(m *Message) error {
	if _, err := m.build(); err != nil {
		return err
	}
	c.Log.Info("mail not sent: log driver", "kind", m.Kind, "to", m.To, "from", m.From.String(),
		"subject", m.Subject, "message_id", m.MessageID, "text", m.Text)
	return nil
}

func (logConn) Close() error { return nil }

// SMTPConfig is the relay of the smtp driver.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// StartTLS requires STARTTLS before anything else is sent; without it the
	// connection stays plain (a local relay). Port 465 always means implicit
	// TLS (SMTPS).
	StartTLS bool
	// Timeout bounds the dial and each SMTP command.
	Timeout time.Duration
	// TLS overrides the TLS settings (tests trust their own certificate);
	// nil verifies the server's certificate against Host.
	TLS *tls.Config
}

// SMTPDriver sends through an SMTP relay with github.com/wneessen/go-mail.
type SMTPDriver struct {
	cfg  SMTPConfig
	opts []gomail.Option
}

// NewSMTPDriver checks cfg and prepares the client options: STARTTLS when
// asked for, AUTH (the strongest mechanism the server offers) when a
// password is set, none for a relay that needs none.
func NewSMTPDriver(cfg SMTPConfig) (*SMTPDriver, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail.smtp.host (SMTP_SERVER): required by mail.driver smtp")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout)}
	switch {
	case cfg.Port == 465:
		opts = append(opts, gomail.WithSSL())
	case cfg.StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.TLS != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLS))
	}
	if cfg.Password != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	d := &SMTPDriver{cfg: cfg, opts: opts}
	if _, err := gomail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("mail.smtp: %w", err)
	}
	return d, nil
}

// Open connects, says EHLO, starts TLS and authenticates as configured.
func (d *SMTPDriver) Open(ctx context.Context) (Conn, error) {
	client, err := gomail.NewClient(d.cfg.Host, d.opts...)
	if err != nil {
		return nil, err
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d: %w", d.cfg.Host, d.cfg.Port, err)
	}
	return &smtpConn{client: client, sc: sc}, nil
}

type smtpConn struct {
	client *gomail.Client
	sc     *smtp.Client
}

func (c *smtpConn) Send(m *Message) error {
	msg, err := m.build()
	if err != nil {
		return err
	}
	if err := c.client.SendWithSMTPClient(c.sc, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && se.ErrorCode() >= 500 {
			// The server refuses the recipient for good (550 no such user):
			// retrying cannot help.
			return fault.Permanent(err)
		}
		return err
	}
	return nil
}

func (c *smtpConn) Close() error { return c.client.CloseWithSMTPClient(c.sc) }
