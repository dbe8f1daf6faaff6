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
	// PatientID is the patient record a clinic's staff upload for (a
	// DOCTOR, CLINIC_ADMIN or TECHNICIAN of ClinicID, or an ADMIN); empty
	// when a patient uploads for themselves.
	PatientID string
	// BatchID is the batch a staff upload is an item of ("" for a single
	// upload): the screening names it and its analysis queues behind
	// single uploads (models.PriorityBatch).
	BatchID string
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
// which takes no slot, and one refused with PAYMENT_REQUIRED, whose slot
// Upload gives back, so a client retrying after a lost answer gets its
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
// job in one transaction: a PATIENT's own (no PatientID), or one a clinic's
// staff send for a patient record enrolled in the clinic (PatientID and
// ClinicID; see staffUpload). The image is written to the store first
// and removed again if the transaction fails, so a failed upload leaves
// nothing behind. With an Idempotency-Key the uploader used in the last 24
// hours it returns that first screening instead (replayed = true); a
// concurrent twin may answer CONFLICT.
func (s *Service) Upload(ctx context.Context, st *repositories.Store, a models.Actor, in UploadInput) (row *repositories.ScreeningRow, replayed bool, err error) {
	details := map[string]string{}
	staff, err := staffUpload(a, &in, details)
	if err != nil {
		return nil, false, err
	}
	if in.Image == nil {
		details["image"] = "is required"
	}
	dicomEye(&in)
	if in.Eye != "left" && in.Eye != "right" {
		details["eye"] = "must be left or right"
		if in.Image != nil && in.Image.DICOM != nil && in.Eye == "" {
			details["eye"] = "must be left or right: the DICOM file's ImageLaterality and Laterality give none"
		}
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
			row, err := s.uploaded(st, a, prev.ID, staff)
			return row, true, err
		case err == nil:
			if err := st.Screenings.ForgetIdempotencyKey(prev.ID); err != nil {
				return nil, false, err
			}
		case !errors.Is(err, models.ErrNotFound):
			return nil, false, err
		}
	}
	var clinicID, patientID, role string
	var account *string
	if staff {
		if err := s.dicomPatient(ctx, st, a, &in, details); err != nil {
			return nil, false, err
		}
		if clinicID, err = s.staffClinic(st, a, in, details); err != nil {
			return nil, false, err
		}
		patientID = strings.ToLower(in.PatientID)
		rec, err := st.Patients.Get(patientID, repositories.Scope{All: true})
		if err != nil {
			return nil, false, err
		}
		account = rec.UserID
		x, err := policy.Load(st, a)
		if err != nil {
			return nil, false, err
		}
		role = x.AuditRole(clinicID, patientID)
	} else {
		if clinicID, err = s.clinicFor(st, in.ClinicID, details); err != nil {
			return nil, false, err
		}
		if len(details) > 0 {
			return nil, false, models.Invalid(details)
		}
		if err := (&patients.Service{Clock: s.Clock}).Ensure(st, a.UserID); err != nil {
			return nil, false, err
		}
		patientID, account, role = a.UserID, &a.UserID, models.RolePatient
	}
	// The screening speaks the patient's language: the account's, else the
	// upload's, else the default.
	var accountLang *string
	if account != nil {
		u, err := st.Users.ByID(*account)
		if err != nil {
			return nil, false, err
		}
		accountLang = u.Lang
	}
	in.Lang = i18n.Lang(models.Deref(accountLang), in.Lang, s.Settings.DefaultLang)
	if prev, err := s.dicomResend(st, in, clinicID, patientID, staff); err != nil || prev != "" {
		if err != nil {
			return nil, false, err
		}
		row, err := s.uploaded(st, a, prev, staff)
		return row, true, err
	}

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
	sc := &models.Screening{ID: id, PatientID: patientID, ClinicID: clinicID, Status: models.StatusQueued, Eye: in.Eye,
		Note: note, Lang: in.Lang, ImageKey: objKey, ImageType: in.Image.ContentType, ImageBytes: in.Image.Size,
		ImageWidth: in.Image.Width, ImageHeight: in.Image.Height, ImageSHA256: in.Image.SHA256, CreatedAt: now, UpdatedAt: now}
	if key != "" {
		sc.IdempotencyKey, sc.IdemPatientID = &key, &a.UserID
	}
	dicomColumns(sc, in.Image.DICOM)
	priority := models.PriorityUpload
	if in.BatchID != "" {
		sc.BatchID, priority = &in.BatchID, models.PriorityBatch
	}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Screenings.Create(sc); err != nil {
			return err
		}
		// With billing on, the upload takes its credit here or is not stored.
		if s.Billing != nil {
			if err := s.Billing.ChargeUpload(tx, staff, clinicID, a.UserID, id); err != nil {
				return err
			}
		}
		// A patient who sends a screening to a clinic is its patient.
		if err := tx.Patients.Enrol(&models.ClinicPatient{ClinicID: clinicID, PatientID: sc.PatientID, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.Jobs.Enqueue(&models.Job{Kind: models.JobAnalyze, Ref: id, Account: a.UserID, Priority: priority, MaxAttempts: s.Settings.MaxAttempts, CreatedAt: now}); err != nil {
			return err
		}
		return audit.Record(tx, a, role, models.AuditUpload, models.EntityScreening, id, now)
	})
	if err != nil {
		// Nothing may stay behind: the object goes with the failed row.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.Blobs.Delete(dctx, objKey)
		if errors.Is(err, models.ErrPaymentRequired) && in.Claimed {
			// Refused for want of credit: nothing was stored, so the
			// attempt does not count toward the upload limit (an error
			// only keeps the limit stricter until the window ends).
			_ = st.Limits.Release(uploadKey(a.UserID))
		}
		if errors.Is(err, models.ErrConflict) && in.Image.DICOM != nil {
			return nil, false, models.WithMessage(models.ErrConflict, "This DICOM object (its SOPInstanceUID) is still being stored, or belongs to another patient's screening")
		}
		if errors.Is(err, models.ErrConflict) {
			return nil, false, models.WithMessage(models.ErrConflict, "An upload with this Idempotency-Key is still being stored")
		}
		return nil, false, err
	}
	row, err = s.uploaded(st, a, id, staff)
	return row, false, err
}

// staffUpload says whether the upload is one a clinic's staff send for a
// patient: PatientID set by a caller whose role may upload in a clinic
// (screenings.upload). A PATIENT naming their own record uploads for
// themselves; naming another without that role is FORBIDDEN. Staff who are
// not patients must name the patient (VALIDATION_FAILED on patientId).
func staffUpload(a models.Actor, in *UploadInput, details map[string]string) (bool, error) {
	own := policy.Can(a, policy.PermOwnScreenings) == nil
	upload := policy.Can(a, policy.PermScreeningsUpload) == nil
	switch {
	case in.PatientID == "" && upload && dicomPatientID(in) != "":
		return true, nil // the patient is the DICOM header's PatientID
	case in.PatientID == "" && own:
		return false, nil
	case in.PatientID == "" && upload:
		details["patientId"] = "is required: the patient the screening is for"
		return true, nil
	case in.PatientID == "":
		return false, models.ErrForbidden
	case upload:
		return true, nil
	case own && strings.EqualFold(in.PatientID, a.UserID):
		in.PatientID = ""
		return false, nil
	}
	return false, models.ErrForbidden
}

// staffClinic checks a staff upload's clinic and patient: clinicId is
// required and must name a clinic (VALIDATION_FAILED); the caller must
// hold a role there that uploads (else NOT_FOUND, as for a clinic they may
// not see; an ADMIN may upload anywhere); patientId must be a record
// enrolled in it (VALIDATION_FAILED). A clinic that is not active takes no
// new screenings (CLINIC_INACTIVE), said once the request is otherwise
// valid.
func (s *Service) staffClinic(st *repositories.Store, a models.Actor, in UploadInput, details map[string]string) (string, error) {
	clinicID := strings.ToLower(in.ClinicID)
	var c *models.Clinic
	if clinicID == "" {
		details["clinicId"] = "is required for an upload for a patient"
	} else if _, err := uuid.Parse(clinicID); err != nil || len(clinicID) != 36 {
		details["clinicId"] = "must be the id of a clinic"
	} else if c, err = st.Clinics.ByID(clinicID); errors.Is(err, models.ErrNotFound) {
		details["clinicId"] = "must be the id of a clinic"
	} else if err != nil {
		return "", err
	}
	if in.PatientID != "" {
		if _, err := uuid.Parse(in.PatientID); err != nil || len(in.PatientID) != 36 {
			details["patientId"] = "must be the id of a patient enrolled in the clinic"
		}
	}
	if c == nil || len(details) > 0 {
		return "", models.Invalid(details)
	}
	if err := policy.CanIn(st, a, clinicID, policy.PermScreeningsUpload); err != nil {
		return "", err
	}
	ok, err := st.Patients.Enrolled(clinicID, strings.ToLower(in.PatientID))
	if err != nil {
		return "", err
	}
	if !ok {
		details["patientId"] = "must be the id of a patient enrolled in the clinic"
		return "", models.Invalid(details)
	}
	if !c.Active() {
		return "", models.ErrClinicInactive
	}
	return clinicID, nil
}

// uploaded reads back the screening just stored (or replayed) as the
// uploader sees it: a patient their own; staff through their visibility,
// without the analysis and review when their role reads no results there
// (a TECHNICIAN follows intake only).
func (s *Service) uploaded(st *repositories.Store, a models.Actor, id string, staff bool) (*repositories.ScreeningRow, error) {
	if !staff {
		return st.Screenings.Get(id, repositories.Scope{PatientID: a.UserID})
	}
	row, err := st.Screenings.Get(id, policy.Scope(a))
	if err != nil {
		return nil, err
	}
	x, err := policy.Load(st, a)
	if err != nil {
		return nil, err
	}
	if !x.Results(row.ClinicID, row.PatientID) {
		intakeOnly(row)
	}
	return row, nil
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
