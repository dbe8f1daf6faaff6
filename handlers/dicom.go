package handlers

import "aura/repositories"

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
