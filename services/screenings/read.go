package screenings

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
	"aura/storage"
)

// read returns the screening if the actor may see it, recording the access
// (action) unless the patient reads their own: a read that cannot be
// recorded fails. results says the read is of the analysis's or review's
// products (maps, overlay, report): a caller who sees the screening for
// intake only (a TECHNICIAN of its clinic) gets FORBIDDEN, unrecorded.
// Otherwise a caller who may not read the results gets the screening
// without them (intakeOnly).
func (s *Service) read(st *repositories.Store, a models.Actor, id, action string, results bool) (*repositories.ScreeningRow, error) {
	return Load(st, a, id, ReadOptions{Action: action, Results: results, Now: s.Clock.Now()})
}

// ReadOptions say how Load reads a screening.
type ReadOptions struct {
	// Action is the audit action the read is recorded under.
	Action string
	// Results: the caller must be allowed to read the results (else
	// FORBIDDEN); without it a caller who may see only the intake gets the
	// row without its analysis and review.
	Results bool
	// Check, when set, runs on the row in the read's transaction before the
	// read is recorded; its error ends the read (nothing recorded).
	Check func(*repositories.ScreeningRow) error
	// AuditOwn records a patient's read of their own screening too, under
	// PATIENT (an export leaves AURA); plain reads of one's own are not.
	AuditOwn bool
	// Now is when the read is recorded.
	Now time.Time
}

// Load is the one loader of a screening for a caller: NOT_FOUND for an id
// that is not a UUID or a screening outside the caller's scope, the
// visibility decided by the permission table (services/policy) in one
// transaction with the read, and the read recorded in the audit trail
// under the role the caller holds in the screening's clinic. The reads of
// this service and the exports both load through it.
func Load(st *repositories.Store, a models.Actor, id string, o ReadOptions) (*repositories.ScreeningRow, error) {
	if o.Results && policy.Can(a, policy.PermScreeningsResults) != nil && policy.Can(a, policy.PermOwnScreenings) != nil {
		return nil, models.ErrForbidden
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, models.ErrNotFound
	}
	var row *repositories.ScreeningRow
	err := st.Tx(func(tx *repositories.Store) error {
		var err error
		if row, err = tx.Screenings.Get(id, policy.Scope(a)); err != nil {
			return err
		}
		x, err := policy.Load(tx, a)
		if err != nil {
			return err
		}
		if !x.Results(row.ClinicID, row.PatientID) {
			if o.Results {
				return models.ErrForbidden
			}
			intakeOnly(row)
		}
		if o.Check != nil {
			if err := o.Check(row); err != nil {
				return err
			}
		}
		role := x.AuditRole(row.ClinicID, row.PatientID)
		if role == "" && o.AuditOwn {
			role = models.RolePatient
		}
		if role != "" {
			return audit.Record(tx, a, role, o.Action, models.EntityScreening, id, o.Now)
		}
		return nil
	})
	return row, err
}

// intakeOnly takes from row what intake does not show: the analysis and
// the review (the claim included). Status, eye, image, timestamps, the
// failure and the patient's identity stay.
func intakeOnly(row *repositories.ScreeningRow) {
	row.Analysis = models.Analysis{}
	row.ReviewerID, row.ClaimedAt, row.ReviewRiskLevel, row.ReviewNotes, row.Recommendation, row.ReviewedAt = nil, nil, nil, nil, nil, nil
	row.AnalysisAgreement, row.CorrectedMetricsJSON = nil, nil
	row.ReviewerName, row.ReviewerEmail, row.ReviewerLicense = nil, nil, nil
}

// Get is one screening as the caller may see it.
func (s *Service) Get(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*repositories.ScreeningRow, error) {
	return s.read(st, a, id, models.AuditScreeningRead, false)
}

// Blob is a stored file being served.
type Blob struct {
	Body        io.ReadCloser
	Size        int64
	ContentType string
	SHA256      string
}

// Image is the photograph as uploaded.
func (s *Service) Image(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*Blob, error) {
	row, err := s.read(st, a, id, models.AuditImageRead, false)
	if err != nil {
		return nil, err
	}
	if row.ImageKey == "" {
		return nil, models.ErrNotFound // erased with its patient's personal data
	}
	return s.open(ctx, row.ImageKey, row.ImageType, row.ImageSHA256)
}

// VesselMap is the analysis's vessel map (PNG): NOT_READY before the
// analysis (as the report), NOT_FOUND when the analysis made none.
// kind is "binary" (the default, also for "") or "av" (the artery/vein
// map); any other kind is VALIDATION_FAILED, checked before anything is
// read or recorded.
func (s *Service) VesselMap(ctx context.Context, st *repositories.Store, a models.Actor, id, kind string) (*Blob, error) {
	if kind != "" && kind != MapBinary && kind != MapAV {
		return nil, models.Invalid(map[string]string{"kind": "must be one of " + MapBinary + ", " + MapAV})
	}
	row, err := s.read(st, a, id, models.AuditVesselsRead, true)
	if err != nil {
		return nil, err
	}
	if !row.Analysis.Done() {
		return nil, models.ErrNotReady
	}
	key := row.Analysis.VesselKey
	if kind == MapAV {
		key = row.Analysis.AVKey
	}
	if key == nil {
		return nil, models.ErrNotFound
	}
	return s.open(ctx, *key, "image/png", "")
}

// Kinds of vessel map.
const (
	MapBinary = "binary"
	MapAV     = "av"
)

// Overlay is the photograph with the vessel types and the optic disc drawn
// on it (JPEG): NOT_READY before the analysis, NOT_FOUND when the analysis
// made none (another analyzer, or one recorded before vessels-2.1).
func (s *Service) Overlay(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*Blob, error) {
	row, err := s.read(st, a, id, models.AuditOverlayRead, true)
	if err != nil {
		return nil, err
	}
	if !row.Analysis.Done() {
		return nil, models.ErrNotReady
	}
	if row.Analysis.OverlayKey == nil {
		return nil, models.ErrNotFound
	}
	return s.open(ctx, *row.Analysis.OverlayKey, "image/jpeg", "")
}

// open opens a stored object for a download: every chunk of an encrypted
// one is authenticated before the caller answers (storage.GetVerified), so
// an object altered anywhere is 503, never a 200 with a cut body.
func (s *Service) open(ctx context.Context, key, contentType, sum string) (*Blob, error) {
	rc, attrs, err := s.Blobs.GetVerified(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errors.Join(models.ErrUnavailable, err) // the row says it exists: the store is at fault
	}
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	return &Blob{Body: rc, Size: attrs.Size, ContentType: contentType, SHA256: sum}, nil
}

// ListQuery is a listing as typed in the query string.
type ListQuery struct {
	Status, Eye, RiskLevel, ClinicID, PatientID, From, To string
	Page, PageSize                                        int
	// BatchID keeps a batch's items only (set by BatchItems, not read
	// from the query string).
	BatchID string
}

// List is a page of the screenings the caller may see, newest first. Reads
// of others' screenings are recorded, one row per screening listed.
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor, q ListQuery) (repositories.ScreeningPage, error) {
	details := map[string]string{}
	f := repositories.ScreeningFilter{Eye: q.Eye}
	var fault string
	if f.Statuses, fault = models.OneOfEach(q.Status, models.Statuses); fault != "" {
		details["status"] = fault
	}
	if f.RiskLevels, fault = models.OneOfEach(q.RiskLevel, models.RiskLevels); fault != "" {
		details["riskLevel"] = fault
	}
	if q.Eye != "" && q.Eye != "left" && q.Eye != "right" {
		details["eye"] = "must be left or right"
	}
	for name, v := range map[string]*string{"clinicId": &q.ClinicID, "patientId": &q.PatientID} {
		if *v == "" {
			continue
		}
		if _, err := uuid.Parse(*v); err != nil {
			details[name] = "must be an id"
		}
	}
	f.ClinicID, f.PatientID, f.BatchID = q.ClinicID, q.PatientID, q.BatchID
	var err error
	if f.From, err = day(q.From, false); err != nil {
		details["from"] = err.Error()
	}
	if f.To, err = day(q.To, true); err != nil {
		details["to"] = err.Error()
	}
	if len(details) > 0 {
		return repositories.ScreeningPage{}, models.Invalid(details)
	}
	var p repositories.ScreeningPage
	err = st.Tx(func(tx *repositories.Store) error {
		var err error
		// A filter on results looks only where the caller reads them.
		scope := policy.Scope(a)
		if len(f.RiskLevels) > 0 {
			scope = policy.ResultsScope(a)
		}
		if p, err = tx.Screenings.List(f, scope, q.Page, q.PageSize); err != nil {
			return err
		}
		x, err := policy.Load(tx, a)
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		for i := range p.Items {
			row := &p.Items[i]
			if !x.Results(row.ClinicID, row.PatientID) {
				intakeOnly(row)
			}
			if role := x.AuditRole(row.ClinicID, row.PatientID); role != "" {
				if err := audit.Record(tx, a, role, models.AuditScreeningList, models.EntityScreening, row.ID, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return p, err
}

// day parses a YYYY-MM-DD date; end gives the next day's start, so the day
// is included.
func day(s string, end bool) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, errors.New("must be a date written YYYY-MM-DD")
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return &d, nil
}
