package repositories

import (
	"time"

	"aura/models"
)

// ByDICOMInstance returns the screening of clinicID made from the DICOM
// object sopUID, or models.ErrNotFound.
func (r *Screenings) ByDICOMInstance(clinicID, sopUID string) (*models.Screening, error) {
	var s models.Screening
	err := r.db.Where("dicom_clinic_id = ? AND dicom_sop_instance_uid = ?", clinicID, sopUID).Take(&s).Error
	if err != nil {
		return nil, translate(err)
	}
	return &s, nil
}

// ByExternalKey returns the id of clinicID's patient whose external id
// folds (models.FoldKey) to key, or models.ErrNotFound.
func (r *Patients) ByExternalKey(clinicID, key string) (string, error) {
	var ids []string
	err := r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND external_key = ?", clinicID, key).Limit(1).Pluck("patient_id", &ids).Error
	if err != nil {
		return "", translate(err)
	}
	if len(ids) == 0 {
		return "", models.ErrNotFound
	}
	return ids[0], nil
}

// CreateDevice inserts d.
func (r *Screenings) CreateDevice(d *models.Device) error {
	return translate(r.db.Create(d).Error)
}

// Device returns device id of clinicID, or models.ErrNotFound.
func (r *Screenings) Device(clinicID, id string) (*models.Device, error) {
	var d models.Device
	if err := r.db.Where("clinic_id = ? AND id = ?", clinicID, id).Take(&d).Error; err != nil {
		return nil, translate(err)
	}
	return &d, nil
}

// DeviceByTokenHash returns the unrevoked device whose token hashes to
// hash, or models.ErrNotFound.
func (r *Screenings) DeviceByTokenHash(hash string) (*models.Device, error) {
	var d models.Device
	if err := r.db.Where("token_hash = ? AND revoked_at IS NULL", hash).Take(&d).Error; err != nil {
		return nil, translate(err)
	}
	return &d, nil
}

// RevokeDevice marks device id revoked at now (no change when it already is).
func (r *Screenings) RevokeDevice(id string, now time.Time) error {
	return translate(r.db.Model(&models.Device{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now).Error)
}
