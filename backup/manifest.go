package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// Format is the version of the backup layout this build writes and reads.
const Format = 1

// Names inside one backup's prefix.
const (
	ManifestName = "manifest.json"
	DatabaseName = "database.sqlite"
	ObjectsDir   = "objects/"
	// sealName is the name the database file is encrypted under (bound to
	// its ciphertext); fixed, so a backup may be moved or renamed.
	sealName = "aura-backup/database.sqlite"
)

// NameLayout names each backup's prefix: its UTC time, to the millisecond,
// which sorts oldest first.
const NameLayout = "20060102T150405.000Z"

// Manifest describes one backup; it is written last, so a backup without
// one is incomplete.
type Manifest struct {
	Format      int       `json:"format"`
	AuraVersion string    `json:"aura_version"`
	CreatedAt   time.Time `json:"created_at"`
	// Engine is the engine of the database backed up (the copy inside is
	// SQLite whatever it is).
	Engine string `json:"engine"`
	// Database is the path of the SQLite file; DatabaseEncrypted is true
	// when it is encrypted with the storage key (storage.encryption_key or
	// storage.keeper), as the objects of an encrypted store are.
	Database          string `json:"database"`
	DatabaseEncrypted bool   `json:"database_encrypted"`
	// Tables are the row counts of every AURA table in the snapshot.
	Tables map[string]int64 `json:"tables"`
	// Files are every file of the backup but the manifest: the database,
	// then the objects (objects/KEY), with their stored size and SHA-256.
	Files []File `json:"files"`
	// Vanished are objects listed at the snapshot but deleted before they
	// were copied (only report caches and the objects of failed uploads
	// can be: no row of the snapshot refers to them).
	Vanished []string `json:"vanished,omitempty"`
}

// File is one file of a backup.
type File struct {
	Path        string `json:"path"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type,omitempty"`
}

// Objects counts the stored objects of m and their bytes.
func (m *Manifest) Objects() (n int, bytes int64) {
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, ObjectsDir) {
			n++
			bytes += f.Size
		}
	}
	return n, bytes
}

// Size is the bytes of every file of m.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Rows is the total of m's table rows.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, r := range m.Tables {
		n += r
	}
	return n
}

func readManifest(ctx context.Context, b *blob.Bucket, prefix string) (*Manifest, error) {
	r, err := b.NewReader(ctx, prefix+ManifestName, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	raw, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s%s is not a backup manifest: %v", prefix, ManifestName, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s%s: backup format %d; this AURA reads format %d", prefix, ManifestName, m.Format, Format)
	}
	return &m, nil
}

// Entry is one backup found at a location.
type Entry struct {
	Name     string    // the prefix, without its slash
	Time     time.Time // parsed from Name
	Complete bool      // it has its manifest
}

// list finds the backups at a location, oldest first: the prefixes whose
// name parses with NameLayout.
func list(ctx context.Context, b *blob.Bucket) ([]Entry, error) {
	it := b.List(&blob.ListOptions{Delimiter: "/"})
	var out []Entry
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !obj.IsDir {
			continue
		}
		name := strings.TrimSuffix(obj.Key, "/")
		t, err := time.Parse(NameLayout, name)
		if err != nil {
			continue
		}
		ok, err := b.Exists(ctx, name+"/"+ManifestName)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Name: name, Time: t, Complete: ok})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// List finds the backups at the location uri, oldest first.
func List(ctx context.Context, uri string) ([]Entry, error) {
	loc, err := openLocation(ctx, uri, false)
	if err != nil {
		return nil, err
	}
	defer loc.Close()
	return list(ctx, loc.bucket)
}
