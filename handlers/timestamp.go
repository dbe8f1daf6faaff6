package handlers

import "time"

// TimeLayout is the one form of every instant in an answer: RFC 3339 in UTC
// with exactly three fraction digits (2026-12-07T01:02:03.456Z), on every
// database engine, so that the strings sort as the times do.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeLayout (in UTC, truncated to the millisecond).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Timestamp is an instant of a view; it marshals in TimeLayout. Views hold
// a Timestamp (or *Timestamp, null when absent), never a time.Time, whose
// JSON form would carry as many fraction digits as the engine stored.
type Timestamp time.Time

// ts is t as a view's instant.
func ts(t time.Time) Timestamp { return Timestamp(t) }

// tsPtr is t as a view's optional instant (nil stays nil).
func tsPtr(t *time.Time) *Timestamp {
	if t == nil {
		return nil
	}
	v := Timestamp(*t)
	return &v
}

// MarshalJSON writes the instant as a JSON string in TimeLayout.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads an RFC 3339 instant (clients of the handlers' views in
// Go, the tests among them).
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = Timestamp(v)
	return nil
}
