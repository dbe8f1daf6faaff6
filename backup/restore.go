package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"golang.org/x/sync/errgroup"

	"aura/config"
	"aura/database"
	"aura/dbcopy"
	"aura/storage"
)

// ErrNotEmpty is wrapped when the target database or store already holds
// data; ErrCorrupt when a file of the backup is missing or differs from
// its manifest.
var (
	ErrNotEmpty = errors.New("restore: the target is not empty")
	ErrCorrupt  = errors.New("restore: the backup does not match its manifest")
)

// RestoreOptions say which backup to restore where.
type RestoreOptions struct {
	// From is a backup (file:///DIR/NAME, s3://BUCKET/PREFIX/NAME) or a
	// location holding backups, whose newest complete one is restored.
	From string
	// DB and Store are the targets; both must be empty.
	DB    config.DSN
	Store *storage.Store
	// Out receives what is done, step by step (nil: nothing).
	Out     io.Writer
	Log     *slog.Logger
	TempDir string
}

// Restore brings a backup back into an empty database and an empty store:
// it checks both are empty, verifies every file of the backup against the
// manifest (size and SHA-256) before writing anything, checks the database
// file's row counts, copies the database (dbcopy, into any engine), then the
// objects byte for byte, and verifies the row counts in the target.
func Restore(ctx context.Context, o RestoreOptions) (*Manifest, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DB.Engine == config.EngineSQLite && o.DB.Memory {
		return nil, errors.New("restore: the target database is in memory: it would vanish when the command ends; restore into a file or PostgreSQL")
	}
	loc, err := openLocation(ctx, o.From, false)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer loc.Close()
	prefix, err := findBackup(ctx, loc)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(ctx, loc.bucket, prefix)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	objects, bytes := m.Objects()
	fmt.Fprintf(o.Out, "backup %s%s: made %s by AURA %s from %s; %d rows, %d objects (%s)\n",
		loc.display+"/", strings.TrimSuffix(prefix, "/"), m.CreatedAt.Format(time.RFC3339), m.AuraVersion, m.Engine,
		m.Rows(), objects, human(bytes))

	// 1. Both targets empty.
	held, err := dbcopy.Held(ctx, o.DB)
	if err != nil {
		return nil, fmt.Errorf("restore: target database: %w", err)
	}
	if held != "" {
		return nil, fmt.Errorf("%w: the database %s already holds AURA data (%s); restore only into an empty database",
			ErrNotEmpty, o.DB.Redacted(), held)
	}
	var first string
	errStop := errors.New("stop")
	if err := o.Store.Walk(ctx, "", func(key string, _ int64) error { first = key; return errStop }); err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("restore: target store: %w", err)
	}
	if first != "" {
		return nil, fmt.Errorf("%w: the object store %s already holds objects (%s, ...); restore only into an empty store",
			ErrNotEmpty, o.Store.String(), first)
	}

	// 2. Every file verified before anything is written; the database file
	// is kept in a temporary directory on the way.
	tmp, err := os.MkdirTemp(o.TempDir, "aura-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dbPath := filepath.Join(tmp, "stored.sqlite")
	if err := verifyAll(ctx, loc.bucket, prefix, m, dbPath, o.Store); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "verified %d files against the manifest (size and SHA-256) and every chunk of the encrypted objects against the storage key\n", len(m.Files))
	plain := dbPath
	if m.DatabaseEncrypted {
		plain = filepath.Join(tmp, DatabaseName)
		if err := unseal(ctx, o.Store, dbPath, plain); err != nil {
			return nil, fmt.Errorf("restore: the backup's database is encrypted with the storage key it was made with; "+
				"configure that key (storage.encryption_key or storage.keeper): %w", err)
		}
	}
	src := config.DSN{Engine: config.EngineSQLite, Path: plain}
	if err := checkCounts(ctx, src, m, "the backup's database"); err != nil {
		return nil, err
	}

	// 3. The database, then the objects.
	if _, err := dbcopy.Run(ctx, dbcopy.Options{From: src, To: o.DB, Log: o.Log}); err != nil {
		return nil, fmt.Errorf("restore: database: %w", err)
	}
	fmt.Fprintf(o.Out, "database restored into %s: %d rows in %d tables\n", o.DB.Redacted(), m.Rows(), len(m.Tables))
	if err := restoreObjects(ctx, loc.bucket, prefix, m, o.Store); err != nil {
		return nil, fmt.Errorf("restore: objects (the database is restored; empty the store and the database before trying again): %w", err)
	}
	fmt.Fprintf(o.Out, "objects restored into %s: %d (%s)\n", o.Store.String(), objects, human(bytes))

	// 4. Row counts in the target.
	if err := checkCounts(ctx, o.DB, m, "the restored database"); err != nil {
		return nil, err
	}
	fmt.Fprintln(o.Out, "row counts match the manifest; restore complete")
	return m, nil
}

// findBackup returns the prefix of the backup at loc: loc itself when it
// holds a manifest, else its newest complete backup.
func findBackup(ctx context.Context, loc *location) (string, error) {
	if ok, err := loc.bucket.Exists(ctx, ManifestName); err != nil {
		return "", fmt.Errorf("restore: %s: %w", loc.display, err)
	} else if ok {
		return "", nil
	}
	entries, err := list(ctx, loc.bucket)
	if err != nil {
		return "", fmt.Errorf("restore: %s: %w", loc.display, err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Complete {
			return entries[i].Name + "/", nil
		}
	}
	return "", fmt.Errorf("restore: %s holds no complete backup (no %s)", loc.display, ManifestName)
}

// verifyAll checks every file of m; the database file is saved to dbPath.
// An object's bytes are also opened as the target store st will read them:
// every chunk of an encrypted object must authenticate under st's key (its
// checksum only says it is the file the backup wrote, and an object altered
// before the backup has a matching checksum). All problems are reported
// together, each naming its file.
func verifyAll(ctx context.Context, b *blob.Bucket, prefix string, m *Manifest, dbPath string, st *storage.Store) error {
	problems := make([]string, len(m.Files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyConcurrency)
	for i, f := range m.Files {
		g.Go(func() error {
			var sink io.Writer = io.Discard
			if f.Path == m.Database {
				out, err := os.OpenFile(dbPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer out.Close()
				sink = out
			}
			if key, ok := strings.CutPrefix(f.Path, ObjectsDir); ok && st != nil {
				problems[i] = checkObject(gctx, b, prefix, f, key, st)
			} else {
				problems[i] = check(gctx, b, prefix, f, sink)
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var bad []string
	for _, p := range problems {
		if p != "" {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	more := ""
	if len(bad) > 10 {
		more = fmt.Sprintf("; and %d more", len(bad)-10)
		bad = bad[:10]
	}
	return fmt.Errorf("%w, nothing was written: %s%s", ErrCorrupt, strings.Join(bad, "; "), more)
}

// check reads one file, copying it to sink, and returns what is wrong with
// it ("" if nothing).
func check(ctx context.Context, b *blob.Bucket, prefix string, f File, sink io.Writer) string {
	r, err := b.NewReader(ctx, prefix+f.Path, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return f.Path + " is missing"
	}
	if err != nil {
		return fmt.Sprintf("%s cannot be read: %v", f.Path, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(h, sink), r)
	switch {
	case err != nil:
		return fmt.Sprintf("%s cannot be read: %v", f.Path, err)
	case n != f.Size:
		return fmt.Sprintf("%s has %d bytes, the manifest says %d", f.Path, n, f.Size)
	case hex.EncodeToString(h.Sum(nil)) != f.SHA256:
		return f.Path + " has the wrong SHA-256 (corrupt)"
	}
	return ""
}

// checkObject is check for an object of the backup, whose bytes are also
// opened under st's key as the object key, every chunk authenticated, in
// the same read.
func checkObject(ctx context.Context, b *blob.Bucket, prefix string, f File, key string, st *storage.Store) string {
	pr, pw := io.Pipe()
	opened := make(chan error, 1)
	go func() {
		err := st.VerifyRaw(ctx, key, pr)
		_, _ = io.Copy(io.Discard, pr) // a failed check stops reading: let the copy end
		opened <- err
	}()
	problem := check(ctx, b, prefix, f, pw)
	pw.Close()
	if err := <-opened; problem == "" && err != nil {
		problem = fmt.Sprintf("%s does not open under the storage key (%v)", f.Path, err)
	}
	return problem
}

func unseal(ctx context.Context, st *storage.Store, from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	rc, err := st.Unseal(ctx, sealName, in)
	if err != nil {
		in.Close()
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// checkCounts compares the row counts of db with m's.
func checkCounts(ctx context.Context, dsn config.DSN, m *Manifest, what string) error {
	db, err := database.OpenReadOnly(ctx, dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fmt.Errorf("restore: %s: %w", what, err)
	}
	defer database.Close(db)
	db = db.WithContext(ctx)
	var bad []string
	for table, want := range m.Tables {
		var n int64
		if err := db.Table(table).Count(&n).Error; err != nil {
			return fmt.Errorf("restore: %s: count %s: %w", what, table, err)
		}
		if n != want {
			bad = append(bad, fmt.Sprintf("%s has %d rows, the manifest says %d", table, n, want))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, what, strings.Join(bad, "; "))
	}
	return nil
}

// restoreObjects copies every object of m into st as it was stored,
// checking each one's SHA-256 again on the way.
func restoreObjects(ctx context.Context, b *blob.Bucket, prefix string, m *Manifest, st *storage.Store) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyConcurrency)
	for _, f := range m.Files {
		key, ok := strings.CutPrefix(f.Path, ObjectsDir)
		if !ok {
			continue
		}
		g.Go(func() error {
			r, err := b.NewReader(gctx, prefix+f.Path, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			defer r.Close()
			h := sha256.New()
			n, err := st.PutRaw(gctx, key, io.TeeReader(r, h), f.ContentType)
			if err != nil {
				return err
			}
			if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
				_ = st.Delete(context.WithoutCancel(gctx), key)
				return fmt.Errorf("%w: %s changed while it was restored", ErrCorrupt, f.Path)
			}
			return nil
		})
	}
	return g.Wait()
}
