// Package templates is the admins' console of the mail and notice texts:
// the catalogue of every kind (package texts, filled by package mail and
// services/notifications) in every language, with the admins' edits over
// the built-in texts. An edit is a row of the database, read by every mail
// and notice where it is written, so it holds on every instance at once.
package templates

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/notifications"
	"aura/services/policy"
	"aura/texts"
)

// Both packages register their kinds in their init; naming them here keeps
// the catalogue whole wherever this service is built.
var (
	_ = mail.Compose
	_ = notifications.New
)

// Service is the console.
type Service struct{ Clock models.Clock }

// Template is one kind's text in one channel and language: the admin's edit
// (UpdatedAt set) or the built-in text (UpdatedAt nil).
type Template struct {
	Kind      string
	Channel   string
	Lang      string
	Subject   string
	Body      string
	UpdatedAt *time.Time
	Variables []string
}

// Preview is a template rendered: the subject (a notice's title), the body,
// and for an email its HTML part.
type Preview struct {
	Subject string
	Body    string
	HTML    *string
}

// List is every kind in every channel and language, by channel, kind and
// language (vi before en).
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor) ([]Template, error) {
	if err := policy.Can(a, policy.PermTemplatesManage); err != nil {
		return nil, err
	}
	rows, err := st.Templates.List()
	if err != nil {
		return nil, err
	}
	edited := map[[3]string]models.MessageTemplate{}
	for _, r := range rows {
		edited[[3]string{r.Kind, r.Channel, r.Lang}] = r
	}
	var out []Template
	for _, k := range texts.Kinds() {
		for _, lang := range texts.Languages {
			t := builtin(k, lang)
			if r, ok := edited[[3]string{k.Kind, k.Channel, lang}]; ok {
				t = fromRow(k, &r)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// find is the kind of the path; NOT_FOUND for a kind, channel or language
// the catalogue does not have.
func find(kind, channel, lang string) (texts.Kind, error) {
	k, ok := texts.Lookup(kind, channel)
	if !ok || !slices.Contains(texts.Languages, lang) {
		return texts.Kind{}, models.ErrNotFound
	}
	return k, nil
}

func builtin(k texts.Kind, lang string) Template {
	b := k.Builtin[lang]
	return Template{Kind: k.Kind, Channel: k.Channel, Lang: lang, Subject: b.Subject, Body: b.Body, Variables: k.Variables}
}

func fromRow(k texts.Kind, r *models.MessageTemplate) Template {
	at := r.UpdatedAt
	return Template{Kind: k.Kind, Channel: k.Channel, Lang: r.Lang, Subject: r.Subject, Body: r.Body, UpdatedAt: &at, Variables: k.Variables}
}

// current is the template in force for k in lang.
func current(st *repositories.Store, k texts.Kind, lang string) (Template, error) {
	r, err := st.Templates.Get(k.Kind, k.Channel, lang)
	if err != nil {
		return Template{}, err
	}
	if r == nil {
		return builtin(k, lang), nil
	}
	return fromRow(k, r), nil
}

// Put replaces the text of kind in channel and lang with an admin's
// template, used from the next mail or notice on; audited. A template that
// does not parse, uses a variable the kind does not have, or does not render
// with sample values is a VALIDATION error and changes nothing.
func (s *Service) Put(ctx context.Context, st *repositories.Store, a models.Actor, kind, channel, lang string, subject, body *string) (Template, error) {
	if err := policy.Can(a, policy.PermTemplatesManage); err != nil {
		return Template{}, err
	}
	k, err := find(kind, channel, lang)
	if err != nil {
		return Template{}, err
	}
	problems := map[string]string{}
	if subject == nil {
		problems["subject"] = "is required"
	}
	if body == nil {
		problems["body"] = "is required"
	}
	if len(problems) > 0 {
		return Template{}, models.Invalid(problems)
	}
	t := texts.Text{Subject: *subject, Body: strings.ReplaceAll(*body, "\r\n", "\n")}
	if problems := texts.Check(k, lang, t); len(problems) > 0 {
		return Template{}, models.Invalid(problems)
	}
	now := s.Clock.Now()
	row := &models.MessageTemplate{Kind: kind, Channel: channel, Lang: lang, Subject: t.Subject, Body: t.Body, UpdatedAt: now, UpdatedBy: &a.UserID}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Templates.Put(row); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditTemplateUpdate, models.EntityTemplate, id(kind, channel, lang), now)
	})
	if err != nil {
		return Template{}, err
	}
	return fromRow(k, row), nil
}

// Reset drops the admin's edit of kind in channel and lang: the built-in
// text is used again. Audited when there was an edit to drop.
func (s *Service) Reset(ctx context.Context, st *repositories.Store, a models.Actor, kind, channel, lang string) (Template, error) {
	if err := policy.Can(a, policy.PermTemplatesManage); err != nil {
		return Template{}, err
	}
	k, err := find(kind, channel, lang)
	if err != nil {
		return Template{}, err
	}
	now := s.Clock.Now()
	err = st.Tx(func(tx *repositories.Store) error {
		dropped, err := tx.Templates.Delete(kind, channel, lang)
		if err != nil || !dropped {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditTemplateReset, models.EntityTemplate, id(kind, channel, lang), now)
	})
	if err != nil {
		return Template{}, err
	}
	return builtin(k, lang), nil
}

// Preview renders the template in force for kind in channel and lang with
// data: a variable missing from data takes its sample value; a key that is
// not a variable of the kind is a VALIDATION error.
func (s *Service) Preview(ctx context.Context, st *repositories.Store, a models.Actor, kind, channel, lang string, data map[string]string) (Preview, error) {
	if err := policy.Can(a, policy.PermTemplatesManage); err != nil {
		return Preview{}, err
	}
	k, err := find(kind, channel, lang)
	if err != nil {
		return Preview{}, err
	}
	for name := range data {
		if !slices.Contains(k.Variables, name) {
			return Preview{}, models.Invalid(map[string]string{"data": fmt.Sprintf("%s is not a variable of %s", name, kind)})
		}
	}
	t, err := current(st, k, lang)
	if err != nil {
		return Preview{}, err
	}
	out, err := texts.Render(channel, texts.Text{Subject: t.Subject, Body: t.Body}, texts.Samples(k, lang, data))
	if err != nil {
		return Preview{}, models.Invalid(map[string]string{"data": "the template does not render with these values: " + err.Error()})
	}
	p := Preview{Subject: out.Subject, Body: out.Body}
	if channel == texts.Email {
		if t.UpdatedAt == nil {
			// The built-in email has its own HTML part.
			html, err := mail.BuiltinHTML(kind, lang, texts.Samples(k, lang, data))
			if err == nil {
				out.HTML = html
			}
		}
		p.HTML = &out.HTML
	}
	return p, nil
}

// id is the audit trail's entity id of a template: kind/channel/lang.
func id(kind, channel, lang string) string { return kind + "/" + channel + "/" + lang }
