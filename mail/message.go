package mail

import (
	"fmt"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"aura/fault"
	"aura/models"
)

// Message is one email ready to leave: the outbox row with its envelope.
type Message struct {
	From      *netmail.Address
	To        string
	Subject   string
	Text      string
	HTML      string
	Date      time.Time
	MessageID string // without the angle brackets
	Kind      string
}

// ParseFrom checks mail.from: one address, optionally with a display name
// ("AURA <no-reply@example.org>").
func ParseFrom(from string) (*netmail.Address, error) {
	if err := headerSafe(from); err != nil {
		return nil, fmt.Errorf("mail.from (SENDER_EMAIL): %w", err)
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail.from (SENDER_EMAIL): %q is not one email address", from)
	}
	return a, nil
}

// messageFor turns an outbox row into a Message. Its Message-ID is derived
// from the row, so every attempt at one row carries the same ID and a
// receiving server can spot a copy sent twice after a crash.
func messageFor(row *models.OutboxMessage, from *netmail.Address, now time.Time) *Message {
	domain := "aura.local"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	return &Message{
		From: from, To: row.Recipient, Subject: row.Subject, Text: row.TextBody, HTML: row.HTMLBody, Date: now,
		MessageID: "outbox." + strconv.FormatUint(row.ID, 10) + "." + strconv.FormatInt(row.CreatedAt.UnixNano(), 36) + "@" + domain,
		Kind:      row.Kind,
	}
}

// build makes the MIME message: multipart/alternative with the text and HTML
// bodies, From, To, Subject, Date and Message-ID. Header values are checked
// for line breaks and encoded by go-mail, so no value can add a header.
func (m *Message) build() (*gomail.Msg, error) {
	for _, v := range []string{m.To, m.Subject, m.MessageID} {
		if err := headerSafe(v); err != nil {
			return nil, fault.Permanent(err)
		}
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.From)
	if err := msg.To(m.To); err != nil {
		return nil, fault.Permanent(fmt.Errorf("recipient: %w", err))
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(m.Date)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
