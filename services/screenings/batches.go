package screenings

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/patients"
	"aura/services/policy"
)

// MaxManifestBytes bounds a batch's manifest (CSV): 2,000 rows take well
// under 1 MiB.
const MaxManifestBytes = 4 << 20

// Limits of one request of a batch's items: rows and bytes
// (intake.max_batch_items, intake.max_request_bytes).
type BatchLimits struct {
	MaxItems int
	MaxBytes int64
}

// Refusals of a whole request of a batch's items.
var (
	ErrBatchClosed   = models.WithMessage(models.ErrInvalidState, "The batch is closed: it takes no more items")
	ErrBatchTooMany  = models.NewError(models.CodePayloadTooLarge, "The request holds more items than intake.max_batch_items allows")
	ErrArchiveTooBig = models.NewError(models.CodePayloadTooLarge, "The archive expands beyond intake.max_request_bytes")
)

// BatchInfo is a batch with its screenings counted by status.
type BatchInfo struct {
	models.Batch
	Counts map[string]int64
}

// BatchFile is one image sent with a batch's items: a file part spooled
// to disk, or an entry of the ZIP archive. Open reads it from its start.
type BatchFile struct {
	Name string
	Open func() (io.ReadCloser, error)
	// TooLarge: over screening.max_image_bytes (known without reading it).
	TooLarge bool
	// Problem refuses the file before it is read (a bad name, sent twice).
	Problem string
}

// BatchInput is one request's items: the manifest and the files, in the
// order they came.
type BatchInput struct {
	Manifest []byte
	Files    []*BatchFile
	Lang     string
}

// BatchAccepted is an item that became a screening.
type BatchAccepted struct {
	File        string
	ScreeningID string
}

// BatchRejected is an item refused, with the error a single upload would
// have answered.
type BatchRejected struct {
	File string
	Err  *models.Error
}

// BatchResult is the verdict on each item of one request.
type BatchResult struct {
	Accepted []BatchAccepted
	Rejected []BatchRejected
}

// batchAccess loads batch id for a caller who may work with batches in its
// clinic: FORBIDDEN for a role that never may, NOT_FOUND for a batch of
// another clinic as for an unknown id.
func (s *Service) batchAccess(st *repositories.Store, a models.Actor, id string) (*models.Batch, error) {
	if err := policy.Can(a, policy.PermBatches); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, models.ErrNotFound
	}
	b, err := st.Batches.ByID(strings.ToLower(id))
	if err != nil {
		return nil, err
	}
	if err := policy.CanIn(st, a, b.ClinicID, policy.PermBatches); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Service) withCounts(st *repositories.Store, bs ...models.Batch) ([]BatchInfo, error) {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	counts, err := st.Batches.Counts(ids)
	if err != nil {
		return nil, err
	}
	out := make([]BatchInfo, len(bs))
	for i, b := range bs {
		out[i] = BatchInfo{Batch: b, Counts: counts[b.ID]}
		if out[i].Counts == nil {
			out[i].Counts = map[string]int64{}
		}
	}
	return out, nil
}

// CreateBatch opens a batch in clinicID (staff of it). A clinic that is
// not active takes none (CLINIC_INACTIVE).
func (s *Service) CreateBatch(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, name *string) (*BatchInfo, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermBatches); err != nil {
		return nil, err
	}
	c, err := st.Clinics.ByID(clinicID)
	if err != nil {
		return nil, err
	}
	var n *string
	if name != nil {
		v := strings.TrimSpace(*name)
		if msg := models.CheckText(v, 0, 200, false); msg != "" {
			return nil, models.Invalid(map[string]string{"name": msg})
		}
		if v != "" {
			n = &v
		}
	}
	if !c.Active() {
		return nil, models.ErrClinicInactive
	}
	b := &models.Batch{ID: uuid.NewString(), ClinicID: clinicID, Name: n, Status: models.BatchOpen, CreatedBy: a.UserID,
		CreatedAt: s.Clock.Now()}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Batches.Create(b); err != nil {
			return err
		}
		return audit.Record(tx, a, batchRole(tx, a, clinicID), models.AuditBatchCreate, models.EntityBatch, b.ID, b.CreatedAt)
	})
	if err != nil {
		return nil, err
	}
	return &BatchInfo{Batch: *b, Counts: map[string]int64{}}, nil
}

// Batch is batch id with its counts.
func (s *Service) Batch(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*BatchInfo, error) {
	b, err := s.batchAccess(st, a, id)
	if err != nil {
		return nil, err
	}
	out, err := s.withCounts(st, *b)
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// Batches is a page of clinicID's batches, newest first.
func (s *Service) Batches(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, page, pageSize int) ([]BatchInfo, int64, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermBatches); err != nil {
		return nil, 0, err
	}
	if _, err := st.Clinics.ByID(clinicID); err != nil {
		return nil, 0, err
	}
	bs, total, err := st.Batches.InClinic(clinicID, page, pageSize)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.withCounts(st, bs...)
	return out, total, err
}

// CloseBatch closes batch id: it takes no more items. Closing a closed
// batch answers it as it is.
func (s *Service) CloseBatch(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*BatchInfo, error) {
	b, err := s.batchAccess(st, a, id)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	err = st.Tx(func(tx *repositories.Store) error {
		closed, err := tx.Batches.Close(b.ID, now)
		if err != nil || !closed {
			return err // closed before: nothing changes, nothing to record
		}
		return audit.Record(tx, a, batchRole(tx, a, b.ClinicID), models.AuditBatchClose, models.EntityBatch, b.ID, now)
	})
	if err != nil {
		return nil, err
	}
	return s.Batch(ctx, st, a, b.ID)
}

// batchRole is the role a's work on a batch of clinicID is audited under.
func batchRole(st *repositories.Store, a models.Actor, clinicID string) string {
	return policy.AuditRoleIn(st, a, clinicID, "", models.RoleAdmin, models.RoleClinicAdmin, models.RoleDoctor, models.RoleTechnician)
}

// BatchItems is a page of the batch's screenings as GET /api/screenings
// lists them (status filter, intake-only for a TECHNICIAN, audited).
func (s *Service) BatchItems(ctx context.Context, st *repositories.Store, a models.Actor, id string, q ListQuery) (repositories.ScreeningPage, error) {
	b, err := s.batchAccess(st, a, id)
	if err != nil {
		return repositories.ScreeningPage{}, err
	}
	q.BatchID, q.ClinicID = b.ID, b.ClinicID
	return s.List(ctx, st, a, q)
}

// OpenBatch is batch id for a request that adds items to it, checked
// before a byte of the body is read: the caller's access, and the batch
// still open (INVALID_STATE when closed).
func (s *Service) OpenBatch(st *repositories.Store, a models.Actor, id string) (*models.Batch, error) {
	b, err := s.batchAccess(st, a, id)
	if err != nil {
		return nil, err
	}
	if b.Status != models.BatchOpen {
		return nil, ErrBatchClosed
	}
	return b, nil
}

// manifestRow is one row of a manifest as typed.
type manifestRow struct {
	file, eye, patientCode, externalID, fullName, dateOfBirth, sex string
	problem                                                        *models.Error
}

var manifestColumns = []string{"file", "eye", "patientCode", "externalId", "fullName", "dateOfBirth", "sex"}

func manifestInvalid(msg string) error {
	return models.Invalid(map[string]string{"manifest": msg})
}

// parseManifest reads a manifest: UTF-8 CSV (a byte-order mark allowed)
// with a header row naming its columns (file required; eye, patientCode,
// externalId, fullName, dateOfBirth, sex; in any order, their case
// ignored). A row's own faults are kept on it (problem); the whole
// manifest is refused only when it cannot be read as one.
func parseManifest(b []byte, maxItems int) ([]manifestRow, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		return nil, manifestInvalid("must be UTF-8 text")
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, manifestInvalid("must be a CSV file with a header row")
	}
	col := map[string]int{}
	for i, h := range header {
		name := ""
		for _, c := range manifestColumns {
			if strings.EqualFold(strings.TrimSpace(h), c) {
				name = c
			}
		}
		if name == "" {
			return nil, manifestInvalid("has a column it does not know: the columns are file, eye, patientCode, externalId, fullName, dateOfBirth, sex")
		}
		if _, dup := col[name]; dup {
			return nil, manifestInvalid("names a column twice")
		}
		col[name] = i
	}
	if _, ok := col["file"]; !ok {
		return nil, manifestInvalid("must have a file column")
	}
	var rows []manifestRow
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, manifestInvalid("is not a readable CSV file")
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rows) >= maxItems {
			return nil, ErrBatchTooMany
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row := manifestRow{file: get("file"), eye: get("eye"), patientCode: get("patientCode"), externalID: get("externalId"),
			fullName: get("fullName"), dateOfBirth: get("dateOfBirth"), sex: get("sex")}
		switch strings.ToLower(row.eye) {
		case "left", "l":
			row.eye = "left"
		case "right", "r":
			row.eye = "right"
		case "":
		default:
			row.problem = models.Invalid(map[string]string{"eye": "must be left, right, L or R"})
		}
		switch {
		case row.file == "":
			row.problem = models.Invalid(map[string]string{"file": "is required"})
		case seen[row.file]:
			row.problem = models.Invalid(map[string]string{"file": "is named twice in the manifest"})
		}
		seen[row.file] = true
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, manifestInvalid("names no file")
	}
	return rows, nil
}

// FileNameProblem says what is wrong with the name of a batch's file ("":
// nothing): a relative path of at most 8 parts separated by "/", none of
// them empty, "." or "..", at most 255 bytes of UTF-8 without control
// characters or backslashes.
func FileNameProblem(name string) string {
	if name == "" || len(name) > 255 || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "must be 1-255 bytes of UTF-8 without control characters or backslashes"
	}
	parts := strings.Split(name, "/")
	if len(parts) > 8 || strings.Contains(parts[0], ":") {
		return "must be a relative path of at most 8 parts"
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return "must be a relative path inside the batch (no empty, . or .. part)"
		}
	}
	return ""
}

// ignoredEntry is an archive entry that is no file of the batch: a
// folder, and what archivers add (__MACOSX/, hidden files such as
// .DS_Store).
func ignoredEntry(name string) bool {
	base := name[strings.LastIndex(name, "/")+1:]
	return strings.HasSuffix(name, "/") || strings.HasPrefix(name, "__MACOSX/") || strings.HasPrefix(base, ".")
}

// maxExpansion is the most an archive's entry (over 1 MiB) may expand
// from its compressed size: photographs hardly compress; a ZIP bomb
// expands a thousandfold.
const maxExpansion = 100

// FromZip reads a batch's ZIP archive, whole request refused before any
// entry is read when its central directory is hostile: a name that is
// absolute, climbs out (..) or is not a plain relative path (400); more
// entries than lim.MaxItems allows, or entries expanding beyond
// lim.MaxBytes in all (413); an entry over 1 MiB expanding more than 100
// times its compressed size (400, a ZIP bomb). manifest.csv at its top is
// the manifest. An entry over maxImage is refused as an item
// (PAYLOAD_TOO_LARGE) without being read; an entry whose data expands
// beyond what its header says fails as it is read (archive/zip checks the
// size and CRC), refused as an item.
func FromZip(zr *zip.Reader, lim BatchLimits, maxImage int64) (*BatchInput, error) {
	in := &BatchInput{}
	var total uint64
	var manifest *zip.File
	seen := map[string]bool{}
	for _, f := range zr.File {
		if p := FileNameProblem(strings.TrimSuffix(f.Name, "/")); p != "" {
			return nil, models.Invalid(map[string]string{"archive": "holds an entry whose name is absolute, climbs out of the archive or is not a plain relative path"})
		}
		if m := f.Mode(); !m.IsRegular() && !m.IsDir() {
			return nil, models.Invalid(map[string]string{"archive": "holds a link or a special file"})
		}
		if ignoredEntry(f.Name) {
			continue
		}
		if f.UncompressedSize64 > 1<<20 && f.UncompressedSize64/maxExpansion > f.CompressedSize64 {
			return nil, models.Invalid(map[string]string{"archive": "holds an entry that expands more than 100 times (a ZIP bomb); refused"})
		}
		total += f.UncompressedSize64
		if total > uint64(lim.MaxBytes) {
			return nil, ErrArchiveTooBig
		}
		if f.Name == "manifest.csv" {
			if manifest != nil {
				return nil, models.Invalid(map[string]string{"archive": "holds manifest.csv twice"})
			}
			manifest = f
			continue
		}
		if len(in.Files) >= lim.MaxItems {
			return nil, ErrBatchTooMany
		}
		bf := &BatchFile{Name: f.Name, Open: f.Open, TooLarge: f.UncompressedSize64 > uint64(maxImage)}
		if seen[f.Name] {
			bf.Problem = "is sent twice"
		}
		seen[f.Name] = true
		in.Files = append(in.Files, bf)
	}
	if manifest == nil {
		return nil, models.Invalid(map[string]string{"archive": "holds no manifest.csv at its top"})
	}
	if manifest.UncompressedSize64 > MaxManifestBytes {
		return nil, manifestInvalid("is larger than 4 MiB")
	}
	rc, err := manifest.Open()
	if err != nil {
		return nil, models.Invalid(map[string]string{"archive": "is not a readable ZIP file"})
	}
	defer rc.Close()
	in.Manifest, err = io.ReadAll(io.LimitReader(rc, MaxManifestBytes+1))
	if err != nil || len(in.Manifest) > MaxManifestBytes {
		return nil, models.Invalid(map[string]string{"archive": "is not a readable ZIP file"})
	}
	return in, nil
}

// rejectedAs is the item's refusal for err: the error a single upload
// would answer; nil when err is not the item's (the request's own failure,
// returned instead).
func rejectedAs(err error) *models.Error {
	var e *models.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, models.ErrUnavailable) {
		return models.ErrUnavailable
	}
	return nil
}

// AddBatchItems judges each row of the manifest on its own, in order, as
// a staff upload of its image for its patient in the batch's clinic (the
// same checks, credit, audit and answer codes as POST /api/screenings):
// the row's image found among the files, checked (Spool), its patient
// found by patientCode or externalId (or enrolled: an unknown externalId
// with a fullName), then stored as a screening of the batch whose analysis
// queues behind single uploads. A file named but not sent, or sent but not
// named, is refused. The request fails as a whole only for what is not an
// item's (the client gone, an internal error); the items stored until
// then stay.
//
// Each item runs on a database session of its own (renew), so a long batch
// is not cut by database.query_timeout.
func (s *Service) AddBatchItems(ctx context.Context, renew func() *repositories.Store, a models.Actor, b *models.Batch, in BatchInput, maxItems int) (*BatchResult, error) {
	rows, err := parseManifest(in.Manifest, maxItems)
	if err != nil {
		return nil, err
	}
	files := map[string]*BatchFile{}
	for _, f := range in.Files {
		if _, dup := files[f.Name]; !dup {
			files[f.Name] = f
		}
	}
	res := &BatchResult{Accepted: []BatchAccepted{}, Rejected: []BatchRejected{}}
	reject := func(name string, e *models.Error) {
		res.Rejected = append(res.Rejected, BatchRejected{File: name, Err: e})
	}
	named := map[string]bool{}
	for _, row := range rows {
		if ctx.Err() != nil {
			return nil, errors.Join(models.ErrUnavailable, ctx.Err())
		}
		named[row.file] = true
		if row.problem != nil {
			reject(row.file, row.problem)
			continue
		}
		f := files[row.file]
		if f == nil {
			reject(row.file, models.Invalid(map[string]string{"file": "is named in the manifest but was not sent"}))
			continue
		}
		id, err := s.batchItem(ctx, renew(), a, b, row, f, in.Lang)
		if err != nil {
			e := rejectedAs(err)
			if e == nil || ctx.Err() != nil {
				return nil, err
			}
			reject(row.file, e)
			continue
		}
		res.Accepted = append(res.Accepted, BatchAccepted{File: row.file, ScreeningID: id})
	}
	for _, f := range in.Files {
		switch {
		case f.Problem != "" && named[f.Name] && files[f.Name] != f:
			reject(f.Name, models.Invalid(map[string]string{"file": f.Problem}))
		case f.Problem != "" && !named[f.Name]:
			reject(f.Name, models.Invalid(map[string]string{"file": f.Problem}))
		case !named[f.Name]:
			reject(f.Name, models.Invalid(map[string]string{"file": "was sent but is not named in the manifest"}))
		}
	}
	if err := renew().Batches.AddRejected(b.ID, len(res.Rejected)); err != nil {
		return nil, err
	}
	return res, nil
}

// batchItem stores one row: its image checked first (a bad image enrols
// no one), then its patient, then the upload.
func (s *Service) batchItem(ctx context.Context, st *repositories.Store, a models.Actor, b *models.Batch, row manifestRow, f *BatchFile, lang string) (string, error) {
	if f.Problem != "" {
		return "", models.Invalid(map[string]string{"file": f.Problem})
	}
	if f.TooLarge {
		return "", models.ErrTooLarge
	}
	rc, err := f.Open()
	if err != nil {
		return "", invalidImage("could not be read whole")
	}
	sp, err := s.Spool(ctx, rc)
	_ = rc.Close()
	if err != nil {
		return "", err
	}
	defer sp.Close()
	in := UploadInput{Image: sp, Eye: row.eye, ClinicID: b.ClinicID, Lang: lang, BatchID: b.ID}
	if in.PatientID, err = s.batchPatient(ctx, st, a, b.ClinicID, row); err != nil {
		return "", err
	}
	up, _, err := s.Upload(ctx, st, a, in)
	if err != nil {
		return "", err
	}
	return up.ID, nil
}

// batchPatient finds the row's patient in the clinic: by patientCode, else
// by externalId, else enrols one with an unknown externalId and the row's
// fullName (dateOfBirth, sex). "" when the row names none (a DICOM file's
// PatientID may).
func (s *Service) batchPatient(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, row manifestRow) (string, error) {
	if row.patientCode != "" {
		id, err := st.Patients.ByCode(clinicID, strings.ToUpper(row.patientCode))
		if errors.Is(err, models.ErrNotFound) {
			return "", models.Invalid(map[string]string{"patientCode": "is no patient of the clinic"})
		}
		return id, err
	}
	if row.externalID == "" {
		return "", nil
	}
	id, err := st.Patients.ByExternalKey(clinicID, models.FoldKey(row.externalID))
	if err == nil || !errors.Is(err, models.ErrNotFound) {
		return id, err
	}
	if row.fullName == "" {
		return "", models.Invalid(map[string]string{"fullName": "is required to enrol a patient whose externalId the clinic does not know"})
	}
	en := patients.Enrolment{FullName: row.fullName, ExternalID: &row.externalID}
	if row.dateOfBirth != "" {
		en.DateOfBirth = models.Opt[string]{Set: true, Value: row.dateOfBirth}
	}
	if row.sex != "" {
		en.Sex = models.Opt[string]{Set: true, Value: strings.ToLower(row.sex)}
	}
	p, err := (&patients.Service{Clock: s.Clock}).Enrol(ctx, st, a, clinicID, en)
	if errors.Is(err, models.ErrConflict) {
		// Enrolled at the same moment by another request.
		return st.Patients.ByExternalKey(clinicID, models.FoldKey(row.externalID))
	}
	if err != nil {
		return "", err
	}
	return p.ID, nil
}
