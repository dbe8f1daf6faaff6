package screenings

import (
	"aura/i18n"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/patients"
	"aura/services/policy"
	"aura/storage"
)

// IdempotencyWindow is how long an Idempotency-Key returns the first upload.
const IdempotencyWindow = 24 * time.Hour

// UploadInput is one upload as the patient sent it.
type UploadInput struct {
	Image          *Spooled
	Eye            string
	ClinicID       string
	Note           *string
	IdempotencyKey string
	// Lang is the upload request's language (vi, en): the screening's
	// notices and report use it only when the account has none.
	Lang string
	// Claimed is true when ClaimUpload took a slot of the patient's upload
	// limit for this request: a replay gives it back.
	Claimed bool
}

// uploadKey names a patient's upload counter in the shared rate_limits table.
func uploadKey(userID string) string { return "upload:" + userID }

// ClaimUpload takes one of the patient's upload slots (Settings.UploadMax
// per UploadWindow) before the body is read, so that a flood is refused
// before it costs a byte of disk or a decode: RATE_LIMITED with the wait
// when none is left. The counter lives in the database (Limits.Claim, one
// conditional upsert), so the limit holds across every instance sharing
// it. Every upload request counts, refused ones too, except a replay of an
// earlier upload (its Idempotency-Key, idemKey, seen in the last 24 hours),
// which takes no slot, so a client retrying after a lost answer gets its
// screening even at the limit. Run it outside a transaction.
func (s *Service) ClaimUpload(st *repositories.Store, a models.Actor, idemKey string) (bool, error) {
	if s.Settings.UploadMax <= 0 || !a.Has(models.RolePatient) {
		return false, nil
	}
	if idemKey != "" && len(idemKey) <= 100 {
		prev, err := st.Screenings.ByIdempotencyKey(a.UserID, idemKey)
		if err == nil && s.Clock.Now().Sub(prev.CreatedAt) < IdempotencyWindow {
			return false, nil
		}
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return false, err
		}
	}
	wait, err := st.Limits.Claim(uploadKey(a.UserID), s.Settings.UploadMax, s.Settings.UploadWindow, s.Clock.Now())
	if err != nil {
		return false, err
	}
	if wait > 0 {
		return false, models.RateLimited(wait)
	}
	return true, nil
}

// Upload stores the patient's image and commits its screening and analysis
// job in one transaction (PATIENT). The image is written to the store first
// and removed again if the transaction fails, so a failed upload leaves
// nothing behind. With an Idempotency-Key seen in the last 24 hours it
// returns that first screening instead (replayed = true); a concurrent twin
// may answer CONFLICT.
func (s *Service) Upload(ctx context.Context, st *repositories.Store, a models.Actor, in UploadInput) (row *repositories.ScreeningRow, replayed bool, err error) {
	if err := policy.Can(a, policy.PermOwnScreenings); err != nil {
		return nil, false, err
	}
	details := map[string]string{}
	if in.Image == nil {
		details["image"] = "is required"
	}
	if in.Eye != "left" && in.Eye != "right" {
		details["eye"] = "must be left or right"
	}
	var note *string
	if in.Note != nil {
		n := strings.TrimSpace(*in.Note)
		if msg := models.CheckText(n, 0, 1000, true); msg != "" {
			details["note"] = msg
		} else if n != "" {
			note = &n
		}
	}
	key := in.IdempotencyKey
	if len(key) > 100 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		details["Idempotency-Key"] = "must be at most 100 printable characters"
	}
	now := s.Clock.Now()
	if key != "" && len(details) == 0 {
		prev, err := st.Screenings.ByIdempotencyKey(a.UserID, key)
		switch {
		case err == nil && now.Sub(prev.CreatedAt) < IdempotencyWindow:
			if in.Claimed {
				// A replay adds no work: its slot goes back (its twin was
				// committed after ClaimUpload looked; an error only keeps
				// the limit stricter until the window ends).
				_ = st.Limits.Release(uploadKey(a.UserID))
			}
			row, err := st.Screenings.Get(prev.ID, repositories.Scope{PatientID: a.UserID})
			return row, true, err
		case err == nil:
			if err := st.Screenings.ForgetIdempotencyKey(prev.ID); err != nil {
				return nil, false, err
			}
		case !errors.Is(err, models.ErrNotFound):
			return nil, false, err
		}
	}
	clinicID, err := s.clinicFor(st, in.ClinicID, details)
	if err != nil {
		return nil, false, err
	}
	if len(details) > 0 {
		return nil, false, models.Invalid(details)
	}
	if err := (&patients.Service{Clock: s.Clock}).Ensure(st, a.UserID); err != nil {
		return nil, false, err
	}
	// The screening speaks the patient's language: the account's, else the
	// upload's, else the default.
	u, err := st.Users.ByID(a.UserID)
	if err != nil {
		return nil, false, err
	}
	in.Lang = i18n.Lang(models.Deref(u.Lang), in.Lang, s.Settings.DefaultLang)

	id := uuid.NewString()
	objKey, err := storage.ScreeningImageKey(id, in.Image.Ext)
	if err != nil {
		return nil, false, err
	}
	rd, err := in.Image.Reader()
	if err != nil {
		return nil, false, err
	}
	if _, err := s.Blobs.Put(ctx, objKey, rd, in.Image.ContentType); err != nil {
		return nil, false, errors.Join(models.ErrUnavailable, err)
	}
	sc := &models.Screening{ID: id, PatientID: a.UserID, ClinicID: clinicID, Status: models.StatusQueued, Eye: in.Eye,
		Note: note, Lang: in.Lang, ImageKey: objKey, ImageType: in.Image.ContentType, ImageBytes: in.Image.Size,
		ImageWidth: in.Image.Width, ImageHeight: in.Image.Height, ImageSHA256: in.Image.SHA256, CreatedAt: now, UpdatedAt: now}
	if key != "" {
		sc.IdempotencyKey, sc.IdemPatientID = &key, &a.UserID
	}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Screenings.Create(sc); err != nil {
			return err
		}
		// A patient who sends a screening to a clinic is its patient.
		if err := tx.Patients.Enrol(&models.ClinicPatient{ClinicID: clinicID, PatientID: sc.PatientID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.Jobs.Enqueue(&models.Job{Kind: models.JobAnalyze, Ref: id, Account: a.UserID, MaxAttempts: s.Settings.MaxAttempts, CreatedAt: now}); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RolePatient, models.AuditUpload, models.EntityScreening, id, now)
	})
	if err != nil {
		// Nothing may stay behind: the object goes with the failed row.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.Blobs.Delete(dctx, objKey)
		if errors.Is(err, models.ErrConflict) {
			return nil, false, models.WithMessage(models.ErrConflict, "An upload with this Idempotency-Key is still being stored")
		}
		return nil, false, err
	}
	row, err = st.Screenings.Get(id, repositories.Scope{PatientID: a.UserID})
	return row, false, err
}

// clinicFor resolves the clinic of an upload: the one named, or the only
// active one when none is named. A clinic that is not active takes no new
// screenings: CLINIC_INACTIVE.
func (s *Service) clinicFor(st *repositories.Store, clinicID string, details map[string]string) (string, error) {
	if clinicID == "" {
		active, err := st.Clinics.Filtered(repositories.ClinicFilter{Status: []string{models.ClinicActive}}, 1, 2)
		if err != nil {
			return "", err
		}
		if active.Total == 1 {
			return active.Items[0].ID, nil
		}
		if active.Total == 0 {
			// The one clinic there is, not active.
			if all, err := st.Clinics.Filtered(repositories.ClinicFilter{}, 1, 2); err != nil {
				return "", err
			} else if all.Total == 1 {
				return "", models.ErrClinicInactive
			}
		}
		details["clinicId"] = "is required: choose one of the clinics"
		return "", nil
	}
	if _, err := uuid.Parse(clinicID); err != nil {
		details["clinicId"] = "must be the id of a clinic"
		return "", nil
	}
	c, err := st.Clinics.ByID(clinicID)
	if errors.Is(err, models.ErrNotFound) {
		details["clinicId"] = "must be the id of a clinic"
		return "", nil
	} else if err != nil {
		return "", err
	}
	if !c.Active() {
		return "", models.ErrClinicInactive
	}
	return clinicID, nil
}
