package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"aura/app"
	"aura/storage"
)

// storageCmd groups the object store's maintenance commands.
func storageCmd() *cobra.Command {
	st := &cobra.Command{Use: "storage", Short: "Object store maintenance (encryption at rest)"}
	st.AddCommand(storageEncryptCmd(), storageRekeyCmd())
	return st
}

func storageEncryptCmd() *cobra.Command {
	var prefix string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "encrypt",
		Short: "Encrypt, in place, the stored objects that are still in the clear",
		Long: "Encrypt every object of storage.uri that is stored in the clear with the configured master key\n" +
			"(storage.encryption_key or storage.keeper), each by one atomic write of the same key. Objects already\n" +
			"encrypted are left alone: a second run converts nothing, and an interrupted run is finished by running\n" +
			"it again. It prints the counts; it exits 1 when an object failed or is encrypted under another key.\n\n" +
			"Example: AURA_STORAGE_ENCRYPTION_KEY=... aura storage encrypt",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return convert(cmd, "encrypt", verbose, func(ctx context.Context, s *storage.Store, p storage.Progress) (storage.Counts, error) {
				return s.EncryptAll(ctx, prefix, p)
			})
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only the objects whose key starts with this")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every object as it is done")
	return cmd
}

func storageRekeyCmd() *cobra.Command {
	var prefix, oldKeyFile, oldKeeper string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "rekey --old-key-file FILE | --old-keeper URL",
		Short: "Re-wrap the data keys of the stored objects with the configured master key",
		Long: "Give every encrypted object of storage.uri a data key wrapped by the configured master key\n" +
			"(storage.encryption_key or storage.keeper) instead of the old one: only each object's header is\n" +
			"rewritten, the encrypted data is kept as it is. The old key is read from --old-key-file (a file holding\n" +
			"the base64 key) or named by --old-keeper (a storage.keeper URL). Objects the new key already opens are\n" +
			"left alone, so an interrupted run is finished by running it again. Servers must run with the new key\n" +
			"from the start of the rekey (objects not yet rekeyed then answer 503 until they are).\n\n" +
			"Example: AURA_STORAGE_ENCRYPTION_KEY=NEW aura storage rekey --old-key-file /run/secrets/old-key",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (oldKeyFile == "") == (oldKeeper == "") {
				return errors.New("storage rekey: give the old key with one of --old-key-file or --old-keeper")
			}
			oldKey := ""
			if oldKeyFile != "" {
				b, err := os.ReadFile(oldKeyFile)
				if err != nil {
					return fmt.Errorf("storage rekey: --old-key-file: %w", err)
				}
				oldKey = strings.TrimSpace(string(b))
			}
			old, err := storage.OpenKeeper(cmd.Context(), oldKey, oldKeeper)
			if err != nil {
				return fmt.Errorf("storage rekey: the old key: %w", err)
			}
			defer old.Close()
			return convert(cmd, "rekey", verbose, func(ctx context.Context, s *storage.Store, p storage.Progress) (storage.Counts, error) {
				return s.Rekey(ctx, prefix, old, p)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", "", "only the objects whose key starts with this")
	f.StringVar(&oldKeyFile, "old-key-file", "", "file holding the old storage.encryption_key (base64 of 32 bytes)")
	f.StringVar(&oldKeeper, "old-keeper", "", "the old storage.keeper URL")
	f.BoolVarP(&verbose, "verbose", "v", false, "print every object as it is done")
	return cmd
}

// convert opens the configured store and runs one conversion over it,
// printing failures (and, verbose, every object) on standard error and the
// counts on standard output.
func convert(cmd *cobra.Command, name string, verbose bool,
	run func(context.Context, *storage.Store, storage.Progress) (storage.Counts, error)) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	if cfg.Storage.EncryptionKey == "" && cfg.Storage.Keeper == "" {
		return fmt.Errorf("storage %s: no master key: set storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY) or storage.keeper (AURA_STORAGE_KEEPER)", name)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errw := cmd.ErrOrStderr()
	s, err := app.OpenStore(ctx, cfg, app.NewLogger(cfg, io.Discard))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		return err
	}
	c, err := run(ctx, s, func(key, outcome string, err error) {
		switch {
		case err != nil:
			fmt.Fprintf(errw, "%s: %s: %v\n", key, outcome, err)
		case outcome == "foreign":
			fmt.Fprintf(errw, "%s: encrypted under another key\n", key)
		case verbose:
			fmt.Fprintf(errw, "%s: %s\n", key, outcome)
		}
	})
	fmt.Fprintf(cmd.OutOrStdout(), "storage %s (%s): %s\n", name, s.String(), c)
	switch {
	case err != nil:
		return fmt.Errorf("storage %s: stopped: %w (run it again to finish)", name, err)
	case c.Failed > 0:
		return fmt.Errorf("storage %s: %d objects failed (run it again to retry them)", name, c.Failed)
	case c.Foreign > 0:
		return fmt.Errorf("storage %s: %d objects are encrypted under a key that does not open them", name, c.Foreign)
	}
	return nil
}
