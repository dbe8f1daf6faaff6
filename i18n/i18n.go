// Package i18n gives AURA's human messages in Vietnamese or English. The
// English text is the message's key (it is what the code writes); vi holds
// each message's Vietnamese, and patterns translate the few messages built
// with numbers or names. All of them live in one golang.org/x/text/message
// catalog, which also gives the plural forms of durations in mail. Codes and field names never change: only `error`,
// `message`, `details` texts, mail and notices are translated.
//
// The language of a request comes from Accept-Language, matched with
// golang.org/x/text/language; without a match, i18n.default_language
// (Vietnamese unless configured).
package i18n

import (
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Languages AURA speaks.
const (
	VI = "vi"
	EN = "en"
)

var matcher = language.NewMatcher([]language.Tag{language.Vietnamese, language.English})

// FromHeader is the language of an Accept-Language header: vi or en, def
// when the header names neither (or is absent or malformed).
func FromHeader(header, def string) string {
	if header == "" {
		return Lang(def)
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return Lang(def)
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return Lang(def)
	}
	if i == 1 {
		return EN
	}
	return VI
}

// Lang is AURA's one language fallback: the first of langs that AURA speaks,
// else Vietnamese. A language counts by its primary subtag, in any case
// ("en", "EN", "en-GB", "en_US" are English; "vi-VN" is Vietnamese); empty
// and unknown ones are skipped. Callers list what they know in order, e.g.
// Lang(account's language, request's language, i18n.default_language).
func Lang(langs ...string) string {
	for _, l := range langs {
		base, _, _ := strings.Cut(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(l)), "_", "-"), "-")
		if base == EN || base == VI {
			return base
		}
	}
	return VI
}

// catalog holds every message in both languages: the English text is the
// key (and its own English), vi its Vietnamese, patterns' formats with their
// Vietnamese, and the plural forms of durations.
var cat = build()

// printers print from the catalog in each language.
var printers = map[string]*message.Printer{
	VI: message.NewPrinter(language.Vietnamese, message.Catalog(cat)),
	EN: message.NewPrinter(language.English, message.Catalog(cat)),
}

func build() *catalog.Builder {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	must := func(err error) {
		if err != nil {
			panic("i18n: " + err.Error())
		}
	}
	for en, v := range vi {
		// A message is a format to the printer: a literal % is doubled.
		must(b.SetString(language.Vietnamese, escape(en), escape(v)))
	}
	for _, p := range patterns {
		must(b.SetString(language.Vietnamese, p.format, p.vi))
	}
	for _, u := range units {
		must(b.Set(language.English, u.key, plural.Selectf(1, "%d", "=1", "1 "+u.en, "other", "%d "+u.en+"s")))
		must(b.SetString(language.Vietnamese, u.key, "%d "+u.vi))
	}
	return b
}

func escape(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// T is msg in lang: the English message itself for en (or an unknown
// message), its Vietnamese for vi.
func T(lang, msg string) string {
	if lang != VI || msg == "" {
		return msg
	}
	p := printers[VI]
	if _, ok := vi[msg]; ok {
		return p.Sprintf(escape(msg))
	}
	for _, pt := range patterns {
		if m := pt.re.FindStringSubmatch(msg); m != nil {
			args := make([]any, len(m)-1)
			for i, a := range m[1:] {
				args[i] = a
			}
			return p.Sprintf(pt.format, args...)
		}
	}
	return msg
}

// Known reports whether msg has a Vietnamese text (itself or by a pattern).
func Known(msg string) bool {
	if _, ok := vi[msg]; ok {
		return true
	}
	for _, p := range patterns {
		if p.re.MatchString(msg) {
			return true
		}
	}
	return false
}

// Duration writes a lifetime as people say it in lang, with the plural
// rules of the catalog: "24 hours", "1 hour", "30 phút".
func Duration(lang string, d time.Duration) string {
	p := printers[Lang(lang)]
	for _, u := range units {
		if d >= u.size && d%u.size == 0 && (u.size != 24*time.Hour || d > 24*time.Hour) {
			return p.Sprintf(u.key, int64(d/u.size))
		}
	}
	if d <= 0 {
		return ""
	}
	return p.Sprintf(units[len(units)-1].key, int64((d+time.Second-1)/time.Second))
}

// units are the duration words, largest first ("1 day" only from 2 days:
// 24 hours reads better than 1 day for a link's lifetime).
var units = []struct {
	size        time.Duration
	key, en, vi string
}{
	{24 * time.Hour, "duration.days", "day", "ngày"},
	{time.Hour, "duration.hours", "hour", "giờ"},
	{time.Minute, "duration.minutes", "minute", "phút"},
	{time.Second, "duration.seconds", "second", "giây"},
}

// pattern is a message built with numbers, names or a cause: re matches
// the English, whose groups fill format (the catalog's key) and its vi.
type pattern struct {
	re     *regexp.Regexp
	format string
	vi     string
}

func pat(re, format, v string) pattern {
	return pattern{regexp.MustCompile("^" + re + "$"), format, v}
}
