package models

import (
	"strings"
	"testing"
)

// TestCheckText: one rule and one message per reason, for one-line and
// multi-line text alike.
func TestCheckText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s      string
		lo, hi int
		lines  bool
		want   string
	}{
		{"Lan", 1, 10, false, ""},
		{"", 0, 10, false, ""},
		{"", 1, 10, false, "is required"},
		{"Nguyễn Thị Lan", 1, 14, false, ""},
		{strings.Repeat("ễ", 15), 1, 14, false, "must be at most 14 characters"},
		{"a\xffb", 0, 10, false, "must be valid text"},
		{"a\nb", 0, 10, false, "must not contain control, bidi or invisible characters"},
		{"a\nb\tc", 0, 10, true, ""},
		{"a\u202eb", 0, 10, true, "must not contain control, bidi or invisible characters"},
		{"a\u200bb", 0, 10, false, "must not contain control, bidi or invisible characters"},
		{"a\rb", 0, 10, true, "must not contain control, bidi or invisible characters"},
		{"a\u2028b", 0, 10, true, "must not contain control, bidi or invisible characters"},
	} {
		if got := CheckText(c.s, c.lo, c.hi, c.lines); got != c.want {
			t.Errorf("CheckText(%q, %d, %d, %v) = %q, want %q", c.s, c.lo, c.hi, c.lines, got, c.want)
		}
	}
}
