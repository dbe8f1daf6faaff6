package screenings

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"aura/analysis/risk"
	"aura/imaging"
	"aura/models"
	"aura/report"
	"aura/repositories"
	"aura/storage"
	"aura/vocab"
)

// ReportRetryAfter is the Retry-After of a report refused because the
// account already has its renders in flight.
const ReportRetryAfter = 2 * time.Second

// ReportPDF is a screening's report as GET .../report answers it.
type ReportPDF struct {
	Row *repositories.ScreeningRow
	// ETag names the state the report shows (quoted, strong): the same
	// for every GET until the screening, its review, the patient's or
	// doctor's details, the clinic or the language change.
	ETag string
	// NotModified is set, and PDF nil, when the caller's If-None-Match
	// names ETag.
	NotModified bool
	PDF         []byte
}

// Report answers the screening's PDF report (who sees the screening; the
// read is audited): NOT_READY before the analysis. A report is rendered
// once per state of the screening and kept in the store under a key made
// of the screening's id and a fingerprint of everything it shows (the
// language included); later GETs of that state read it back, and a review
// or any other change makes a new fingerprint, so a new report. Concurrent
// requests for one state wait for one render. An account may have
// ReportRendersPerAccount renders in flight at once; beyond, RATE_LIMITED
// with ReportRetryAfter. Decoding the photograph and the vessel map takes
// its share of the decode memory budget for the whole render.
func (s *Service) Report(ctx context.Context, st *repositories.Store, a models.Actor, id, ifNoneMatch string) (*ReportPDF, error) {
	row, err := s.read(st, a, id, models.AuditReportRead, true)
	if err != nil {
		return nil, err
	}
	if !row.Analysis.Done() {
		return nil, models.ErrNotReady
	}
	if row.ImageKey == "" {
		return nil, models.ErrNotFound // erased with its patient's personal data
	}
	clinic, err := st.Clinics.ByID(row.ClinicID)
	if err != nil {
		return nil, err
	}
	profile, err := s.profileOf(st, row)
	if err != nil {
		return nil, err
	}
	d := reportData(row, clinic, profile, s.Clock.Now())
	fp := reportFingerprint(row, d)
	out := &ReportPDF{Row: row, ETag: `"` + fp + `"`}
	if etagMatches(ifNoneMatch, out.ETag) {
		out.NotModified = true
		return out, nil
	}
	key, err := storage.ReportKey(row.ID, fp)
	if err != nil {
		return nil, err
	}
	if out.PDF, err = s.cachedReport(ctx, key); err != nil || out.PDF != nil {
		return out, err
	}
	call, leader, err := s.reports.join(key, a.UserID, s.Settings.ReportRendersPerAccount)
	if err != nil {
		return nil, err
	}
	if leader {
		// The render outlives a caller who goes away: others may wait for
		// it, and it is kept for the next GET.
		go s.renderReport(context.WithoutCancel(ctx), call, key, row, d)
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, errors.Join(models.ErrUnavailable, ctx.Err())
	}
	if call.err != nil {
		return nil, call.err
	}
	out.PDF = call.pdf
	return out, nil
}

// cachedReport is the stored report under key; nil when there is none.
func (s *Service) cachedReport(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := s.Blobs.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	return b, nil
}

// renderReport makes the report of one state, stores it under key, removes
// the screening's reports of earlier states, and ends call.
func (s *Service) renderReport(ctx context.Context, call *renderCall, key string, row *repositories.ScreeningRow, d report.Data) {
	defer s.reports.finish(key, call)
	if s.Settings.ReportTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Settings.ReportTimeout)
		defer cancel()
	}
	pdf, err := s.render(ctx, row, d)
	if err != nil {
		call.err = err
		return
	}
	call.pdf = pdf
	if _, err := s.Blobs.Put(ctx, key, bytes.NewReader(pdf), "application/pdf"); err != nil {
		return // served all the same; the next GET renders again
	}
	if prefix, err := storage.ReportPrefix(row.ID); err == nil {
		keys, _ := s.Blobs.List(ctx, prefix)
		for _, k := range keys {
			if k != key {
				_ = s.Blobs.Delete(ctx, k)
			}
		}
	}
}

// renderOverhead is what a render holds beside the decoded images: the
// shrunk images, their encodings and the PDF (20 MB measured for a 4096²
// photograph, docs/report.md).
const renderOverhead = 32 << 20

// render decodes the images within the decode budget, holding their share
// for the whole render, and makes the PDF.
func (s *Service) render(ctx context.Context, row *repositories.ScreeningRow, d report.Data) ([]byte, error) {
	var preps []*imaging.Prepared
	need := int64(renderOverhead)
	second := row.Analysis.VesselKey // the overlay when there is one, else the vessel map
	if row.Analysis.OverlayKey != nil {
		second = row.Analysis.OverlayKey
	}
	for _, key := range []*string{&row.ImageKey, second} {
		if key == nil {
			preps = append(preps, nil)
			continue
		}
		rc, _, err := s.Blobs.Get(ctx, *key)
		if err != nil {
			return nil, errors.Join(models.ErrUnavailable, err)
		}
		defer rc.Close()
		p, err := imaging.Prepare(io.LimitReader(rc, s.Settings.MaxImageBytes+1))
		if err != nil {
			preps = append(preps, nil) // shown as "not available" rather than failing the report
			continue
		}
		preps = append(preps, p)
		need += p.Header.DecodeBytes()
	}
	release, err := s.decodeBudget.Acquire(ctx, min(need, s.decodeBudget.Total()))
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	defer release()
	for i, p := range preps {
		if p == nil || p.Header.DecodeBytes() > s.decodeBudget.Total() {
			continue
		}
		img, err := p.Decode()
		if err != nil {
			continue
		}
		switch {
		case i == 0:
			d.Image = img
		case row.Analysis.OverlayKey != nil:
			d.Overlay = img
		default:
			d.VesselMap = img
		}
	}
	var buf bytes.Buffer
	if err := report.Render(ctx, &buf, d); err != nil {
		if ctx.Err() != nil {
			return nil, errors.Join(models.ErrUnavailable, err)
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// reportFingerprint names everything a report shows but its own date: the
// data (patient, clinic, analysis, ranges, review, language), the images
// it embeds and the layout (report.LayoutVersion).
func reportFingerprint(row *repositories.ScreeningRow, d report.Data) string {
	d.GeneratedAt = time.Time{}
	b, _ := json.Marshal(struct {
		Format, ImageKey, ImageSHA string
		VesselKey, OverlayKey      *string
		Data                       report.Data
	}{report.LayoutVersion, row.ImageKey, row.ImageSHA256, row.Analysis.VesselKey, row.Analysis.OverlayKey, d})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// etagMatches reports whether an If-None-Match header names etag (or is *).
func etagMatches(header, etag string) bool {
	for _, m := range strings.Split(header, ",") {
		m = strings.TrimPrefix(strings.TrimSpace(m), "W/")
		if m == etag || m == "*" {
			return true
		}
	}
	return false
}

// reportRenders are the renders in flight in this process: one per key
// (later requests for it wait for it) and a count per account.
type reportRenders struct {
	mu         sync.Mutex
	inFlight   map[string]*renderCall
	perAccount map[string]int
}

type renderCall struct {
	account string
	done    chan struct{}
	pdf     []byte
	err     error
}

// join returns the render of key in flight, or starts one (leader) for
// account unless it already has limit renders in flight (RATE_LIMITED).
func (r *reportRenders) join(key, account string, limit int) (c *renderCall, leader bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.inFlight[key]; ok {
		return c, false, nil
	}
	if r.perAccount[account] >= limit {
		return nil, false, models.WithMessage(models.RateLimited(ReportRetryAfter),
			fmt.Sprintf("At most %d reports are made at once for one account; try again shortly", limit))
	}
	if r.inFlight == nil {
		r.inFlight = map[string]*renderCall{}
	}
	r.perAccount[account]++
	c = &renderCall{account: account, done: make(chan struct{})}
	r.inFlight[key] = c
	return c, true, nil
}

// RendersInFlight is the number of reports being rendered in this process.
func (s *Service) RendersInFlight() int {
	s.reports.mu.Lock()
	defer s.reports.mu.Unlock()
	return len(s.reports.inFlight)
}

func (r *reportRenders) finish(key string, c *renderCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inFlight, key)
	if r.perAccount[c.account]--; r.perAccount[c.account] <= 0 {
		delete(r.perAccount, c.account)
	}
	close(c.done)
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
	d.Analysis = reportAnalysis(ViewIn(row.Analysis, row.Lang))
	d.Ranges = ranges(p)
	if row.Status == models.StatusReviewed && row.ReviewedAt != nil {
		rv := &report.Review{DoctorName: orName(row.ReviewerName, deref(row.ReviewerEmail)), ReviewedAt: *row.ReviewedAt,
			LicenseNo: deref(row.ReviewerLicense), RiskLevel: deref(row.ReviewRiskLevel), Notes: deref(row.ReviewNotes),
			Recommendation: deref(row.Recommendation), Agreement: deref(row.AnalysisAgreement),
			CorrectedMetrics: CorrectedMetrics(row.CorrectedMetricsJSON)}
		d.Review = rv
	}
	return d
}

// ranges are each metric's reference range under p: the highest "below"
// threshold and the lowest "above" one, with the levels they lead to.
func ranges(p risk.Profile) []report.Range {
	var out []report.Range
	for _, m := range vocab.MetricNames() {
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
