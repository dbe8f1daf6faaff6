package database

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"aura/config"
)

// OpenReadOnly opens a database that is only read, such as the source of
// `aura db copy`. A SQLite file must exist and is opened read-only, so it is
// neither created by a typo nor switched to WAL nor locked against readers;
// other databases open as OpenDB opens them (read them in a read-only
// transaction). Errors never contain the DSN's password.
func OpenReadOnly(ctx context.Context, dsn config.DSN, log *slog.Logger) (*gorm.DB, error) {
	if dsn.Engine != config.EngineSQLite || dsn.Memory {
		return OpenDB(ctx, &config.Config{Database: config.DatabaseConfig{DSN: dsn}}, log)
	}
	st, err := os.Stat(dsn.Path)
	if err != nil || st.IsDir() {
		return nil, fmt.Errorf("%s: no such SQLite file", dsn.Redacted())
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "30000")
	pool := Pool{MaxOpenConns: 4, MaxIdleConns: 4, BusyTimeout: 30 * time.Second}
	return open(ctx, sqlite.Open(fileURI(dsn.Path, q)), dsn, pool, 0, log)
}
