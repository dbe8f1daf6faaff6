package mail_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"aura/mail"
	"aura/mail/mailtest"
	"aura/models"
)

// selfSigned makes a certificate for 127.0.0.1 and a client configuration
// that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func message(t *testing.T, to string) *mail.Message {
	t.Helper()
	from, err := mail.ParseFrom("AURA Clinic <no-reply@aura.test>")
	if err != nil {
		t.Fatal(err)
	}
	return &mail.Message{From: from, To: to, Subject: "Hello", Text: "Open https://app.test/x?token=abc", HTML: "<p>hi</p>",
		Date: time.Now(), MessageID: "1.abc@aura.test", Kind: models.MailVerifyEmail}
}

func send(cfg mail.SMTPConfig, m *mail.Message) error {
	d, err := mail.NewSMTPDriver(cfg)
	if err != nil {
		return err
	}
	c, err := d.Open(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Send(m)
}

// TestSMTPStartTLSAndAuth: with starttls and a password the driver upgrades
// the connection and authenticates; a wrong password or a server without
// STARTTLS fails rather than sending in the clear.
func TestSMTPStartTLSAndAuth(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	srv := mailtest.Start(t, mailtest.Options{Username: "aura", Password: "s3cret", TLS: serverTLS})
	cfg := mail.SMTPConfig{Host: srv.Host, Port: srv.Port, Username: "aura", Password: "s3cret", StartTLS: true, Timeout: 5 * time.Second, TLS: clientTLS}
	if err := send(cfg, message(t, "ann@example.com")); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.Messages()
	if len(got) != 1 || !got[0].TLS || got[0].User != "aura" {
		t.Fatalf("received %+v", got)
	}
	m := got[0]
	if m.Header.Get("Message-Id") != "<1.abc@aura.test>" || m.Header.Get("Date") == "" || m.Subject != "Hello" ||
		m.Text != "Open https://app.test/x?token=abc" || m.HTML != "<p>hi</p>" {
		t.Fatalf("message: %+v", m)
	}

	bad := cfg
	bad.Password = "wrong"
	if err := send(bad, message(t, "ann@example.com")); err == nil {
		t.Fatal("a wrong password sent mail")
	}
	plain := mailtest.Start(t, mailtest.Options{})
	noTLS := mail.SMTPConfig{Host: plain.Host, Port: plain.Port, StartTLS: true, Timeout: 5 * time.Second, TLS: clientTLS}
	if err := send(noTLS, message(t, "ann@example.com")); err == nil || len(plain.Messages()) != 0 {
		t.Fatal("starttls required, but mail went out in the clear")
	}
}

// TestHeaderInjectionRefused: no value can add a header.
func TestHeaderInjectionRefused(t *testing.T) {
	if _, err := mail.Compose(models.MailVerifyEmail, "ann@example.com\r\nBcc: eve@example.com", mail.Data{}, time.Now()); err == nil {
		t.Fatal("compose accepted a recipient with a line break")
	}
	if _, err := mail.Compose("nonsense", "ann@example.com", mail.Data{}, time.Now()); err == nil {
		t.Fatal("compose accepted an unknown kind")
	}
	if _, err := mail.ParseFrom("AURA <a@b.test>\nBcc: eve@example.com"); err == nil {
		t.Fatal("from with a line break accepted")
	}
	srv := mailtest.Start(t, mailtest.Options{})
	m := message(t, "ann@example.com")
	m.Subject = "Hi\r\nBcc: eve@example.com"
	if err := send(mail.SMTPConfig{Host: srv.Host, Port: srv.Port, Timeout: 5 * time.Second}, m); err == nil {
		t.Fatal("subject with a line break sent")
	}
	// A name with markup is escaped in the HTML part.
	row, err := mail.Compose(models.MailVerifyEmail, "ann@example.com", mail.Data{Name: "<script>x</script>", Link: "https://a.test/v?token=t", ValidFor: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.HTMLBody, "<script>") || !strings.Contains(row.TextBody, "expires in 1 hour") {
		t.Fatalf("bodies: %s\n%s", row.HTMLBody, row.TextBody)
	}
}

// TestLogDriver: the development driver writes the message, link included,
// to the log.
func TestLogDriver(t *testing.T) {
	var buf bytes.Buffer
	d := mail.LogDriver{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	c, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(message(t, "ann@example.com")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "https://app.test/x?token=abc") || !strings.Contains(out, "ann@example.com") {
		t.Fatalf("log: %s", out)
	}
	if !strings.Contains(out, `msg="mail not sent: log driver"`) {
		t.Fatalf("the log should say the mail was not sent: %s", out)
	}
}

// TestBackoff: doubling from one second, capped, never above the cap.
func TestBackoff(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 5 * time.Second, 1000: 5 * time.Second} {
		for range 20 {
			if got := mail.Backoff(attempts, 5*time.Second); got > want || got < want*4/5 {
				t.Fatalf("Backoff(%d) = %s, want %s less up to a fifth", attempts, got, want)
			}
		}
	}
	if got := mail.Backoff(1, 100*time.Millisecond); got > 100*time.Millisecond {
		t.Fatalf("cap below a second ignored: %s", got)
	}
}
