package repositories

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Probe answers health checks from the connection pool itself, without a
// request session: a ping, the pool's figures, the server's version.
type Probe struct {
	db      *sql.DB
	gdb     *gorm.DB
	dialect string
}

// NewProbe wraps the pool of a GORM handle.
func NewProbe(db *gorm.DB) (*Probe, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	return &Probe{db: sqlDB, gdb: db, dialect: db.Dialector.Name()}, nil
}

// Ping checks that the database answers within ctx.
func (p *Probe) Ping(ctx context.Context) error { return translate(p.db.PingContext(ctx)) }

// ServerVersion asks the database server for its version.
func (p *Probe) ServerVersion(ctx context.Context) (string, error) {
	q := "SELECT sqlite_version()"
	if p.dialect == "postgres" {
		q = "SHOW server_version"
	}
	var v string
	err := p.db.QueryRowContext(ctx, q).Scan(&v)
	return v, translate(err)
}

// Stats reports the connection pool's figures.
func (p *Probe) Stats() sql.DBStats { return p.db.Stats() }

// DB is the connection pool itself (for the metrics' pool collector).
func (p *Probe) DB() *sql.DB { return p.db }

// QueueStats counts what waits in every queue at now (Store.QueueStats),
// within ctx.
func (p *Probe) QueueStats(ctx context.Context, now time.Time) ([]models.QueueStats, error) {
	return New(p.gdb.WithContext(ctx)).QueueStats(now)
}
