package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"aura/analysis/risk"
	"aura/i18n"
	"aura/models"
	"aura/repositories"
	"aura/services/notifications"
	"aura/services/policy"
	"aura/services/screenings"
)

// ScreeningView is the Screening object of the contract.
type ScreeningView struct {
	ID         string            `json:"id"`
	Status     string            `json:"status"`
	Eye        string            `json:"eye"`
	Note       *string           `json:"note"`
	CreatedAt  Timestamp         `json:"createdAt"`
	UpdatedAt  Timestamp         `json:"updatedAt"`
	Patient    ScreeningPatient  `json:"patient"`
	Clinic     ScreeningClinic   `json:"clinic"`
	Image      ScreeningImage    `json:"image"`
	Analysis   *AnalysisView     `json:"analysis"`
	Review     *ReviewView       `json:"review"`
	Failure    *FailureView      `json:"failure"`
	DICOM      *DICOMView        `json:"dicom"`
	Disclaimer string            `json:"disclaimer"`
	Links      map[string]string `json:"links"`
	_          struct{}          `json:"-"`
}

// ScreeningPatient is the patient part of a Screening.
type ScreeningPatient struct {
	// ID is the patient record's id; UserID its account's (the same id),
	// null for a record without an account.
	ID          string  `json:"id"`
	UserID      *string `json:"userId"`
	PatientCode string  `json:"patientCode"`
	FullName    string  `json:"fullName"`
	DateOfBirth *string `json:"dateOfBirth"`
	Sex         *string `json:"sex"`
}

// ScreeningClinic is the clinic part of a Screening.
type ScreeningClinic struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ScreeningImage describes the uploaded photograph.
type ScreeningImage struct {
	ContentType string `json:"contentType"`
	Bytes       int64  `json:"bytes"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SHA256      string `json:"sha256"`
}

// AnalysisView is the analysis part of a Screening: the one view of the
// stored analysis (screenings.ViewOf), its instant in TimeLayout.
type AnalysisView struct {
	*screenings.AnalysisView
	CompletedAt Timestamp `json:"completedAt"`
}

// ReviewView is the review part of a Screening (the claim while in_review).
type ReviewView struct {
	Reviewer       ReviewerView `json:"reviewer"`
	RiskLevel      *string      `json:"riskLevel"`
	Notes          *string      `json:"notes"`
	Recommendation *string      `json:"recommendation"`
	ClaimedAt      *Timestamp   `json:"claimedAt"`
	ReviewedAt     *Timestamp   `json:"reviewedAt"`
	// AnalysisAgreement and CorrectedMetrics are the doctor's (null when
	// not given).
	AnalysisAgreement *string            `json:"analysisAgreement"`
	CorrectedMetrics  map[string]float64 `json:"correctedMetrics"`
	// Feedback is the doctor's free text on the analysis (null when not
	// given).
	Feedback *string `json:"feedback"`
}

// ReviewerView names the reviewing doctor.
type ReviewerView struct {
	UserID   string `json:"userId"`
	FullName string `json:"fullName"`
}

// FailureView says why an analysis could not run.
type FailureView struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Attempts int    `json:"attempts"`
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

func screeningView(r *repositories.ScreeningRow, lang string) ScreeningView {
	v := ScreeningView{ID: r.ID, Status: r.Status, Eye: r.Eye, Note: r.Note, CreatedAt: ts(r.CreatedAt), UpdatedAt: ts(r.UpdatedAt),
		Patient: ScreeningPatient{ID: r.PatientID, UserID: r.PatientUserID, PatientCode: r.PatientCode, FullName: orName(r.PatientName, r.PatientEmail),
			DateOfBirth: r.PatientDOB, Sex: r.PatientSex},
		Clinic: ScreeningClinic{ID: r.ClinicID, Name: r.ClinicName},
		Image: ScreeningImage{ContentType: r.ImageType, Bytes: r.ImageBytes, Width: r.ImageWidth, Height: r.ImageHeight,
			SHA256: r.ImageSHA256},
		Disclaimer: notifications.Disclaimer[i18n.Lang(lang)],
		Links:      map[string]string{"image": "/api/screenings/" + r.ID + "/image"},
		DICOM:      dicomView(r),
	}
	if a := screenings.ViewIn(r.Analysis, r.Lang); a != nil {
		v.Analysis = &AnalysisView{AnalysisView: a, CompletedAt: ts(a.CompletedAt)}
		if r.Analysis.VesselKey != nil {
			v.Links["vessels"] = "/api/screenings/" + r.ID + "/vessels"
		}
		if r.Analysis.AVKey != nil {
			v.Links["arteriesVeins"] = "/api/screenings/" + r.ID + "/vessels?kind=av"
		}
		if r.Analysis.OverlayKey != nil {
			v.Links["overlay"] = "/api/screenings/" + r.ID + "/overlay"
		}
		v.Links["report"] = "/api/screenings/" + r.ID + "/report"
	}
	if r.ReviewerID != nil {
		v.Review = &ReviewView{Reviewer: ReviewerView{UserID: *r.ReviewerID, FullName: orName(r.ReviewerName, deref(r.ReviewerEmail))},
			RiskLevel: r.ReviewRiskLevel, Notes: r.ReviewNotes, Recommendation: r.Recommendation,
			ClaimedAt: tsPtr(r.ClaimedAt), ReviewedAt: tsPtr(r.ReviewedAt),
			AnalysisAgreement: r.AnalysisAgreement, CorrectedMetrics: screenings.CorrectedMetrics(r.CorrectedMetricsJSON),
			Feedback: r.Feedback}
	}
	if r.FailureCode != nil {
		v.Failure = &FailureView{Code: *r.FailureCode, Message: deref(r.FailureMessage), Attempts: r.Attempts}
	}
	return v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// lang is the request's language (vi or en), as the language middleware
// chose it from Accept-Language and i18n.default_language.
func lang(c *gin.Context) string {
	if l := c.GetString(LangKey); l != "" {
		return l
	}
	return i18n.VI
}

// maxFieldBytes bounds each text field of an upload.
const maxFieldBytes = 8 << 10

// maxUploadDetails bounds the fields an upload's refusal names.
const maxUploadDetails = 10

// UploadScreening is POST /api/screenings (multipart/form-data: image, eye,
// clinicId, note, and patientId when a clinic's staff upload for a
// patient). The image is streamed to a temporary file and checked as it
// arrives; only then is a database session started.
func (d *Deps) UploadScreening(c *gin.Context) error {
	a := actor(c)
	if policy.Can(a, policy.PermOwnScreenings) != nil && policy.Can(a, policy.PermScreeningsUpload) != nil {
		return models.ErrForbidden
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return models.NewError(models.CodeUnsupportedMedia, "Content-Type must be multipart/form-data")
	}
	// The account's upload limit is claimed before a byte of the body is
	// read: a flood is refused at the cost of one statement.
	claimed, err := d.Screenings.ClaimUpload(store(c), a, c.GetHeader("Idempotency-Key"))
	if err != nil {
		return err
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return errMultipart
	}
	in := screenings.UploadInput{IdempotencyKey: c.GetHeader("Idempotency-Key"), Lang: lang(c), Claimed: claimed}
	defer func() { in.Image.Close() }()
	details := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		name := part.FormName()
		switch name {
		case "image":
			if in.Image != nil {
				details["image"] = "must be sent once"
				continue
			}
			body := &limited{r: part}
			in.Image, err = d.Screenings.Spool(c.Request.Context(), body)
			if err != nil {
				if body.err != nil {
					err = body.err // the body failed, not the image
				}
				return err
			}
		case "eye", "clinicId", "note", "patientId":
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return bodyError(err)
			}
			if len(b) > maxFieldBytes {
				details[name] = "is too long"
				continue
			}
			v := string(b)
			switch name {
			case "eye":
				in.Eye = v
			case "clinicId":
				in.ClinicID = v
			case "note":
				in.Note = &v
			case "patientId":
				in.PatientID = v
			}
		default:
			details[truncateName(name)] = "is not a known field"
			if len(details) >= maxUploadDetails {
				// Enough to say what is wrong; thousands of parts would
				// otherwise each add a line to the answer.
				return models.Invalid(details)
			}
		}
		_ = part.Close()
	}
	if len(details) > 0 {
		return models.Invalid(details)
	}
	row, _, err := d.Screenings.Upload(c.Request.Context(), renewStore(c), a, in)
	if err != nil {
		return err
	}
	// Where to poll, and when it is worth it.
	c.Header("Location", "/api/screenings/"+row.ID)
	c.Header("Retry-After", strconv.Itoa(int(d.Screenings.PollAfter()/time.Second)))
	OK(c, http.StatusAccepted, screeningView(row, in.Lang), "Screening queued for analysis")
	return nil
}

func truncateName(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	if s == "" {
		return "(unnamed)"
	}
	return s
}

// ListScreenings is GET /api/screenings.
func (d *Deps) ListScreenings(c *gin.Context) error {
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Screenings.List(c.Request.Context(), store(c), actor(c), screenings.ListQuery{
		// status and riskLevel are lists, comma-separated as the document
		// says (style form, explode false); repeated (status=a&status=b, a
		// client's default elsewhere) they are read as one list too.
		Status: strings.Join(c.QueryArray("status"), ","), Eye: c.Query("eye"),
		RiskLevel: strings.Join(c.QueryArray("riskLevel"), ","), ClinicID: c.Query("clinicId"),
		PatientID: c.Query("patientId"), From: c.Query("from"), To: c.Query("to"), Page: page, PageSize: size,
	})
	if err != nil {
		return err
	}
	screeningPage(c, p, page, size)
	return nil
}

// GetScreening is GET /api/screenings/{id}.
func (d *Deps) GetScreening(c *gin.Context) error {
	row, err := d.Screenings.Get(c.Request.Context(), store(c), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, screeningView(row, lang(c)), "")
	return nil
}

// sendBlob answers 200 with a stored object. The object was authenticated
// before (storage.GetVerified); should its read still fail on the way (the
// store failed, or the object changed in between), the connection is cut
// rather than the body ended early under a 200 that looks whole.
func sendBlob(c *gin.Context, b *screenings.Blob) {
	c.Header("Content-Type", b.ContentType)
	c.Header("Content-Length", strconv.FormatInt(b.Size, 10))
	c.Status(http.StatusOK)
	n, err := io.Copy(c.Writer, b.Body)
	if err == nil && n != b.Size {
		err = fmt.Errorf("object ended after %d of %d bytes", n, b.Size)
	}
	if err != nil {
		if c.Request.Context().Err() == nil {
			logger(c).Warn("download cut short", "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// ScreeningImage is GET /api/screenings/{id}/image: the bytes as uploaded,
// their type, the SHA-256 as ETag; If-None-Match answers 304.
func (d *Deps) ScreeningImage(c *gin.Context) error {
	b, err := d.Screenings.Image(c.Request.Context(), store(c), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	defer b.Body.Close()
	etag := `"` + b.SHA256 + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "private, max-age=0, must-revalidate")
	if match := c.GetHeader("If-None-Match"); match == etag || match == b.SHA256 || match == "*" {
		c.Status(http.StatusNotModified)
		return nil
	}
	sendBlob(c, b)
	return nil
}

// ScreeningVessels is GET /api/screenings/{id}/vessels: the vessel map PNG.
func (d *Deps) ScreeningVessels(c *gin.Context) error {
	b, err := d.Screenings.VesselMap(c.Request.Context(), store(c), actor(c), c.Param("id"), c.Query("kind"))
	if err != nil {
		return err
	}
	defer b.Body.Close()
	c.Header("Cache-Control", "private, max-age=0, must-revalidate")
	sendBlob(c, b)
	return nil
}

// ScreeningOverlay is GET /api/screenings/{id}/overlay: the photograph with
// the vessel types and the optic disc drawn on it (JPEG).
func (d *Deps) ScreeningOverlay(c *gin.Context) error {
	b, err := d.Screenings.Overlay(c.Request.Context(), store(c), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	defer b.Body.Close()
	c.Header("Cache-Control", "private, max-age=0, must-revalidate")
	sendBlob(c, b)
	return nil
}

// GetAnalysisProfile is GET /api/admin/analysis-profile.
func (d *Deps) GetAnalysisProfile(c *gin.Context) error {
	p, err := d.Screenings.Profile(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, p, "")
	return nil
}

// ListAnalyzers is GET /api/admin/analyzers: the analyzers and versions in
// use with their result counts, and the analyzer this instance runs.
func (d *Deps) ListAnalyzers(c *gin.Context) error {
	items, configured, err := d.Screenings.Analyzers(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{"items": items, "configured": configured}, "")
	return nil
}

type profileRequest struct {
	Rules   []risk.Rule   `json:"rules"`
	Trends  *[]risk.Trend `json:"trends"`
	Version *int          `json:"version"`
}

// PutAnalysisProfile is PUT /api/admin/analysis-profile: replaces the rules
// and raises the version (a version sent is ignored: AURA numbers them).
func (d *Deps) PutAnalysisProfile(c *gin.Context) error {
	var req profileRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	p, err := d.Screenings.SetProfile(c.Request.Context(), store(c), actor(c), req.Rules, req.Trends)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, p, "Risk rules saved as version "+strconv.Itoa(p.Version))
	return nil
}

// ClaimScreening is POST /api/screenings/{id}/claim.
func (d *Deps) ClaimScreening(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	row, err := d.Screenings.Claim(c.Request.Context(), store(c), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, screeningView(row, lang(c)), "")
	return nil
}

// ReleaseScreening is POST /api/screenings/{id}/release.
func (d *Deps) ReleaseScreening(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	row, err := d.Screenings.Release(c.Request.Context(), store(c), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, screeningView(row, lang(c)), "")
	return nil
}

type reviewRequest struct {
	RiskLevel         string              `json:"riskLevel"`
	Notes             *string             `json:"notes"`
	Recommendation    string              `json:"recommendation"`
	AnalysisAgreement *string             `json:"analysisAgreement"`
	CorrectedMetrics  map[string]*float64 `json:"correctedMetrics"`
	Feedback          *string             `json:"feedback"`
}

// ReviewScreening is POST /api/screenings/{id}/review.
func (d *Deps) ReviewScreening(c *gin.Context) error {
	var req reviewRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	row, err := d.Screenings.Review(c.Request.Context(), store(c), actor(c), c.Param("id"),
		screenings.ReviewInput{RiskLevel: req.RiskLevel, Notes: req.Notes, Recommendation: req.Recommendation,
			AnalysisAgreement: req.AnalysisAgreement, CorrectedMetrics: req.CorrectedMetrics,
			Feedback: req.Feedback})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, screeningView(row, lang(c)), "Review recorded; the patient has been told")
	return nil
}

// ScreeningReport is GET /api/screenings/{id}/report: the PDF, in the
// patient's language; 409 NOT_READY before the analysis. Its ETag names the
// state it shows; If-None-Match answers 304.
func (d *Deps) ScreeningReport(c *gin.Context) error {
	r, err := d.Screenings.Report(c.Request.Context(), store(c), actor(c), c.Param("id"), c.GetHeader("If-None-Match"))
	if err != nil {
		return err
	}
	c.Header("ETag", r.ETag)
	c.Header("Cache-Control", "private, max-age=0, must-revalidate") // as the image: kept, revalidated by its ETag
	if r.NotModified {
		c.Status(http.StatusNotModified)
		return nil
	}
	c.Header("Content-Disposition", `inline; filename="aura-report-`+r.Row.ID+`.pdf"`)
	c.Data(http.StatusOK, "application/pdf", r.PDF)
	return nil
}

// limited turns the body limit's error into the domain's ErrTooLarge, so the
// rules read the image without knowing HTTP; any other failure of the body
// (its deadline, broken framing) is kept in err, for the handler to answer
// instead of the rules' verdict on the image.
type limited struct {
	r   io.Reader
	err error
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil || err == io.EOF:
	case errors.As(err, &tooBig):
		err = models.ErrTooLarge
	default:
		l.err = bodyError(err)
	}
	return n, err
}

// bodyError is the answer to a failed read of an upload's body: 413 over
// the limit, 408 past its deadline, else 400 INVALID_MULTIPART.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		return models.ErrTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return errBodyTimeout
	default:
		return errMultipart
	}
}

// screeningPage answers 200 with a page of screenings as GET
// /api/screenings lists them, in the request's language.
func screeningPage(c *gin.Context, p repositories.ScreeningPage, page, size int) {
	l := lang(c)
	items := make([]ScreeningView, len(p.Items))
	for i := range p.Items {
		items[i] = screeningView(&p.Items[i], l)
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "totalExact": p.TotalExact, "page": page, "pageSize": size}, "")
}
