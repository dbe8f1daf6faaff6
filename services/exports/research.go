package exports

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"time"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// AuditResearch: the research export was made (entity: the export's
// range, "from/to" in RFC 3339; one row per export: it names no patient).
const AuditResearch = "research.export"

// ErrNoPseudonymKey is the research export without privacy.pseudonym_key:
// 503, the export is not configured on this server.
var ErrNoPseudonymKey = models.WithMessage(models.ErrUnavailable,
	"The research export is not configured on this server (privacy.pseudonym_key)")

// Pseudonym is a patient record's pseudonym under key: the hex
// HMAC-SHA-256 of its id. The same key gives the same pseudonym in every
// export; without the key it cannot be traced back to the record.
func Pseudonym(key []byte, patientID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(patientID))
	return hex.EncodeToString(m.Sum(nil))
}

// AgeBand is the 5-year band ("40-44") of the age on day at of a person
// born on dob (YYYY-MM-DD); 90 and over are one band, "90+". "" when dob
// is unknown or unreadable, or after at.
func AgeBand(dob *string, at time.Time) string {
	if dob == nil {
		return ""
	}
	b, err := time.Parse(time.DateOnly, *dob)
	if err != nil {
		return ""
	}
	at = at.UTC()
	age := at.Year() - b.Year()
	if at.Month() < b.Month() || at.Month() == b.Month() && at.Day() < b.Day() {
		age--
	}
	switch {
	case age < 0:
		return ""
	case age >= 90:
		return "90+"
	}
	lo := age / 5 * 5
	return strconv.Itoa(lo) + "-" + strconv.Itoa(lo+4)
}

type researchColumn struct {
	name string
	cell func(key []byte, r *repositories.ScreeningRow) string
}

// researchColumns are the research export's columns, in order: nothing
// that names or numbers the patient, the clinic, the doctor or the
// screening.
var researchColumns = func() []researchColumn {
	cols := []researchColumn{
		{"pseudonym", func(key []byte, r *repositories.ScreeningRow) string { return Pseudonym(key, r.PatientID) }},
		{"ageBand", func(_ []byte, r *repositories.ScreeningRow) string { return AgeBand(r.PatientDOB, r.CreatedAt) }},
		{"sex", func(_ []byte, r *repositories.ScreeningRow) string { return ptr(r.PatientSex) }},
		{"month", func(_ []byte, r *repositories.ScreeningRow) string { return r.CreatedAt.UTC().Format("2006-01") }},
		{"eye", func(_ []byte, r *repositories.ScreeningRow) string { return r.Eye }},
		{"analyzer", func(_ []byte, r *repositories.ScreeningRow) string { return ptr(r.Analysis.Analyzer) }},
		{"analyzerVersion", func(_ []byte, r *repositories.ScreeningRow) string { return ptr(r.Analysis.AnalyzerVersion) }},
		{"gradable", func(_ []byte, r *repositories.ScreeningRow) string {
			if r.Analysis.Gradable == nil {
				return ""
			}
			return strconv.FormatBool(*r.Analysis.Gradable)
		}},
		{"quality", func(_ []byte, r *repositories.ScreeningRow) string { return floatCell(r.Analysis.Quality) }},
	}
	for _, m := range Metrics {
		cols = append(cols, researchColumn{m.Code, func(_ []byte, r *repositories.ScreeningRow) string { return floatCell(m.value(r)) }})
	}
	reviewed := func(r *repositories.ScreeningRow, v *string) string {
		if r.ReviewedAt == nil {
			return ""
		}
		return ptr(v)
	}
	return append(cols,
		researchColumn{"riskLevel", func(_ []byte, r *repositories.ScreeningRow) string { return ptr(r.Analysis.RiskLevel) }},
		researchColumn{"reviewRiskLevel", func(_ []byte, r *repositories.ScreeningRow) string { return reviewed(r, r.ReviewRiskLevel) }},
		researchColumn{"analysisAgreement", func(_ []byte, r *repositories.ScreeningRow) string { return reviewed(r, r.AnalysisAgreement) }},
		researchColumn{"feedback", func(_ []byte, r *repositories.ScreeningRow) string { return reviewed(r, r.Feedback) }},
	)
}()

// ResearchColumns names the research export's columns, in order.
func ResearchColumns() []string {
	out := make([]string, len(researchColumns))
	for i, c := range researchColumns {
		out[i] = c.name
	}
	return out
}

// Research is a research export ready to be written.
type Research struct {
	At       time.Time
	from, to time.Time
	key      []byte
}

// Research is the research export of the screenings created in
// [from, to) (ADMIN): without key, ErrNoPseudonymKey. The export is
// recorded once in the audit trail.
func (s *Service) Research(ctx context.Context, st *repositories.Store, a models.Actor, from, to time.Time, key []byte) (*Research, error) {
	if err := policy.Can(a, policy.PermResearchExport); err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, ErrNoPseudonymKey
	}
	now := s.Clock.Now()
	entity := from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)
	if err := st.Tx(func(tx *repositories.Store) error {
		return audit.Record(tx, a, models.RoleAdmin, AuditResearch, "export", entity, now)
	}); err != nil {
		return nil, auditFailed(err)
	}
	return &Research{At: now, from: from, to: to, key: key}, nil
}

// WriteResearchCSV writes the research export, read on st, to w as the
// clinic export is written (byte-order mark, header, RFC 4180, cells
// neutralised).
func WriteResearchCSV(w io.Writer, st *repositories.Store, x *Research) error {
	return streamCSV(w, ResearchColumns(), func(row func([]string) error) error {
		rec := make([]string, len(researchColumns))
		return st.EachResearchRow(x.from, x.to, x.At, func(r *repositories.ScreeningRow) error {
			for i, c := range researchColumns {
				rec[i] = Neutralise(c.cell(x.key, r))
			}
			return row(rec)
		})
	})
}
