package exports

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"aura/repositories"
	"aura/services/screenings"
)

// CSVContentType is the media type of a CSV export.
const CSVContentType = "text/csv; charset=utf-8"

// BOM is the byte-order mark a CSV export begins with, so spreadsheets
// read it as UTF-8 (Vietnamese names stay whole).
const BOM = "\uFEFF"

type column struct {
	name string
	cell func(r *repositories.ExportRow) string
}

func ptr(s *string) string { return deref(s) }

func tsCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func floatCell(v *float64) string {
	if v == nil {
		return ""
	}
	return formatFloat(*v)
}

func metricCell(m Metric) column {
	return column{m.Code, func(r *repositories.ExportRow) string { return floatCell(m.value(&r.ScreeningRow)) }}
}

// columns are the CSV export's columns, in order.
var columns = func() []column {
	cols := []column{
		{"screeningId", func(r *repositories.ExportRow) string { return r.ID }},
		{"createdAt", func(r *repositories.ExportRow) string { return tsCell(&r.CreatedAt) }},
		{"clinicId", func(r *repositories.ExportRow) string { return r.ClinicID }},
		{"clinicName", func(r *repositories.ExportRow) string { return r.ClinicName }},
		{"patientId", func(r *repositories.ExportRow) string { return r.PatientID }},
		{"patientCode", func(r *repositories.ExportRow) string { return r.PatientCode }},
		{"externalId", func(r *repositories.ExportRow) string { return ptr(r.ExportExternalID) }},
		{"fullName", func(r *repositories.ExportRow) string { return ptr(r.PatientName) }},
		{"dateOfBirth", func(r *repositories.ExportRow) string { return ptr(r.PatientDOB) }},
		{"sex", func(r *repositories.ExportRow) string { return ptr(r.PatientSex) }},
		{"eye", func(r *repositories.ExportRow) string { return r.Eye }},
		{"status", func(r *repositories.ExportRow) string { return r.Status }},
		{"analyzedAt", func(r *repositories.ExportRow) string { return tsCell(r.Analysis.CompletedAt) }},
		{"analyzer", func(r *repositories.ExportRow) string { return ptr(r.Analysis.Analyzer) }},
		{"analyzerVersion", func(r *repositories.ExportRow) string { return ptr(r.Analysis.AnalyzerVersion) }},
		{"gradable", func(r *repositories.ExportRow) string {
			if r.Analysis.Gradable == nil {
				return ""
			}
			return strconv.FormatBool(*r.Analysis.Gradable)
		}},
		{"quality", func(r *repositories.ExportRow) string { return floatCell(r.Analysis.Quality) }},
	}
	for _, m := range Metrics {
		cols = append(cols, metricCell(m))
	}
	return append(cols,
		column{"riskLevel", func(r *repositories.ExportRow) string { return ptr(r.Analysis.RiskLevel) }},
		column{"reviewRiskLevel", func(r *repositories.ExportRow) string { return ptr(r.ReviewRiskLevel) }},
		column{"reviewNotes", func(r *repositories.ExportRow) string { return ptr(r.ReviewNotes) }},
		column{"recommendation", func(r *repositories.ExportRow) string { return ptr(r.Recommendation) }},
		column{"analysisAgreement", func(r *repositories.ExportRow) string { return ptr(r.AnalysisAgreement) }},
		column{"correctedMetrics", func(r *repositories.ExportRow) string {
			c := screenings.CorrectedMetrics(r.CorrectedMetricsJSON)
			var parts []string
			for _, m := range Metrics {
				if v, ok := c[m.Code]; ok {
					parts = append(parts, m.Code+"="+formatFloat(v))
				}
			}
			return strings.Join(parts, ";")
		}},
		column{"reviewer", func(r *repositories.ExportRow) string {
			if r.ReviewedAt == nil {
				return ""
			}
			if n := strings.TrimSpace(ptr(r.ReviewerName)); n != "" {
				return n
			}
			return ptr(r.ReviewerEmail)
		}},
		column{"reviewedAt", func(r *repositories.ExportRow) string { return tsCell(r.ReviewedAt) }},
	)
}()

// Columns names the CSV export's columns, in order.
func Columns() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// Neutralise makes a cell safe to open in a spreadsheet: a cell that
// starts with =, +, -, @, a tab or a carriage return (a formula, or what
// a spreadsheet takes for one) gets a leading apostrophe.
func Neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV writes the export, read on st, to w as it is read: the byte-order mark, the
// header row, then one row per screening (RFC 4180: CRLF line ends, quoted
// where needed). A review is shown only once the review is recorded (a
// claim alone is not a review).
func WriteCSV(w io.Writer, st *repositories.Store, walk *Walk) error {
	return streamCSV(w, Columns(), func(row func([]string) error) error {
		rec := make([]string, len(columns))
		return walk.Each(st, func(r *repositories.ExportRow) error {
			if r.ReviewedAt == nil {
				r.ReviewRiskLevel, r.ReviewNotes, r.Recommendation, r.AnalysisAgreement, r.CorrectedMetricsJSON = nil, nil, nil, nil, nil
			}
			for i, c := range columns {
				rec[i] = Neutralise(c.cell(r))
			}
			return row(rec)
		})
	})
}

// streamCSV writes an export to w as its rows come: the byte-order mark,
// header, then each row each passes to row (cells already neutralised),
// RFC 4180 with CRLF line ends, flushed to w every 200 rows so a large
// export streams instead of sitting in a buffer.
func streamCSV(w io.Writer, header []string, each func(row func([]string) error) error) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	if _, err := bw.WriteString(BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return err
	}
	n := 0
	err := each(func(rec []string) error {
		if err := cw.Write(rec); err != nil {
			return err
		}
		if n++; n%200 == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return bw.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
