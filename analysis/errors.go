package analysis

import "errors"

// ErrPermanent marks an analyzer's failure that a retry cannot mend (the
// model server refused the image, or answered in a form it cannot read): the
// job is given up at once. Any other error is retried.
var ErrPermanent = errors.New("permanent analysis failure")

// Permanent wraps err as ErrPermanent, keeping its text.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ err error }

func (p permanentError) Error() string   { return p.err.Error() }
func (p permanentError) Unwrap() []error { return []error{p.err, ErrPermanent} }
