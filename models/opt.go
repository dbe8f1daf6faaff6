package models

import (
	"encoding/json"
	"reflect"
)

// Opt is an optional field of a change (a JSON PATCH body, a typed update):
// it distinguishes absent, null and a value.
type Opt[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present and whether it was null.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ValueType is T: the strict JSON binding checks field names through it.
func (Opt[T]) ValueType() reflect.Type { return reflect.TypeFor[T]() }

// Deref is *p, or T's zero value when p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
