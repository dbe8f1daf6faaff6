package app

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"aura/backup"
	"aura/config"
	"aura/models"
	"aura/repositories"
	"aura/storage"
)

// BackupLease is the rate_limits bucket that makes one backup per
// backup.every across every instance sharing the database.
const BackupLease = "backup"

// backupPollMax is the longest wait between two looks at the lease: an
// instance takes the next backup within it of the lease running out.
const backupPollMax = time.Minute

// BackupObserver is told of every scheduled backup (the metrics).
type BackupObserver interface {
	BackupDone(ok bool, size int64, took time.Duration, at time.Time)
}

// BackupScheduler takes a backup every backup.every, keeping the
// backup.keep newest at backup.uri. Every instance runs one; the database
// decides which takes each backup, as for housekeeping: a run first takes
// the BackupLease bucket with Limits.Acquire (one success per period, for
// one caller), and skips when another instance holds it.
type BackupScheduler struct {
	db    *gorm.DB
	dsn   config.DSN
	store *storage.Store
	cfg   config.BackupConfig
	log   *slog.Logger
	// Clock is the time source (nil: the system clock); tests may move it.
	Clock    models.Clock
	Observer BackupObserver
	// TempDir holds the database copy while it is written ("": the system's).
	TempDir string
}

// NewBackupScheduler builds the scheduled backups of db and store.
func NewBackupScheduler(db *gorm.DB, dsn config.DSN, store *storage.Store, c config.BackupConfig, log *slog.Logger) *BackupScheduler {
	return &BackupScheduler{db: db, dsn: dsn, store: store, cfg: c, log: log}
}

// Run looks at the lease every backup.every or minute, whichever is
// shorter, and takes a backup whenever it gets it, until ctx is done.
func (b *BackupScheduler) Run(ctx context.Context) {
	b.log.Info("scheduled backups started", "every", b.cfg.Every.String(), "keep", b.cfg.Keep)
	poll := min(b.cfg.Every, backupPollMax)
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.log.Info("scheduled backups stopped")
			return
		case <-t.C:
		}
		_, _, _ = b.RunOnce(ctx)
		t.Reset(poll)
	}
}

// RunOnce takes a backup if no instance has taken one within backup.every,
// then deletes the backups beyond backup.keep. ran is false when another
// instance holds the period (or the lease could not be taken: err says
// why). One line is logged either way.
func (b *BackupScheduler) RunOnce(ctx context.Context) (res *backup.Result, ran bool, err error) {
	now := b.Clock.Now()
	ok, err := repositories.New(b.db.WithContext(ctx)).Limits.Acquire(BackupLease, b.cfg.Every, now)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("backup: database unavailable; will retry", "err", err)
		}
		return nil, false, err
	}
	if !ok {
		b.log.Debug("backup skipped: one was taken within the period (maybe on another instance)")
		return nil, false, nil
	}
	start := time.Now()
	res, err = backup.Run(ctx, backup.Options{DB: b.dsn, Store: b.store, To: b.cfg.URI, Version: Version,
		Now: b.Clock.Now, Log: b.log, TempDir: b.TempDir})
	if err != nil {
		if b.Observer != nil {
			b.Observer.BackupDone(false, 0, time.Since(start), time.Now())
		}
		b.log.Error("backup failed; the next period tries again", "uri", b.cfg.URI, "err", err)
		return nil, true, err
	}
	if b.Observer != nil {
		b.Observer.BackupDone(true, res.Manifest.Size(), res.Duration, time.Now())
	}
	objects, _ := res.Manifest.Objects()
	deleted, perr := backup.Prune(ctx, b.cfg.URI, b.cfg.Keep)
	b.log.Info("backup done", "backup", res.URI, "rows", res.Manifest.Rows(), "objects", objects,
		"bytes", res.Manifest.Size(), "took", res.Duration.Round(time.Millisecond).String(), "deleted_old", len(deleted))
	if perr != nil {
		b.log.Warn("backup: deleting old backups failed", "err", perr)
	}
	return res, true, nil
}

// addBackups registers the scheduled backups as a worker, when backup.every
// is set.
func (a *App) addBackups() {
	if a.Cfg.Backup.Every <= 0 || a.Blobs == nil {
		return
	}
	b := NewBackupScheduler(a.DB, a.Cfg.Database.DSN, a.Blobs, a.Cfg.Backup, a.Log)
	b.Clock = a.Clock
	a.Backups = b
	a.workers = append(a.workers, b.Run)
}
