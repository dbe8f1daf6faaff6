package models

import (
	"time"

	"aura/vocab"
)

// Screening statuses, in their order.
const (
	StatusQueued         = "queued"
	StatusProcessing     = "processing"
	StatusAwaitingReview = "awaiting_review"
	StatusInReview       = "in_review"
	StatusReviewed       = "reviewed"
	StatusFailed         = "failed"
)

// Agreements a doctor's review may record with the analysis (FR-15).
var Agreements = []string{"agree", "partial", "disagree"}

// Statuses lists every screening status.
var Statuses = []string{StatusQueued, StatusProcessing, StatusAwaitingReview, StatusInReview, StatusReviewed, StatusFailed}

// RiskLevels in increasing order (the vocabulary's).
var RiskLevels = vocab.RiskLevels()

// Screening is one fundus image a patient sent to a clinic, its analysis, and
// its review. The image and the vessel map are stored outside the database
// under keys made of the screening's id only.
type Screening struct {
	ID        string  `gorm:"type:varchar(36);primaryKey;index:idx_screenings_recent,priority:2"`
	PatientID string  `gorm:"type:varchar(36);not null;index:idx_screenings_patient,priority:1;index:idx_screenings_clinic_stats,priority:8"`
	ClinicID  string  `gorm:"type:varchar(36);not null;index:idx_screenings_clinic,priority:1;index:idx_screenings_clinic_time,priority:1;index:idx_screenings_recent,priority:3;index:idx_screenings_clinic_stats,priority:1"`
	Status    string  `gorm:"type:varchar(20);not null;index:idx_screenings_clinic,priority:2;index:idx_screenings_clinic_stats,priority:3"`
	Eye       string  `gorm:"type:varchar(5);not null"`
	Note      *string `gorm:"type:varchar(1000)"`
	// Lang is the language of the patient's notices and report (vi, en).
	Lang string `gorm:"type:varchar(5);not null;default:'vi'"`

	ImageKey    string `gorm:"type:varchar(200);not null"`
	ImageType   string `gorm:"type:varchar(20);not null"`
	ImageBytes  int64  `gorm:"not null"`
	ImageWidth  int    `gorm:"not null"`
	ImageHeight int    `gorm:"not null"`
	ImageSHA256 string `gorm:"type:varchar(64);not null"`
	// IdempotencyKey makes a retried upload return this screening.
	IdempotencyKey *string `gorm:"type:varchar(100);uniqueIndex:idx_screenings_idem,priority:2"`
	IdemPatientID  *string `gorm:"type:varchar(36);uniqueIndex:idx_screenings_idem,priority:1"`

	// BatchID is the batch the screening came in (nil for a single upload).
	BatchID *string `gorm:"type:varchar(36);index:idx_screenings_batch"`

	// The DICOM object of a DICOM upload (all nil for a JPEG or PNG). A
	// resend of the same SOP Instance UID to the clinic returns this
	// screening (unique with DicomClinicID, the screening's clinic).
	DicomSOPInstanceUID *string    `gorm:"column:dicom_sop_instance_uid;type:varchar(64);uniqueIndex:idx_screenings_dicom_sop,priority:2"`
	DicomClinicID       *string    `gorm:"column:dicom_clinic_id;type:varchar(36);uniqueIndex:idx_screenings_dicom_sop,priority:1"`
	DicomStudyUID       *string    `gorm:"column:dicom_study_instance_uid;type:varchar(64)"`
	DicomSeriesUID      *string    `gorm:"column:dicom_series_instance_uid;type:varchar(64)"`
	DicomModality       *string    `gorm:"column:dicom_modality;type:varchar(16)"`
	DicomAcquiredAt     *time.Time `gorm:"column:dicom_acquired_at"`

	// Analysis is the analysis, once done (its columns keep their names:
	// embedded, not prefixed).
	Analysis Analysis `gorm:"embedded"`

	// The review: the claim while in_review, the verdict once reviewed.
	ReviewerID      *string `gorm:"type:varchar(36);index;index:idx_screenings_reviewer_time,priority:1"`
	ClaimedAt       *time.Time
	ReviewRiskLevel *string    `gorm:"type:varchar(10);index:idx_screenings_clinic_stats,priority:5"`
	ReviewNotes     *string    `gorm:"type:text"`
	Recommendation  *string    `gorm:"type:text"`
	ReviewedAt      *time.Time `gorm:"index:idx_screenings_clinic_stats,priority:7"`
	// AnalysisAgreement is the doctor's agreement with the analysis
	// (agree, partial, disagree), and CorrectedMetricsJSON the metrics the
	// doctor corrected (a JSON object of metric name to number), kept
	// beside the measured ones; both optional.
	AnalysisAgreement    *string `gorm:"type:varchar(10)"`
	CorrectedMetricsJSON *string `gorm:"column:corrected_metrics;type:text"`
	// Feedback is the doctor's free text on the analysis (at most 2000
	// characters), for research; optional.
	Feedback *string `gorm:"type:text"`

	// The failure, when the analysis could not run.
	FailureCode    *string `gorm:"type:varchar(40)"`
	FailureMessage *string `gorm:"type:varchar(1024)"`
	Attempts       int     `gorm:"not null;default:0"`

	// idx_screenings_clinic_stats (clinic_id, created_at, status,
	// risk_level, review_risk_level, completed_at, reviewed_at,
	// patient_id) covers every column a clinic's statistics read, so they
	// scan one index range and never the table (services/stats).
	CreatedAt time.Time `gorm:"not null;index:idx_screenings_patient,priority:2;index:idx_screenings_clinic,priority:3;index:idx_screenings_clinic_time,priority:2;index:idx_screenings_recent,priority:1;index:idx_screenings_reviewer_time,priority:2;index:idx_screenings_clinic_stats,priority:2"`
	UpdatedAt time.Time `gorm:"not null"`

	Patient *Patient `gorm:"foreignKey:PatientID;constraint:OnDelete:RESTRICT"`
	Clinic  *Clinic  `gorm:"foreignKey:ClinicID;constraint:OnDelete:RESTRICT"`
}

// Analysis is a screening's analysis as stored: every column is NULL until
// the analysis is recorded, which CompletedAt marks. One value is written
// (repositories.Screenings.SaveAnalysis) and read back whole; its one view is
// screenings.ViewOf.
type Analysis struct {
	// VesselKey is the vessel map's storage key; nil when the analyzer gave
	// no map.
	VesselKey       *string `gorm:"type:varchar(200)"`
	Analyzer        *string `gorm:"type:varchar(20)"`
	AnalyzerVersion *string `gorm:"type:varchar(40)"`
	// ProfileVersion is the risk profile the result was rated with.
	ProfileVersion *int
	Gradable       *bool `gorm:"type:boolean"`
	Quality        *float64
	RiskLevel      *string `gorm:"type:varchar(10);index;index:idx_screenings_clinic_stats,priority:4"`
	Confidence     *float64
	// The metrics: all four set, or (an ungradable image) none.
	VesselDensity     *float64
	FractalDimension  *float64
	Tortuosity        *float64
	MeanVesselWidthPx *float64
	// The measurements around the optic disc (vessels-2.1 and later): each
	// NULL when the disc was not found, or not looked for.
	CRAE          *float64 `gorm:"column:crae"`
	CRVE          *float64 `gorm:"column:crve"`
	AVR           *float64 `gorm:"column:avr"`
	ArteryDensity *float64
	VeinDensity   *float64
	// The optic disc, in pixels of the uploaded image; NULL when not found.
	OpticDiscX      *float64
	OpticDiscY      *float64
	OpticDiscRadius *float64
	// AVKey and OverlayKey are the storage keys of the artery/vein map and
	// the overlay; nil when the analyzer made none.
	AVKey      *string `gorm:"column:av_key;type:varchar(200)"`
	OverlayKey *string `gorm:"type:varchar(200)"`
	// FindingsJSON is the risk rules' findings as a JSON array.
	FindingsJSON *string `gorm:"type:text"`
	// RecommendationJSON is the follow-up advice of the highest-level rule
	// met, {"vi", "en"}; NULL when no rule met carries one.
	RecommendationJSON *string    `gorm:"type:text"`
	CompletedAt        *time.Time `gorm:"index:idx_screenings_clinic_stats,priority:6"`
	DurationMs         *int64
}

// Done says whether the analysis has been recorded.
func (a Analysis) Done() bool { return a.CompletedAt != nil }
