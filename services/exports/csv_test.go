package exports

import (
	"testing"

	"aura/models"
)

// TestNeutralise: a cell a spreadsheet would run as a formula gets a
// leading apostrophe; anything else is written as it is.
func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+84 90": "'+84 90", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "": "", "Nguyễn Văn An": "Nguyễn Văn An", "0.125": "0.125",
		"a=b": "a=b", "'=x": "'=x",
	} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParseRange: from and to are required; to may not precede from nor
// lie more than a year after it; each failure names its field.
func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		from, to, field string
	}{
		{"", "2025-01-01", "from"}, {"2025-01-01", "", "to"}, {"2025-1-1", "2025-01-02", "from"},
		{"2025-01-02", "2025-01-01", "to"}, {"2025-01-01", "2026-01-02", "to"},
		{"2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z", "to"},
		{"2025-01-01", "2025-01-01", ""}, {"2024-01-01", "2024-12-31", ""},
		{"2025-01-01T00:00:00+07:00", "2025-01-02T00:00:00Z", ""},
	} {
		_, _, err := parseRange(RangeQuery{From: c.from, To: c.to})
		if (err == nil) != (c.field == "") {
			t.Errorf("%q..%q: %v", c.from, c.to, err)
			continue
		}
		if err != nil {
			if d := errDetails(err); d[c.field] == "" {
				t.Errorf("%q..%q: no detail for %s: %v", c.from, c.to, c.field, d)
			}
		}
	}
}

func errDetails(err error) map[string]string {
	if e, ok := err.(*models.Error); ok {
		return e.Details
	}
	return nil
}
