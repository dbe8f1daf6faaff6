package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"aura/app"
	"aura/config"
	"aura/dbcopy"
)

// dbCmd groups database maintenance commands.
func dbCmd() *cobra.Command {
	db := &cobra.Command{Use: "db", Short: "Database maintenance (copy between engines)"}
	db.AddCommand(dbCopyCmd())
	return db
}

func dbCopyCmd() *cobra.Command {
	var from, to string
	var force, dryRun bool
	var batch int
	cmd := &cobra.Command{
		Use:   "copy --from URI --to URI",
		Short: "Copy every AURA table from one database to another (any engine to any engine)",
		Long: "Copy every AURA table from --from to --to: the target's schema is migrated first, rows are copied\n" +
			"in dependency order in one transaction with ids, timestamps and hashes kept, then row counts and\n" +
			"checksums are verified. Any error or mismatch rolls the whole copy back and leaves the target as it was.\n" +
			"A target that already holds AURA rows is refused unless --force (which replaces them).\n" +
			"Stop the server that uses the source first. URIs take every form DATABASE_URI accepts.\n\n" +
			"Example: aura db copy --from sqlite:///aura.db --to 'postgresql://aura:secret@localhost:5432/aura?sslmode=disable'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return errors.New("db copy: --from and --to are both required")
			}
			src, err := config.ParseURI(from)
			if err != nil {
				return fmt.Errorf("db copy: --from: %v; %s", err, config.AcceptedURIs)
			}
			dst, err := config.ParseURI(to)
			if err != nil {
				return fmt.Errorf("db copy: --to: %v; %s", err, config.AcceptedURIs)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg := &config.Config{}
			cfg.Log.Level = "warn"
			_, err = dbcopy.Run(ctx, dbcopy.Options{
				From: src, To: dst, Force: force, DryRun: dryRun, BatchSize: batch,
				Out: cmd.OutOrStdout(), Progress: cmd.ErrOrStderr(), Log: app.NewLogger(cfg, cmd.ErrOrStderr()),
			})
			if err != nil {
				return fmt.Errorf("db copy: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source database URI (read only)")
	f.StringVar(&to, "to", "", "target database URI (migrated, then filled)")
	f.BoolVar(&force, "force", false, "replace the AURA rows the target already holds")
	f.BoolVar(&dryRun, "dry-run", false, "print what would be copied; write nothing")
	f.IntVar(&batch, "batch-size", dbcopy.DefaultBatchSize, "rows per INSERT")
	return cmd
}
