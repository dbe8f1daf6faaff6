// Package audit writes and reads the audit trail: one append-only row for
// every access to a patient's data by someone other than the patient, and
// for every write to the clinic's records. A write records itself in its own
// transaction; a read records itself before its data is answered, and fails
// with UNAVAILABLE when it cannot.
package audit

import (
	"context"
	"errors"
	"strings"
	"time"

	"aura/models"
	"aura/repositories"
)

// Record appends one row for actor in tx at now. role is the role the access
// was granted under ("" for a worker). Any failure is UNAVAILABLE: an action
// that cannot be recorded does not happen.
func Record(tx *repositories.Store, a models.Actor, role, action, entityType, entityID string, now time.Time) error {
	row := &models.AuditLog{At: now, Action: action, EntityType: entityType, EntityID: entityID}
	if a.UserID != "" {
		row.ActorID = &a.UserID
		if role == "" {
			role = primaryRole(a)
		}
		row.ActorRole = &role
	}
	if a.IP != "" {
		row.IP = &a.IP
	}
	if a.RequestID != "" {
		row.RequestID = &a.RequestID
	}
	if err := tx.Audit.Append(row); err != nil {
		if errors.Is(err, models.ErrUnavailable) {
			return err
		}
		return errors.Join(models.ErrUnavailable, err)
	}
	return nil
}

// primaryRole is the strongest role the actor holds.
func primaryRole(a models.Actor) string {
	for _, r := range []string{models.RoleAdmin, models.RoleDoctor, models.RolePatient} {
		if a.Has(r) {
			return r
		}
	}
	return ""
}

// Service pages through the trail for admins.
type Service struct{ Clock models.Clock }

// Query is an admin's filter of the trail, as typed: dates are YYYY-MM-DD
// (whole UTC days, inclusive) or RFC 3339 instants.
type Query struct {
	ActorID, Action, EntityType, EntityID, From, To string
	Page, PageSize                                  int
}

// List returns a page of the trail, newest first.
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor, q Query) (repositories.AuditPage, error) {
	if a.UserID == "" || !a.Has(models.RoleAdmin) {
		return repositories.AuditPage{}, models.ErrForbidden
	}
	details := map[string]string{}
	f := repositories.AuditFilter{ActorID: q.ActorID, Action: q.Action, EntityType: q.EntityType, EntityID: q.EntityID}
	for name, v := range map[string]string{"actorId": q.ActorID, "action": q.Action, "entityType": q.EntityType, "entityId": q.EntityID} {
		if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			details[name] = "must be at most 64 printable characters"
		}
	}
	var err error
	if f.From, err = instant(q.From, false); err != nil {
		details["from"] = err.Error()
	}
	if f.To, err = instant(q.To, true); err != nil {
		details["to"] = err.Error()
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		details["to"] = "must be after from"
	}
	if len(details) > 0 {
		return repositories.AuditPage{}, models.Invalid(details)
	}
	return st.Audit.List(f, q.Page, q.PageSize)
}

// instant parses a date (end: the day after, so the day is included) or an
// RFC 3339 time; "" is nil.
func instant(s string, end bool) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return &d, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, errors.New("must be a date (YYYY-MM-DD) or an RFC 3339 time")
	}
	t = t.UTC()
	return &t, nil
}
