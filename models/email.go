package models

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"aura/vocab"
)

// Invisible reports a rune that must not appear in text people read from
// AURA: vocab.Invisible.
func Invisible(r rune) bool { return vocab.Invisible(r) }

// ErrBadEmail is returned by NormalizeEmail for anything that is not one plain
// address.
var ErrBadEmail = errors.New("must be a valid email address")

// NormalizeEmail trims and NFKC-folds an address (so fullwidth letters become
// their ASCII twins), refuses invisible and control characters (zero-width
// joiners, bidi controls), and returns the address as stored and its unique
// key: the same, lower-cased.
func NormalizeEmail(raw string) (stored, key string, err error) {
	s := norm.NFKC.String(strings.TrimSpace(raw))
	if s == "" || len(s) > 254 {
		return "", "", ErrBadEmail
	}
	for _, r := range s {
		if unicode.IsSpace(r) || Invisible(r) || unicode.Is(unicode.Zs, r) {
			return "", "", ErrBadEmail
		}
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return "", "", ErrBadEmail
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", "", ErrBadEmail
	}
	return s, strings.ToLower(s), nil
}
