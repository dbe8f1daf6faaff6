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
	"aura/imaging"
	"aura/models"
	"aura/services/alerts"
	"aura/services/billing"
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
	// DecodeMemory is the bytes that the image decodes of this process
	// (upload checks, reports) may hold at once (screening.decode_memory);
	// 0 is DefaultDecodeMemory.
	DecodeMemory int64
	// ReportRendersPerAccount is how many reports one account may have
	// rendered at once (screening.report_renders_per_account); 0 is
	// DefaultReportRenders.
	ReportRendersPerAccount int
	// UploadMax uploads per UploadWindow per patient account
	// (limits.upload.*); 0: no limit.
	UploadMax    int
	UploadWindow time.Duration
}

// Defaults of the settings above.
const (
	DefaultDecodeMemory  = 512 << 20
	DefaultReportRenders = 2
)

// Service applies the screening rules.
type Service struct {
	Clock    models.Clock
	Settings Settings
	Blobs    *storage.Store
	Analyzer analysis.Analyzer
	// Billing charges each upload a credit; nil: billing is off.
	Billing *billing.Ledger
	// Alerts opens the alert of a result rated high or critical or
	// carrying TREND_CHANGE; nil: none are opened.
	Alerts *alerts.Service
	// decodeBudget bounds the bytes that image decodes hold at once, by
	// each image's header (a 40 MP 8-bit RGBA PNG holds about 200 MB).
	decodeBudget *imaging.Budget
	// reports renders each report once per state (report.go).
	reports reportRenders
	// avg is the moving average of analysis durations (see PollAfter).
	avg analysisAvg
}

// New builds the service.
func New(settings Settings, blobs *storage.Store, analyzer analysis.Analyzer, clock models.Clock) *Service {
	if settings.DecodeMemory <= 0 {
		settings.DecodeMemory = DefaultDecodeMemory
	}
	if settings.ReportRendersPerAccount <= 0 {
		settings.ReportRendersPerAccount = DefaultReportRenders
	}
	return &Service{Clock: clock, Settings: settings, Blobs: blobs, Analyzer: analyzer,
		decodeBudget: imaging.NewBudget(settings.DecodeMemory), reports: reportRenders{perAccount: map[string]int{}}}
}

// DecodeBudget is the budget image decodes share (for tests and metrics).
func (s *Service) DecodeBudget() *imaging.Budget { return s.decodeBudget }
