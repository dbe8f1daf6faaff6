package vocab

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Invisible reports a rune that must not appear in text people read from
// AURA (names, addresses, emails): control (Cc), format (Cf: bidi overrides
// and marks, zero-width characters, U+FEFF), private use (Co), line and
// paragraph separators, and U+FFFD.
func Invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp) || r == unicode.ReplacementChar
}

// CheckText is the one rule for text people type into AURA (names,
// addresses, licence numbers, notes, recommendations): it returns why s is
// not acceptable, or "". s must be valid UTF-8 of lo..hi characters
// (runes; lo 0 means it may be empty) without invisible characters (see
// Invisible). Multi-line text (lines) may also hold new lines and tabs.
// Callers trim s first when surrounding spaces do not count.
//
// Each reason has one message: "must be valid text", "is required",
// "must be at most N characters", "must not contain control, bidi or
// invisible characters".
func CheckText(s string, lo, hi int, lines bool) string {
	if !utf8.ValidString(s) {
		return "must be valid text"
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < lo:
		return "is required"
	case n > hi:
		return "must be at most " + strconv.Itoa(hi) + " characters"
	case strings.ContainsFunc(s, func(r rune) bool { return Invisible(r) && !(lines && (r == '\n' || r == '\t')) }):
		return "must not contain control, bidi or invisible characters"
	}
	return ""
}
