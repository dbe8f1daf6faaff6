package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIBackupRestore: the built binary backs up a SQLite database and its
// store, restores it into an empty pair (exit 0), refuses a non-empty
// target and a corrupt backup (exit 1, one line naming the cause).
func TestCLIBackupRestore(t *testing.T) {
	dir := t.TempDir()
	src := []string{"DATABASE_URI=sqlite:///" + filepath.Join(dir, "a.db"), "AURA_STORAGE_URI=file://" + filepath.Join(dir, "store")}
	if out, code := run(t, dir, src, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if err := os.MkdirAll(filepath.Join(dir, "store", "screenings"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store", "screenings", "x.jpg"), []byte("fundus bytes"), 0o640); err != nil {
		t.Fatal(err)
	}
	create := exec.Command(binary(t), "users", "create", "--email", "ops@clinic.example", "--role", "ADMIN")
	create.Dir, create.Env = dir, append([]string{"PATH=" + os.Getenv("PATH")}, src...)
	create.Stdin = strings.NewReader("violet harbor lantern 91\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("users create: %v %s", err, out)
	}
	loc := "file://" + filepath.Join(dir, "backups")
	out, code := run(t, dir, src, "backup", "--to", loc)
	if code != 0 || !strings.Contains(out, "backup written to "+loc+"/") {
		t.Fatalf("backup: %d %s", code, out)
	}
	dst := []string{"DATABASE_URI=sqlite:///" + filepath.Join(dir, "b.db"), "AURA_STORAGE_URI=file://" + filepath.Join(dir, "store2")}
	out, code = run(t, dir, dst, "restore", "--from", loc)
	if code != 0 || !strings.Contains(out, "restore complete") {
		t.Fatalf("restore: %d %s", code, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "store2", "screenings", "x.jpg"))
	if err != nil || string(got) != "fundus bytes" {
		t.Fatalf("restored object: %q %v", got, err)
	}
	out, code = run(t, dir, dst, "restore", "--from", loc)
	if code != 1 || !strings.Contains(out, "aura: restore: the target is not empty") {
		t.Fatalf("second restore: %d %s", code, out)
	}
	// Corrupt the object in the backup.
	matches, _ := filepath.Glob(filepath.Join(dir, "backups", "*", "objects", "screenings", "x.jpg"))
	if len(matches) != 1 {
		t.Fatalf("backup object: %v", matches)
	}
	if err := os.WriteFile(matches[0], []byte("fundus bytez"), 0o640); err != nil {
		t.Fatal(err)
	}
	dst3 := []string{"DATABASE_URI=sqlite:///" + filepath.Join(dir, "c.db"), "AURA_STORAGE_URI=file://" + filepath.Join(dir, "store3")}
	out, code = run(t, dir, dst3, "restore", "--from", loc)
	if code != 1 || !strings.Contains(out, "objects/screenings/x.jpg has the wrong SHA-256") {
		t.Fatalf("corrupt restore: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.db")); !os.IsNotExist(err) {
		t.Fatalf("a refused restore created the database: %v", err)
	}
}
