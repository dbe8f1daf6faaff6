package screenings

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"time"

	"aura/analysis/risk"
	"aura/models"
	"aura/report"
	"aura/repositories"
)

// Report renders the screening's PDF report (who sees the screening; the
// read is audited): NOT_READY before the analysis. A report decodes the
// photograph and the vessel map, so it takes one of the Service's two decode
// slots (shared with uploads' checks) and must be made within ReportTimeout.
func (s *Service) Report(ctx context.Context, st *repositories.Store, a models.Actor, id string) ([]byte, *repositories.ScreeningRow, error) {
	row, err := s.read(st, a, id, models.AuditReportRead)
	if err != nil {
		return nil, nil, err
	}
	if !row.Analysis.Done() {
		return nil, nil, models.ErrNotReady
	}
	clinic, err := st.Clinics.ByID(row.ClinicID)
	if err != nil {
		return nil, nil, err
	}
	profile, err := s.profileOf(st, row)
	if err != nil {
		return nil, nil, err
	}
	if s.Settings.ReportTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Settings.ReportTimeout)
		defer cancel()
	}
	select {
	case s.decodes <- struct{}{}:
		defer func() { <-s.decodes }()
	case <-ctx.Done():
		return nil, nil, errors.Join(models.ErrUnavailable, ctx.Err())
	}
	d := reportData(row, clinic, profile, s.Clock.Now())
	if d.Image, err = s.decodeBlob(ctx, row.ImageKey); err != nil {
		return nil, nil, err
	}
	if row.Analysis.VesselKey != nil {
		if d.VesselMap, err = s.decodeBlob(ctx, *row.Analysis.VesselKey); err != nil {
			return nil, nil, err
		}
	}
	var buf bytes.Buffer
	if err := report.Render(ctx, &buf, d); err != nil {
		if ctx.Err() != nil {
			return nil, nil, errors.Join(models.ErrUnavailable, err)
		}
		return nil, nil, err
	}
	return buf.Bytes(), row, nil
}

// profileOf is the risk profile the result was rated with.
func (s *Service) profileOf(st *repositories.Store, row *repositories.ScreeningRow) (risk.Profile, error) {
	if v := row.Analysis.ProfileVersion; v != nil {
		if p, err := st.Profiles.ByVersion(*v); err == nil {
			return decodeProfile(p)
		} else if !errors.Is(err, models.ErrNotFound) {
			return risk.Profile{}, err
		}
		if *v == risk.DefaultProfile().Version {
			return risk.DefaultProfile(), nil
		}
	}
	return CurrentProfile(st)
}

func (s *Service) decodeBlob(ctx context.Context, key string) (image.Image, error) {
	rc, _, err := s.Blobs.Get(ctx, key)
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	defer rc.Close()
	img, _, err := image.Decode(io.LimitReader(rc, s.Settings.MaxImageBytes+1))
	if err != nil {
		return nil, nil // shown as "not available" rather than failing the report
	}
	return img, nil
}

// reportData fills the report from what the row holds; the analysis is the
// one view the API shows too (ViewOf).
func reportData(row *repositories.ScreeningRow, c *models.Clinic, p risk.Profile, now time.Time) report.Data {
	d := report.Data{Lang: row.Lang, ScreeningID: row.ID, Eye: row.Eye, TakenAt: row.CreatedAt, ImageSHA256: row.ImageSHA256,
		GeneratedAt: now, Clinic: report.Clinic{Name: c.Name}}
	if c.Address != nil {
		d.Clinic.Address = *c.Address
	}
	d.Patient = report.Patient{FullName: orName(row.PatientName, row.PatientEmail), Code: row.PatientCode}
	if row.PatientDOB != nil {
		d.Patient.DateOfBirth = *row.PatientDOB
	}
	if row.PatientSex != nil {
		d.Patient.Sex = *row.PatientSex
	}
	d.Analysis = reportAnalysis(ViewOf(row.Analysis))
	d.Ranges = ranges(p)
	if row.Status == models.StatusReviewed && row.ReviewedAt != nil {
		rv := &report.Review{DoctorName: orName(row.ReviewerName, deref(row.ReviewerEmail)), ReviewedAt: *row.ReviewedAt,
			LicenseNo: deref(row.ReviewerLicense), RiskLevel: deref(row.ReviewRiskLevel), Notes: deref(row.ReviewNotes),
			Recommendation: deref(row.Recommendation)}
		d.Review = rv
	}
	return d
}

// ranges are each metric's reference range under p: the highest "below"
// threshold and the lowest "above" one, with the levels they lead to.
func ranges(p risk.Profile) []report.Range {
	var out []report.Range
	for _, m := range []string{"vesselDensity", "fractalDimension", "tortuosity", "meanVesselWidthPx"} {
		r := report.Range{Metric: m}
		for _, rule := range p.Rules {
			if rule.Metric != m {
				continue
			}
			if rule.Below != nil && (r.Low == nil || *rule.Below > *r.Low) {
				v := *rule.Below
				r.Low, r.BelowLevel = &v, rule.RiskLevel
			}
			if rule.Above != nil && (r.High == nil || *rule.Above < *r.High) {
				v := *rule.Above
				r.High, r.AboveLevel = &v, rule.RiskLevel
			}
		}
		out = append(out, r)
	}
	return out
}

func orName(name *string, email string) string {
	if name != nil && *name != "" {
		return *name
	}
	for i := 0; i < len(email); i++ {
		if email[i] == '@' {
			return email[:i]
		}
	}
	return email
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
