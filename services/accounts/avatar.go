package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"aura/models"
	"aura/repositories"
)

// DefaultAvatarPath is the avatar of an account that has set none: a path
// on AURA's own API (GET /api/users/{id}/avatar.svg), so no name or
// initials leave AURA for an outside service, and the URL carries only the
// account's random id.
func DefaultAvatarPath(userID string) string {
	return "/api/users/" + userID + "/avatar.svg"
}

// Avatar is a generated avatar: an SVG of the account's initials on a colour
// derived from its id, and a validator of its content.
type Avatar struct {
	SVG  []byte
	ETag string
}

// avatarColours are the backgrounds, each dark enough for white initials
// (contrast at least 4.5:1).
var avatarColours = []string{
	"#1f6feb", "#0e7c66", "#8250df", "#bf3989", "#c2410c", "#1d4ed8",
	"#047857", "#7c3aed", "#b91c1c", "#0369a1", "#4d7c0f", "#a21caf",
}

// Avatar renders the generated avatar of the account userID (any account,
// active or not; the id is not guessable and is handed only to those who
// may see the account). NOT_FOUND for an unknown id or one that is not a
// UUID.
func (s *Service) Avatar(ctx context.Context, st *repositories.Store, userID string) (*Avatar, error) {
	if _, err := uuid.Parse(userID); err != nil {
		return nil, models.ErrNotFound
	}
	u, err := st.Users.ByID(userID)
	if err != nil {
		return nil, err
	}
	return RenderAvatar(u.ID, Initials(DisplayName(u))), nil
}

// RenderAvatar draws initials (at most two letters; "" draws none) on the
// colour of id.
func RenderAvatar(id, initials string) *Avatar {
	sum := sha256.Sum256([]byte(id))
	colour := avatarColours[int(sum[0])%len(avatarColours)]
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img">`+
		`<rect width="128" height="128" fill="%s"/>`+
		`<text x="64" y="64" dy="0.35em" text-anchor="middle" fill="#ffffff" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif" font-size="52" font-weight="600">%s</text>`+
		`</svg>`, colour, html.EscapeString(initials))
	tag := sha256.Sum256([]byte(svg))
	return &Avatar{SVG: []byte(svg), ETag: `"` + hex.EncodeToString(tag[:12]) + `"`}
}

// Initials are the first letters of the first and last words of name,
// upper-cased, each with its diacritics ("Nguyễn Thị Lan" gives "NL", "lan"
// gives "L"). Words that hold no letter or digit are skipped.
func Initials(name string) string {
	var firsts []string
	for _, w := range strings.Fields(norm.NFC.String(name)) {
		for i, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				// The letter and the combining marks that follow it.
				end := i + len(string(r))
				for _, m := range w[end:] {
					if !unicode.Is(unicode.Mn, m) {
						break
					}
					end += len(string(m))
				}
				firsts = append(firsts, strings.ToUpper(w[i:end]))
				break
			}
		}
	}
	switch len(firsts) {
	case 0:
		return ""
	case 1:
		return firsts[0]
	}
	return firsts[0] + firsts[len(firsts)-1]
}
