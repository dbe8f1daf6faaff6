// Package i18n gives AURA's human messages in Vietnamese or English. The
// English text is the message's key (it is what the code writes); vi holds
// each message's Vietnamese, and patterns translate the few messages built
// with numbers or names. Codes and field names never change: only `error`,
// `message`, `details` texts, mail and notices are translated.
//
// The language of a request comes from Accept-Language, matched with
// golang.org/x/text/language; without a match, i18n.default_language
// (Vietnamese unless configured).
package i18n

import (
	"regexp"

	"golang.org/x/text/language"
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
		return Normalize(def)
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return Normalize(def)
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return Normalize(def)
	}
	if i == 1 {
		return EN
	}
	return VI
}

// Normalize is lang if AURA speaks it, else Vietnamese.
func Normalize(lang string) string {
	if lang == EN {
		return EN
	}
	return VI
}

// T is msg in lang: the English message itself for en (or an unknown
// message), its Vietnamese for vi.
func T(lang, msg string) string {
	if lang != VI || msg == "" {
		return msg
	}
	if v, ok := vi[msg]; ok {
		return v
	}
	for _, p := range patterns {
		if p.re.MatchString(msg) {
			return p.re.ReplaceAllString(msg, p.vi)
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

type pattern struct {
	re *regexp.Regexp
	vi string
}

func pat(re, v string) pattern { return pattern{regexp.MustCompile("^" + re + "$"), v} }
