// Package texts is the catalogue of AURA's mail and notice texts: every kind
// of mail (package mail) and of notice (services/notifications) registers
// its built-in text in each language here, with the variables it may use.
// The admin's edited templates (models.MessageTemplate) are checked and
// rendered here, so that a mail or notice written with an edited template
// reads the same in a preview as in the inbox.
//
// A template is a Go text/template with a subject (a notice's title) and a
// body. The variables are fields of the data: {{.Name}}. The HTML part of an
// email made from an edited template is the body as paragraphs, rendered by
// html/template, so every variable is HTML-escaped and a {{.Link}} becomes a
// link (html/template refuses a URL that is not http, https or mailto).
package texts

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	htmltemplate "html/template"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	texttemplate "text/template"
	"text/template/parse"
	"unicode/utf8"

	"aura/i18n"
)

// Channels of a text.
const (
	Email  = "email"
	Notice = "notice"
)

// Channels are the channels, in the catalogue's order.
var Channels = []string{Email, Notice}

// Languages are the languages every text is written in.
var Languages = []string{i18n.VI, i18n.EN}

// Limits of an edited template's sources and of what a notice holds.
const (
	MaxSubject      = 500
	MaxBody         = 20000
	MaxNoticeTitle  = 200
	MaxNoticeBody   = 2000
	MaxEmailSubject = 255
)

// Text is a subject (a notice's title) and a body: template sources.
type Text struct {
	Subject string
	Body    string
}

// Kind is one registered kind of mail or notice.
type Kind struct {
	Kind    string
	Channel string
	// Variables are the names a template of this kind may use, sorted.
	Variables []string
	// Builtin is the built-in text in each language.
	Builtin map[string]Text
}

type key struct{ kind, channel string }

var (
	mu       sync.RWMutex
	registry = map[key]Kind{}
)

// Register adds a kind to the catalogue (from an init function of the
// package that writes it). The variables are sorted and deduplicated; the
// built-in texts are parsed, and a kind registered twice or a built-in text
// that does not parse panics: both are programming errors.
func Register(k Kind) {
	vars := slices.Clone(k.Variables)
	sort.Strings(vars)
	k.Variables = slices.Compact(vars)
	for lang, t := range k.Builtin {
		if _, err := parseText(t); err != nil {
			panic(fmt.Sprintf("texts: built-in %s %s %s: %v", k.Kind, k.Channel, lang, err))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[key{k.Kind, k.Channel}]; dup {
		panic("texts: " + k.Channel + " kind " + k.Kind + " registered twice")
	}
	registry[key{k.Kind, k.Channel}] = k
}

// Kinds is the catalogue, by channel then kind.
func Kinds() []Kind {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Kind, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Channel != out[j].Channel {
			return slices.Index(Channels, out[i].Channel) < slices.Index(Channels, out[j].Channel)
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Lookup is the registered kind of channel.
func Lookup(kind, channel string) (Kind, bool) {
	mu.RLock()
	defer mu.RUnlock()
	k, ok := registry[key{kind, channel}]
	return k, ok
}

// Fields are the variables (top-level fields of the data, {{.Name}}) that
// template sources refer to, sorted: what a kind's built-in texts use.
func Fields(srcs ...string) []string {
	seen := map[string]bool{}
	for _, src := range srcs {
		trees, err := parse.Parse("t", src, "", "", builtinFuncs())
		if err != nil {
			continue
		}
		for _, t := range trees {
			walk(t.Root, func(name string) { seen[name] = true })
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// builtinFuncs names the functions text/template knows, for parse.Parse.
func builtinFuncs() map[string]any {
	m := map[string]any{}
	for _, f := range []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"} {
		m[f] = fmt.Sprint
	}
	return m
}

// walk calls f with the first name of every field chain in the tree
// ({{.Name}}, {{if eq .Role "DOCTOR"}}).
func walk(n parse.Node, f func(string)) {
	if n == nil {
		return
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, f)
		}
	case *parse.ActionNode:
		walk(n.Pipe, f)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, f)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, f)
		}
	case *parse.FieldNode:
		f(n.Ident[0])
	case *parse.ChainNode:
		walk(n.Node, f)
	case *parse.IfNode:
		walk(n.Pipe, f)
		walk(n.List, f)
		walk(n.ElseList, f)
	case *parse.RangeNode:
		walk(n.Pipe, f)
		walk(n.List, f)
		walk(n.ElseList, f)
	case *parse.WithNode:
		walk(n.Pipe, f)
		walk(n.List, f)
		walk(n.ElseList, f)
	case *parse.TemplateNode:
		walk(n.Pipe, f)
	}
}

type parsed struct {
	subject, body *texttemplate.Template
}

func parseText(t Text) (parsed, error) {
	s, err := texttemplate.New("subject").Option("missingkey=zero").Parse(t.Subject)
	if err != nil {
		return parsed{}, fieldError{"subject", err}
	}
	b, err := texttemplate.New("body").Option("missingkey=zero").Parse(t.Body)
	if err != nil {
		return parsed{}, fieldError{"body", err}
	}
	return parsed{s, b}, nil
}

type fieldError struct {
	field string
	err   error
}

func (e fieldError) Error() string { return e.field + ": " + e.err.Error() }

// Check is what is wrong with an edited template of k in lang, by field
// (subject, body); nil when it may be saved. A template must parse as a Go
// text/template, use only k's variables, define no other templates, and
// render with sample values within the limits.
func Check(k Kind, lang string, t Text) map[string]string {
	problems := map[string]string{}
	for field, src := range map[string]string{"subject": t.Subject, "body": t.Body} {
		max := MaxBody
		if field == "subject" {
			max = MaxSubject
		}
		switch {
		case strings.TrimSpace(src) == "":
			problems[field] = "must not be empty"
			continue
		case !utf8.ValidString(src):
			problems[field] = "must be valid text"
			continue
		case strings.ContainsRune(src, 0):
			problems[field] = "must not contain NUL characters"
			continue
		case utf8.RuneCountInString(src) > max:
			problems[field] = fmt.Sprintf("must be at most %d characters", max)
			continue
		}
		trees, err := parse.Parse(field, src, "", "", builtinFuncs())
		if err != nil {
			problems[field] = "is not a valid template: " + cleanParseError(err)
			continue
		}
		if len(trees) > 1 {
			problems[field] = "must not define templates ({{define}} or {{block}})"
			continue
		}
		var unknown []string
		for _, tr := range trees {
			walk(tr.Root, func(name string) {
				if !slices.Contains(k.Variables, name) && !slices.Contains(unknown, name) {
					unknown = append(unknown, name)
				}
			})
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			problems[field] = fmt.Sprintf("uses {{.%s}}, which is not a variable of %s; the variables are %s",
				unknown[0], k.Kind, varList(k.Variables))
		}
	}
	if len(problems) > 0 {
		return problems
	}
	if _, err := Render(k.Channel, t, Samples(k, lang, nil)); err != nil {
		var fe fieldError
		if errors.As(err, &fe) {
			problems[fe.field] = "does not render with sample values: " + cleanParseError(fe.err)
		} else {
			problems["body"] = "does not render with sample values: " + cleanParseError(err)
		}
		return problems
	}
	return nil
}

func varList(vars []string) string {
	if len(vars) == 0 {
		return "none"
	}
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "{{." + v + "}}"
	}
	return strings.Join(out, ", ")
}

// cleanParseError drops the template's name from an error: "template:
// body:3: unexpected ..." reads "line 3: unexpected ...".
var nameRE = regexp.MustCompile(`^template: (subject|body|[a-z]+):(\d+):(\d+:)? ?`)

func cleanParseError(err error) string {
	msg := err.Error()
	if m := nameRE.FindStringSubmatch(msg); m != nil {
		return "line " + m[2] + ": " + strings.TrimSpace(msg[len(m[0]):])
	}
	return strings.TrimPrefix(msg, "template: ")
}

// Rendered is a text ready to go out: for an email, the HTML part too.
type Rendered struct {
	Subject string
	Body    string
	HTML    string
}

// Render executes t with data for channel. The subject is one line (line
// breaks become spaces) and both parts are cut to what the channel holds
// (an email's subject 255 characters; a notice's title 200, its body 2000).
// An email's HTML part is the body's paragraphs under html/template.
func Render(channel string, t Text, data map[string]string) (Rendered, error) {
	p, err := parseText(t)
	if err != nil {
		return Rendered{}, err
	}
	var s, b bytes.Buffer
	if err := p.subject.Execute(&s, data); err != nil {
		return Rendered{}, fieldError{"subject", err}
	}
	if err := p.body.Execute(&b, data); err != nil {
		return Rendered{}, fieldError{"body", err}
	}
	out := Rendered{Subject: oneLine(s.String()), Body: strings.TrimRight(b.String(), " \n") + "\n"}
	switch channel {
	case Email:
		out.Subject = cut(out.Subject, MaxEmailSubject)
		html, err := htmlOf(t.Body, out.Subject, data)
		if err != nil {
			return Rendered{}, fieldError{"body", err}
		}
		out.HTML = html
	case Notice:
		out.Subject = cut(out.Subject, MaxNoticeTitle)
		out.Body = cut(strings.TrimSpace(out.Body), MaxNoticeBody)
	}
	return out, nil
}

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' || r == 0 }), " ")
}

func cut(s string, max int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// htmlOf is the HTML part of an email whose text part is body: the body's
// own text HTML-escaped (an edited template writes text, not markup), a
// paragraph for each block of lines and a line break within one, run by
// html/template so that every variable is escaped in its context, and each
// {{.Link}} printed as a link.
func htmlOf(body, subject string, data map[string]string) (string, error) {
	trees, err := parse.Parse("body", strings.ReplaceAll(body, "\r\n", "\n"), "", "", builtinFuncs())
	if err != nil {
		return "", err
	}
	root := trees["body"].Root
	escapeText(root)
	src := strings.ReplaceAll(root.String(), "{{.Link}}", `<a href="{{.Link}}">{{.Link}}</a>`)
	src = `<!DOCTYPE html>` + "\n" + `<html><head><meta charset="utf-8"><title>{{.AuraSubject}}</title></head>` + "\n" +
		`<body style="font-family: sans-serif; line-height: 1.5; color: #222;">` + "\n<p>" + src + "</p>\n</body>\n</html>\n"
	t, err := htmltemplate.New("body").Option("missingkey=zero").Parse(src)
	if err != nil {
		return "", err
	}
	view := make(map[string]string, len(data)+1)
	for k, v := range data {
		view[k] = v
	}
	view["AuraSubject"] = subject
	var b bytes.Buffer
	if err := t.Execute(&b, view); err != nil {
		return "", err
	}
	return b.String(), nil
}

// escapeText HTML-escapes the literal text of a template and turns its
// blank lines into paragraphs and its line breaks into <br>.
func escapeText(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			escapeText(c)
		}
	case *parse.TextNode:
		t := html.EscapeString(string(n.Text))
		t = strings.ReplaceAll(t, "\n\n", "\x00")
		t = strings.ReplaceAll(t, "\n", "<br>\n")
		t = strings.ReplaceAll(t, "\x00", "</p>\n<p>")
		n.Text = []byte(t)
	case *parse.IfNode:
		escapeText(n.List)
		escapeText(n.ElseList)
	case *parse.RangeNode:
		escapeText(n.List)
		escapeText(n.ElseList)
	case *parse.WithNode:
		escapeText(n.List)
		escapeText(n.ElseList)
	}
}

var logger atomic.Pointer[slog.Logger]

// SetLogger sets where a failed edited template is reported (app wiring;
// slog's default logger until then).
func SetLogger(l *slog.Logger) { logger.Store(l) }

// Apply renders an edited template (row) for use, the values a mail or notice
// of its kind was made with. On failure it reports it and returns false: the
// caller keeps the built-in text, so a broken template never loses a message.
func Apply(channel string, row Text, use map[string]string, kind, lang string) (Rendered, bool) {
	out, err := Render(channel, row, use)
	if err != nil {
		l := logger.Load()
		if l == nil {
			l = slog.Default()
		}
		l.Error("edited template failed; the built-in text was used", "kind", kind, "channel", channel, "lang", lang, "err", err)
		return Rendered{}, false
	}
	return out, true
}
