package handlers

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/gin-gonic/gin"
)

// Index is GET /api/.
func (d *Deps) Index(c *gin.Context) {
	OK(c, http.StatusOK, gin.H{"message": "Welcome to AURA API"}, "")
}

// Live is GET /api/health/live: the process serves; no database involved.
func (d *Deps) Live(c *gin.Context) {
	OK(c, http.StatusOK, gin.H{"status": "ok"}, "")
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

// VersionView is what runs, for operators.
type VersionView struct {
	AURA string `json:"aura"`
	Go   string `json:"go"`
}

// HealthView is the data of GET /api/health.
type HealthView struct {
	Status   string         `json:"status"`
	DBStatus bool           `json:"db_status"`
	DBError  *string        `json:"db_error"`
	Database DatabaseHealth `json:"database"`
	Version  *VersionView   `json:"version,omitempty"`
}

// Health is GET /api/health: pings the database (with its own 2 s deadline)
// and answers 200, or 503 when the database does not answer. Anonymous
// callers (load balancers) get the status and the engine only; operators
// (see Operator) also get the ping time, the pool's figures, the database
// server's version and AURA's. The failure text is generic.
func (d *Deps) Health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := d.Probe.Ping(ctx)
	h := HealthView{Status: "ok", DBStatus: true, Database: DatabaseHealth{Engine: d.Engine}}
	if isOperator(c) {
		ping := float64(time.Since(start).Microseconds()) / 1000
		h.Database.PingMs = &ping
		s := d.Probe.Stats()
		h.Database.Pool = &PoolStats{MaxOpen: s.MaxOpenConnections, Open: s.OpenConnections, InUse: s.InUse,
			Idle: s.Idle, WaitCount: s.WaitCount, WaitMs: s.WaitDuration.Milliseconds()}
		if err == nil {
			h.Database.ServerVersion, _ = d.Probe.ServerVersion(ctx)
		}
		h.Version = &VersionView{AURA: d.Version, Go: runtime.Version()}
	}
	if err != nil {
		msg := "database unavailable"
		h.Status, h.DBStatus, h.DBError = "unavailable", false, &msg
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, Envelope{Error: msg, Code: CodeUnavailable, Data: h})
		return
	}
	OK(c, http.StatusOK, h, "")
}
