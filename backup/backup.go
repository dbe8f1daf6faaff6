package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"aura/config"
	"aura/dbcopy"
	"aura/storage"
)

// copyConcurrency is how many objects are copied at once.
const copyConcurrency = 4

// Options say what to back up where.
type Options struct {
	// DB is the database backed up (not an in-memory one).
	DB config.DSN
	// Store is the object store; its objects are copied as stored, and its
	// key (if any) encrypts the database file.
	Store *storage.Store
	// To is the location: file:///DIR or s3://BUCKET/PREFIX?...
	To string
	// Version is the AURA version recorded in the manifest.
	Version string
	// Now is the time source (nil: the system clock); it names the backup.
	Now func() time.Time
	// Out receives a few lines of progress (nil: none).
	Out io.Writer
	// Log receives warnings from the database layer (nil: none).
	Log *slog.Logger
	// TempDir holds the SQLite copy while it is written ("": os.TempDir()).
	TempDir string
	// AfterSnapshot, when set, runs right after the objects are listed (tests
	// use it to write during a backup).
	AfterSnapshot func()
}

// Result is a backup written.
type Result struct {
	Name     string // its prefix at the location
	URI      string // the location and the name, without the query
	Manifest *Manifest
	Duration time.Duration
}

// Run writes one backup: the database read within one snapshot into a
// SQLite file (dbcopy), then every object listed once that snapshot was
// taken, then the manifest. On failure what was written is removed.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DB.Engine == config.EngineSQLite && o.DB.Memory {
		return nil, errors.New("the database is in memory: another process cannot read it, and it is gone when the server stops; back up a database file or PostgreSQL")
	}
	if o.Store == nil {
		return nil, errors.New("no object store")
	}
	loc, err := openLocation(ctx, o.To, true)
	if err != nil {
		return nil, err
	}
	defer loc.Close()
	if d := o.Store.Dir(); d != "" && loc.dir != "" && within(loc.dir, d) {
		return nil, fmt.Errorf("location %s is inside the object store %s: the backup would back itself up; choose a directory outside it", loc.display, d)
	}
	now := o.Now().UTC()
	name := now.Format(NameLayout)
	if ok, err := loc.bucket.Exists(ctx, name+"/"+ManifestName); err != nil {
		return nil, fmt.Errorf("location %s: %w", loc.display, err)
	} else if ok {
		return nil, fmt.Errorf("location %s already has a backup %s", loc.display, name)
	}
	m := &Manifest{Format: Format, AuraVersion: o.Version, CreatedAt: now, Engine: o.DB.Engine,
		Database: DatabaseName, DatabaseEncrypted: o.Store.Encrypted(), Tables: map[string]int64{}}
	w := &writer{loc: loc, prefix: name + "/"}
	res, err := w.run(ctx, o, m)
	if err != nil {
		// Nothing half-made stays: the manifest was not written, and the
		// rest goes too (best effort; an incomplete backup is never
		// restored, and retention removes any left behind).
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = deletePrefix(dctx, loc.bucket, name+"/")
		return nil, err
	}
	res.Name, res.URI = name, loc.display+"/"+name
	res.Duration = time.Since(start)
	return res, nil
}

type writer struct {
	loc    *location
	prefix string
	mu     sync.Mutex
}

type listed struct {
	key  string
	size int64
}

func (w *writer) run(ctx context.Context, o Options, m *Manifest) (*Result, error) {
	tmp, err := os.MkdirTemp(o.TempDir, "aura-backup-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dbFile := filepath.Join(tmp, DatabaseName)
	var objects []listed
	rep, err := dbcopy.Run(ctx, dbcopy.Options{
		From: o.DB, To: config.DSN{Engine: config.EngineSQLite, Path: dbFile}, Log: o.Log,
		// The snapshot is taken: every row the copy will hold is committed,
		// and so are the objects it refers to (they are written before
		// their rows). Listing now finds them all.
		Snapshot: func() error {
			return o.Store.Walk(ctx, "", func(key string, size int64) error {
				objects = append(objects, listed{key, size})
				return nil
			})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if o.AfterSnapshot != nil {
		o.AfterSnapshot()
	}
	for _, t := range rep.Tables {
		m.Tables[t.Table] = t.Rows
	}
	f, err := os.Open(dbFile)
	if err != nil {
		return nil, err
	}
	body, err := o.Store.Seal(ctx, sealName, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("database: encrypting: %w", err)
	}
	dbEntry, err := w.put(ctx, DatabaseName, body, "application/vnd.sqlite3")
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	m.Files = append(m.Files, dbEntry)
	fmt.Fprintf(o.Out, "database: %d rows in %d tables (%s)\n", rep.Rows(), len(rep.Tables), human(dbEntry.Size))

	files := make([]*File, len(objects))
	vanished := make([]bool, len(objects))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyConcurrency)
	for i, obj := range objects {
		g.Go(func() error {
			r, attrs, err := o.Store.GetRaw(gctx, obj.key)
			if errors.Is(err, storage.ErrNotFound) {
				vanished[i] = true
				return nil
			}
			if err != nil {
				return err
			}
			defer r.Close()
			fe, err := w.put(gctx, ObjectsDir+obj.key, r, attrs.ContentType)
			if err != nil {
				return fmt.Errorf("object %s: %w", obj.key, err)
			}
			files[i] = &fe
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, fe := range files {
		if vanished[i] {
			m.Vanished = append(m.Vanished, objects[i].key)
		} else {
			m.Files = append(m.Files, *fe)
		}
	}
	n, bytes := m.Objects()
	fmt.Fprintf(o.Out, "objects: %d (%s)\n", n, human(bytes))
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := w.loc.bucket.WriteAll(ctx, w.prefix+ManifestName, append(raw, '\n'),
		&blob.WriterOptions{ContentType: "application/json", BeforeWrite: w.loc.beforeWrite}); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &Result{Manifest: m}, nil
}

// put streams r to path (under the backup's prefix) and returns its entry.
func (w *writer) put(ctx context.Context, path string, r io.Reader, contentType string) (File, error) {
	h := sha256.New()
	cr := &counter{r: io.TeeReader(r, h)}
	err := w.loc.bucket.Upload(ctx, w.prefix+path, cr, &blob.WriterOptions{
		ContentType: contentType, BeforeWrite: w.loc.beforeWrite, BufferSize: 5 << 20, MaxConcurrency: 2})
	if err != nil {
		return File{}, err
	}
	return File{Path: path, Size: cr.n, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: contentType}, nil
}

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// deletePrefix removes every file under prefix.
func deletePrefix(ctx context.Context, b *blob.Bucket, prefix string) error {
	it := b.List(&blob.ListOptions{Prefix: prefix})
	var errs []error
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if obj.IsDir {
			continue
		}
		if err := b.Delete(ctx, obj.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// within reports whether dir is base or below it.
func within(dir, base string) bool {
	rel, err := filepath.Rel(base, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
