package screenings

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"

	"aura/imaging"
	"aura/models"
	"aura/repositories"
	"aura/services/patients"
	"aura/services/policy"
)

// ErrDICOMUnsupported: a DICOM object of another SOP class, or with a
// transfer syntax or pixels AURA cannot decode (415).
var ErrDICOMUnsupported = models.NewError(models.CodeUnsupportedMedia,
	"The DICOM object must be Ophthalmic Photography 8-bit or Secondary Capture, uncompressed (RGB, MONOCHROME2) or JPEG baseline")

// fromDICOM turns a spooled DICOM Part 10 file into the photograph it
// holds: its header is read (imaging.ParseDICOM guards against hostile
// files), the first frame is written to a new temporary file (a JPEG
// baseline stream as it is, uncompressed pixels as a PNG) which replaces
// the DICOM file, and the header's fields are kept in sp.DICOM. The file
// is read into memory whole; it is at most screening.max_image_bytes.
func (s *Service) fromDICOM(ctx context.Context, sp *Spooled) error {
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	// The file's bytes are held from here on: they count against the
	// decode budget, and once the header says what the photograph needs,
	// the file and the photograph together (one acquisition at a time, so
	// that two uploads never wait on each other).
	held := min(sp.Size, s.decodeBudget.Total())
	release, err := s.decodeBudget.Acquire(ctx, held)
	if err != nil {
		return errors.Join(models.ErrUnavailable, err)
	}
	defer func() { release() }()
	b := make([]byte, sp.Size)
	if _, err := io.ReadFull(sp.f, b); err != nil {
		return invalidImage("could not be read whole")
	}
	df, err := imaging.ParseDICOM(ctx, b, MaxPixels)
	var tooLarge *imaging.TooLargeError
	switch {
	case err == nil:
	case errors.Is(err, imaging.ErrDICOMUnsupported):
		return ErrDICOMUnsupported
	case errors.As(err, &tooLarge):
		return invalidImage("must be at most 40 megapixels")
	case ctx.Err() != nil:
		return errors.Join(models.ErrUnavailable, ctx.Err())
	default:
		return invalidImage(fmt.Sprintf("is not a readable DICOM file (%v)", err))
	}
	if need := df.ImageBytes(); need > 0 {
		if need+sp.Size > s.decodeBudget.Total() {
			return invalidImage(fmt.Sprintf("would need %d MiB of memory to decode, more than screening.decode_memory allows (%d MiB)",
				(need+1<<20-1)>>20, s.decodeBudget.Total()>>20))
		}
		// The decoded photograph is held while it is written as a PNG.
		release()
		if release, err = s.decodeBudget.Acquire(ctx, held+need); err != nil {
			release = func() {}
			return errors.Join(models.ErrUnavailable, err)
		}
	}
	out, err := os.CreateTemp(s.Settings.TempDir, "aura-upload-*")
	if err != nil {
		return err
	}
	h := sha256.New()
	cw := &countWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(out, h, cw), 64<<10)
	err = df.WriteImage(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = out.Close()
		_ = os.Remove(out.Name())
		return err
	}
	_ = sp.f.Close()
	_ = os.Remove(sp.f.Name())
	info := df.Info
	sp.f, sp.Size, sp.SHA256, sp.DICOM = out, cw.n, hex.EncodeToString(h.Sum(nil)), &info
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// dicomEye takes the eye of a DICOM upload sent without one from its
// laterality.
func dicomEye(in *UploadInput) {
	if in.Eye == "" && in.Image != nil && in.Image.DICOM != nil {
		in.Eye = in.Image.DICOM.Eye()
	}
}

// dicomPatientID is the PatientID of a DICOM upload's header ("" when none).
func dicomPatientID(in *UploadInput) string {
	if in.Image == nil || in.Image.DICOM == nil {
		return ""
	}
	return strings.TrimSpace(in.Image.DICOM.PatientID)
}

// dicomPatient finds the patient of a staff DICOM upload sent without a
// patientId: the clinic's patient whose externalId is the header's
// PatientID, else a new patient enrolled in the clinic with that
// externalId and the header's PatientName, PatientBirthDate and
// PatientSex (the caller must be allowed to enrol patients there). A
// header without a PatientName for an unknown PatientID is
// VALIDATION_FAILED on patientId.
func (s *Service) dicomPatient(ctx context.Context, st *repositories.Store, a models.Actor, in *UploadInput, details map[string]string) error {
	ext := dicomPatientID(in)
	if in.PatientID != "" || ext == "" || len(details) > 0 {
		return nil
	}
	clinicID := strings.ToLower(in.ClinicID)
	if _, err := uuid.Parse(clinicID); err != nil || len(clinicID) != 36 {
		details["clinicId"] = "is required for an upload for a patient"
		if clinicID != "" {
			details["clinicId"] = "must be the id of a clinic"
		}
		return models.Invalid(details)
	}
	if _, err := st.Clinics.ByID(clinicID); errors.Is(err, models.ErrNotFound) {
		details["clinicId"] = "must be the id of a clinic"
		return models.Invalid(details)
	} else if err != nil {
		return err
	}
	if err := policy.CanIn(st, a, clinicID, policy.PermScreeningsUpload); err != nil {
		return err
	}
	id, err := st.Patients.ByExternalKey(clinicID, models.FoldKey(ext))
	if err == nil {
		in.PatientID = id
		return nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	d := in.Image.DICOM
	if d.PatientName == "" {
		details["patientId"] = "is required: the DICOM file's PatientID is no patient of the clinic, and it has no PatientName to enrol one"
		return models.Invalid(details)
	}
	en := patients.Enrolment{FullName: d.PatientName, ExternalID: &ext}
	if d.PatientBirthDate != "" {
		en.DateOfBirth = models.Opt[string]{Set: true, Value: d.PatientBirthDate}
	}
	if sex := map[string]string{"M": "male", "F": "female", "O": "other"}[d.PatientSex]; sex != "" {
		en.Sex = models.Opt[string]{Set: true, Value: sex}
	}
	p, err := (&patients.Service{Clock: s.Clock}).Enrol(ctx, st, a, clinicID, en)
	var inv *models.Error
	if errors.As(err, &inv) && inv.Code == models.CodeValidation {
		// The header's own fields are wrong (a birth date in the future):
		// say so on the image.
		for k, v := range inv.Details {
			details["image"] = "DICOM header: " + k + " " + v
		}
		return models.Invalid(details)
	}
	if errors.Is(err, models.ErrConflict) {
		// Enrolled by a concurrent upload of the same patient.
		if id, err2 := st.Patients.ByExternalKey(clinicID, models.FoldKey(ext)); err2 == nil {
			in.PatientID = id
			return nil
		}
	}
	if err != nil {
		return err
	}
	in.PatientID = p.ID
	return nil
}

// dicomResend returns the screening already made in clinicID from the
// same DICOM object (SOPInstanceUID), or "" when there is none. A patient
// uploading for themselves finds only their own; another patient's is
// CONFLICT.
func (s *Service) dicomResend(st *repositories.Store, in UploadInput, clinicID, patientID string, staff bool) (string, error) {
	if in.Image == nil || in.Image.DICOM == nil {
		return "", nil
	}
	prev, err := st.Screenings.ByDICOMInstance(clinicID, in.Image.DICOM.SOPInstanceUID)
	if errors.Is(err, models.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !staff && prev.PatientID != patientID {
		return "", models.WithMessage(models.ErrConflict, "This DICOM object (its SOPInstanceUID) was already sent for another patient")
	}
	return prev.ID, nil
}

// dicomColumns records a DICOM upload's identifiers on its screening.
func dicomColumns(sc *models.Screening, d *imaging.DICOMInfo) {
	if d == nil {
		return
	}
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	clinic := sc.ClinicID
	sc.DicomSOPInstanceUID, sc.DicomClinicID = opt(d.SOPInstanceUID), &clinic
	sc.DicomStudyUID, sc.DicomSeriesUID = opt(trunc(d.StudyInstanceUID, 64)), opt(trunc(d.SeriesInstanceUID, 64))
	sc.DicomModality, sc.DicomAcquiredAt = opt(trunc(d.Modality, 16)), d.AcquiredAt
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
