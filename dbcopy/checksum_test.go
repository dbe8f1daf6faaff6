package dbcopy

import (
	"testing"
	"time"
)

func TestChecksumIgnoresOrderAndSeesEveryValue(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	rows := [][]any{
		{"a", int64(1), true, ts, nil},
		{"b", int64(2), false, ts.Add(time.Second), "x"},
		{"c", int64(3), nil, nil, []byte{0, 1}},
	}
	sum := func(precision time.Duration, order ...int) string {
		c := checksum{precision: precision}
		for _, i := range order {
			c.add(rows[i])
		}
		return c.String()
	}
	if sum(1, 0, 1, 2) != sum(1, 2, 0, 1) {
		t.Fatal("checksum depends on row order")
	}
	base := sum(1, 0, 1, 2)
	for _, tc := range []struct {
		name string
		edit func()
	}{
		{"text", func() { rows[0][0] = "A" }},
		{"NULL vs empty", func() { rows[0][4] = "" }},
		{"bool", func() { rows[1][2] = true }},
		{"time by a nanosecond", func() { rows[0][3] = ts.Add(time.Nanosecond) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := [][]any{append([]any(nil), rows[0]...), append([]any(nil), rows[1]...)}
			defer func() { rows[0], rows[1] = saved[0], saved[1] }()
			tc.edit()
			if sum(1, 0, 1, 2) == base {
				t.Fatal("change not seen")
			}
		})
	}
	// At PostgreSQL's precision, digits below a microsecond do not count.
	micro := sum(time.Microsecond, 0, 1, 2)
	rows[0][3] = ts.Truncate(time.Microsecond)
	if sum(time.Microsecond, 0, 1, 2) != micro {
		t.Fatal("sub-microsecond digits counted at microsecond precision")
	}
	// The sum carries across 64-bit limbs: a row added twice is not a no-op.
	c := checksum{precision: 1}
	c.add(rows[0])
	once := c.String()
	c.add(rows[0])
	if c.String() == once || c.String() == (&checksum{}).String() {
		t.Fatal("duplicate rows cancel out")
	}
}
