package security

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// MaxPasswordLength bounds the work one password can cost; longer ones are
// refused, never truncated.
const MaxPasswordLength = 128

// minStrength is zxcvbn's score (0-4) a password must reach: 3 means about
// 10^8 guesses or more, which rules out the well-known common passwords,
// keyboard walks and dictionary words with digits appended that its embedded
// lists know.
const minStrength = 3

// CheckPassword applies the password policy and returns a message a person
// can act on, or "" when the password is acceptable. email and name are the
// account's own; a password built from them is refused.
func CheckPassword(password, email, fullName string, minLen int) string {
	n := utf8.RuneCountInString(password)
	if !utf8.ValidString(password) {
		return "must be valid text"
	}
	if n < minLen {
		return fmt.Sprintf("must be at least %d characters", minLen)
	}
	if n > MaxPasswordLength {
		return fmt.Sprintf("must be at most %d characters", MaxPasswordLength)
	}
	if strings.ContainsRune(password, 0) {
		return "must not contain NUL characters"
	}
	local, _, _ := strings.Cut(email, "@")
	local = strings.ToLower(local)
	if len(local) >= 3 && strings.Contains(strings.ToLower(password), local) {
		return "must not contain your email address"
	}
	inputs := []string{local}
	inputs = append(inputs, strings.Fields(strings.ToLower(fullName))...)
	if zxcvbn.PasswordStrength(password, inputs).Score < minStrength {
		return "is too common or easy to guess; try a longer phrase of unrelated words"
	}
	return ""
}
