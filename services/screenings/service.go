// Package screenings holds the rules of the clinic's screening work: the
// upload of a fundus photograph (validated by content, size-limited while
// streaming, stored before its row and removed if the row cannot be
// written), its analysis job, what each caller may read of it (the policy's
// scope, every read by others audited), the analysis worker, the risk
// rules, and the doctor's claim, release and review.
//
// AURA measures; it does not diagnose: results are screening indicators for
// a doctor, who reviews every case.
package screenings

import (
	"time"

	"aura/analysis"
	"aura/models"
	"aura/storage"
)

// Settings are the values of the configuration the rules need.
type Settings struct {
	MaxImageBytes int64
	MaxAttempts   int
	// AnalysisTimeout bounds one analysis; 0 leaves the job's own deadline.
	AnalysisTimeout time.Duration
	// TempDir holds uploads while they are checked ("" is the system's).
	TempDir string
	// DefaultLang is the language of doctors' notices when their account has none.
	DefaultLang string
	// FrontendURL is where mail links the patient to.
	FrontendURL string
	// ReportTimeout bounds the making of one PDF report.
	ReportTimeout time.Duration
	// UploadMax uploads per UploadWindow per patient account
	// (limits.upload.*); 0: no limit.
	UploadMax    int
	UploadWindow time.Duration
}

// Service applies the screening rules.
type Service struct {
	Clock    models.Clock
	Settings Settings
	Blobs    *storage.Store
	Analyzer analysis.Analyzer
	// decodes bounds the full decodes of uploads running at once: a 40 MP
	// image takes up to 160 MiB while it is checked.
	decodes chan struct{}
	// avg is the moving average of analysis durations (see PollAfter).
	avg analysisAvg
}

// New builds the service.
func New(settings Settings, blobs *storage.Store, analyzer analysis.Analyzer, clock models.Clock) *Service {
	return &Service{Clock: clock, Settings: settings, Blobs: blobs, Analyzer: analyzer, decodes: make(chan struct{}, 2)}
}
