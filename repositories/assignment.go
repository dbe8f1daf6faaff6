package repositories

import (
	"strings"

	"aura/models"
)

// activeDoctor is the condition "user column col is an active account that
// holds DOCTOR and is a DOCTOR member of the clinic in column clinicCol":
// a doctor who may still take the clinic's cases.
func activeDoctor(col, clinicCol string) string {
	return `EXISTS (SELECT 1 FROM clinic_members dm JOIN users du ON du.id = dm.user_id
		JOIN user_roles dur ON dur.user_id = du.id JOIN roles dro ON dro.id = dur.role_id
		WHERE dm.clinic_id = ` + clinicCol + ` AND dm.user_id = ` + col + ` AND dm.role = '` + models.RoleDoctor + `'
		AND du.is_active = ` + trueLiteral + ` AND dro.name = '` + models.RoleDoctor + `')`
}

// trueLiteral is a boolean true both engines read (SQLite stores booleans
// as 1, PostgreSQL compares a boolean with TRUE; 1 = TRUE fails there).
const trueLiteral = "TRUE"

// IsDoctorOf reports whether userID is a doctor of clinicID who may take its
// cases: an active account holding DOCTOR with a DOCTOR membership there.
func (r *Members) IsDoctorOf(clinicID, userID string) (bool, error) {
	var n int64
	err := r.db.Raw(`SELECT COUNT(*) FROM clinics c WHERE c.id = ? AND `+activeDoctor("?", "c.id"), clinicID, userID).Scan(&n).Error
	return n > 0, translate(err)
}

// Enrolled reports whether record patientID is enrolled in clinicID.
func (r *Patients) Enrolled(clinicID, patientID string) (bool, error) {
	var n int64
	err := r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND patient_id = ?", clinicID, patientID).Count(&n).Error
	return n > 0, translate(err)
}

// Assign sets (doctorID) or clears (nil) the doctor who follows record
// patientID in clinicID; false when the record is not enrolled there.
func (r *Patients) Assign(clinicID, patientID string, doctorID *string) (bool, error) {
	res := r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND patient_id = ?", clinicID, patientID).
		Update("assigned_doctor_id", doctorID)
	return res.RowsAffected == 1, translate(res.Error)
}

// UnassignDoctor clears every assignment of doctorID in clinicID (the
// doctor left the clinic).
func (r *Patients) UnassignDoctor(clinicID, doctorID string) error {
	return translate(r.db.Model(&models.ClinicPatient{}).Where("clinic_id = ? AND assigned_doctor_id = ?", clinicID, doctorID).
		Update("assigned_doctor_id", nil).Error)
}

// AssignedDoctor is the doctor assigned to record patientID in clinicID
// when they may still take the clinic's cases (an active account holding
// DOCTOR, still a DOCTOR member there); nil otherwise.
func (r *Patients) AssignedDoctor(clinicID, patientID string) (*Member, error) {
	var out []Member
	err := r.db.Raw(`SELECT cp.assigned_doctor_id AS user_id, u.lang FROM clinic_patients cp JOIN users u ON u.id = cp.assigned_doctor_id
		WHERE cp.clinic_id = ? AND cp.patient_id = ? AND `+activeDoctor("cp.assigned_doctor_id", "cp.clinic_id"), clinicID, patientID).
		Scan(&out).Error
	if err != nil || len(out) == 0 {
		return nil, translate(err)
	}
	return &out[0], nil
}

// clinicPatientSelect reads enrolment rows (aliased pg, with patient_id,
// external_id, latest_risk_level, assigned_doctor_id) with their records,
// accounts' names and assigned doctors' names.
const clinicPatientSelect = `SELECT p.*, u.full_name AS user_full_name, u.email AS user_email,
		pg.external_id, pg.latest_risk_level, pg.assigned_doctor_id, du.full_name AS doctor_name, du.email AS doctor_email`

const clinicPatientJoins = ` JOIN patients p ON p.id = pg.patient_id
		LEFT JOIN users u ON u.id = p.user_id
		LEFT JOIN users du ON du.id = pg.assigned_doctor_id`

type clinicPatientScan struct {
	models.Patient
	UserFullName     *string
	UserEmail        *string
	ExternalID       *string
	LatestRiskLevel  *string
	AssignedDoctorID *string
	DoctorName       *string
	DoctorEmail      *string
}

func (row clinicPatientScan) item() ClinicPatientRow {
	p := patientRow{row.Patient, row.UserFullName, row.UserEmail}.patient()
	p.ExternalID = row.ExternalID
	item := ClinicPatientRow{Patient: p, LatestRiskLevel: row.LatestRiskLevel, AssignedDoctorID: row.AssignedDoctorID}
	if row.AssignedDoctorID != nil {
		item.AssignedDoctorName = models.PatientName(nil, row.DoctorName, row.DoctorEmail)
	}
	return item
}

// InClinicOne is record patientID as clinicID's list shows it (its
// number there, latest risk level, assigned doctor), its clinics those
// where staff is a member ("" for all); models.ErrNotFound when it is not
// enrolled there.
func (r *Patients) InClinicOne(clinicID, patientID, staff string) (*ClinicPatientRow, error) {
	var rows []clinicPatientScan
	err := r.db.Raw(clinicPatientSelect+` FROM clinic_patients pg`+clinicPatientJoins+
		` WHERE pg.clinic_id = ? AND pg.patient_id = ?`, clinicID, patientID).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	items := []ClinicPatientRow{rows[0].item()}
	if err := r.fillClinics(items, staff); err != nil {
		return nil, err
	}
	return &items[0], nil
}

// DoctorPatientFilter narrows a doctor's patient list as
// ClinicPatientFilter does (without the doctor).
type DoctorPatientFilter struct {
	NameKey, Code, ExternalKey string
	RiskLevels                 []string
}

// OfDoctor returns page (from 1) of pageSize patients of doctorID, and how
// many match: the records enrolled in a clinic where doctorID is a DOCTOR
// member now and either assigned to them there or with a screening there
// they reviewed. A patient appears once, read through one enrolment: the
// one assigned to the doctor if any, else the newest; its latest risk
// level, assigned doctor and number are that enrolment's, and f filters
// on it. Newest enrolment first; the page is cut in SQL; its clinics are
// those where the doctor is a member.
func (r *Patients) OfDoctor(doctorID string, f DoctorPatientFilter, page, pageSize int) (ClinicPatientPage, error) {
	out := ClinicPatientPage{Items: []ClinicPatientRow{}}
	mine := `WITH mine AS (SELECT cp.patient_id, cp.clinic_id, cp.external_id, cp.external_key, cp.latest_risk_level,
			cp.assigned_doctor_id, cp.created_at,
			ROW_NUMBER() OVER (PARTITION BY cp.patient_id ORDER BY CASE WHEN cp.assigned_doctor_id = ? THEN 0 ELSE 1 END,
				cp.created_at DESC, cp.clinic_id) AS rn
		FROM clinic_patients cp
		WHERE cp.clinic_id IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ? AND cm.role = ?)
		AND (cp.assigned_doctor_id = ? OR EXISTS (SELECT 1 FROM screenings s WHERE s.clinic_id = cp.clinic_id
			AND s.patient_id = cp.patient_id AND s.reviewer_id = ? AND s.status = ?)))`
	args := []any{doctorID, doctorID, models.RoleDoctor, doctorID, doctorID, models.StatusReviewed}
	where := []string{"pg.rn = 1"}
	if len(f.RiskLevels) > 0 {
		where = append(where, "pg.latest_risk_level IN ?")
		args = append(args, f.RiskLevels)
	}
	join := ""
	if f.NameKey != "" || f.Code != "" || f.ExternalKey != "" {
		join = " JOIN patients fp ON fp.id = pg.patient_id"
		var or []string
		if f.NameKey != "" {
			or = append(or, `fp.name_key LIKE ? ESCAPE '\'`)
			args = append(args, "%"+escapeLike(f.NameKey)+"%")
		}
		if f.Code != "" {
			or = append(or, "fp.patient_code = ?")
			args = append(args, f.Code)
		}
		if f.ExternalKey != "" {
			or = append(or, "pg.external_key = ?")
			args = append(args, f.ExternalKey)
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	w := strings.Join(where, " AND ")
	if err := r.db.Raw(mine+" SELECT COUNT(*) FROM mine pg"+join+" WHERE "+w, args...).Scan(&out.Total).Error; err != nil {
		return out, translate(err)
	}
	if out.Total == 0 {
		return out, nil
	}
	var rows []clinicPatientScan
	err := r.db.Raw(mine+`, pick AS (SELECT pg.* FROM mine pg`+join+` WHERE `+w+`
			ORDER BY pg.created_at DESC, pg.patient_id DESC LIMIT ? OFFSET ?) `+
		clinicPatientSelect+` FROM pick pg`+clinicPatientJoins+` ORDER BY pg.created_at DESC, pg.patient_id DESC`,
		append(args, pageSize, (page-1)*pageSize)...).Scan(&rows).Error
	if err != nil {
		return out, translate(err)
	}
	for _, row := range rows {
		out.Items = append(out.Items, row.item())
	}
	return out, r.fillClinics(out.Items, doctorID)
}
