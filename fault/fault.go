// Package fault classifies the errors of background work, so that every
// queue (the analysis jobs, the mail outbox) treats them alike. It imports
// nothing of the project.
//
// Three classes:
//
//   - Permanent: no retry can mend it (an image that does not decode, an
//     analyzer's refusal of the image, a recipient that is not an address).
//     The work is given up at once.
//   - Outage: something the work depends on is unavailable (the image store,
//     the database, the model server). The work is waited out with capped
//     backoff and uses up no attempt, within a budget of time (see
//     queue.Config.OutageBudget).
//   - anything else: an ordinary failure, retried with backoff until its
//     attempts run out.
//
// A Permanent error wins over an Outage it wraps or is wrapped in.
package fault

import "errors"

// permanent marks an error no retry can mend.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as a fault no retry can mend; its text is kept. It
// returns nil for nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent tells whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanent)) }

// outage marks the unavailability of a dependency.
type outage struct {
	what string
	err  error
}

func (o outage) Error() string { return o.what + " unavailable: " + o.err.Error() }
func (o outage) Unwrap() error { return o.err }

// Outage marks err as the unavailability of what ("storage", "database",
// "model server"): the work waits for it to come back rather than failing.
// It returns nil for nil, and err as it is when it is marked already.
func Outage(what string, err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	if _, ok := OutageOf(err); ok {
		return err
	}
	return outage{what: what, err: err}
}

// OutageOf names what is unavailable when err is an Outage (and not
// Permanent).
func OutageOf(err error) (what string, ok bool) {
	if IsPermanent(err) {
		return "", false
	}
	var o outage
	if errors.As(err, &o) {
		return o.what, true
	}
	return "", false
}

// IsOutage tells whether err is an Outage (and not Permanent).
func IsOutage(err error) bool {
	_, ok := OutageOf(err)
	return ok
}
