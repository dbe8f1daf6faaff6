package repositories

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// ExportFilter picks the screenings of an export: those scope sees, of
// ClinicID when set, created in [From, To) when set, and never after
// Cutoff (the instant the export was audited, so the rows written are the
// rows recorded).
type ExportFilter struct {
	Scope    Scope
	ClinicID string
	From, To *time.Time
	Cutoff   time.Time
}

func (f ExportFilter) where() (string, []any) {
	cond, args := f.Scope.screenings("s")
	cond += " AND s.created_at <= ?"
	args = append(args, f.Cutoff)
	if f.ClinicID != "" {
		cond += " AND s.clinic_id = ?"
		args = append(args, f.ClinicID)
	}
	if f.From != nil {
		cond += " AND s.created_at >= ?"
		args = append(args, *f.From)
	}
	if f.To != nil {
		cond += " AND s.created_at < ?"
		args = append(args, *f.To)
	}
	return cond, args
}

// WithContext is the Store on the same handle bound to ctx instead: a
// streamed export reads its cursor for as long as the client reads, bound
// to the client's request rather than to the per-request query timeout.
func (s *Store) WithContext(ctx context.Context) *Store { return New(s.db.WithContext(ctx)) }

// AuditExport appends one audit row per screening f picks (entity
// screening, action), in one statement, before the export is written.
func (s *Store) AuditExport(f ExportFilter, a models.Actor, role, action string, at time.Time) error {
	cond, args := f.where()
	var ip, req, actorID *string
	if a.IP != "" {
		ip = &a.IP
	}
	if a.RequestID != "" {
		req = &a.RequestID
	}
	if a.UserID != "" {
		actorID = &a.UserID
	}
	q := `INSERT INTO audit_logs (at, actor_id, actor_role, action, entity_type, entity_id, ip, request_id)
		SELECT ?, ?, ?, ?, ?, s.id, ?, ? FROM screenings s WHERE ` + cond
	all := append([]any{at, actorID, role, action, models.EntityScreening, ip, req}, args...)
	return translate(s.db.Exec(q, all...).Error)
}

// ExportRow is a screening as an export writes it: the clinic's own
// record number of its patient beside it.
type ExportRow struct {
	ScreeningRow
	ExportExternalID *string
}

// EachExportRow calls fn with every screening f picks, oldest first, read
// from one cursor: the rows are never held together in memory. fn's error
// stops the walk and is returned.
func (s *Store) EachExportRow(f ExportFilter, fn func(*ExportRow) error) error {
	cond, args := f.where()
	q := strings.Replace(screeningSelect, "\n\tFROM screenings s", ", cp.external_id AS export_external_id\n\tFROM screenings s", 1) +
		"\n\tLEFT JOIN clinic_patients cp ON cp.clinic_id = s.clinic_id AND cp.patient_id = s.patient_id"
	rows, err := s.db.Raw(q+" WHERE "+cond+" ORDER BY s.created_at, s.id", args...).Rows()
	if err != nil {
		return translate(err)
	}
	return eachRow(s.db, rows, fn)
}

// EachResearchRow calls fn with every screening created in [from, to)
// (and not after cutoff) whose analysis is recorded and whose patient
// consents to research now, oldest first, from one cursor. The rows carry
// the patient's birth date and sex and nothing else of the patient.
func (s *Store) EachResearchRow(from, to, cutoff time.Time, fn func(*ScreeningRow) error) error {
	rows, err := s.db.Raw(`SELECT s.*, p.date_of_birth AS patient_dob, p.sex AS patient_sex
	FROM screenings s JOIN patients p ON p.id = s.patient_id
	WHERE s.created_at >= ? AND s.created_at < ? AND s.created_at <= ? AND s.completed_at IS NOT NULL
	AND p.research_consent = ?
	ORDER BY s.created_at, s.id`, from, to, cutoff, true).Rows()
	if err != nil {
		return translate(err)
	}
	return eachRow(s.db, rows, fn)
}

// eachRow scans rows, one T at a time, into fn and closes them; fn's
// error stops the walk and is returned. A driver may end the rows quietly
// when the context ends (SQLite's interrupt): the walk was then cut short,
// never a whole export, and says so (ErrUnavailable).
func eachRow[T any](db *gorm.DB, rows *sql.Rows, fn func(*T) error) error {
	defer rows.Close()
	for rows.Next() {
		var r T
		if err := db.ScanRows(rows, &r); err != nil {
			return translate(err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return translate(err)
	}
	if ctx := db.Statement.Context; ctx != nil && ctx.Err() != nil {
		return errors.Join(models.ErrUnavailable, ctx.Err())
	}
	return nil
}
