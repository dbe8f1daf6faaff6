package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"aura/app"
	"aura/backup"
	"aura/config"
	"aura/storage"
)

func backupCmd() *cobra.Command {
	var to string
	var keep int
	cmd := &cobra.Command{
		Use:   "backup --to URI",
		Short: "Write a consistent backup of the database and every stored object, with a manifest of checksums",
		Long: "Write one backup to --to (file:///DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R), under a prefix\n" +
			"named by its UTC time: the configured database read within one snapshot into a SQLite file, every object\n" +
			"of storage.uri copied as it is stored (encrypted objects stay encrypted; the database file is encrypted\n" +
			"with the same key), and manifest.json (row counts, every file's size and SHA-256), written last.\n" +
			"The server may keep running: the backup holds every row committed before its snapshot and the objects\n" +
			"those rows refer to. Keep the storage key: a backup of an encrypted store cannot be restored without it.\n" +
			"With --keep N, only the N newest complete backups at --to are kept.\n\n" +
			"Example: aura backup --to file:///var/backups/aura",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("backup: --to is required (file:///DIR or s3://BUCKET/PREFIX)")
			}
			ctx, cfg, store, done, err := openStoreCmd(cmd)
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			res, err := backup.Run(ctx, backup.Options{DB: cfg.Database.DSN, Store: store, To: to, Version: app.Version,
				Out: out, Log: quietLog(cmd)})
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			objects, _ := res.Manifest.Objects()
			fmt.Fprintf(out, "backup written to %s: %d rows, %d objects, %d bytes in %s\n", res.URI, res.Manifest.Rows(),
				objects, res.Manifest.Size(), res.Duration.Round(1e6))
			if keep > 0 {
				deleted, err := backup.Prune(ctx, to, keep)
				for _, d := range deleted {
					fmt.Fprintf(out, "deleted old backup %s\n", d)
				}
				if err != nil {
					return fmt.Errorf("backup: deleting old backups: %w", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "where to write the backup: file:///DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R")
	cmd.Flags().IntVar(&keep, "keep", 0, "keep only this many newest complete backups at --to (0: delete none)")
	return cmd
}

func restoreCmd() *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "restore --from URI",
		Short: "Restore a backup into an empty database and an empty object store, verified",
		Long: "Restore the backup at --from (file:///DIR/NAME, or a location holding backups: its newest complete one)\n" +
			"into the configured database (any engine) and storage.uri, which must both be empty. Every file is first\n" +
			"checked against the manifest (size and SHA-256): a missing or corrupt file stops the restore before\n" +
			"anything is written, naming it. Then the database is copied in one transaction, the objects byte for\n" +
			"byte, and the row counts checked. An encrypted backup needs the storage key it was made with.\n" +
			"Stop every server first.\n\n" +
			"Example: DATABASE_URI=postgresql://aura@db/aura aura restore --from file:///var/backups/aura/20250101T020000.000Z",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("restore: --from is required (file:///DIR/NAME or s3://BUCKET/PREFIX/NAME)")
			}
			ctx, cfg, store, done, err := openStoreCmd(cmd)
			if err != nil {
				return err
			}
			defer done()
			_, err = backup.Restore(ctx, backup.RestoreOptions{From: from, DB: cfg.Database.DSN, Store: store,
				Out: cmd.OutOrStdout(), Log: quietLog(cmd)})
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup to restore: file:///DIR/NAME or s3://BUCKET/PREFIX/NAME (or their location: the newest)")
	return cmd
}

// openStoreCmd is how backup and restore start: the configuration, a
// context an interrupt (SIGINT, SIGTERM) cancels, and the configured object
// store. done closes the store and stops listening for signals.
func openStoreCmd(cmd *cobra.Command) (context.Context, *config.Config, *storage.Store, func(), error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	store, err := app.OpenStore(ctx, cfg, app.NewLogger(cfg, io.Discard))
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	return ctx, cfg, store, func() { store.Close(); stop() }, nil
}

func quietLog(cmd *cobra.Command) *slog.Logger {
	cfg := &config.Config{}
	cfg.Log.Level = "warn"
	return app.NewLogger(cfg, cmd.ErrOrStderr())
}
