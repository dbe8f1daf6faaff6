package repositories

import (
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Patients reads and writes patient records.
type Patients struct{ db *gorm.DB }

// Ensure creates the record of account userID (id = userID) with code
// unless the account has one (two first uses at once make one record).
// Returns models.ErrConflict only when code is taken by another patient (the
// caller draws another).
func (r *Patients) Ensure(userID, code string, now time.Time) error {
	var n int64
	if err := r.db.Model(&models.Patient{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n > 0 {
		return nil
	}
	var u models.User
	if err := r.db.Select("full_name", "email").Where("id = ?", userID).Take(&u).Error; err != nil {
		return translate(err)
	}
	uid := userID
	res := r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&models.Patient{ID: userID, UserID: &uid, PatientCode: code,
		NameKey: models.SearchKey(models.PatientName(nil, u.FullName, &u.Email)), CreatedAt: now, UpdatedAt: now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	if err := r.db.Model(&models.Patient{}).Where("user_id = ? OR id = ?", userID, userID).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n > 0 {
		return nil
	}
	return models.ErrConflict
}

// Create inserts an accountless record.
func (r *Patients) Create(p *models.Patient) error {
	return translate(r.db.Create(p).Error)
}

// patientRow is a record with its account's name and email.
type patientRow struct {
	models.Patient
	UserFullName *string
	UserEmail    *string
}

func (row patientRow) patient() models.Patient {
	p := row.Patient
	p.FullName = models.PatientName(p.RecordName, row.UserFullName, orEmail(row.UserEmail, p.RecordEmail))
	return p
}

func orEmail(a, b *string) *string {
	if a != nil {
		return a
	}
	return b
}

const patientSelect = `SELECT p.*, u.full_name AS user_full_name, u.email AS user_email FROM patients p
	LEFT JOIN users u ON u.id = p.user_id`

// Get returns the record id with its name, if scope may see it;
// models.ErrNotFound otherwise, alike for a missing and a hidden one (one
// query either way). Its clinics are those scope may see it enrolled in.
func (r *Patients) Get(id string, scope Scope) (*models.Patient, error) {
	cond, args := scope.patients("p")
	var rows []patientRow
	err := r.db.Raw(patientSelect+` WHERE p.id = ? AND `+cond, append([]any{id}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	p := rows[0].patient()
	staff := ""
	if !scope.All && (p.UserID == nil || *p.UserID != scope.PatientID) {
		staff = scope.StaffID
	}
	if p.Clinics, err = r.clinicsOf(p.ID, staff); err != nil {
		return nil, err
	}
	return &p, nil
}

// ByUser returns the record of account userID (its own view), or
// models.ErrNotFound.
func (r *Patients) ByUser(userID string) (*models.Patient, error) {
	var rows []patientRow
	if err := r.db.Raw(patientSelect+` WHERE p.user_id = ?`, userID).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	p := rows[0].patient()
	var err error
	if p.Clinics, err = r.clinicsOf(p.ID, ""); err != nil {
		return nil, err
	}
	return &p, nil
}

// clinicsOf lists the clinics record id is enrolled in: all of them (staff
// ""), or those where staff is a member (staff see no other clinic's
// enrolments).
func (r *Patients) clinicsOf(id, staff string) ([]models.ClinicRef, error) {
	q := "SELECT c.id, c.name FROM clinic_patients cp JOIN clinics c ON c.id = cp.clinic_id WHERE cp.patient_id = ?"
	args := []any{id}
	if staff != "" {
		q += " AND cp.clinic_id IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ?)"
		args = append(args, staff)
	}
	out := []models.ClinicRef{}
	err := r.db.Raw(q+" ORDER BY c.name, c.id", args...).Scan(&out).Error
	return out, translate(err)
}

// ExternalID is the clinic's own number for record id (nil when none or not
// enrolled).
func (r *Patients) ExternalID(clinicID, id string) (*string, error) {
	var ext []*string
	err := r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND patient_id = ?", clinicID, id).Pluck("external_id", &ext).Error
	if err != nil || len(ext) == 0 {
		return nil, translate(err)
	}
	return ext[0], nil
}

// Enrol adds record cp.PatientID to the clinic unless it is enrolled there
// already; an empty cp.NameKey is copied from the record.
func (r *Patients) Enrol(cp *models.ClinicPatient) error {
	if cp.NameKey == "" {
		var keys []string
		if err := r.db.Model(&models.Patient{}).Where("id = ?", cp.PatientID).Pluck("name_key", &keys).Error; err != nil {
			return translate(err)
		}
		if len(keys) > 0 {
			cp.NameKey = keys[0]
		}
	}
	return translate(r.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "clinic_id"}, {Name: "patient_id"}}, DoNothing: true}).
		Create(cp).Error)
}

// RefreshLatestRisk sets the enrolment's latest risk level from the
// patient's screenings at the clinic (models.LatestRiskSQL).
func (r *Patients) RefreshLatestRisk(clinicID, patientID string) error {
	return translate(r.db.Exec("UPDATE clinic_patients SET latest_risk_level = ("+models.LatestRiskSQL("clinic_patients")+
		") WHERE clinic_id = ? AND patient_id = ?", clinicID, patientID).Error)
}

// RenameAccount refolds the name key of account userID's record after the
// account's name changed.
func (r *Patients) RenameAccount(userID string) error {
	var rows []patientRow
	if err := r.db.Raw(patientSelect+` WHERE p.user_id = ?`, userID).Scan(&rows).Error; err != nil {
		return translate(err)
	}
	for _, row := range rows {
		p := row.patient()
		key := models.SearchKey(p.FullName)
		if err := r.db.Model(&models.Patient{}).Where("id = ?", p.ID).Update("name_key", key).Error; err != nil {
			return translate(err)
		}
		if err := r.db.Model(&models.ClinicPatient{}).Where("patient_id = ?", p.ID).Update("name_key", key).Error; err != nil {
			return translate(err)
		}
	}
	return nil
}

// PatientChanges is a typed update of a profile: an unset Opt leaves a field,
// a null one clears it.
type PatientChanges struct {
	DateOfBirth       models.Opt[string]
	Sex               models.Opt[string]
	Diabetes          models.Opt[bool]
	DiabetesSinceYear models.Opt[int]
	Hypertension      models.Opt[bool]
	HistoryNotes      models.Opt[string]
	ResearchConsent   models.Opt[bool]
}

// Update applies ch to the record of account userID at now;
// models.ErrNotFound if there is none.
func (r *Patients) Update(userID string, ch PatientChanges, now time.Time) error {
	cols := map[string]any{"updated_at": now}
	optColumn(cols, "date_of_birth", ch.DateOfBirth)
	optColumn(cols, "sex", ch.Sex)
	optColumn(cols, "diabetes", ch.Diabetes)
	optColumn(cols, "diabetes_since_year", ch.DiabetesSinceYear)
	optColumn(cols, "hypertension", ch.Hypertension)
	optColumn(cols, "history_notes", ch.HistoryNotes)
	optColumn(cols, "research_consent", ch.ResearchConsent)
	res := r.db.Model(&models.Patient{}).Where("user_id = ?", userID).Updates(cols)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}

// ExternalTaken reports whether the clinic has a patient with the folded
// external number key.
func (r *Patients) ExternalTaken(clinicID, key string) (bool, error) {
	var n int64
	err := r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND external_key = ?", clinicID, key).Count(&n).Error
	return n > 0, translate(err)
}

// ClinicPatientFilter narrows a clinic's patient list; empty fields do not
// filter. The patient code (Code, upper case) or the clinic's number
// (ExternalKey, folded by models.FoldKey) finds that patient; when neither
// matches, NameKey (folded by models.SearchKey) matches a part of the name.
type ClinicPatientFilter struct {
	NameKey, Code, ExternalKey string
	RiskLevels                 []string
	AssignedDoctorID           string
}

// ClinicPatientRow is a patient of a clinic as its list shows it.
type ClinicPatientRow struct {
	models.Patient
	LatestRiskLevel    *string
	AssignedDoctorID   *string
	AssignedDoctorName string
}

// ClinicPatientPage is one page of a clinic's patients. Total counts at
// most TotalCap rows (as screening lists do); TotalExact is false when
// there are more.
type ClinicPatientPage struct {
	Items      []ClinicPatientRow
	Total      int64
	TotalExact bool
}

// InClinic returns page (from 1) of pageSize patients enrolled in clinicID
// matching f, the newest enrolment first, and how many match. The page is
// read in the order of idx_clinic_patients_recent (clinic_id, created_at,
// patient_id), or of idx_clinic_patients_risk with a risk filter, so the
// engine stops at the page's end; only the page's rows are then joined to
// the accounts for names. Each patient's clinics are those where staff is
// a member ("" for all).
func (r *Patients) InClinic(clinicID string, f ClinicPatientFilter, page, pageSize int, staff string) (ClinicPatientPage, error) {
	out := ClinicPatientPage{Items: []ClinicPatientRow{}, TotalExact: true}
	where := []string{"cp.clinic_id = ?"}
	args := []any{clinicID}
	if len(f.RiskLevels) > 0 {
		where = append(where, "cp.latest_risk_level IN ?")
		args = append(args, f.RiskLevels)
	}
	if f.AssignedDoctorID != "" {
		where = append(where, "cp.assigned_doctor_id = ?")
		args = append(args, f.AssignedDoctorID)
	}
	if f.Code != "" || f.ExternalKey != "" {
		// A patient code or an external id of the clinic finds that
		// patient (both indexed); else q is a part of a name.
		var ids []string
		err := r.db.Raw(`SELECT cp.patient_id FROM clinic_patients cp WHERE cp.clinic_id = ? AND cp.external_key = ?
			UNION SELECT cp.patient_id FROM patients p JOIN clinic_patients cp ON cp.patient_id = p.id AND cp.clinic_id = ?
			WHERE p.patient_code = ?`, clinicID, f.ExternalKey, clinicID, f.Code).Scan(&ids).Error
		if err != nil {
			return out, translate(err)
		}
		if len(ids) > 0 {
			where = append(where, "cp.patient_id IN ?")
			args = append(args, ids)
			f.NameKey = ""
		}
	}
	if f.NameKey != "" {
		where = append(where, `cp.name_key LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(f.NameKey)+"%")
	}
	w := strings.Join(where, " AND ")
	if err := r.db.Raw("SELECT COUNT(*) FROM (SELECT 1 FROM clinic_patients cp WHERE "+w+" LIMIT ?) capped",
		append(append([]any{}, args...), TotalCap+1)...).Scan(&out.Total).Error; err != nil {
		return out, translate(err)
	}
	out.TotalExact = out.Total <= TotalCap
	if !out.TotalExact {
		out.Total = TotalCap
	}
	if out.Total == 0 {
		return out, nil
	}
	var rows []struct {
		models.Patient
		UserFullName     *string
		UserEmail        *string
		ExternalID       *string
		LatestRiskLevel  *string
		AssignedDoctorID *string
		DoctorName       *string
		DoctorEmail      *string
	}
	err := r.db.Raw(`SELECT p.*, u.full_name AS user_full_name, u.email AS user_email,
		pg.external_id, pg.latest_risk_level, pg.assigned_doctor_id, du.full_name AS doctor_name, du.email AS doctor_email
		FROM (SELECT cp.patient_id, cp.external_id, cp.latest_risk_level, cp.assigned_doctor_id, cp.created_at
			FROM clinic_patients cp WHERE `+w+` ORDER BY cp.created_at DESC, cp.patient_id DESC LIMIT ? OFFSET ?) pg
		JOIN patients p ON p.id = pg.patient_id
		LEFT JOIN users u ON u.id = p.user_id
		LEFT JOIN users du ON du.id = pg.assigned_doctor_id
		ORDER BY pg.created_at DESC, pg.patient_id DESC`, append(args, pageSize, (page-1)*pageSize)...).Scan(&rows).Error
	if err != nil {
		return out, translate(err)
	}
	for _, row := range rows {
		p := patientRow{row.Patient, row.UserFullName, row.UserEmail}.patient()
		p.ExternalID = row.ExternalID
		item := ClinicPatientRow{Patient: p, LatestRiskLevel: row.LatestRiskLevel, AssignedDoctorID: row.AssignedDoctorID}
		if row.AssignedDoctorID != nil {
			item.AssignedDoctorName = models.PatientName(nil, row.DoctorName, row.DoctorEmail)
		}
		out.Items = append(out.Items, item)
	}
	return out, r.fillClinics(out.Items, staff)
}

// fillClinics sets the clinics of the page's patients: all their clinics
// (staff ""), or those where staff is a member.
func (r *Patients) fillClinics(items []ClinicPatientRow, staff string) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
		items[i].Clinics = []models.ClinicRef{}
	}
	q := "SELECT cp.patient_id, c.id, c.name FROM clinic_patients cp JOIN clinics c ON c.id = cp.clinic_id WHERE cp.patient_id IN ?"
	args := []any{ids}
	if staff != "" {
		q += " AND cp.clinic_id IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ?)"
		args = append(args, staff)
	}
	var rows []struct {
		PatientID, ID, Name string
	}
	if err := r.db.Raw(q+" ORDER BY c.name, c.id", args...).Scan(&rows).Error; err != nil {
		return translate(err)
	}
	at := map[string]int{}
	for i := range items {
		at[items[i].ID] = i
	}
	for _, row := range rows {
		i := at[row.PatientID]
		items[i].Clinics = append(items[i].Clinics, models.ClinicRef{ID: row.ID, Name: row.Name})
	}
	return nil
}

// EnrolledRecord returns record id if it is enrolled in clinicID;
// models.ErrNotFound otherwise.
func (r *Patients) EnrolledRecord(clinicID, id string) (*models.Patient, error) {
	var rows []patientRow
	err := r.db.Raw(patientSelect+` WHERE p.id = ? AND EXISTS (SELECT 1 FROM clinic_patients cp WHERE cp.patient_id = p.id AND cp.clinic_id = ?)`,
		id, clinicID).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	p := rows[0].patient()
	return &p, nil
}

// Join joins record id, which has no account, to account userID at now. When
// the account has a record of its own already, the two become one: the
// record's screenings and enrolments move to the account's record (an
// enrolment in a clinic the account's record is enrolled in already keeps
// that one, taking the clinic's record number and assigned doctor where it
// had none) and the record goes. models.ErrNotFound when the record no longer
// exists or has an account meanwhile. Run it in a transaction.
func (r *Patients) Join(id, userID string, now time.Time) error {
	var own []string
	if err := r.db.Model(&models.Patient{}).Where("user_id = ?", userID).Pluck("id", &own).Error; err != nil {
		return translate(err)
	}
	if len(own) == 0 {
		res := r.db.Model(&models.Patient{}).Where("id = ? AND user_id IS NULL", id).
			Updates(map[string]any{"user_id": userID, "updated_at": now})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return models.ErrNotFound
		}
		return r.RenameAccount(userID)
	}
	target := own[0]
	var n int64
	if err := r.db.Model(&models.Patient{}).Where("id = ? AND user_id IS NULL", id).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n == 0 {
		return models.ErrNotFound
	}
	// Where both are enrolled, the account's enrolment stays and takes the
	// clinic's record number and assigned doctor when it had none.
	var recRows, ownRows []models.ClinicPatient
	if err := r.db.Where("patient_id = ?", id).Find(&recRows).Error; err != nil {
		return translate(err)
	}
	if err := r.db.Where("patient_id = ?", target).Find(&ownRows).Error; err != nil {
		return translate(err)
	}
	for _, rec := range recRows {
		for _, o := range ownRows {
			if o.ClinicID != rec.ClinicID {
				continue
			}
			if err := r.db.Where("clinic_id = ? AND patient_id = ?", rec.ClinicID, id).Delete(&models.ClinicPatient{}).Error; err != nil {
				return translate(err)
			}
			cols := map[string]any{}
			if o.ExternalID == nil && rec.ExternalID != nil {
				cols["external_id"], cols["external_key"] = rec.ExternalID, rec.ExternalKey
			}
			if o.AssignedDoctorID == nil && rec.AssignedDoctorID != nil {
				cols["assigned_doctor_id"] = rec.AssignedDoctorID
			}
			if len(cols) > 0 {
				if err := r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND patient_id = ?", o.ClinicID, target).
					Updates(cols).Error; err != nil {
					return translate(err)
				}
			}
		}
	}
	for _, q := range []string{
		`UPDATE clinic_patients SET patient_id = ? WHERE patient_id = ?`,
		`UPDATE screenings SET patient_id = ? WHERE patient_id = ?`,
		`UPDATE invitations SET patient_id = ? WHERE patient_id = ?`,
		`UPDATE alerts SET patient_id = ? WHERE patient_id = ?`,
	} {
		if err := r.db.Exec(q, target, id).Error; err != nil {
			return translate(err)
		}
	}
	if err := r.db.Exec(`DELETE FROM patients WHERE id = ?`, id).Error; err != nil {
		return translate(err)
	}
	var clinics []string
	if err := r.db.Model(&models.ClinicPatient{}).Where("patient_id = ?", target).Pluck("clinic_id", &clinics).Error; err != nil {
		return translate(err)
	}
	for _, c := range clinics {
		if err := r.RefreshLatestRisk(c, target); err != nil {
			return err
		}
	}
	return r.RenameAccount(userID)
}
