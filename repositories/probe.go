package repositories

import (
	"context"
	"database/sql"
)

// Probe answers health checks from the connection pool itself, without a
// request session: a ping and the pool's figures.
type Probe struct{ db *sql.DB }

// NewProbe wraps the pool of a GORM handle.
func NewProbe(db interface{ DB() (*sql.DB, error) }) (*Probe, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	return &Probe{db: sqlDB}, nil
}

// Ping checks that the database answers within ctx.
func (p *Probe) Ping(ctx context.Context) error { return translate(p.db.PingContext(ctx)) }

// Stats reports the connection pool's figures.
func (p *Probe) Stats() sql.DBStats { return p.db.Stats() }
