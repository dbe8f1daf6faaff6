package repositories

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Screenings reads and writes screenings.
type Screenings struct{ db *gorm.DB }

// ReleaseClaims returns to awaiting_review every case the doctor holds in
// review in the clinic (the doctor left it); it returns their ids.
func (r *Screenings) ReleaseClaims(clinicID, doctorID string, now time.Time) ([]string, error) {
	var ids []string
	if err := r.db.Model(&models.Screening{}).
		Where("clinic_id = ? AND reviewer_id = ? AND status = ?", clinicID, doctorID, models.StatusInReview).
		Pluck("id", &ids).Error; err != nil {
		return nil, translate(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	err := r.db.Model(&models.Screening{}).
		Where("id IN ? AND reviewer_id = ? AND status = ?", ids, doctorID, models.StatusInReview).
		Updates(map[string]any{"status": models.StatusAwaitingReview, "reviewer_id": nil, "claimed_at": nil, "updated_at": now}).Error
	if err != nil {
		return ids, translate(err)
	}
	return ids, (&Events{db: r.db}).publishScreenings(now, ids...)
}

// ScreeningRow is a screening with what its views show of its patient,
// clinic and reviewer.
type ScreeningRow struct {
	models.Screening
	PatientCode  string
	PatientDOB   *string
	PatientSex   *string
	PatientName  *string
	PatientEmail string
	// PatientUserID is the account of the patient's record; nil for a
	// record without one (notices to the patient go nowhere).
	PatientUserID   *string
	ClinicName      string
	ReviewerName    *string
	ReviewerEmail   *string
	ReviewerLicense *string
}

const screeningSelect = `SELECT s.*, p.patient_code, p.date_of_birth AS patient_dob, p.sex AS patient_sex,
	COALESCE(u.full_name, p.full_name) AS patient_name, COALESCE(u.email, p.email, '') AS patient_email, p.user_id AS patient_user_id, c.name AS clinic_name,
	ru.full_name AS reviewer_name, ru.email AS reviewer_email, d.license_no AS reviewer_license
	FROM screenings s
	JOIN patients p ON p.id = s.patient_id
	LEFT JOIN users u ON u.id = p.user_id
	JOIN clinics c ON c.id = s.clinic_id
	LEFT JOIN users ru ON ru.id = s.reviewer_id
	LEFT JOIN doctors d ON d.user_id = s.reviewer_id`

// Create inserts s.
func (r *Screenings) Create(s *models.Screening) error {
	return translate(r.db.Create(s).Error)
}

// Get returns the screening if scope may see it; models.ErrNotFound alike
// for a missing and a hidden one (one query either way).
func (r *Screenings) Get(id string, scope Scope) (*ScreeningRow, error) {
	cond, args := scope.screenings("s")
	var rows []ScreeningRow
	err := r.db.Raw(screeningSelect+" WHERE s.id = ? AND "+cond, append([]any{id}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	return &rows[0], nil
}

// ByIdempotencyKey returns the patient's screening uploaded with key, or
// models.ErrNotFound.
func (r *Screenings) ByIdempotencyKey(patientID, key string) (*models.Screening, error) {
	var s models.Screening
	err := r.db.Where("idem_patient_id = ? AND idempotency_key = ?", patientID, key).Take(&s).Error
	if err != nil {
		return nil, translate(err)
	}
	return &s, nil
}

// ForgetIdempotencyKey frees key of the patient's screening (its 24 hours
// are over), so a new upload may use it.
func (r *Screenings) ForgetIdempotencyKey(id string) error {
	return translate(r.db.Model(&models.Screening{}).Where("id = ?", id).
		Updates(map[string]any{"idempotency_key": nil, "idem_patient_id": nil}).Error)
}

// ScreeningFilter narrows a listing; empty fields do not filter.
type ScreeningFilter struct {
	Statuses   []string
	Eye        string
	RiskLevels []string
	ClinicID   string
	PatientID  string
	BatchID    string
	From, To   *time.Time // To exclusive
}

// ScreeningPage is one page of a listing. Total counts at most TotalCap
// rows; TotalExact is false when there are more.
type ScreeningPage struct {
	Items      []ScreeningRow
	Total      int64
	TotalExact bool
}

// TotalCap bounds the count of a listing, so a page costs the same at a
// million rows as at ten thousand: counting reads up to TotalCap+1 index
// entries, and at 10 000 the count alone made a doctor's first page 1.3x
// slower at 100 000 screenings than at 10 000 on SQLite (docs/performance.md).
// 1 000 is 50 pages of 20.
const TotalCap = 1000

// List returns the screenings scope may see that match f, newest first.
func (r *Screenings) List(f ScreeningFilter, scope Scope, page, pageSize int) (ScreeningPage, error) {
	cond, args := scope.screenings("s")
	where := []string{cond}
	if len(f.Statuses) > 0 {
		where = append(where, "s.status IN ?")
		args = append(args, f.Statuses)
	}
	if f.Eye != "" {
		where = append(where, "s.eye = ?")
		args = append(args, f.Eye)
	}
	if len(f.RiskLevels) > 0 {
		where = append(where, "COALESCE(s.review_risk_level, s.risk_level) IN ?")
		args = append(args, f.RiskLevels)
	}
	if f.ClinicID != "" {
		where = append(where, "s.clinic_id = ?")
		args = append(args, f.ClinicID)
	}
	if f.PatientID != "" {
		where = append(where, "s.patient_id = ?")
		args = append(args, f.PatientID)
	}
	if f.BatchID != "" {
		where = append(where, "s.batch_id = ?")
		args = append(args, f.BatchID)
	}
	if f.From != nil {
		where = append(where, "s.created_at >= ?")
		args = append(args, *f.From)
	}
	if f.To != nil {
		where = append(where, "s.created_at < ?")
		args = append(args, *f.To)
	}
	w := strings.Join(where, " AND ")
	var p ScreeningPage
	if err := r.db.Raw("SELECT COUNT(*) FROM (SELECT 1 FROM screenings s WHERE "+w+" LIMIT ?) capped",
		append(append([]any{}, args...), TotalCap+1)...).Scan(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	p.TotalExact = p.Total <= TotalCap
	if !p.TotalExact {
		p.Total = TotalCap
	}
	p.Items = []ScreeningRow{}
	// The page's ids first, from screenings alone in the order of
	// idx_screenings_recent (created_at, id, clinic_id), so the engine walks
	// the index newest first and stops at the page's end; only those rows are
	// then joined to patients, users, clinics and reviewers. Joined in one
	// statement, SQLite scanned every screening and sorted them.
	err := r.db.Raw(strings.Replace(screeningSelect, "FROM screenings s",
		"FROM (SELECT s.id FROM screenings s WHERE "+w+" ORDER BY s.created_at DESC, s.id DESC LIMIT ? OFFSET ?) pg "+
			"JOIN screenings s ON s.id = pg.id", 1)+" ORDER BY s.created_at DESC, s.id DESC",
		append(args, pageSize, (page-1)*pageSize)...).Scan(&p.Items).Error
	return p, translate(err)
}

// SetStatus moves screening id from one of from to status at now; false
// when it was in none of them.
func (r *Screenings) SetStatus(id string, from []string, status string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Screening{}).Where("id = ? AND status IN ?", id, from).
		Updates(map[string]any{"status": status, "updated_at": now})
	return r.changed(res, now, id)
}

// SaveAnalysis records a finished analysis (a.CompletedAt set) after
// attempts and moves the screening to awaiting_review; false when it was not
// queued or processing. Every column of models.Analysis is written, so one
// added there needs nothing here.
func (r *Screenings) SaveAnalysis(id string, a models.Analysis, attempts int) (bool, error) {
	if a.CompletedAt == nil {
		return false, errors.New("SaveAnalysis: the analysis has no CompletedAt")
	}
	cols, err := analysisColumns(r.db, a)
	if err != nil {
		return false, err
	}
	cols["status"], cols["attempts"], cols["failure_code"], cols["failure_message"], cols["updated_at"] =
		models.StatusAwaitingReview, attempts, nil, nil, *a.CompletedAt
	res := r.db.Model(&models.Screening{}).Where("id = ? AND status IN ?", id, []string{models.StatusQueued, models.StatusProcessing}).
		Updates(cols)
	if res.Error != nil || res.RowsAffected != 1 {
		return false, translate(res.Error)
	}
	if err := r.refreshLatestRisk(id); err != nil {
		return false, err
	}
	return true, (&Events{db: r.db}).publishScreenings(*a.CompletedAt, id)
}

// changed is the answer of a conditional status update: whether it changed
// the screening, its event published when it did.
func (r *Screenings) changed(res *gorm.DB, now time.Time, id string) (bool, error) {
	if res.Error != nil || res.RowsAffected != 1 {
		return false, translate(res.Error)
	}
	return true, (&Events{db: r.db}).publishScreenings(now, id)
}

// refreshLatestRisk brings the latest risk level of the enrolment of
// screening id's patient in its clinic up to date (call it in the
// transaction that analysed or reviewed the screening).
func (r *Screenings) refreshLatestRisk(id string) error {
	var s models.Screening
	if err := r.db.Select("clinic_id", "patient_id").Where("id = ?", id).Take(&s).Error; err != nil {
		return translate(err)
	}
	return (&Patients{db: r.db}).RefreshLatestRisk(s.ClinicID, s.PatientID)
}

// analysisColumns maps every column of the embedded models.Analysis to its
// value in a, as GORM's schema of models.Screening names them.
func analysisColumns(db *gorm.DB, a models.Analysis) (map[string]any, error) {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(&models.Screening{}); err != nil {
		return nil, err
	}
	row := reflect.ValueOf(&models.Screening{Analysis: a}).Elem()
	cols := map[string]any{}
	for _, f := range stmt.Schema.Fields {
		if len(f.BindNames) == 2 && f.BindNames[0] == "Analysis" && f.DBName != "" {
			v, _ := f.ValueOf(context.Background(), row)
			cols[f.DBName] = v
		}
	}
	return cols, nil
}

// Fail records that the analysis could not run; false when the screening was
// not queued or processing.
func (r *Screenings) Fail(id, code, message string, attempts int, now time.Time) (bool, error) {
	res := r.db.Model(&models.Screening{}).Where("id = ? AND status IN ?", id, []string{models.StatusQueued, models.StatusProcessing}).
		Updates(map[string]any{"status": models.StatusFailed, "failure_code": code, "failure_message": cleanError(message),
			"attempts": attempts, "updated_at": now})
	return r.changed(res, now, id)
}

// Claim gives the screening to doctorID for review if it awaits review and
// the doctor belongs to its clinic now, in one conditional update: of any
// number of concurrent claims, exactly one changes the row. It returns
// whether this one did.
func (r *Screenings) Claim(id, doctorID string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Screening{}).
		Where("id = ? AND status = ? AND clinic_id IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ? AND cm.role = ?)",
			id, models.StatusAwaitingReview, doctorID, models.RoleDoctor).
		Updates(map[string]any{"status": models.StatusInReview, "reviewer_id": doctorID, "claimed_at": now, "updated_at": now})
	return r.changed(res, now, id)
}

// Release gives the doctor's claim back; false when the doctor did not hold it.
func (r *Screenings) Release(id, doctorID string, now time.Time) (bool, error) {
	res := r.db.Model(&models.Screening{}).Where("id = ? AND status = ? AND reviewer_id = ?", id, models.StatusInReview, doctorID).
		Updates(map[string]any{"status": models.StatusAwaitingReview, "reviewer_id": nil, "claimed_at": nil, "updated_at": now})
	return r.changed(res, now, id)
}

// Verdict is a doctor's review of a screening.
type Verdict struct {
	RiskLevel      string
	Notes          *string
	Recommendation string
	// AnalysisAgreement and CorrectedMetrics (JSON object) are optional.
	AnalysisAgreement *string
	CorrectedMetrics  *string
	// Feedback is the doctor's free text on the analysis; optional.
	Feedback *string
}

// Review records the verdict of the doctor holding the claim and makes the
// screening reviewed (final); false when the doctor did not hold it.
func (r *Screenings) Review(id, doctorID string, v Verdict, now time.Time) (bool, error) {
	res := r.db.Model(&models.Screening{}).Where("id = ? AND status = ? AND reviewer_id = ?", id, models.StatusInReview, doctorID).
		Updates(map[string]any{"status": models.StatusReviewed, "review_risk_level": v.RiskLevel, "review_notes": v.Notes,
			"recommendation": v.Recommendation, "analysis_agreement": v.AnalysisAgreement,
			"corrected_metrics": v.CorrectedMetrics, "feedback": v.Feedback, "reviewed_at": now, "updated_at": now})
	if res.Error != nil || res.RowsAffected != 1 {
		return false, translate(res.Error)
	}
	if err := r.refreshLatestRisk(id); err != nil {
		return false, err
	}
	return true, (&Events{db: r.db}).publishScreenings(now, id)
}

// AnalyzerUse is one analyzer version's share of the recorded analyses.
type AnalyzerUse struct {
	Analyzer string
	Version  string
	Results  int64
}

// AnalyzerUses counts the recorded analyses by analyzer and version, most
// results first (one GROUP BY over the screenings).
func (r *Screenings) AnalyzerUses() ([]AnalyzerUse, error) {
	var out []AnalyzerUse
	err := r.db.Raw(`SELECT analyzer, analyzer_version AS version, COUNT(*) AS results
		FROM screenings WHERE completed_at IS NOT NULL AND analyzer IS NOT NULL
		GROUP BY analyzer, analyzer_version ORDER BY results DESC, analyzer, analyzer_version`).Scan(&out).Error
	return out, translate(err)
}

// Gradable lists the patient's gradable results of one eye that scope may
// see (analysis recorded, image gradable), in the order of trends: by
// the time the photograph was taken (the DICOM acquisition time when known,
// else the upload time), then by upload time and id. except (an id, or "")
// is left out.
func (r *Screenings) Gradable(patientID, eye string, scope Scope, except string) ([]models.Screening, error) {
	cond, args := scope.screenings("s")
	var rows []models.Screening
	err := r.db.Raw(`SELECT s.* FROM screenings s WHERE s.patient_id = ? AND s.eye = ? AND s.gradable = ?
		AND s.completed_at IS NOT NULL AND s.id <> ? AND `+cond,
		append([]any{patientID, eye, true, except}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	slices.SortStableFunc(rows, func(a, b models.Screening) int {
		if c := TakenAt(&a).Compare(TakenAt(&b)); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return rows, nil
}

// TakenAt is when the photograph of s was taken, as far as AURA knows: the
// DICOM acquisition time when the upload carried one, else the upload time.
func TakenAt(s *models.Screening) time.Time {
	if s.DicomAcquiredAt != nil {
		return s.DicomAcquiredAt.UTC()
	}
	return s.CreatedAt.UTC()
}
