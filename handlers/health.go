package handlers

import (
	"context"
	"net/http"
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

// PoolStats is what health reports of the connection pool.
type PoolStats struct {
	MaxOpen   int   `json:"max_open"`
	Open      int   `json:"open"`
	InUse     int   `json:"in_use"`
	Idle      int   `json:"idle"`
	WaitCount int64 `json:"wait_count"`
	WaitMs    int64 `json:"wait_ms"`
}

// Health is GET /api/health: pings the database. The failure text is generic.
func (d *Deps) Health(c *gin.Context) {
	st := store(c)
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := st.Ping(ctx)
	rtt := time.Since(start)
	db := gin.H{"engine": d.Settings.Engine, "ping_ms": float64(rtt.Microseconds()) / 1000}
	if s, ok := st.PoolStats(); ok {
		db["pool"] = PoolStats{MaxOpen: s.MaxOpenConnections, Open: s.OpenConnections, InUse: s.InUse,
			Idle: s.Idle, WaitCount: s.WaitCount, WaitMs: s.WaitDuration.Milliseconds()}
	}
	if err != nil {
		msg := "database unavailable"
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
			"success": false, "error": msg, "code": CodeUnavailable,
			"data": gin.H{"status": "unavailable", "db_status": false, "db_error": msg, "database": db},
		})
		return
	}
	OK(c, http.StatusOK, gin.H{"status": "ok", "db_status": true, "db_error": nil, "database": db}, "")
}
