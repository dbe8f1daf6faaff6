package app

import (
	"context"
	"log/slog"
	"time"

	"aura/analysis"
	"aura/config"
	"aura/models"
	"aura/queue"
	"aura/repositories"
	"aura/services/alerts"
	"aura/services/billing"
	"aura/services/screenings"
	"aura/storage"
)

// newScreenings opens the image store and builds the screening rules and
// the analysis workers (analysis.workers of them; none when 0).
func (a *App) newScreenings(ctx context.Context) error {
	c := a.Cfg
	blobs, err := OpenStore(ctx, c, a.Log)
	if err != nil {
		return err
	}
	analyzer, err := analysis.New(c.Analysis.Analyzer, func(key string) any {
		return c.Setting("analysis." + c.Analysis.Analyzer + "." + key)
	})
	if err != nil {
		_ = blobs.Close()
		return err
	}
	a.Blobs = blobs
	a.Screenings = screenings.New(screenings.Settings{
		MaxImageBytes: c.Screening.MaxImageBytes, MaxAttempts: c.Analysis.MaxAttempts, AnalysisTimeout: c.Analysis.Timeout,
		FrontendURL: c.Mail.FrontendURL, ReportTimeout: reportTimeout, DefaultLang: c.I18n.DefaultLanguage,
		DecodeMemory: c.Screening.DecodeMemory, ReportRendersPerAccount: c.Screening.ReportRendersPerAccount,
		UploadMax: c.Limits.Upload.Max, UploadWindow: c.Limits.Upload.Window,
	}, blobs, analyzer, a.Clock)
	a.Screenings.Alerts = a.NewAlerts()
	if c.Billing.Enabled {
		l := &billing.Ledger{Clock: a.Clock, FrontendURL: c.Mail.FrontendURL, Provider: billing.Fake{FrontendURL: c.Mail.FrontendURL}}
		if c.Billing.Provider == "vnpay" {
			v := &billing.VNPay{TmnCode: c.Billing.VNPay.TmnCode, HashSecret: c.Billing.VNPay.HashSecret,
				PayURLBase: c.Billing.VNPay.PayURL, ReturnURL: c.Billing.VNPay.ReturnURL}
			l.Provider, l.VNPay = v, v
		}
		a.Screenings.Billing = l
	}
	w := &screenings.Worker{S: a.Screenings, St: func(ctx context.Context) *repositories.Store {
		return repositories.New(a.DB.WithContext(ctx))
	}}
	a.Analysis = queue.New(queue.Config{
		Kind: models.JobAnalyze, Workers: c.Analysis.Workers, MaxAttempts: c.Analysis.MaxAttempts,
		Lease: c.Analysis.Lease, PollInterval: analysisPoll, MaxBackoff: analysisMaxBackoff, Nice: c.Analysis.Nice,
		OutageBudget: c.Analysis.OutageBudget, OutageMaxBackoff: analysisOutageMaxBackoff,
	}, func(ctx context.Context) *repositories.Jobs { return repositories.New(a.DB.WithContext(ctx)).Jobs },
		w.Handle, w.GiveUp, a.Log)
	a.Analysis.Clock = a.Clock
	a.workers = append(a.workers, a.Analysis.Run)
	return nil
}

// OpenStore opens the object store of storage.uri with the master key of
// storage.encryption_key or storage.keeper, if one is set. An object that
// fails to decrypt (wrong key, altered) is logged as an error, naming its
// key (which holds no personal data); the request reading it answers 503.
func OpenStore(ctx context.Context, c *config.Config, log *slog.Logger) (*storage.Store, error) {
	keeper, err := storage.OpenKeeper(ctx, c.Storage.EncryptionKey, c.Storage.Keeper)
	if err != nil {
		return nil, err
	}
	blobs, err := storage.OpenWith(ctx, c.Storage.URI, storage.Options{Keeper: keeper, OnCorrupt: func(key string, err error) {
		log.Error("stored object cannot be decrypted", "key", key, "err", err)
	}})
	if err != nil {
		if keeper != nil {
			_ = keeper.Close()
		}
		return nil, err
	}
	return blobs, nil
}

// reportTimeout bounds the making of one PDF report.
const reportTimeout = 30 * time.Second

// Queue pacing of the analysis workers.
const (
	analysisPoll       = time.Second
	analysisMaxBackoff = 5 * time.Minute
	// analysisOutageMaxBackoff caps the wait between tries while the store,
	// the database or the model server is unavailable: a job notices within
	// it that the outage is over (and wakes the others).
	analysisOutageMaxBackoff = queue.DefaultOutageMaxBackoff
)

// NewAlerts builds the alerts' rules from the configuration.
func (a *App) NewAlerts() *alerts.Service {
	return &alerts.Service{Clock: a.Clock, Settings: alerts.Settings{DefaultLang: a.Cfg.I18n.DefaultLanguage,
		FrontendURL: a.Cfg.Mail.FrontendURL, EscalateAfter: a.Cfg.Alerts.EscalateAfter}}
}
