package mail

import (
	"aura/i18n"
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"aura/models"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html.tmpl"))
)

// subjects are fixed per kind: nothing a user typed reaches a header but the
// (validated) recipient address.
var subjects = map[string]string{
	models.MailVerifyEmail:     "Confirm your email address for AURA",
	models.MailResetPassword:   "Reset your AURA password",
	models.MailPasswordChanged: "Your AURA password was changed",
	// Kinds written in several languages have one subject per language.
	models.MailScreeningReviewed + ".vi": "Bác sĩ đã xem xét kết quả sàng lọc của bạn",
	models.MailScreeningReviewed + ".en": "A doctor has reviewed your screening",
	models.MailClinicApproved + ".vi":    "Phòng khám của bạn đã được duyệt trên AURA",
	models.MailClinicApproved + ".en":    "Your clinic has been approved on AURA",
	models.MailClinicRejected + ".vi":    "Đơn đăng ký phòng khám trên AURA bị từ chối",
	models.MailClinicRejected + ".en":    "Your clinic application on AURA was rejected",
	models.MailClinicSuspended + ".vi":   "Phòng khám của bạn trên AURA bị tạm ngưng",
	models.MailClinicSuspended + ".en":   "Your clinic on AURA has been suspended",
	models.MailVerifyEmail + ".vi":       "Xác minh địa chỉ email của bạn cho AURA",
	models.MailResetPassword + ".vi":     "Đặt lại mật khẩu AURA của bạn",
	models.MailPasswordChanged + ".vi":   "Mật khẩu AURA của bạn đã được thay đổi",
	// Alerts, to a clinic's doctors and admins.
	models.MailAlertOpened + ".vi":    "Cảnh báo mới trên AURA cần được xem",
	models.MailAlertOpened + ".en":    "A new alert on AURA needs attention",
	models.MailAlertEscalated + ".vi": "Cảnh báo trên AURA vẫn chưa được tiếp nhận",
	models.MailAlertEscalated + ".en": "An alert on AURA is still open",
	// A message unread for messages.email_after.
	models.MailMessageReceived + ".vi": "Bạn có tin nhắn chưa đọc trên AURA",
	models.MailMessageReceived + ".en": "You have an unread message on AURA",
	// Invitations.
	models.MailInvitation + ".vi":        "Bạn được mời tham gia một phòng khám trên AURA",
	models.MailInvitation + ".en":        "You are invited to join a clinic on AURA",
	models.MailAccountInvitation + ".vi": "Tài khoản AURA đã được tạo cho bạn: hãy đặt mật khẩu",
	models.MailAccountInvitation + ".en": "An AURA account was made for you: set your password",
}

// Data fills a message's templates.
type Data struct {
	// Name greets the recipient (their full name, or their email's local part).
	Name string
	// Link is the action link (verification, reset), or the front end's
	// address for notices.
	Link string
	// ValidFor is the lifetime of the link; 0 for notices. A message that
	// could not be sent within it is dropped rather than sent stale.
	ValidFor time.Duration
	// When is the time of the change a notice announces.
	When time.Time
	// Clinic is the name of the clinic a clinic notice is about.
	Clinic string
	// Reason is an admin's reason (a clinic rejected or suspended), or why
	// an alert was opened.
	Reason string
	// Role is the clinic role an invitation offers (DOCTOR, CLINIC_ADMIN,
	// TECHNICIAN).
	Role string
	// Lang is the recipient's language: "vi" picks the Vietnamese subject
	// and templates; "en" or "" the English ones.
	Lang string
}

// view is what the templates see.
type view struct {
	Data
	Email    string
	ValidFor string
	When     string
}

// Compose renders the message of kind for recipient into an outbox row due
// at now. It fails only on an unknown kind or an address unfit for a header.
func Compose(kind, recipient string, d Data, now time.Time) (*models.OutboxMessage, error) {
	// A kind written in the recipient's language has its own subject and
	// templates (kind.vi); the others are in English.
	tmpl := kind + "." + d.Lang
	subject, ok := subjects[tmpl]
	if !ok {
		tmpl = kind
		if subject, ok = subjects[kind]; !ok {
			return nil, fmt.Errorf("mail: unknown kind %q", kind)
		}
	}
	if err := headerSafe(recipient); err != nil {
		return nil, err
	}
	v := view{Data: d, Email: recipient, ValidFor: i18n.Duration(i18n.EN, d.ValidFor)}
	if !d.When.IsZero() {
		v.When = d.When.UTC().Format("2 January 2006 at 15:04 UTC")
	}
	if tmpl == kind+".vi" {
		v.ValidFor = i18n.Duration(i18n.VI, d.ValidFor)
		if !d.When.IsZero() {
			v.When = d.When.UTC().Format("02/01/2006 lúc 15:04 UTC")
		}
	}
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, tmpl+".txt.tmpl", v); err != nil {
		return nil, fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, tmpl+".html.tmpl", v); err != nil {
		return nil, fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	lang := i18n.EN
	if tmpl == kind+".vi" {
		lang = i18n.VI
	}
	v.Lang = lang
	m := &models.OutboxMessage{
		Kind: kind, Recipient: recipient, Subject: subject, TextBody: text.String(), HTMLBody: html.String(),
		CreatedAt: now, NextAttemptAt: now,
		// An admin's edited template of kind in lang replaces these texts
		// where the row is written (repositories.Outbox.Enqueue).
		Use: &models.TextUse{Kind: kind, Lang: lang, Vars: v.vars()},
	}
	if d.ValidFor > 0 {
		until := now.Add(d.ValidFor)
		m.DiscardAfter = &until
	}
	return m, nil
}

// Link is the front-end address a token is mailed in:
// {frontendURL}{path}?token={token}, e.g. path "/verify-email".
func Link(frontendURL, path, token string) string {
	return strings.TrimRight(frontendURL, "/") + path + "?token=" + url.QueryEscape(token)
}

// headerSafe refuses a value that could end a header early (CR, LF, NUL) or
// that is not plain text.
func headerSafe(v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("mail: header value contains a line break or NUL")
	}
	return nil
}
