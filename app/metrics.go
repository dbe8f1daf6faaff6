package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"aura/metrics"
	"aura/models"
)

// newMetrics builds the Prometheus families when metrics.addr is set and
// hooks them to what they observe: the account rules, the analysis queue,
// the mail sender; the pool, the hasher and the queues are read at scrape
// time.
func (a *App) newMetrics() {
	if a.Cfg.Metrics.Addr == "" {
		return
	}
	build := ReadBuild()
	probe := a.probe
	a.Metrics = metrics.New(metrics.Options{
		Version: Version, Revision: build.Revision, GoVersion: build.Go,
		DB: probe.DB(), Engine: a.Cfg.Database.DSN.Engine,
		Queues: func(ctx context.Context) ([]metrics.Queue, error) {
			now := time.Now().UTC()
			qs, err := probe.QueueStats(ctx, now)
			out := make([]metrics.Queue, 0, len(qs))
			for _, q := range qs {
				out = append(out, metrics.Queue{Kind: q.Kind, Ready: q.Ready, Delayed: q.Delayed, Running: q.Running,
					OldestReady: q.OldestReadyAge(now)})
			}
			return out, err
		},
		QueueTimeout: 2 * time.Second,
		Kinds:        []string{models.JobAnalyze, models.QueueMail},
		MailKinds: []string{models.MailVerifyEmail, models.MailResetPassword, models.MailPasswordChanged, models.MailScreeningReviewed,
			models.MailAlertOpened, models.MailAlertEscalated, models.MailMessageReceived},
		Hasher: a.Accounts.Hasher,
		Log:    a.Log,
	})
	a.Accounts.Observer = a.Metrics
	if a.Analysis != nil {
		a.Analysis.Observer = a.Metrics
	}
	if a.mail != nil {
		a.mail.Observer = a.Metrics
	}
	if a.Backups != nil {
		a.Backups.Observer = a.Metrics
	}
}

// observe records each request's duration by route (the router's pattern;
// "unmatched" for 404s), method and status, and the requests in flight.
func observe(m *metrics.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		m.RequestStarted()
		defer func() {
			route := c.FullPath()
			if route == "" {
				route = "unmatched"
			}
			m.RequestDone(route, c.Request.Method, c.Writer.Status(), time.Since(start))
		}()
		c.Next()
	}
}

// ListenMetrics opens the operators' listener on metrics.addr, once; Serve
// and RunWorkers serve it. It returns the address listened on ("" when
// metrics.addr is empty).
func (a *App) ListenMetrics() (string, error) {
	if a.Metrics == nil {
		return "", nil
	}
	if a.metricsLn == nil {
		ln, err := net.Listen("tcp", a.Cfg.Metrics.Addr)
		if err != nil {
			return "", fmt.Errorf("metrics.addr (AURA_METRICS_ADDR) %q: %w", a.Cfg.Metrics.Addr, err)
		}
		a.metricsLn = ln
	}
	return a.metricsLn.Addr().String(), nil
}

// serveMetrics serves GET /metrics (Prometheus) and GET /health (the
// operator health view) on the operators' listener until the returned stop
// is called. Nothing else answers there (404).
func (a *App) serveMetrics() (stop func(), err error) {
	if _, err := a.ListenMetrics(); err != nil || a.metricsLn == nil {
		return func() {}, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	mux.Handle("GET /health", a.deps.OperatorHealth())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	ln := a.metricsLn
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("metrics listener stopped", "err", err)
		}
	}()
	a.Log.Info("serving metrics", "addr", ln.Addr().String(), "paths", "/metrics /health")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
		a.metricsLn = nil
	}, nil
}
