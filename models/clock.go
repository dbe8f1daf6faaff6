package models

import "time"

// Clock is the time source of the rules; nil means the system clock. Tests
// set one they can move.
type Clock func() time.Time

// Now is the clock's time in UTC.
func (c Clock) Now() time.Time {
	if c != nil {
		return c().UTC()
	}
	return time.Now().UTC()
}
