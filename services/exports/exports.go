// Package exports writes a clinic's screenings out of AURA: one screening
// as a FHIR R4 Bundle, and screenings as CSV (a patient's own, or a
// clinic's over a date range). Who may export is who may read: the
// visibility policy (services/policy) decides, and every export is
// audited before a byte of it is written, the patient's own included.
package exports

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
	"aura/services/screenings"
)

// Audit actions of the exports.
const (
	// AuditFHIR: one screening exported as FHIR (entity: the screening).
	AuditFHIR = "screening.export.fhir"
	// AuditCSV: a screening written to a CSV export (entity: each
	// screening), and the clinic export itself (entity: the clinic).
	AuditCSV = "screening.export.csv"
)

// MaxRange is the longest date range of a clinic's CSV export.
const MaxRange = 366 * 24 * time.Hour

// Service holds the rules of the exports.
type Service struct {
	Clock models.Clock
}

// Screening is the screening id as the caller may export it: the caller
// must be allowed to read its results (a TECHNICIAN: FORBIDDEN; a
// screening the caller does not see: NOT_FOUND), and it must have been
// analysed (NOT_READY). The export is recorded in the audit trail.
func (s *Service) Screening(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*repositories.ScreeningRow, error) {
	row, err := screenings.Load(st, a, id, screenings.ReadOptions{Action: AuditFHIR, Results: true, AuditOwn: true, Now: s.Clock.Now(),
		Check: func(row *repositories.ScreeningRow) error {
			if !row.Analysis.Done() {
				return models.ErrNotReady
			}
			return nil
		}})
	if err != nil {
		return nil, err
	}
	return row, nil
}

// Walk is an export ready to be written (its audit rows recorded).
type Walk struct {
	At     time.Time
	filter repositories.ExportFilter
}

// Each calls fn with every row of the export, oldest first, from one
// cursor read on st (a Store bound to the client's request: the cursor
// stays open while the client reads).
func (w *Walk) Each(st *repositories.Store, fn func(*repositories.ExportRow) error) error {
	return st.EachExportRow(w.filter, fn)
}

// Mine is the caller's own screenings (PATIENT), every one of them,
// recorded in the audit trail one row per screening.
func (s *Service) Mine(ctx context.Context, st *repositories.Store, a models.Actor) (*Walk, error) {
	if err := policy.Can(a, policy.PermOwnScreenings); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	f := repositories.ExportFilter{Scope: repositories.Scope{PatientID: a.UserID}, Cutoff: now}
	if err := st.Tx(func(tx *repositories.Store) error {
		return tx.AuditExport(f, a, models.RolePatient, AuditCSV, now)
	}); err != nil {
		return nil, auditFailed(err)
	}
	return &Walk{At: now, filter: f}, nil
}

// RangeQuery is a clinic export's range as typed: from and to are days
// (YYYY-MM-DD, UTC, both included) or RFC 3339 instants.
type RangeQuery struct{ From, To string }

// Clinic is the screenings of clinicID created in the range (CLINIC_ADMIN
// of the clinic, ADMIN): from and to are required, to not before from,
// and the range at most MaxRange. The export is recorded once on the
// clinic and once per screening.
func (s *Service) Clinic(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, q RangeQuery) (*Walk, error) {
	if err := policy.Can(a, policy.PermClinicsAdminister); err != nil {
		return nil, err
	}
	from, to, err := parseRange(q)
	if err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(clinicID); err != nil {
		return nil, models.ErrNotFound
	}
	now := s.Clock.Now()
	f := repositories.ExportFilter{Scope: policy.ResultsScope(a), ClinicID: clinicID, From: &from, To: &to, Cutoff: now}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := policy.CanIn(tx, a, clinicID, policy.PermClinicsAdminister); err != nil {
			return err
		}
		if _, err := tx.Clinics.ByID(clinicID); err != nil {
			return err
		}
		role := models.RoleClinicAdmin
		if a.Has(models.RoleAdmin) {
			role = models.RoleAdmin
		}
		if err := audit.Record(tx, a, role, AuditCSV, models.EntityClinic, clinicID, now); err != nil {
			return err
		}
		return auditFailed(tx.AuditExport(f, a, role, AuditCSV, now))
	})
	if err != nil {
		return nil, err
	}
	return &Walk{At: now, filter: f}, nil
}

// auditFailed makes a failure to record the export UNAVAILABLE: an export
// that cannot be recorded does not happen.
func auditFailed(err error) error {
	if err == nil || errors.Is(err, models.ErrUnavailable) {
		return err
	}
	return errors.Join(models.ErrUnavailable, err)
}

// parseRange reads a clinic export's range: [from, to+1 day) for days.
func parseRange(q RangeQuery) (time.Time, time.Time, error) {
	details := map[string]string{}
	from, ferr := instant(q.From, false)
	to, terr := instant(q.To, true)
	switch {
	case q.From == "":
		details["from"] = "is required"
	case ferr != nil:
		details["from"] = ferr.Error()
	}
	switch {
	case q.To == "":
		details["to"] = "is required"
	case terr != nil:
		details["to"] = terr.Error()
	}
	if len(details) == 0 {
		CheckRange(from, to, details)
	}
	if len(details) > 0 {
		return time.Time{}, time.Time{}, models.Invalid(details)
	}
	return from, to, nil
}

// CheckRange adds to details why [from, to) is no range an export or a
// statistic takes: to not after from (a day's to is the next day's start,
// so to the day before from is reversed), or longer than MaxRange.
func CheckRange(from, to time.Time, details map[string]string) {
	switch {
	case !to.After(from):
		details["to"] = "must not be before from"
	case to.Sub(from) > MaxRange:
		details["to"] = "must be within a year of from"
	}
}

type rangeError string

func (e rangeError) Error() string { return string(e) }

// instant is a day (YYYY-MM-DD: its start, or with end the start of the
// next day) or an RFC 3339 instant, in UTC.
func instant(v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, rangeError("must be a date (YYYY-MM-DD) or an RFC 3339 instant")
}

// Instant reads a range's bound as the exports do: a day (YYYY-MM-DD, UTC:
// its start, or with end the start of the next day, so the day is
// included) or an RFC 3339 instant.
func Instant(v string, end bool) (time.Time, error) { return instant(v, end) }
