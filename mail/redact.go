package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// RecipientTag is how logs name a mail's recipient: "sha256:" and the first
// 12 hex digits of the SHA-256 of the address, trimmed and lower-cased. The
// address itself never reaches a log; an operator who has one finds its
// lines with
//
//	printf '%s' 'bob@example.com' | sha256sum | cut -c1-12
func RecipientTag(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(addr))))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// emailLike is anything in an error's text that looks like an address (a
// relay's refusal often quotes the recipient).
var emailLike = regexp.MustCompile(`[^\s<>()\[\],;:"'@]+@[^\s<>()\[\],;:"'@]+`)

// redacted is err's text for a log, every address in it replaced by its
// RecipientTag.
func redacted(err error) string {
	if err == nil {
		return ""
	}
	return emailLike.ReplaceAllStringFunc(err.Error(), RecipientTag)
}
