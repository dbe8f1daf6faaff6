package repositories

import "aura/models"

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
