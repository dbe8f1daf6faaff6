package report

import (
	"strings"
	"sync"
	"unicode"

	"github.com/go-fonts/liberation/liberationsansbold"
	"github.com/go-fonts/liberation/liberationsansregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/unicode/norm"
)

// The report's typeface: Liberation Sans (SIL Open Font License 1.1), from
// the github.com/go-fonts/liberation module, which embeds the TTF files. It
// has every precomposed Vietnamese letter (U+1EA0–U+1EF9, ơ, ư, đ and the
// tone-marked Latin-1 letters); the Go fonts do not.
var (
	fontRegular = liberationsansregular.TTF
	fontBold    = liberationsansbold.TTF
)

const fontFamily = "LiberationSans"

// coverage is the set of runes of the Basic Multilingual Plane that both
// faces have a glyph for, one bit per rune.
type coverage [0x10000 / 64]uint64

func (c *coverage) has(r rune) bool {
	return r >= 0 && r < 0x10000 && c[r/64]&(1<<(uint(r)%64)) != 0
}

// fontCoverage parses the two faces once and records the runes both have.
var fontCoverage = sync.OnceValue(func() *coverage {
	c := new(coverage)
	var faces []*sfnt.Font
	for _, ttf := range [][]byte{fontRegular, fontBold} {
		f, err := sfnt.Parse(ttf)
		if err != nil {
			panic("report: embedded font does not parse: " + err.Error())
		}
		faces = append(faces, f)
	}
	var buf sfnt.Buffer
	for r := rune(0x20); r < 0x10000; r++ {
		ok := true
		for _, f := range faces {
			if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
				ok = false
				break
			}
		}
		if ok {
			c[r/64] |= 1 << (uint(r) % 64)
		}
	}
	return c
})

// maxTextRunes bounds any one text of the report before it is laid out: two
// pages hold far less, and the rest would be cut anyway.
const maxTextRunes = 20000

// clean makes s printable with the embedded font: composed to NFC (so "ế"
// typed as e + ◌̂ + ◌́ becomes the one glyph the font has), tabs and odd
// spaces made plain spaces, other control characters dropped, runes the
// font lacks (emoji, CJK) replaced by '?', and cut to maxTextRunes. With
// multiline false, line breaks become spaces.
func clean(s string, multiline bool) string {
	if s == "" {
		return ""
	}
	s = norm.NFC.String(strings.ReplaceAll(s, "\r\n", "\n"))
	cov := fontCoverage()
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	for _, r := range s {
		if n == maxTextRunes {
			b.WriteRune('…')
			break
		}
		n++
		switch {
		case r == '\n' || r == '\r':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t' || (unicode.IsSpace(r) && !cov.has(r)):
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			// dropped: zero-width and control characters print nothing useful
			n--
		case cov.has(r):
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	if multiline {
		return strings.TrimSpace(b.String())
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
