package storage

import (
	"context"
	"io"

	"gocloud.dev/blob"
)

// The raw view of the store, for backups (package backup): objects as they
// are stored, encrypted or not, never decrypted or re-encrypted, so that a
// backup of an encrypted store stays encrypted and restores byte for byte.

// Walk calls fn with the key and stored size of every object under prefix
// ("" for all), in the store's order, until fn returns an error (returned).
func (s *Store) Walk(ctx context.Context, prefix string, fn func(key string, size int64) error) error {
	var ferr error
	err := s.walkObjects(ctx, prefix, func(key string, size int64) bool {
		ferr = fn(key, size)
		return ferr == nil
	})
	if ferr != nil {
		return ferr
	}
	return err
}

// GetRaw opens the object key as stored: an encrypted object's ciphertext,
// header included. Size is the stored size. A missing object returns an
// error wrapping ErrNotFound.
func (s *Store) GetRaw(ctx context.Context, key string) (io.ReadCloser, Attributes, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Attributes{}, err
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, Attributes{}, wrap("get", key, err)
	}
	return r, Attributes{Size: r.Size(), ContentType: r.ContentType(), ModTime: r.ModTime()}, nil
}

// PutRaw writes r as the object key byte for byte (no encryption, whatever
// the store's key), atomically as Put does, and returns the bytes read.
func (s *Store) PutRaw(ctx context.Context, key string, r io.Reader, contentType string) (int64, error) {
	clearText := *s // the same bucket, without the keeper
	clearText.keeper = nil
	return clearText.Put(ctx, key, r, contentType)
}

// Seal returns r encrypted as an object named name would be by Put (a data
// key of its own, wrapped by the store's key; name is bound to the
// ciphertext), or r itself when the store has no key. Unseal reverses it.
func (s *Store) Seal(ctx context.Context, name string, r io.Reader) (io.Reader, error) {
	if s.keeper == nil {
		return r, nil
	}
	return s.sealStream(ctx, name, r)
}

// Unseal returns the plaintext of r, sealed by Seal under name (or never
// sealed: returned as it is). A wrong or missing key, or an altered or cut
// stream, fails with an error wrapping ErrUndecryptable, never with
// unauthenticated bytes. The returned reader closes r.
func (s *Store) Unseal(ctx context.Context, name string, r io.ReadCloser) (io.ReadCloser, error) {
	rc, _, err := s.open(ctx, name, r, 0)
	return rc, err
}

// VerifyRaw reads r, the stored bytes of the object key (as GetRaw gives
// them), to its end and checks that an encrypted object opens under the
// store's key and that every one of its chunks authenticates; a plaintext
// object is only read. An error wraps ErrUndecryptable and names the chunk.
func (s *Store) VerifyRaw(ctx context.Context, key string, r io.Reader) error {
	rc, _, err := s.open(ctx, key, io.NopCloser(r), 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// walkObjects lists every valid object key under prefix with its stored
// size until fn returns false.
func (s *Store) walkObjects(ctx context.Context, prefix string, fn func(key string, size int64) bool) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return wrap("list", prefix, err)
		}
		if !obj.IsDir && ValidateKey(obj.Key) == nil && !fn(obj.Key, obj.Size) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Dir is the file store's absolute directory ("" for S3).
func (s *Store) Dir() string { return s.dir }
