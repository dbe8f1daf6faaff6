package handlers

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"aura/i18n"
	"aura/models"
	"aura/repositories"
	"aura/services/screenings"
)

// BatchCounts are a batch's screenings by status.
type BatchCounts struct {
	Queued         int64 `json:"queued"`
	Processing     int64 `json:"processing"`
	AwaitingReview int64 `json:"awaitingReview"`
	InReview       int64 `json:"inReview"`
	Reviewed       int64 `json:"reviewed"`
	Failed         int64 `json:"failed"`
}

// BatchView is the Batch object of the contract.
type BatchView struct {
	ID        string      `json:"id"`
	ClinicID  string      `json:"clinicId"`
	Name      *string     `json:"name"`
	Status    string      `json:"status"`
	Counts    BatchCounts `json:"counts"`
	Rejected  int         `json:"rejected"`
	CreatedAt Timestamp   `json:"createdAt"`
}

func batchView(b *screenings.BatchInfo) BatchView {
	n := b.Counts
	return BatchView{ID: b.ID, ClinicID: b.ClinicID, Name: b.Name, Status: b.Status, Rejected: b.Rejected, CreatedAt: ts(b.CreatedAt),
		Counts: BatchCounts{Queued: n[models.StatusQueued], Processing: n[models.StatusProcessing],
			AwaitingReview: n[models.StatusAwaitingReview], InReview: n[models.StatusInReview],
			Reviewed: n[models.StatusReviewed], Failed: n[models.StatusFailed]}}
}

type batchRequest struct {
	Name *string `json:"name"`
}

// CreateBatch is POST /api/clinics/{id}/batches {"name"?}: 201 Batch.
func (d *Deps) CreateBatch(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req batchRequest
	if err := Bind(c, &req, true); err != nil {
		return err
	}
	b, err := d.Screenings.CreateBatch(c.Request.Context(), store(c), actor(c), strings.ToLower(id), req.Name)
	if err != nil {
		return err
	}
	c.Header("Location", "/api/batches/"+b.ID)
	OK(c, http.StatusCreated, batchView(b), "")
	return nil
}

// GetBatch is GET /api/batches/{id}.
func (d *Deps) GetBatch(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	b, err := d.Screenings.Batch(c.Request.Context(), store(c), actor(c), id)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, batchView(b), "")
	return nil
}

// CloseBatch is POST /api/batches/{id}/close: 200 Batch, closed.
func (d *Deps) CloseBatch(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	b, err := d.Screenings.CloseBatch(c.Request.Context(), store(c), actor(c), id)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, batchView(b), "Batch closed")
	return nil
}

// ListBatches is GET /api/clinics/{id}/batches?page&pageSize.
func (d *Deps) ListBatches(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	bs, total, err := d.Screenings.Batches(c.Request.Context(), store(c), actor(c), strings.ToLower(id), page, size)
	if err != nil {
		return err
	}
	items := make([]BatchView, len(bs))
	for i := range bs {
		items[i] = batchView(&bs[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": total, "totalExact": true, "page": page, "pageSize": size}, "")
	return nil
}

// BatchItems is GET /api/batches/{id}/items?status&page&pageSize: a page of
// the batch's screenings, as GET /api/screenings lists them.
func (d *Deps) BatchItems(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Screenings.BatchItems(c.Request.Context(), store(c), actor(c), id, screenings.ListQuery{
		Status: strings.Join(c.QueryArray("status"), ","), Page: page, PageSize: size})
	if err != nil {
		return err
	}
	screeningPage(c, p, page, size)
	return nil
}

// BatchAcceptedView and BatchRejectedView are the items of the answer to
// POST /api/batches/{id}/items.
type BatchAcceptedView struct {
	File        string `json:"file"`
	ScreeningID string `json:"screeningId"`
}

// BatchRejectedView is a refused item: the code a single upload would
// have answered and why, in the request's language.
type BatchRejectedView struct {
	File    string `json:"file"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// rejectionMessage is e in lang: its fields' faults ("eye: must be ...")
// when it names them, else its message.
func rejectionMessage(l string, e *models.Error) string {
	if len(e.Details) == 0 {
		return i18n.T(l, e.Message)
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + i18n.T(l, e.Details[k])
	}
	return strings.Join(parts, "; ")
}

// batchSpool holds a request's parts on disk while it is read: the file
// parts and the archive, in a directory of their own removed at the end.
type batchSpool struct {
	dir string
	n   int
}

// save copies r to a new file of the spool, at most limit bytes; over is
// true when r held more (the rest is read and dropped, so the next part
// can be read).
func (b *batchSpool) save(r io.Reader, limit int64) (path string, over bool, err error) {
	b.n++
	path = filepath.Join(b.dir, fmt.Sprintf("part-%d", b.n))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", false, err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, err
	}
	if n > limit {
		_ = os.Remove(path)
		if _, err := io.Copy(io.Discard, r); err != nil {
			return "", false, err
		}
		return "", true, nil
	}
	return path, false, nil
}

// errBatchTooLarge: the body of a batch's items is over
// intake.max_request_bytes.
var errBatchTooLarge = models.NewError(models.CodePayloadTooLarge, "Request body is too large")

// partError is the answer to a part that could not be saved: the body's
// own failure (over its limit: 413; cut, late), else the disk's.
func partError(body *limited, err error) error {
	switch {
	case body.err != nil:
		return body.err
	case errors.Is(err, models.ErrTooLarge):
		return errBatchTooLarge
	case err != nil:
		return err
	}
	return nil
}

// partFileName is the file name a part's Content-Disposition gives, as
// sent (not cut to its last element: a manifest may name files in
// folders).
func partFileName(h string) string {
	_, params, err := mime.ParseMediaType(h)
	if err != nil {
		return ""
	}
	return params["filename"]
}

// AddBatchItems is POST /api/batches/{id}/items: multipart/form-data with
// a manifest part (CSV) and one file part per image, named (its filename)
// as in the manifest; or one archive part, a ZIP holding manifest.csv and
// the images. The body is streamed to disk part by part (never held in
// memory; the parts may come in any order), then each manifest row is
// judged on its own: 202 {"accepted": [{"file", "screeningId"}],
// "rejected": [{"file", "code", "message"}]}.
func (d *Deps) AddBatchItems(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	a := actor(c)
	// Who may, and whether the batch takes items, before a byte is read.
	b, err := d.Screenings.OpenBatch(store(c), a, id)
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return models.NewError(models.CodeUnsupportedMedia, "Content-Type must be multipart/form-data")
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return errMultipart
	}
	dir, err := os.MkdirTemp(d.Screenings.Settings.TempDir, "aura-batch-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	sp := &batchSpool{dir: dir}
	maxImage := d.Screenings.Settings.MaxImageBytes
	in := screenings.BatchInput{Lang: lang(c)}
	var archive string
	var manifestSeen bool
	details := map[string]string{}
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		name, fname := part.FormName(), partFileName(part.Header.Get("Content-Disposition"))
		switch {
		case name == "manifest":
			if manifestSeen {
				details["manifest"] = "must be sent once"
				break
			}
			manifestSeen = true
			in.Manifest, err = io.ReadAll(io.LimitReader(part, screenings.MaxManifestBytes+1))
			if err != nil {
				return bodyError(err)
			}
			if len(in.Manifest) > screenings.MaxManifestBytes {
				return models.Invalid(map[string]string{"manifest": "is larger than 4 MiB"})
			}
		case name == "archive":
			if archive != "" {
				details["archive"] = "must be sent once"
				break
			}
			body := &limited{r: part}
			path, _, err := sp.save(body, d.Intake.MaxBytes)
			if err := partError(body, err); err != nil {
				return err
			}
			archive = path
		case fname != "":
			if len(in.Files) >= d.Intake.MaxItems {
				return screenings.ErrBatchTooMany
			}
			f := &screenings.BatchFile{Name: fname}
			body := &limited{r: part}
			path, over, err := sp.save(body, maxImage)
			if err := partError(body, err); err != nil {
				return err
			}
			f.TooLarge = over
			if p := screenings.FileNameProblem(fname); p != "" {
				f.Problem = p
			} else if seen[fname] {
				f.Problem = "is sent twice"
			}
			seen[fname] = true
			if path != "" {
				f.Open = func() (io.ReadCloser, error) { return os.Open(path) }
			}
			in.Files = append(in.Files, f)
		default:
			details[truncateName(name)] = "is not a known field"
			if len(details) >= maxUploadDetails {
				return models.Invalid(details)
			}
		}
		_ = part.Close()
	}
	switch {
	case archive != "" && (manifestSeen || len(in.Files) > 0):
		details["archive"] = "must be sent alone: an archive, or a manifest with file parts"
	case archive == "" && !manifestSeen:
		details["manifest"] = "is required (or an archive holding manifest.csv)"
	}
	if len(details) > 0 {
		return models.Invalid(details)
	}
	if archive != "" {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			return models.Invalid(map[string]string{"archive": "is not a readable ZIP file"})
		}
		defer zr.Close()
		z, err := screenings.FromZip(&zr.Reader, d.Intake, maxImage)
		if err != nil {
			return err
		}
		z.Lang = in.Lang
		in = *z
	}
	// The body is read; judging a thousand images takes longer than
	// server.write_timeout: the answer's own deadline starts once they are
	// judged.
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetWriteDeadline(time.Time{})
	res, err := d.Screenings.AddBatchItems(c.Request.Context(), func() *repositories.Store { return renewStore(c) }, a, b, in, d.Intake.MaxItems)
	if d.ExportWriteTimeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(d.ExportWriteTimeout))
	}
	if err != nil {
		return err
	}
	l := lang(c)
	out := struct {
		Accepted []BatchAcceptedView `json:"accepted"`
		Rejected []BatchRejectedView `json:"rejected"`
	}{Accepted: make([]BatchAcceptedView, len(res.Accepted)), Rejected: make([]BatchRejectedView, len(res.Rejected))}
	for i, x := range res.Accepted {
		out.Accepted[i] = BatchAcceptedView{File: x.File, ScreeningID: x.ScreeningID}
	}
	for i, x := range res.Rejected {
		out.Rejected[i] = BatchRejectedView{File: x.File, Code: string(x.Err.Code), Message: rejectionMessage(l, x.Err)}
	}
	OK(c, http.StatusAccepted, out, "")
	return nil
}
