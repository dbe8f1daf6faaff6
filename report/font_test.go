package report

import (
	"reflect"
	"testing"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/unicode/norm"

	"aura/vocab"
)

// vietnameseAlphabet is every letter Vietnamese writes: the 29 letters in
// both cases, each vowel with each of the five tone marks (grave, hook,
// tilde, acute, dot below), composed as NFC text stores them.
func vietnameseAlphabet(t *testing.T) []rune {
	t.Helper()
	vowels := "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
	consonants := "bcdđghklmnpqrstvxBCDĐGHKLMNPQRSTVX"
	tones := []string{"", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323"}
	var out []rune
	for _, v := range vowels {
		for _, tone := range tones {
			composed := []rune(norm.NFC.String(string(v) + tone))
			if len(composed) != 1 {
				t.Fatalf("%q + %U does not compose to one letter", v, []rune(tone))
			}
			out = append(out, composed[0])
		}
	}
	out = append(out, []rune(consonants)...)
	// the whole Latin Extended Additional block of Vietnamese letters
	for r := rune(0x1EA0); r <= 0x1EF9; r++ {
		out = append(out, r)
	}
	return out
}

func missing(t *testing.T, ttf []byte, runes []rune) []rune {
	t.Helper()
	f, err := sfnt.Parse(ttf)
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	var miss []rune
	for _, r := range runes {
		if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
			miss = append(miss, r)
		}
	}
	return miss
}

func TestFontCoversVietnamese(t *testing.T) {
	alphabet := vietnameseAlphabet(t)
	if len(alphabet) != 24*6+34+90 {
		t.Fatalf("%d letters", len(alphabet))
	}
	for name, ttf := range map[string][]byte{"regular": fontRegular, "bold": fontBold} {
		if miss := missing(t, ttf, alphabet); len(miss) > 0 {
			t.Errorf("Liberation Sans %s lacks %q", name, string(miss))
		}
	}
}

// TestGoFontsLackVietnamese records why the report does not use the Go fonts
// of golang.org/x/image: they lack most Vietnamese letters.
func TestGoFontsLackVietnamese(t *testing.T) {
	for name, ttf := range map[string][]byte{"Go regular": goregular.TTF, "Go bold": gobold.TTF} {
		if miss := missing(t, ttf, vietnameseAlphabet(t)); len(miss) < 80 {
			t.Errorf("%s lacks only %d Vietnamese letters now (%q): it could be considered", name, len(miss), string(miss))
		}
	}
}

// TestMessagesComplete: every text is set in both languages, and the font
// has every letter of them.
func TestMessagesComplete(t *testing.T) {
	cov := fontCoverage()
	for _, m := range []messages{vi, en} {
		check := func(name, s string) {
			if s == "" {
				t.Errorf("%s: %s is empty", m.lang, name)
			}
			for _, r := range s {
				if !cov.has(r) {
					t.Errorf("%s: %s has %q, which the font lacks", m.lang, name, r)
				}
			}
		}
		v := reflect.ValueOf(m)
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.String {
				check(v.Type().Field(i).Name, f.String())
			}
		}
		for k, s := range m.levels {
			check("levels["+k+"]", s)
		}
		for k, s := range m.metricNames {
			check("metricNames["+k+"] name", s[0])
			check("metricNames["+k+"] unit", s[1])
		}
	}
	for _, r := range "•…–≥≤·—" {
		if !cov.has(r) {
			t.Errorf("the font lacks %q, which the layout prints", r)
		}
	}
}

// TestVocabularyInEveryLanguage: every risk level of the contract's
// vocabulary has a label in every language and a colour of its own (not the
// grey of an unknown value), every metric a name and a unit, and the report
// knows no level or metric the vocabulary lacks.
func TestVocabularyInEveryLanguage(t *testing.T) {
	colours := map[rgb]string{}
	for _, l := range vocab.RiskLevels() {
		c, ok := riskColor[l]
		switch {
		case !ok:
			t.Errorf("risk level %q has no colour", l)
		case c == muted || colours[c] != "":
			t.Errorf("risk level %q has the colour of %q", l, colours[c]+map[bool]string{true: "an unknown level"}[c == muted])
		}
		colours[c] = l
	}
	if len(riskColor) != len(vocab.RiskLevels()) {
		t.Errorf("%d colours for %d levels", len(riskColor), len(vocab.RiskLevels()))
	}
	for _, m := range []*messages{&vi, &en} {
		for _, l := range vocab.RiskLevels() {
			if m.levels[l] == "" || m.level(l) != m.levels[l] {
				t.Errorf("%s: risk level %q has no label", m.lang, l)
			}
		}
		if len(m.levels) != len(vocab.RiskLevels()) {
			t.Errorf("%s: %d labels for %d levels", m.lang, len(m.levels), len(vocab.RiskLevels()))
		}
		for _, name := range vocab.MetricNames() {
			if n := m.metricNames[name]; n[0] == "" || n[1] == "" {
				t.Errorf("%s: metric %q has no name or unit", m.lang, name)
			}
		}
		if len(m.metricNames) != len(vocab.MetricNames()) {
			t.Errorf("%s: %d metric names for %d metrics", m.lang, len(m.metricNames), len(vocab.MetricNames()))
		}
		// Every metric has a row once a disc metric was measured; without
		// any, the four of the vessel map (an analysis made before them).
		avr := 0.7
		if rows := m.metrics(Metrics{AVR: &avr}); len(rows) != len(vocab.MetricNames()) {
			t.Errorf("%s: %d rows in the measurements table", m.lang, len(rows))
		}
		if rows := m.metrics(Metrics{}); len(rows) != 4 {
			t.Errorf("%s: %d rows without disc metrics, want 4", m.lang, len(rows))
		}
	}
}

func TestLevelsAndNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{vi.level("low"), "thấp"}, {vi.level("MEDIUM"), "trung bình"}, {vi.level("high"), "cao"},
		{vi.level("critical"), "nghiêm trọng"}, {vi.level(" Critical "), "nghiêm trọng"}, {en.level("critical"), "critical"},
		{capitalize(vi.level("critical")), "Nghiêm trọng"}, {vi.level("urgent"), "urgent"}, {vi.level("very_high"), "very_high"},
		{vi.sexName("F"), "Nữ"}, {vi.sexName("male"), "Nam"}, {en.sexName("nữ"), "Female"},
		{vi.eyeName("OS"), "Mắt trái (OS)"}, {en.eyeName("right"), "Right eye (OD)"},
		{vi.birthDate("1961-03-12"), "12/03/1961"}, {en.birthDate("1961-03-12"), "12 Mar 1961"}, {vi.birthDate("1961"), "1961"},
		{vi.bound(0.08), "0,08"}, {en.bound(1.5), "1.5"}, {vi.bound(6), "6"}, {vi.fixed(0.0621, 3), "0,062"},
		{metricKey("meanVesselWidthPx"), "meanVesselWidthPx"}, {metricKey("VESSELDENSITY"), "vesselDensity"}, {metricKey("vessel_density"), ""},
		{messagesFor("en-US").lang, "en"}, {messagesFor("").lang, "vi"}, {messagesFor("fr").lang, "vi"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: %q, want %q", i, c.got, c.want)
		}
	}
}
