// Command aura is the AURA backend of a retinal vascular health screening
// clinic: the JSON REST API (accounts, clinics, patients, screenings and
// their analysis, reviews, reports, notifications, audit), its workers
// (analysis queue, mail outbox, housekeeping) and the operator commands
// (migrate, users, db copy, storage encrypt and rekey, version). See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"aura/app"
	"aura/config"
	"aura/database"
)

// version, when set at build time with -ldflags "-X main.version=...",
// replaces the module version the toolchain records.
var version string

func main() {
	if version != "" {
		app.Version = version
	}
	if err := rootCmd().Execute(); err != nil {
		app.Fatal(err)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "aura",
		Short:         "AURA: the backend of a retinal-screening clinic",
		Long:          "aura serves the AURA REST API (the default command), migrates its database, and manages accounts.",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          runServe,
	}
	config.Flags(root.PersistentFlags())
	root.AddCommand(
		&cobra.Command{Use: "serve", Short: "Run the HTTP server (the default)", Args: cobra.NoArgs, RunE: runServe},
		&cobra.Command{Use: "worker", Short: "Run the analysis and mail workers with no HTTP server", Args: cobra.NoArgs, RunE: runWorker},
		&cobra.Command{Use: "migrate", Short: "Bring the database schema up to date and exit", Args: cobra.NoArgs, RunE: runMigrate},
		&cobra.Command{Use: "version", Short: "Print the version, VCS revision, build time and Go version", Args: cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) { printVersion(cmd.OutOrStdout()) }},
		usersCmd(),
		dbCmd(),
		storageCmd(),
		backupCmd(),
		restoreCmd(),
		healthcheckCmd(),
	)
	return root
}

func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(config.Options{Flags: cmd.Flags()})
}

func runServe(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg, os.Stderr)
}

func runWorker(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.RunWorkers(ctx, cfg, os.Stderr)
}

func runMigrate(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, os.Stderr)
	db, err := database.OpenDB(cmd.Context(), cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	}()
	if err := database.Migrate(cmd.Context(), db, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date ("+cfg.Database.DSN.Redacted()+")")
	return nil
}

// printVersion writes what the binary was built from: the module version,
// then the VCS revision, its time, whether the tree had changes, and the Go
// version, one "key: value" line each (unknown ones are left out: `go run`
// records no revision).
func printVersion(w io.Writer) {
	b := app.ReadBuild()
	fmt.Fprintln(w, "aura "+app.Version)
	if b.Revision != "" {
		fmt.Fprintln(w, "revision: "+b.Revision)
	}
	if b.Time != "" {
		fmt.Fprintln(w, "build time: "+b.Time)
	}
	if b.Revision != "" {
		fmt.Fprintf(w, "dirty: %t\n", b.Dirty)
	}
	fmt.Fprintln(w, "go: "+b.Go)
}
