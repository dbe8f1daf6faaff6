package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"aura/apidoc"
	"aura/config"
	"aura/database"
	"aura/events"
	"aura/handlers"
	"aura/mail"
	"aura/metrics"
	"aura/models"
	"aura/queue"
	"aura/repositories"
	"aura/security"
	"aura/services/accounts"
	"aura/services/audit"
	"aura/services/billing"
	"aura/services/clinics"
	"aura/services/conversations"
	"aura/services/notifications"
	"aura/services/patients"
	"aura/services/privacy"
	"aura/services/screenings"
	"aura/services/templates"
	"aura/storage"
	"aura/texts"
)

// App is one wired AURA process: database, handlers and background workers.
type App struct {
	Cfg *config.Config
	DB  *gorm.DB
	Log *slog.Logger
	// Clock is the one time source every service and worker reads (nil:
	// the system clock, in UTC); New hands it to each of them.
	Clock models.Clock
	// Handler serves the API: Router behind the headers of every response.
	Handler http.Handler
	// Router holds the routes (tests add some).
	Router *gin.Engine
	// Accounts are the account rules, shared by HTTP and the CLI.
	Accounts *accounts.Service
	// Screenings are the screening rules; Analysis runs their jobs.
	Screenings *screenings.Service
	Analysis   *queue.Runner
	// Blobs is the image store.
	Blobs *storage.Store
	// Metrics are the Prometheus families; nil when metrics.addr is empty.
	Metrics *metrics.Metrics
	// Backups takes the scheduled backups; nil when backup.every is off.
	Backups *BackupScheduler
	// Events delivers the live updates of GET /api/events on this instance.
	Events *events.Hub
	// Conversations are the conversation rules (housekeeping mails their
	// unread messages).
	Conversations *conversations.Service
	workers       []func(ctx context.Context)
	probe         *repositories.Probe
	deps          *handlers.Deps
	mail          *mail.Sender
	// metricsLn is the operators' listener (metrics.addr), once opened.
	metricsLn net.Listener
}

// NewLogger makes the process logger: JSON in production (or log.format
// json), text otherwise.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" || (cfg.Log.Format == "" && cfg.Env == config.EnvProduction) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New opens the database, migrates it when database.auto_migrate is set, and
// wires the HTTP handler.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	// The API reference is converted from its YAML once, before anything
	// opens: a broken document stops the start instead of a request.
	if err := apidoc.Load(); err != nil {
		return nil, err
	}
	db, err := database.OpenDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	probe, err := repositories.NewProbe(db)
	if err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, DB: db, Log: log, probe: probe}
	a.Accounts = newAccounts(cfg, a.Clock)
	if err := a.addMailSender(); err != nil {
		a.closeDB()
		return nil, err
	}
	if err := a.newScreenings(ctx); err != nil {
		a.closeDB()
		return nil, err
	}
	a.addEvents()
	a.addHousekeeper()
	if cfg.Database.AutoMigrate {
		if err := database.Migrate(ctx, db, log); err != nil {
			a.closeDB()
			return nil, fmt.Errorf("migrate: %s", database.Describe(err, cfg.Database.DSN))
		}
	}
	if cfg.GeneratedSecret {
		log.Warn("no auth.jwt_secret (SECRET_KEY) set: using a random one; tokens will not survive a restart or work across instances")
	}
	a.addBackups()
	a.newMetrics()
	a.Router = a.router()
	a.Handler = securityHeaders(a.Router)
	return a, nil
}

// newAccounts builds the account rules from the configuration.
func newAccounts(c *config.Config, clock models.Clock) *accounts.Service {
	s := &accounts.Service{
		Clock: clock,
		Settings: accounts.Settings{
			RefreshTTL:        c.Auth.RefreshTTL,
			VerificationTTL:   c.Auth.VerificationTTL,
			ResetTTL:          c.Auth.ResetTTL,
			PasswordMinLength: c.Auth.PasswordMinLength,
			LoginMaxFailures:  c.Limits.Login.MaxFailures,
			LoginWindow:       c.Limits.Login.Window,
			RegisterMax:       c.Limits.Register.Max,
			RegisterWindow:    c.Limits.Register.Window,
			EmailInterval:     c.Limits.Email.Interval,
			FrontendURL:       c.Mail.FrontendURL,
			DefaultLang:       c.I18n.DefaultLanguage,
			ByAddressFloor:    byAddressFloor,
			ErasureGrace:      c.Privacy.ErasureGrace,
		},
		Hasher: security.NewHasher(security.Argon2Params{
			Memory: c.Auth.Argon2.MemoryKiB, Time: c.Auth.Argon2.Time, Threads: c.Auth.Argon2.Threads,
		}, c.Auth.MaxConcurrentHash),
		JWT: security.NewJWT(c.Auth.JWTSecret, c.Auth.AccessTTL),
	}
	// Google sign-in is on with a client id; the issuer is discovered on
	// the first sign-in, so a start does not wait for it.
	if c.Auth.Google.ClientID != "" {
		s.Google = security.NewOIDCVerifier(c.Auth.Google.Issuer, c.Auth.Google.ClientID)
	}
	return s
}

// uploadOverhead is what an upload's body may carry beside the image: the
// multipart framing and the small text fields.
const uploadOverhead = 64 << 10

// byAddressFloor is the least time forgot-password and resend-verification
// take: well above what either does for a known address (a few ms), so known
// and unknown addresses cannot be told apart by timing.
const byAddressFloor = 50 * time.Millisecond

func (a *App) router() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = false
	if err := r.SetTrustedProxies(trimAll(a.Cfg.Server.TrustedProxies)); err != nil {
		a.Log.Warn("server.trusted_proxies ignored", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	if a.Metrics != nil {
		r.Use(observe(a.Metrics))
	}
	cors := newCORS(trimAll(a.Cfg.CORS.AllowedOrigins))
	r.Use(requestID, language(a.Cfg.I18n.DefaultLanguage), accessLog(a.Log), recovery(a.Log), cors.handle,
		bodyLimit(a.Cfg.Server.MaxBodyBytes, a.Cfg.Screening.MaxImageBytes+uploadOverhead, a.Cfg.Intake.MaxRequestBytes),
		uploadDeadline(a.Cfg.Server.UploadTimeout, a.Cfg.Server.WriteTimeout, a.Log))
	r.NoRoute(handlers.Handle(func(*gin.Context) error {
		return models.NewError(models.CodeNotFound, "No such endpoint")
	}))
	r.NoMethod(handlers.Handle(func(*gin.Context) error {
		return models.NewError(models.CodeMethodNotAllowed, "Method not allowed on this endpoint")
	}))
	texts.SetLogger(a.Log)
	build := ReadBuild()
	build.Version = Version
	d := &handlers.Deps{Engine: a.Cfg.Database.DSN.Engine, Version: build.view(), Accounts: a.Accounts, Probe: a.probe,
		Clinics: &clinics.Service{Clock: a.Clock, Settings: clinics.Settings{
			DefaultLang: a.Cfg.I18n.DefaultLanguage, FrontendURL: a.Cfg.Mail.FrontendURL}}, Patients: &patients.Service{Clock: a.Clock}, Audit: &audit.Service{Clock: a.Clock},
		Screenings: a.Screenings, Notifications: &notifications.Service{Clock: a.Clock}, Templates: &templates.Service{Clock: a.Clock},
		Conversations: a.Conversations, Hub: a.Events,
		EventSettings: handlers.EventSettings{Heartbeat: a.Cfg.Events.Heartbeat, SessionCheck: a.Cfg.Events.SessionCheck, Clock: a.Clock}}
	if a.Blobs != nil {
		d.Storage = a.Blobs
	}
	d.Privacy = &privacy.Service{Clock: a.Clock, Blobs: a.Blobs, Settings: privacy.Settings{
		ExportMax: a.Cfg.Limits.Export.Max, ExportWindow: a.Cfg.Limits.Export.Window}}
	d.ExportWriteTimeout = a.Cfg.Server.WriteTimeout
	d.PseudonymKey = a.Cfg.Privacy.PseudonymKeyBytes()
	d.Alerts = a.NewAlerts()
	d.Intake = screenings.BatchLimits{MaxItems: a.Cfg.Intake.MaxBatchItems, MaxBytes: a.Cfg.Intake.MaxRequestBytes}
	if a.Screenings != nil {
		d.Billing = a.Screenings.Billing
	}
	if d.Billing == nil {
		// Off: wallets and grants still answer, so wallets can be seeded
		// before billing is turned on; nothing charges them.
		d.Billing, d.BillingOff = &billing.Ledger{Clock: a.Clock}, true
	}
	a.deps = d
	d.Routes(r.Group("/api"), session(a.DB, a.Cfg.Database.QueryTimeout))
	// The preflight allows what the routes use; tests add routes later, on
	// methods already here.
	cors.methods = strings.Join(RouteMethods(r.Routes()), ", ")
	return r
}

// Serve answers on ln until ctx is done, then stops accepting, lets in-flight
// requests finish within server.shutdown_grace, stops the workers and closes
// the database. A request answered with success has committed.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	s := a.Cfg.Server
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if a.Events != nil {
		// Open streams end at once, so the grace period is not spent
		// waiting for them.
		srv.RegisterOnShutdown(a.Events.Close)
	}
	stopMetrics, err := a.serveMetrics()
	if err != nil {
		_ = ln.Close()
		a.closeDB()
		return err
	}
	wctx, stopWorkers := context.WithCancel(context.Background())
	done := make(chan struct{})
	for _, w := range a.workers {
		go func() {
			w(wctx)
			done <- struct{}{}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Log.Info("serving", "addr", ln.Addr().String(), "engine", a.Cfg.Database.DSN.Engine,
		"database", a.Cfg.Database.DSN.Redacted(), "env", a.Cfg.Env, "storage_encrypted", a.Blobs != nil && a.Blobs.Encrypted())

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		a.Log.Info("shutting down", "grace", s.ShutdownGrace.String())
		sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownGrace)
		if err := srv.Shutdown(sctx); err != nil {
			a.Log.Warn("grace period over; closing remaining connections", "err", err)
			_ = srv.Close()
		}
		cancel()
	}
	stopWorkers()
	for range a.workers {
		<-done
	}
	stopMetrics()
	a.closeDB()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

func (a *App) closeDB() {
	if a.metricsLn != nil {
		_ = a.metricsLn.Close()
		a.metricsLn = nil
	}
	if a.Blobs != nil {
		_ = a.Blobs.Close()
	}
	database.Close(a.DB)
}

// Close releases the database without serving (for commands and tests).
func (a *App) Close() { a.closeDB() }

// Listen opens the configured listen address.
func Listen(cfg *config.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("server.addr (AURA_SERVER_ADDR) %q: %w", cfg.Server.Addr, err)
	}
	return ln, nil
}

// Fatal prints one line and exits non-zero: the way every start-up error ends.
func Fatal(err error) {
	fmt.Fprintln(os.Stderr, "aura: "+err.Error())
	os.Exit(1)
}

// RunWorkers is the life of a worker process (aura worker): the analysis and
// mail workers and housekeeping, no HTTP server, until ctx is done; work in
// hand is finished and recorded before the database closes.
func RunWorkers(ctx context.Context, cfg *config.Config, w io.Writer) error {
	logOut := NewBufferedWriter(w, 100*time.Millisecond)
	defer logOut.Close()
	log := NewLogger(cfg, logOut)
	applyMemoryLimit(cfg, log)
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	stopMetrics, err := a.serveMetrics()
	if err != nil {
		a.closeDB()
		return err
	}
	a.Log.Info("working", "engine", cfg.Database.DSN.Engine, "database", cfg.Database.DSN.Redacted(),
		"analysis_workers", cfg.Analysis.Workers, "storage", a.Blobs.String(), "storage_encrypted", a.Blobs.Encrypted())
	done := make(chan struct{})
	for _, wk := range a.workers {
		go func() {
			wk(ctx)
			done <- struct{}{}
		}()
	}
	for range a.workers {
		<-done
	}
	stopMetrics()
	a.closeDB()
	return nil
}

// Run is the whole life of a server process: logs to w (batched), opens and
// migrates the database, listens on server.addr and serves until ctx is done.
func Run(ctx context.Context, cfg *config.Config, w io.Writer) error {
	logOut := NewBufferedWriter(w, 100*time.Millisecond)
	defer logOut.Close()
	log := NewLogger(cfg, logOut)
	applyMemoryLimit(cfg, log)
	a, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	applyWorkerProcs(cfg, log)
	ln, err := Listen(cfg)
	if err != nil {
		a.Close()
		return err
	}
	return a.Serve(ctx, ln)
}
