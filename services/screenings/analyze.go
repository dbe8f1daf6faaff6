package screenings

import (
	"aura/i18n"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"slices"
	"time"

	"aura/analysis"
	"aura/analysis/risk"
	"aura/fault"
	"aura/models"
	"aura/queue"
	"aura/repositories"
	"aura/services/alerts"
	"aura/services/audit"
	"aura/services/billing"
	"aura/services/notifications"
	"aura/storage"
)

// Failure codes of a screening whose analysis could not run.
const (
	FailureImageUnreadable = "IMAGE_UNREADABLE"
	FailureAnalysis        = "ANALYSIS_FAILED"
)

// Worker runs analysis jobs: it is the queue's handler and give-up hook,
// with st building repositories on a context (the worker's own, not a
// request's).
type Worker struct {
	S  *Service
	St func(ctx context.Context) *repositories.Store
}

// Handle analyses the screening of a claimed job: it marks the screening
// processing, reads the image, runs the analyzer on it (the analyzer decodes
// it if it needs the pixels), stores the
// vessel map, rates the result with the risk profile in force, and in one
// transaction records the result, moves the screening to awaiting_review,
// tells the patient and the clinic's doctors, and finishes the job.
func (w *Worker) Handle(ctx context.Context, t queue.Task) error {
	s, id := w.S, t.Job.Ref
	st := w.St(ctx)
	row, err := st.Screenings.Get(id, repositories.Scope{All: true})
	if errors.Is(err, models.ErrNotFound) {
		return fault.Permanent(fmt.Errorf("screening %s is gone", id))
	}
	if err != nil {
		return fault.Outage("database", err)
	}
	if row.Status != models.StatusQueued && row.Status != models.StatusProcessing {
		return nil // done already (a retried job whose result was recorded)
	}
	if _, err := st.Screenings.SetStatus(id, []string{models.StatusQueued}, models.StatusProcessing, s.Clock.Now()); err != nil {
		return fault.Outage("database", err)
	}
	start := time.Now()
	im, err := s.load(ctx, row)
	if err != nil {
		return err
	}
	actx := ctx
	if s.Settings.AnalysisTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, s.Settings.AnalysisTimeout)
		defer cancel()
	}
	res, err := s.Analyzer.Analyze(actx, im)
	im = analysis.Image{} // let the file go before the map is encoded
	if err != nil {
		// A fault.Permanent (the analyzer refused the image) stays one.
		return fmt.Errorf("analyzer %s: %w", s.Analyzer.Name(), err)
	}
	var vesselKey *string
	if res.VesselMap != nil {
		k, err := storage.VesselMapKey(id)
		if err != nil {
			return fault.Permanent(err)
		}
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, res.VesselMap); err != nil {
			return err
		}
		if _, err := s.Blobs.Put(ctx, k, &buf, "image/png"); err != nil {
			return fault.Outage("storage", err)
		}
		vesselKey = &k
	}
	keys := extraKeys{vessels: vesselKey}
	if res.AVMap != nil {
		if keys.av, err = s.putImage(ctx, id, storage.AVMapKey, res.AVMap, "image/png"); err != nil {
			return err
		}
	}
	if res.Overlay != nil {
		if keys.overlay, err = s.putImage(ctx, id, storage.OverlayKey, res.Overlay, "image/jpeg"); err != nil {
			return err
		}
	}
	duration := time.Since(start)
	s.avg.observe(duration)
	return fault.Outage("database", st.Tx(func(tx *repositories.Store) error {
		profile, err := CurrentProfile(tx)
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		ev, err := s.rate(tx, row, profile, res)
		if err != nil {
			return err
		}
		ok, err := tx.Screenings.SaveAnalysis(id, stored(res, ev, keys, duration, now), t.Job.Attempts)
		if err != nil || !ok {
			return err
		}
		if s.Alerts != nil {
			if _, err := s.Alerts.Open(tx, alerts.Subject{ScreeningID: id, ClinicID: row.ClinicID, ClinicName: row.ClinicName,
				PatientID: row.PatientID, PatientCode: row.PatientCode, Level: ev.RiskLevel, Findings: ev.Findings}); err != nil {
				return err
			}
		}
		var notices []*models.Notification
		if row.PatientUserID != nil {
			notices = append(notices, notifications.New(models.NoticeAnalyzed, *row.PatientUserID, id, row.ClinicName, row.Lang, s.Clock))
		}
		doctors, err := s.caseFor(tx, row, now)
		if err != nil {
			return err
		}
		for _, d := range doctors {
			notices = append(notices, notifications.New(models.NoticeWaiting, d.UserID, id, row.ClinicName, i18n.Lang(models.Deref(d.Lang), s.Settings.DefaultLang), s.Clock))
		}
		if err := tx.Notifications.Add(notices...); err != nil {
			return err
		}
		if err := audit.Record(tx, models.Actor{}, "", models.AuditAnalyzed, models.EntityScreening, id, now); err != nil {
			return err
		}
		_, err = tx.Jobs.Finish(t.Job.ID, t.Owner, now)
		return err
	}))
}

// putImage encodes img (PNG or JPEG, by contentType) and stores it under
// the key that key makes of the screening's id.
func (s *Service) putImage(ctx context.Context, id string, key func(string) (string, error), img image.Image, contentType string) (*string, error) {
	k, err := key(id)
	if err != nil {
		return nil, fault.Permanent(err)
	}
	var buf bytes.Buffer
	if contentType == "image/jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.Blobs.Put(ctx, k, &buf, contentType); err != nil {
		return nil, fault.Outage("storage", err)
	}
	return &k, nil
}

// load reads the stored image and what the upload recorded of it. A store
// that cannot be read is an outage, waited out (a file that does not decode
// is the analyzer's to find: analysis.ErrUnreadable, permanent).
func (s *Service) load(ctx context.Context, row *repositories.ScreeningRow) (analysis.Image, error) {
	rc, _, err := s.Blobs.Get(ctx, row.ImageKey)
	if err != nil {
		return analysis.Image{}, fault.Outage("storage", err)
	}
	defer rc.Close()
	src, err := io.ReadAll(io.LimitReader(rc, row.ImageBytes+1))
	if err != nil {
		return analysis.Image{}, fault.Outage("storage", err)
	}
	return analysis.Image{Bytes: src, ContentType: row.ImageType, Width: row.ImageWidth, Height: row.ImageHeight}, nil
}

// GiveUp records a job given up: the screening is failed with the reason,
// the patient is told (and may upload again), in one transaction with the
// job's end.
func (w *Worker) GiveUp(ctx context.Context, t queue.Task, cause error) error {
	s, id := w.S, t.Job.Ref
	code := FailureAnalysis
	msg := "The image could not be analysed after several attempts"
	switch {
	case errors.Is(cause, analysis.ErrUnreadable):
		code, msg = FailureImageUnreadable, "The stored image could not be read"
	case errors.Is(cause, queue.ErrOutageBudget):
		msg = "The image could not be analysed: a service it needs stayed unavailable"
	case fault.IsPermanent(cause):
		msg = "The analyzer could not analyse this image"
	}
	return w.St(ctx).Tx(func(tx *repositories.Store) error {
		now := s.Clock.Now()
		row, err := tx.Screenings.Get(id, repositories.Scope{All: true})
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
		if err == nil {
			ok, err := tx.Screenings.Fail(id, code, msg, t.Job.Attempts, now)
			if err != nil {
				return err
			}
			if ok {
				if row.PatientUserID != nil {
					if err := tx.Notifications.Add(notifications.New(models.NoticeFailed, *row.PatientUserID, id, row.ClinicName, row.Lang, s.Clock)); err != nil {
						return err
					}
				}
				if err := audit.Record(tx, models.Actor{}, "", models.AuditAnalysisFailed, models.EntityScreening, id, now); err != nil {
					return err
				}
				// A screening that failed for good gives its credit back.
				if err := billing.RefundScreening(tx, id, s.Clock); err != nil {
					return err
				}
			}
		}
		_, err = tx.Jobs.GiveUp(t.Job.ID, t.Owner, now, cause.Error())
		return err
	})
}

// orDefault is *lang, or def when it is unset.

// rate rates a new result by the profile in force: its rules, and for a
// gradable image its trend thresholds against the patient's first gradable
// result of the same eye (any clinic's: the record is the patient's), each
// metric past its threshold adding a TREND_CHANGE finding (severity high;
// the risk level stays the rules'). Read in tx, the transaction that
// records the result.
func (s *Service) rate(tx *repositories.Store, row *repositories.ScreeningRow, profile risk.Profile, res *analysis.Result) (risk.Evaluation, error) {
	ev := profile.EvaluateResult(res)
	if ev.RiskLevel == nil || res == nil || res.Metrics == nil || len(profile.Trends) == 0 {
		return ev, nil
	}
	earlier, err := tx.Screenings.Gradable(row.PatientID, row.Eye, repositories.Scope{All: true}, row.ID)
	if err != nil || len(earlier) == 0 {
		return ev, err
	}
	base := ViewOf(earlier[0].Analysis)
	if base == nil || base.Metrics == nil {
		return ev, nil
	}
	if found := risk.TrendFindings(profile.Trends, base.Metrics, res.Metrics); len(found) > 0 {
		ev.Findings = append(ev.Findings, found...)
		slices.SortStableFunc(ev.Findings, func(a, b risk.Finding) int {
			return cmp.Compare(risk.Rank(b.Severity), risk.Rank(a.Severity))
		})
	}
	return ev, nil
}
