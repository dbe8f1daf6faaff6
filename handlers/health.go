package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"aura/models"
)

// Index is GET /api/.
func (d *Deps) Index(c *gin.Context) error {
	OK(c, http.StatusOK, gin.H{"message": "Welcome to AURA API"}, "")
	return nil
}

// Live is GET /api/health/live: the process serves; no database involved.
func (d *Deps) Live(c *gin.Context) error {
	OK(c, http.StatusOK, gin.H{"status": "ok"}, "")
	return nil
}

// PoolStats is what health reports of the connection pool to operators.
type PoolStats struct {
	MaxOpen   int   `json:"max_open"`
	Open      int   `json:"open"`
	InUse     int   `json:"in_use"`
	Idle      int   `json:"idle"`
	WaitCount int64 `json:"wait_count"`
	WaitMs    int64 `json:"wait_ms"`
}

// DatabaseHealth is the database part of GET /api/health: the engine for
// everyone, the rest for operators only.
type DatabaseHealth struct {
	Engine        string     `json:"engine"`
	PingMs        *float64   `json:"ping_ms,omitempty"`
	ServerVersion string     `json:"server_version,omitempty"`
	Pool          *PoolStats `json:"pool,omitempty"`
}

// VersionView is what runs, for operators: AURA's module version, the VCS
// revision and time it was built from (and whether the tree had changes),
// and the Go version.
type VersionView struct {
	AURA      string `json:"aura"`
	Revision  string `json:"revision,omitempty"`
	BuildTime string `json:"build_time,omitempty"`
	Dirty     bool   `json:"dirty,omitempty"`
	Go        string `json:"go"`
}

// QueueView is what waits in one queue (analyze: the analysis jobs, mail:
// the outbox), for operators.
type QueueView struct {
	Kind               string  `json:"kind"`
	Ready              int64   `json:"ready"`
	Delayed            int64   `json:"delayed"`
	Running            int64   `json:"running"`
	OldestReadySeconds float64 `json:"oldest_ready_seconds"`
}

// StorageHealth is the image store part of GET /api/health, for operators:
// status "ok" or "unavailable", the driver ("file", "s3"), the ping's time,
// and when it failed, why (the store's error, which never holds
// credentials).
type StorageHealth struct {
	Status string  `json:"status"`
	Driver string  `json:"driver"`
	PingMs float64 `json:"ping_ms"`
	Error  string  `json:"error,omitempty"`
}

// HealthView is the data of GET /api/health.
type HealthView struct {
	Status   string         `json:"status"`
	DBStatus bool           `json:"db_status"`
	DBError  *string        `json:"db_error"`
	Database DatabaseHealth `json:"database"`
	Storage  *StorageHealth `json:"storage,omitempty"`
	Version  *VersionView   `json:"version,omitempty"`
	Queues   []QueueView    `json:"queues,omitempty"`
}

// Health statuses.
const (
	healthOK          = "ok"
	healthDegraded    = "degraded"    // serving, but the image store is unavailable (operator view)
	healthUnavailable = "unavailable" // the database does not answer: 503
)

// Health is GET /api/health: pings the database (with its own 2 s deadline)
// and answers 200, or 503 when the database does not answer. Anonymous
// callers (load balancers) get the status and the engine only, and cost one
// database ping; operators (see Operator) get the operator view (see
// health), which also pings the image store. A store that does not answer
// makes the operator view's status "degraded" but keeps 200: the database
// decides whether an instance is fit to serve, since every instance shares
// the one store and taking them all out of the load balancer would mend
// nothing (sign-in, lists and reviews still work; uploads and images answer
// 503 on their own). The failure text is generic.
func (d *Deps) Health(c *gin.Context) error {
	h, err := d.health(c.Request.Context(), isOperator(c))
	if err != nil {
		return withData{models.WithMessage(models.ErrUnavailable, *h.DBError), h}
	}
	OK(c, http.StatusOK, h, "")
	return nil
}

// OperatorHealth serves the operator view of health outside the API (the
// metrics listener's GET /health): the envelope of GET /api/health as an
// admin gets it, 503 when the database does not answer.
func (d *Deps) OperatorHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		h, err := d.health(r.Context(), true)
		status, env := http.StatusOK, Envelope{Success: true, Data: h}
		if err != nil {
			status, env = http.StatusServiceUnavailable, Envelope{Error: *h.DBError, Code: string(models.CodeUnavailable), Data: h}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(env)
	})
}

// health pings the database (2 s deadline) and builds the view: status and
// engine for everyone; for operators also the ping time, the pool's
// figures, the database server's version, AURA's version, the queues and
// the image store (pinged beside the database, within the same deadline).
// The error is the database ping's.
func (d *Deps) health(ctx context.Context, operator bool) (HealthView, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var storage chan *StorageHealth
	if operator && d.Storage != nil {
		storage = make(chan *StorageHealth, 1)
		go func() { storage <- d.pingStorage(ctx) }()
	}
	start := time.Now()
	err := d.Probe.Ping(ctx)
	h := HealthView{Status: healthOK, DBStatus: true, Database: DatabaseHealth{Engine: d.Engine}}
	if operator {
		ping := float64(time.Since(start).Microseconds()) / 1000
		h.Database.PingMs = &ping
		s := d.Probe.Stats()
		h.Database.Pool = &PoolStats{MaxOpen: s.MaxOpenConnections, Open: s.OpenConnections, InUse: s.InUse,
			Idle: s.Idle, WaitCount: s.WaitCount, WaitMs: s.WaitDuration.Milliseconds()}
		if err == nil {
			h.Database.ServerVersion, _ = d.Probe.ServerVersion(ctx)
			h.Queues = d.queues(ctx)
		}
		v := d.Version
		if v.Go == "" {
			v.Go = runtime.Version()
		}
		h.Version = &v
	}
	if storage != nil {
		h.Storage = <-storage
		if h.Storage.Status != healthOK {
			h.Status = healthDegraded
		}
	}
	if err != nil {
		msg := "database unavailable"
		h.Status, h.DBStatus, h.DBError = healthUnavailable, false, &msg
	}
	return h, err
}

// pingStorage pings the image store within ctx's deadline.
func (d *Deps) pingStorage(ctx context.Context) *StorageHealth {
	start := time.Now()
	err := d.Storage.Ping(ctx)
	sh := &StorageHealth{Status: healthOK, Driver: d.Storage.Driver(), PingMs: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		sh.Status, sh.Error = healthUnavailable, truncate(err.Error(), 300)
	}
	return sh
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// queues reads the queues for the operator view; nil when they cannot be
// read in time (the view is still served).
func (d *Deps) queues(ctx context.Context) []QueueView {
	now := time.Now().UTC()
	qs, err := d.Probe.QueueStats(ctx, now)
	if err != nil {
		return nil
	}
	out := make([]QueueView, 0, len(qs))
	for _, q := range qs {
		out = append(out, QueueView{Kind: q.Kind, Ready: q.Ready, Delayed: q.Delayed, Running: q.Running,
			OldestReadySeconds: q.OldestReadyAge(now).Seconds()})
	}
	return out
}
