package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"aura/imaging"
	"aura/models"
	"aura/repositories"
	"aura/services/screenings"
)

// DICOMView is the dicom block of a Screening made from a DICOM upload.
type DICOMView struct {
	StudyInstanceUID  *string    `json:"studyInstanceUid"`
	SeriesInstanceUID *string    `json:"seriesInstanceUid"`
	SOPInstanceUID    string     `json:"sopInstanceUid"`
	Modality          *string    `json:"modality"`
	AcquiredAt        *Timestamp `json:"acquiredAt"`
}

// dicomView is the screening's dicom block, nil for a JPEG or PNG upload.
func dicomView(r *repositories.ScreeningRow) *DICOMView {
	if r.DicomSOPInstanceUID == nil {
		return nil
	}
	return &DICOMView{StudyInstanceUID: r.DicomStudyUID, SeriesInstanceUID: r.DicomSeriesUID,
		SOPInstanceUID: *r.DicomSOPInstanceUID, Modality: r.DicomModality, AcquiredAt: tsPtr(r.DicomAcquiredAt)}
}

type deviceRequest struct {
	Name string `json:"name"`
}

// DeviceView is a registered device; Token only in the answer that made it.
type DeviceView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Token     *string    `json:"token,omitempty"`
	CreatedAt Timestamp  `json:"createdAt"`
	RevokedAt *Timestamp `json:"revokedAt"`
}

func deviceView(d *models.Device, token *string) DeviceView {
	return DeviceView{ID: d.ID, Name: d.Name, Token: token, CreatedAt: ts(d.CreatedAt), RevokedAt: tsPtr(d.RevokedAt)}
}

// CreateDevice is POST /api/clinics/{id}/devices {"name"}: 201 with the
// device's token, shown this once.
func (d *Deps) CreateDevice(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req deviceRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	dev, token, err := d.Screenings.RegisterDevice(c.Request.Context(), store(c), actor(c), id, req.Name)
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, deviceView(dev, &token), "")
	return nil
}

// RevokeDevice is DELETE /api/clinics/{id}/devices/{deviceId}.
func (d *Deps) RevokeDevice(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	deviceID, err := idParam(c, "deviceId")
	if err != nil {
		return err
	}
	dev, err := d.Screenings.RevokeDevice(c.Request.Context(), store(c), actor(c), id, deviceID)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, deviceView(dev, nil), "")
	return nil
}

// maxStowParts bounds the instances of one STOW-RS request.
const maxStowParts = 100

// PS3.4 failure reasons of a STOW-RS answer.
const (
	failProcessing     = 0x0110 // processing failure
	failSOPClass       = 0x0122 // SOP class not supported
	failOutOfResources = 0xA700
	failCannotRead     = 0xC000 // cannot understand
)

// StowRS is POST /api/dicomweb/studies (DICOMweb STOW-RS, PS3.18): a
// device (Bearer device token) stores DICOM objects, one per part of a
// multipart/related; type="application/dicom" body. Each becomes a
// screening of the device's clinic as a DICOM upload would (the patient
// by PatientID, the eye by laterality). The answer is an
// application/dicom+json dataset with ReferencedSOPSequence (0008,1199)
// and FailedSOPSequence (0008,1198): 200 when all were stored, 202 when
// some failed, 409 when none was.
func (d *Deps) StowRS(c *gin.Context) error {
	token, ok := bearerToken(c)
	if !ok {
		return errUnauthorized
	}
	dev, a, err := d.Screenings.DeviceActor(store(c), token)
	if err != nil {
		return err
	}
	a.IP, a.RequestID = c.ClientIP(), RequestID(c)
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/related" || (params["type"] != "" && !strings.EqualFold(params["type"], "application/dicom")) {
		return models.NewError(models.CodeUnsupportedMedia, `Content-Type must be multipart/related; type="application/dicom"`)
	}
	if params["boundary"] == "" {
		return errMultipart
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	var stored, failed []map[string]any
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		if n >= maxStowParts {
			return models.Invalid(map[string]string{"body": fmt.Sprintf("holds more than %d instances", maxStowParts)})
		}
		if pt := part.Header.Get("Content-Type"); pt != "" {
			if m, _, _ := mime.ParseMediaType(pt); m != "application/dicom" {
				failed = append(failed, stowFailure(nil, failCannotRead))
				_ = part.Close()
				continue
			}
		}
		body := &limited{r: part}
		sp, err := d.Screenings.Spool(c.Request.Context(), body)
		if body.err != nil {
			return bodyError(body.err)
		}
		if err != nil {
			failed = append(failed, stowFailure(nil, stowReason(err)))
			continue
		}
		if sp.DICOM == nil || strings.TrimSpace(sp.DICOM.PatientID) == "" {
			// A JPEG or PNG, or an object naming no patient.
			failed = append(failed, stowFailure(sp.DICOM, failCannotRead))
			sp.Close()
			continue
		}
		info := *sp.DICOM
		row, _, err := d.Screenings.Upload(c.Request.Context(), renewStore(c), a, screenings.UploadInput{Image: sp, ClinicID: dev.ClinicID, Lang: lang(c)})
		sp.Close()
		if err != nil {
			failed = append(failed, stowFailure(&info, stowReason(err)))
			continue
		}
		stored = append(stored, map[string]any{
			"00081150": dcmJSON("UI", info.SOPClassUID),
			"00081155": dcmJSON("UI", info.SOPInstanceUID),
			"00081190": dcmJSON("UR", "/api/screenings/"+row.ID),
		})
	}
	if len(stored)+len(failed) == 0 {
		return models.Invalid(map[string]string{"body": "holds no DICOM instance"})
	}
	ds := map[string]any{}
	status := http.StatusOK
	if len(stored) > 0 {
		ds["00081199"] = map[string]any{"vr": "SQ", "Value": stored}
	}
	if len(failed) > 0 {
		ds["00081198"] = map[string]any{"vr": "SQ", "Value": failed}
		status = http.StatusAccepted
		if len(stored) == 0 {
			status = http.StatusConflict
		}
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return err
	}
	c.Data(status, "application/dicom+json", b)
	return nil
}

func dcmJSON(vr string, v any) map[string]any {
	return map[string]any{"vr": vr, "Value": []any{v}}
}

// stowFailure is one item of FailedSOPSequence: the object's UIDs when its
// header could be read, and the reason.
func stowFailure(info *imaging.DICOMInfo, reason int) map[string]any {
	item := map[string]any{"00081197": dcmJSON("US", reason)}
	if info != nil {
		item["00081150"] = dcmJSON("UI", info.SOPClassUID)
		item["00081155"] = dcmJSON("UI", info.SOPInstanceUID)
	}
	return item
}

// stowReason is the failure reason of a refused instance.
func stowReason(err error) int {
	var e *models.Error
	switch {
	case errors.As(err, &e) && e.Code == models.CodeUnsupportedMedia:
		return failSOPClass
	case errors.As(err, &e) && (e.Code == models.CodeValidation || e.Code == models.CodePayloadTooLarge):
		return failCannotRead
	case errors.Is(err, models.ErrUnavailable):
		return failOutOfResources
	}
	return failProcessing
}
