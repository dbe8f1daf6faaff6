package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aura/internal/testenv"
)

// runAura runs the command line in-process and returns its output and error.
func runAura(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := rootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestDBCopyCommand(t *testing.T) {
	dir := t.TempDir()
	src := "sqlite:///" + filepath.Join(dir, "src.db")
	dst := "sqlite:///" + filepath.Join(dir, "dst.db")
	_, err := runAura(t, "migrate", "--database-uri", src)
	testenv.Must(t, err, "migrate")

	t.Run("flags required", func(t *testing.T) {
		_, err := runAura(t, "db", "copy", "--from", src)
		if err == nil || !strings.Contains(err.Error(), "--from and --to") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad URI names the flag and the accepted forms", func(t *testing.T) {
		_, err := runAura(t, "db", "copy", "--from", src, "--to", "mysql://u:hunter2secret@h/db")
		if err == nil || !strings.Contains(err.Error(), "--to") || !strings.Contains(err.Error(), "sqlite:///") ||
			strings.Contains(err.Error(), "hunter2secret") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unreachable target never prints its password", func(t *testing.T) {
		_, err := runAura(t, "db", "copy", "--from", src, "--to", "postgresql+psycopg2://aura:hunter2secret@127.0.0.1:1/aura?sslmode=disable&connect_timeout=2")
		if err == nil || strings.Contains(err.Error(), "hunter2secret") || !strings.Contains(err.Error(), "xxxxx") ||
			strings.Contains(err.Error(), "\n") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("dry run writes nothing", func(t *testing.T) {
		out, err := runAura(t, "db", "copy", "--from", src, "--to", dst, "--dry-run")
		if err != nil || !strings.Contains(out, "dry run") || !strings.Contains(out, "roles") {
			t.Fatalf("dry run: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "dst.db")); !os.IsNotExist(err) {
			t.Fatalf("dry run created the target")
		}
	})
	t.Run("copy, twice, from a database holding only the seeded roles", func(t *testing.T) {
		out, err := runAura(t, "db", "copy", "--from", src, "--to", dst)
		if err != nil || !strings.Contains(out, "checksums match") {
			t.Fatalf("copy: %v\n%s", err, out)
		}
		// The source holds only the seeded roles, so the target holds no AURA
		// rows either: a second copy needs no --force.
		if _, err := runAura(t, "db", "copy", "--from", src, "--to", dst); err != nil {
			t.Fatalf("copy onto seed-only target: %v", err)
		}
	})
}
