// Package storage keeps fundus images and vessel maps outside the database,
// in a directory or in an S3-compatible bucket chosen by one URI (the setting
// storage.uri; see docs/storage.md). It imports no other AURA package.
//
// Objects are named by keys built from opaque ids (ScreeningImageKey,
// VesselMapKey) and checked by ValidateKey, so no key can hold personal data
// or reach outside the store. Writes are streamed and atomic: an object is
// either wholly there or not at all.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
)

// DefaultURI is the value of storage.uri when none is configured: the
// directory aura-data under the working directory.
const DefaultURI = "file://aura-data"

// ErrNotFound is wrapped by Get when no object has the key.
var ErrNotFound = errors.New("storage: object not found")

// Attributes describe a stored object.
type Attributes struct {
	Size        int64     // bytes
	ContentType string    // as given to Put ("application/octet-stream" if none was)
	ModTime     time.Time // when the object was last written
}

// Store is an open object store. Its methods are safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	uri    string // normalised URI, holding no secret (see String)
	dir    string // the file store's absolute directory; "" for S3

	keeper    Keeper                      // the master key; nil: objects are written in the clear
	chunk     int                         // plaintext bytes per encrypted chunk
	onCorrupt func(key string, err error) // told of every object that fails to decrypt
}

// Options are the settings of Open beyond the URI.
type Options struct {
	// Keeper encrypts every object written (see crypt.go); nil writes them
	// in the clear. Objects are read either way; an encrypted one needs
	// the keeper that wrapped its data key. The Store closes it.
	Keeper Keeper
	// OnCorrupt, if set, is called with the key and the error of every
	// encrypted object that cannot be decrypted (wrong key, altered, cut
	// short), when it is opened or while it is read.
	OnCorrupt func(key string, err error)
	// ChunkSize is the plaintext bytes per encrypted chunk (default 64 KiB).
	ChunkSize int
}

// File modes of the file store: images are medical records, so neither the
// directories nor the objects are readable by other users of the machine.
const (
	dirMode  os.FileMode = 0o750
	fileMode os.FileMode = 0o640
)

// S3 uploads go in parts of partSize (the smallest S3 allows), partConcurrency
// at a time, which bounds the memory of one Put to a few parts whatever the
// object's size.
const (
	partSize        = 5 << 20
	partConcurrency = 2
)

// s3Params are the query parameters accepted on an s3:// URI. Anything else
// is refused by name only, so a secret pasted into the URI is never echoed.
var s3Params = []string{
	"endpoint", "region", "use_path_style", "s3ForcePathStyle", "disable_https",
	"prefix", "profile", "request_checksum_calculation", "response_checksum_validation",
	"ssetype", "kmskeyid",
}

// Open opens the store that uri names:
//
//   - file:///absolute/dir — a directory, created (mode 0750) if missing;
//   - file://relative/dir — the same, relative to the working directory at
//     the time of Open (DefaultURI is file://aura-data);
//   - s3://BUCKET?endpoint=URL&region=R&use_path_style=true — a bucket of
//     any S3-compatible store, with credentials from AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY (or the rest of the AWS SDK's default chain).
//     Also accepted: prefix=DIR/ (objects go under DIR/), s3ForcePathStyle
//     (the older name of use_path_style), disable_https, profile,
//     request_checksum_calculation, response_checksum_validation, ssetype,
//     kmskeyid.
//
// Open does not contact an S3 store; call Ping to check that the bucket can
// be reached. On failure it returns a nil Store and an error starting with
// "storage.uri" that names the part of the URI that is wrong; the error never
// repeats credentials or unknown query values.
func Open(ctx context.Context, uri string) (*Store, error) {
	return OpenWith(ctx, uri, Options{})
}

// OpenWith is Open with opts: with opts.Keeper, objects are encrypted at
// rest.
func OpenWith(ctx context.Context, uri string, opts Options) (*Store, error) {
	s, err := openURI(ctx, uri)
	if err != nil {
		return nil, err
	}
	s.keeper, s.onCorrupt, s.chunk = opts.Keeper, opts.OnCorrupt, opts.ChunkSize
	if s.chunk <= 0 {
		s.chunk = chunkSize
	}
	if s.chunk > maxChunkSize {
		_ = s.bucket.Close()
		return nil, fmt.Errorf("storage: chunk size %d is above %d", s.chunk, maxChunkSize)
	}
	return s, nil
}

// Encrypted reports whether the store encrypts the objects it writes.
func (s *Store) Encrypted() bool { return s.keeper != nil }

func openURI(ctx context.Context, uri string) (*Store, error) {
	if strings.TrimSpace(uri) == "" {
		return nil, errors.New("storage.uri is empty: use file:///DIR, file://DIR or s3://BUCKET?endpoint=URL&region=R")
	}
	u, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URI, which may hold a secret
		}
		return nil, fmt.Errorf("storage.uri is not a URL: %v", err)
	}
	if u.User != nil {
		return nil, errors.New("storage.uri: credentials in the URI (USER:PASSWORD@) are refused; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	if strings.Contains(uri, "#") {
		return nil, errors.New("storage.uri: a fragment (#...) has no meaning here")
	}
	switch u.Scheme {
	case fileblob.Scheme:
		return openFile(ctx, u)
	case s3blob.Scheme:
		return openS3(ctx, u)
	case "":
		return nil, errors.New("storage.uri has no scheme: use file:///DIR, file://DIR or s3://BUCKET")
	default:
		return nil, fmt.Errorf("storage.uri: scheme %q is not supported: use file:// or s3://", u.Scheme)
	}
}

func openFile(ctx context.Context, u *url.URL) (*Store, error) {
	if u.Opaque != "" {
		return nil, errors.New("storage.uri: a file URI is written file:///ABSOLUTE/DIR or file://RELATIVE/DIR")
	}
	if len(u.Query()) > 0 {
		return nil, fmt.Errorf("storage.uri: file:// takes no query parameters (found %q)", sortedNames(u.Query())[0])
	}
	dir := u.Path
	switch u.Host {
	case "", "localhost": // file:///abs or file://localhost/abs
	default: // file://dir, file://./dir, file://../dir: relative
		if strings.Contains(u.Host, ":") {
			return nil, fmt.Errorf("storage.uri: %q is not a directory name (a port has no meaning in a file URI)", u.Host)
		}
		dir = u.Host + u.Path
	}
	if dir == "" {
		return nil, errors.New("storage.uri: file:// needs a directory: file:///ABSOLUTE/DIR or file://RELATIVE/DIR")
	}
	abs, err := filepath.Abs(filepath.FromSlash(dir))
	if err != nil {
		return nil, fmt.Errorf("storage.uri: directory %q: %v", dir, err)
	}
	if abs == filepath.Dir(abs) {
		return nil, errors.New("storage.uri: the file store needs a directory of its own, not the root")
	}
	mux := new(blob.URLMux)
	mux.RegisterBucket(fileblob.Scheme, &fileblob.URLOpener{Options: fileblob.Options{
		CreateDir:   true,
		DirFileMode: dirMode,
		// Temporary files next to their object rather than in os.TempDir,
		// so the final rename never crosses file systems.
		NoTempDir: true,
	}})
	norm := &url.URL{Scheme: fileblob.Scheme, Path: filepath.ToSlash(abs)}
	b, err := mux.OpenBucketURL(ctx, norm)
	if err != nil {
		return nil, fmt.Errorf("storage.uri: directory %s: %w", abs, err)
	}
	return &Store{bucket: b, uri: norm.String(), dir: abs}, nil
}

func openS3(ctx context.Context, u *url.URL) (*Store, error) {
	if u.Opaque != "" || u.Host == "" {
		return nil, errors.New("storage.uri: s3:// needs a bucket name: s3://BUCKET?endpoint=URL&region=R&use_path_style=true")
	}
	if err := checkBucketName(u.Host); err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("storage.uri: s3://BUCKET takes no path; to keep objects under a folder use ?prefix=FOLDER/")
	}
	q := u.Query()
	for _, name := range sortedNames(q) {
		if !slices.Contains(s3Params, name) {
			return nil, fmt.Errorf("storage.uri: query parameter %q is not known for s3:// (known: %s)", name, strings.Join(s3Params, ", "))
		}
		if len(q[name]) > 1 {
			return nil, fmt.Errorf("storage.uri: query parameter %q is given more than once", name)
		}
	}
	if ep, ok := q["endpoint"]; ok {
		e, err := url.Parse(ep[0])
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return nil, errors.New("storage.uri: endpoint must be an http:// or https:// URL, URL-encoded (endpoint=https%3A%2F%2Fs3.example.org)")
		}
		if e.User != nil {
			return nil, errors.New("storage.uri: credentials in the endpoint are refused; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
		}
	}
	if p, ok := q["prefix"]; ok {
		if !strings.HasSuffix(p[0], "/") || ValidateKey(strings.TrimSuffix(p[0], "/")) != nil {
			return nil, errors.New("storage.uri: prefix must be key segments of [a-z0-9-._] ending in \"/\" (prefix=clinic-a/)")
		}
	}
	if _, ok := q["endpoint"]; ok {
		// An S3-compatible store other than AWS: unless told otherwise, send
		// checksums only where the protocol requires them (many such stores
		// refuse the newer checksum trailers) and do not ask for them on
		// reads (the SDK would log a warning on every read without one).
		for _, p := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if !q.Has(p) {
				q.Set(p, "when_required")
			}
		}
	}
	norm := *u
	norm.Path = ""
	norm.RawQuery = q.Encode()
	mux := new(blob.URLMux)
	mux.RegisterBucket(s3blob.Scheme, new(s3blob.URLOpener))
	b, err := mux.OpenBucketURL(ctx, &norm)
	if err != nil {
		// The URI holds no secret here: no user info, known parameters only.
		return nil, fmt.Errorf("storage.uri: %w", err)
	}
	return &Store{bucket: b, uri: norm.String()}, nil
}

// checkBucketName applies S3's naming rules, which also keep the host part
// from being a host:port or an address by mistake.
func checkBucketName(name string) error {
	ok := len(name) >= 3 && len(name) <= 63 && alnum(name[0]) && alnum(name[len(name)-1])
	for i := 0; ok && i < len(name); i++ {
		ok = alnum(name[i]) || name[i] == '-' || name[i] == '.'
	}
	if !ok {
		return fmt.Errorf("storage.uri: bucket name %q is not valid: 3 to 63 of [a-z0-9.-], starting and ending with a letter or digit", name)
	}
	return nil
}

func sortedNames(q url.Values) []string {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// String returns the store's normalised URI (a file store's directory made
// absolute), which holds no secret and may be logged.
func (s *Store) String() string { return s.uri }

// Put streams r into the object key, replacing any object already there, and
// returns the number of bytes read from r.
//
// The write is atomic: until it completes, readers see the previous object
// (or none). If r fails, or ctx ends, before the end of r, the write is
// aborted and Put returns the bytes read so far with an error wrapping r's
// error or ctx's; no partial object, and on S3 no unfinished multipart
// upload, is left, and a previous object is kept. An empty contentType is
// stored as "application/octet-stream"; an unparsable one is an error. A bad
// key returns 0 and an error wrapping ErrInvalidKey, before r is read.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, contentType string) (n int64, err error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	uctx, cancel := s.uploadContext(ctx)
	defer cancel()
	src := &source{r: r, ctx: ctx}
	var body io.Reader = src
	if s.keeper != nil {
		if body, err = s.sealStream(ctx, key, src); err != nil {
			return 0, err
		}
	}
	if s.dir != "" {
		// The file writer renames its temporary file into place on Close
		// unless its context is cancelled first: a failed read cancels it.
		src.failed = cancel
	}
	err = s.bucket.Upload(uctx, key, body, &blob.WriterOptions{
		ContentType:    contentType,
		BufferSize:     partSize,
		MaxConcurrency: partConcurrency,
		BeforeWrite:    s.beforeWrite,
	})
	if src.err != nil {
		return src.n, fmt.Errorf("storage: put %s: aborted after %d bytes: %w", key, src.n, src.err)
	}
	if err != nil {
		return src.n, fmt.Errorf("storage: put %s: %w", key, err)
	}
	return src.n, nil
}

// abortGrace is how long an S3 upload may go on after the caller's context
// ended, to abort its multipart upload (or finish, if r was read whole).
const abortGrace = 30 * time.Second

// uploadContext returns the context the write runs under. For the file store
// it is a child of ctx. For S3 it outlives ctx by abortGrace: the AWS SDK
// aborts a failed multipart upload with the upload's own context, so with
// ctx itself a cancelled Put would leave its uploaded parts in the bucket,
// invisible but billed and holding image data. The end of ctx reaches the
// upload instead as a read error (see source), which the SDK aborts cleanly.
func (s *Store) uploadContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.dir != "" {
		return context.WithCancel(ctx)
	}
	uctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(abortGrace, cancel) })
	return uctx, func() { stop(); cancel() }
}

// source is Put's view of r: it counts the bytes, keeps the first error,
// and fails once ctx has ended, also in place of a final io.EOF, so that a
// Put cancelled before the end of r never commits.
type source struct {
	r      io.Reader
	ctx    context.Context
	n      int64
	err    error
	failed func() // called once, on the first error
}

func (s *source) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		return 0, s.fail(err)
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	switch {
	case err == io.EOF && s.ctx.Err() != nil:
		return n, s.fail(s.ctx.Err())
	case err != nil && err != io.EOF:
		return n, s.fail(err)
	}
	return n, err
}

func (s *source) fail(err error) error {
	s.err = err
	if s.failed != nil {
		s.failed()
	}
	return err
}

// beforeWrite narrows the mode of the file store's new files (the temporary
// file that becomes the object); S3 objects have no mode.
func (s *Store) beforeWrite(as func(any) bool) error {
	var f *os.File
	if s.dir != "" && as(&f) {
		return f.Chmod(fileMode)
	}
	return nil
}

// Get opens the object key for reading and returns it with its attributes.
// The caller must Close the reader; ctx must stay live while reading. A
// missing object returns an error wrapping ErrNotFound, a bad key one
// wrapping ErrInvalidKey; on any error the reader is nil.
//
// An encrypted object is decrypted as it is read, and Size is its
// plaintext size. One that cannot be decrypted (no key, the wrong key, its
// first chunk altered) returns an error wrapping ErrUndecryptable; a later
// chunk altered or missing fails the read with such an error when it is
// reached, so no unauthenticated byte is ever returned.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, Attributes, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Attributes{}, err
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, Attributes{}, wrap("get", key, err)
	}
	attrs := Attributes{Size: r.Size(), ContentType: r.ContentType(), ModTime: r.ModTime()}
	rc, size, err := s.open(ctx, key, r, attrs.Size)
	if err != nil {
		_ = r.Close()
		if errors.Is(err, ErrUndecryptable) && s.onCorrupt != nil {
			s.onCorrupt(key, err)
		}
		return nil, Attributes{}, err
	}
	attrs.Size = size
	return rc, attrs, nil
}

// GetVerified is Get for a reader that must not start answering before the
// whole object is known to be good (an HTTP download, whose status is sent
// with the first byte): an encrypted object is first read to its end,
// every chunk authenticated, and only then opened again for the caller; a
// chunk altered anywhere fails here with ErrUndecryptable. A plaintext
// object has nothing to authenticate and is opened once. The object can
// still change between the two reads: a reader of it fails, it never
// returns unauthenticated bytes.
func (s *Store) GetVerified(ctx context.Context, key string) (io.ReadCloser, Attributes, error) {
	rc, attrs, err := s.Get(ctx, key)
	if err != nil {
		return nil, Attributes{}, err
	}
	if _, enc := rc.(*opener); !enc {
		return rc, attrs, nil
	}
	_, err = io.Copy(io.Discard, rc)
	_ = rc.Close()
	if err != nil {
		return nil, Attributes{}, err
	}
	return s.Get(ctx, key)
}

// Exists reports whether the object key exists. On failure (a bad key, an
// unreachable store) it returns false and the error.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := ValidateKey(key); err != nil {
		return false, err
	}
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return false, wrap("exists", key, err)
	}
	return ok, nil
}

// Delete removes the object key. Deleting a missing object is not an error,
// so a retried or repeated Delete succeeds. It returns an error only for a
// bad key (wrapping ErrInvalidKey) or when the store fails.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return wrap("delete", key, err)
	}
	return nil
}

// List returns the keys that begin with prefix (at most 1000 of them, in
// the store's order).
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	var keys []string
	for len(keys) < 1000 {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return keys, wrap("list", prefix, err)
		}
		if !obj.IsDir {
			keys = append(keys, obj.Key)
		}
	}
	return keys, nil
}

// Ping checks that the directory or bucket exists and can be listed, for a
// health check. It returns nil when it can, otherwise an error naming the
// store (never its credentials).
func (s *Store) Ping(ctx context.Context) error {
	if s.dir != "" {
		// Listing a missing directory is not an error for the file driver.
		fi, err := os.Stat(s.dir)
		if err != nil {
			return fmt.Errorf("storage: %s is not accessible: %w", s.uri, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("storage: %s is not a directory", s.uri)
		}
	}
	ok, err := s.bucket.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("storage: %s is not accessible: %w", s.uri, err)
	}
	if !ok {
		return fmt.Errorf("storage: %s does not exist", s.uri)
	}
	return nil
}

// Driver names the kind of store: "file" or "s3".
func (s *Store) Driver() string {
	if s.dir != "" {
		return "file"
	}
	return "s3"
}

// Close releases the store. Calls after Close fail; Close itself returns
// the driver's error, if any.
func (s *Store) Close() error {
	err := s.bucket.Close()
	if s.keeper != nil {
		err = errors.Join(err, s.keeper.Close())
	}
	return err
}

func wrap(op, key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("storage: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("storage: %s %s: %w", op, key, err)
}
