package database

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"aura/config"
)

// Pool is the connection-pool shape applied to one engine.
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration // 0: never recycled
	ConnMaxIdleTime time.Duration // 0: never closed for idleness
	BusyTimeout     time.Duration // SQLite only
}

// PoolFor is the pool an engine gets before database.pool overrides:
//   - in-memory SQLite: one connection, never recycled: the database lives in
//     that connection, so closing it would lose every row;
//   - file SQLite: a few connections (WAL lets readers run beside the one
//     writer), a busy timeout long enough that queued writers wait instead of
//     failing, and IMMEDIATE transactions so a writer never has to upgrade a
//     read lock (the upgrade is what fails with "database is locked");
//   - PostgreSQL: 10 connections recycled hourly.
func PoolFor(dsn config.DSN, o config.PoolConfig) Pool {
	var p Pool
	switch {
	case dsn.Engine == config.EngineSQLite && dsn.Memory:
		p = Pool{MaxOpenConns: 1, MaxIdleConns: 1}
	case dsn.Engine == config.EngineSQLite:
		p = Pool{MaxOpenConns: 8, MaxIdleConns: 8, BusyTimeout: 30 * time.Second}
	default:
		p = Pool{MaxOpenConns: 10, MaxIdleConns: 10, ConnMaxLifetime: time.Hour, ConnMaxIdleTime: 30 * time.Minute}
	}
	if o.MaxOpenConns != nil {
		p.MaxOpenConns = *o.MaxOpenConns
	}
	if o.MaxIdleConns != nil {
		p.MaxIdleConns = *o.MaxIdleConns
	}
	if o.ConnMaxLifetime != nil {
		p.ConnMaxLifetime = *o.ConnMaxLifetime
	}
	if o.ConnMaxIdleTime != nil {
		p.ConnMaxIdleTime = *o.ConnMaxIdleTime
	}
	if o.BusyTimeout != nil {
		p.BusyTimeout = *o.BusyTimeout
	}
	if dsn.Engine == config.EngineSQLite && dsn.Memory {
		// Whatever the overrides say, more than one connection would mean
		// more than one (empty) database, and recycling would drop the data.
		p.MaxOpenConns, p.MaxIdleConns, p.ConnMaxLifetime, p.ConnMaxIdleTime = 1, 1, 0, 0
	}
	return p
}

// Dialector turns a DSN into a GORM dialector with the engine's connection options.
func Dialector(dsn config.DSN, pool Pool) (gorm.Dialector, error) {
	if dsn.Engine == config.EnginePostgres {
		sqlDB, err := openPostgres(dsn.URL)
		if err != nil {
			return nil, err
		}
		return postgres.New(postgres.Config{Conn: sqlDB}), nil
	}
	q := url.Values{}
	q.Set("_foreign_keys", "on")
	if dsn.Memory {
		return sqlite.Open("file::memory:?" + q.Encode()), nil
	}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", fmt.Sprint(pool.BusyTimeout.Milliseconds()))
	q.Set("_txlock", "immediate")
	return sqlite.Open(fileURI(dsn.Path, q)), nil
}

// OpenDB opens the configured database, applies its pool and checks that it
// answers, waiting up to database.connect_timeout for one that is not up
// yet. Errors never contain the DSN's password.
func OpenDB(ctx context.Context, cfg *config.Config, log *slog.Logger) (*gorm.DB, error) {
	dsn := cfg.Database.DSN
	pool := PoolFor(dsn, cfg.Database.Pool)
	if dsn.Engine == config.EngineSQLite && !dsn.Memory {
		if dir := filepath.Dir(dsn.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("database directory %s: %w", dir, err)
			}
		}
	}
	dialector, err := Dialector(dsn, pool)
	if err != nil {
		return nil, fmt.Errorf("database.uri (DATABASE_URI) %s: %s", dsn.Redacted(), Describe(err, dsn))
	}
	return open(ctx, dialector, dsn, pool, cfg.Database.ConnectTimeout, log)
}

// open opens dialector with AURA's GORM settings, applies pool and pings,
// waiting up to wait for a database that is not up yet (see connect). The
// failure that ends it is returned, not logged: the caller reports it once.
func open(ctx context.Context, dialector gorm.Dialector, dsn config.DSN, pool Pool, wait time.Duration, log *slog.Logger) (*gorm.DB, error) {
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		// SQLite parses every statement it is sent; caching prepared statements
		// saves that on the hot paths. pgx already caches them per connection.
		PrepareStmt: dsn.Engine == config.EngineSQLite,
		NowFunc:     func() time.Time { return time.Now().UTC() },
		// gorm.Open logs its own failure ("failed to initialize database")
		// before returning it, which printed a second, unscrubbed line
		// beside the caller's. Open quietly; the real logger follows below.
		Logger: logger.Discard,
		// The ping below has a deadline; GORM's own has none.
		DisableAutomaticPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", dsn.Redacted(), Describe(err, dsn))
	}
	db.Logger = newGormLogger(log, 500*time.Millisecond)
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", dsn.Redacted(), Describe(err, dsn))
	}
	sqlDB.SetMaxOpenConns(pool.MaxOpenConns)
	sqlDB.SetMaxIdleConns(pool.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(pool.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(pool.ConnMaxIdleTime)

	if err := connect(ctx, sqlDB, dsn, wait, log); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect %s: %s", dsn.Redacted(), Describe(err, dsn))
	}
	return db, nil
}

// fileURI is the SQLite URI of the file at path with query q. SQLite decodes
// %XX in the path and ends it at '?' or '#', so those three are escaped: a
// path containing them would otherwise open another file.
func fileURI(path string, q url.Values) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}
