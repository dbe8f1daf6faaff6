package mail

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"aura/i18n"
	"aura/texts"
)

// The mail kinds go into the catalogue of texts (package texts) from the
// subjects and the embedded templates: a kind added there is listed and
// editable at once. The editable body of a mail is its text part; its
// variables are the ones its built-in templates (subject, text and HTML, in
// every language) use, and Name and Email, which every mail knows.
func init() {
	for _, kind := range mailKinds() {
		k := texts.Kind{Kind: kind, Channel: texts.Email, Builtin: map[string]texts.Text{}, Variables: []string{"Name", "Email"}}
		for _, lang := range texts.Languages {
			tmpl, ok := builtinName(kind, lang)
			if !ok {
				continue
			}
			txt, err := templateFS.ReadFile("templates/" + tmpl + ".txt.tmpl")
			if err != nil {
				continue
			}
			html, _ := templateFS.ReadFile("templates/" + tmpl + ".html.tmpl")
			k.Builtin[lang] = texts.Text{Subject: subjects[tmpl], Body: string(txt)}
			k.Variables = append(k.Variables, texts.Fields(subjects[tmpl], string(txt), string(html))...)
		}
		texts.Register(k)
	}
}

// mailKinds are the kinds that have a subject, sorted.
func mailKinds() []string {
	var out []string
	for key := range subjects {
		kind := key
		for _, lang := range texts.Languages {
			kind = strings.TrimSuffix(kind, "."+lang)
		}
		if !slices.Contains(out, kind) {
			out = append(out, kind)
		}
	}
	slices.Sort(out)
	return out
}

// builtinName is the name of kind's built-in templates in lang (kind.vi,
// kind.en), or of its English ones (kind) for en; false when kind is not
// written in lang.
func builtinName(kind, lang string) (string, bool) {
	if _, ok := subjects[kind+"."+lang]; ok {
		return kind + "." + lang, true
	}
	if _, ok := subjects[kind]; ok && lang == i18n.EN {
		return kind, true
	}
	return "", false
}

// vars are the values of a mail's variables, as its templates see them.
func (v view) vars() map[string]string {
	return map[string]string{
		"Name": v.Name, "Email": v.Email, "Link": v.Link, "ValidFor": v.ValidFor, "When": v.When,
		"Clinic": v.Clinic, "Reason": v.Reason, "Role": v.Role, "Lang": v.Lang,
	}
}

// BuiltinHTML is the HTML part of kind's built-in mail in lang rendered with
// data (a template preview).
func BuiltinHTML(kind, lang string, data map[string]string) (string, error) {
	tmpl, ok := builtinName(kind, lang)
	if !ok {
		return "", fmt.Errorf("mail: unknown kind %q in %s", kind, lang)
	}
	var b bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&b, tmpl+".html.tmpl", data); err != nil {
		return "", err
	}
	return b.String(), nil
}
