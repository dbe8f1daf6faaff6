// Package backup writes and restores AURA backups (`aura backup`, `aura
// restore`, and the server's scheduled backups; docs/operations.md "Backups
// and restore"). A backup is one consistent set under its own prefix of a
// location (a directory or an S3 bucket, through gocloud.dev/blob): the
// database as a portable SQLite file read within one snapshot, every stored
// object byte for byte as stored (encrypted ones stay encrypted), and a
// manifest of checksums written last.
package backup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
)

// File modes of a directory location: backups hold medical records.
const (
	dirMode  os.FileMode = 0o750
	fileMode os.FileMode = 0o640
)

// location is an opened backup location: a bucket whose keys are relative
// to the location's prefix.
type location struct {
	bucket *blob.Bucket
	// display is the URI without its query (no secret), for messages.
	display string
	// dir is the absolute directory of a file:// location ("" for S3).
	dir string
}

// openLocation opens uri: file:///ABS/DIR, file://REL/DIR or
// s3://BUCKET/PREFIX?endpoint=URL&region=R&use_path_style=true (the same
// query parameters as storage.uri; credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY). A directory is created when create is set.
func openLocation(ctx context.Context, uri string, create bool) (*location, error) {
	if strings.TrimSpace(uri) == "" {
		return nil, errors.New("no location: use file:///DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R")
	}
	u, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("location is not a URL: %v", err)
	}
	if u.User != nil {
		return nil, errors.New("location: credentials in the URI (USER:PASSWORD@) are refused; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	switch u.Scheme {
	case fileblob.Scheme:
		return openDir(ctx, u, create)
	case s3blob.Scheme:
		return openS3(ctx, u)
	default:
		return nil, fmt.Errorf("location: scheme %q is not supported: use file:///DIR or s3://BUCKET/PREFIX", u.Scheme)
	}
}

// ValidateURI checks the form of a backup location without opening it.
func ValidateURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.User != nil:
		return errors.New("credentials in the URI are refused; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	case u.Scheme == fileblob.Scheme && u.Host+u.Path == "":
		return errors.New("file:// needs a directory: file:///ABSOLUTE/DIR")
	case u.Scheme == s3blob.Scheme && u.Host == "":
		return errors.New("s3:// needs a bucket: s3://BUCKET/PREFIX?endpoint=URL&region=R")
	case u.Scheme != fileblob.Scheme && u.Scheme != s3blob.Scheme:
		return fmt.Errorf("scheme %q is not supported: use file:///DIR or s3://BUCKET/PREFIX", u.Scheme)
	}
	return nil
}

func openDir(ctx context.Context, u *url.URL, create bool) (*location, error) {
	if len(u.Query()) > 0 {
		return nil, errors.New("location: file:// takes no query parameters")
	}
	dir := u.Path
	switch u.Host {
	case "", "localhost":
	default: // file://relative/dir
		dir = u.Host + u.Path
	}
	if dir == "" {
		return nil, errors.New("location: file:// needs a directory: file:///ABSOLUTE/DIR")
	}
	abs, err := filepath.Abs(filepath.FromSlash(dir))
	if err != nil {
		return nil, fmt.Errorf("location %q: %v", dir, err)
	}
	if !create {
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("location %s: no such directory", abs)
		}
	}
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{CreateDir: create, DirFileMode: dirMode, NoTempDir: true})
	if err != nil {
		return nil, fmt.Errorf("location %s: %w", abs, err)
	}
	return &location{bucket: b, display: "file://" + filepath.ToSlash(abs), dir: abs}, nil
}

func openS3(ctx context.Context, u *url.URL) (*location, error) {
	if u.Host == "" {
		return nil, errors.New("location: s3:// needs a bucket: s3://BUCKET/PREFIX?endpoint=URL&region=R")
	}
	q := u.Query()
	if _, ok := q["endpoint"]; ok {
		// As storage.uri: an S3-compatible store other than AWS gets
		// checksums only where the protocol requires them.
		for _, p := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if !q.Has(p) {
				q.Set(p, "when_required")
			}
		}
	}
	norm := url.URL{Scheme: s3blob.Scheme, Host: u.Host, RawQuery: q.Encode()}
	mux := new(blob.URLMux)
	mux.RegisterBucket(s3blob.Scheme, new(s3blob.URLOpener))
	b, err := mux.OpenBucketURL(ctx, &norm)
	if err != nil {
		return nil, fmt.Errorf("location s3://%s: %w", u.Host, err)
	}
	display := "s3://" + u.Host
	if p := strings.Trim(u.Path, "/"); p != "" {
		b = blob.PrefixedBucket(b, p+"/")
		display += "/" + p
	}
	return &location{bucket: b, display: display}, nil
}

// beforeWrite narrows the mode of files written to a directory location.
func (l *location) beforeWrite(as func(any) bool) error {
	var f *os.File
	if l.dir != "" && as(&f) {
		return f.Chmod(fileMode)
	}
	return nil
}

func (l *location) Close() error { return l.bucket.Close() }
