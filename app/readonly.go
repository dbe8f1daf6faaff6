package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

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
	db, err := gorm.Open(sqlite.Open("file:"+dsn.Path+"?"+q.Encode()), &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		Logger: logger.NewSlogLogger(log, logger.Config{
			LogLevel:                  logger.Warn,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true,
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %v", dsn.Redacted(), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %v", dsn.Redacted(), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect %s: %v", dsn.Redacted(), err)
	}
	return db, nil
}
