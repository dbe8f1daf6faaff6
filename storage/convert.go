package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"gocloud.dev/blob"
)

// Counts are what EncryptAll or Rekey did, object by object.
type Counts struct {
	Scanned   int // objects seen
	Converted int // encrypted (EncryptAll) or given the new master key (Rekey)
	Already   int // already encrypted under the configured key: left alone
	Foreign   int // encrypted under a key that neither unwraps: left alone
	Plaintext int // Rekey only: not encrypted (EncryptAll converts them)
	Failed    int // could not be read or written: left as they were
}

func (c Counts) String() string {
	return fmt.Sprintf("%d objects: %d converted, %d already done, %d under an unknown key, %d in the clear, %d failed",
		c.Scanned, c.Converted, c.Already, c.Foreign, c.Plaintext, c.Failed)
}

// Progress is told of each object as it is done: its key, what happened
// ("encrypted", "rekeyed", "already", "foreign", "plaintext", "failed"),
// and the error of a failed one.
type Progress func(key, outcome string, err error)

// walk calls fn with every object key under prefix, in the store's order.
func (s *Store) walk(ctx context.Context, prefix string, fn func(key string)) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return wrap("list", prefix, err)
		}
		if !obj.IsDir && ValidateKey(obj.Key) == nil {
			fn(obj.Key)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// raw opens the object key as stored and tells whether it is encrypted.
func (s *Store) raw(ctx context.Context, key string) (*blob.Reader, *bufio.Reader, bool, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, nil, false, wrap("get", key, err)
	}
	br := bufio.NewReaderSize(r, 4096)
	enc, err := isEncrypted(br)
	if err != nil {
		_ = r.Close()
		return nil, nil, false, wrap("get", key, err)
	}
	return r, br, enc, nil
}

// EncryptAll encrypts, in place, every object under prefix ("" for all)
// that is stored in the clear, each by one atomic write of the same key
// (content type kept): readers see the plaintext or the encrypted object,
// never a mix. Objects already encrypted are left alone, so a second run
// converts nothing and an interrupted run is finished by running it again.
// It needs a keeper. It goes on past an object that fails; the returned
// error is the listing's or ctx's.
func (s *Store) EncryptAll(ctx context.Context, prefix string, progress Progress) (Counts, error) {
	var c Counts
	if s.keeper == nil {
		return c, errors.New("storage: no key is configured (storage.encryption_key or storage.keeper): nothing to encrypt with")
	}
	if progress == nil {
		progress = func(string, string, error) {}
	}
	err := s.walk(ctx, prefix, func(key string) {
		c.Scanned++
		outcome, err := s.encryptOne(ctx, key)
		switch outcome {
		case "encrypted":
			c.Converted++
		case "already":
			c.Already++
		case "foreign":
			c.Foreign++
		default:
			c.Failed++
		}
		progress(key, outcome, err)
	})
	return c, err
}

func (s *Store) encryptOne(ctx context.Context, key string) (string, error) {
	r, br, enc, err := s.raw(ctx, key)
	if err != nil {
		return "failed", err
	}
	defer r.Close()
	if enc {
		h, err := readHeader(br, key)
		if err != nil {
			return "failed", err
		}
		if _, err := s.unwrap(ctx, key, h); err != nil {
			return "foreign", nil
		}
		return "already", nil
	}
	n, err := s.Put(ctx, key, br, r.ContentType())
	if err != nil {
		return "failed", err
	}
	if n != r.Size() {
		return "failed", fmt.Errorf("storage: encrypt %s: read %d of %d bytes", key, n, r.Size())
	}
	return "encrypted", nil
}

// Rekey gives every encrypted object under prefix a header whose data key
// is wrapped by the store's keeper instead of old: the data key and the
// encrypted chunks are kept byte for byte, only the header changes (one
// atomic write per object). Objects whose key already unwraps with the
// store's keeper are left alone, so Rekey can be run again after an
// interruption; objects in the clear are counted (EncryptAll converts
// them), and so are those neither key unwraps.
func (s *Store) Rekey(ctx context.Context, prefix string, old Keeper, progress Progress) (Counts, error) {
	var c Counts
	if s.keeper == nil || old == nil {
		return c, errors.New("storage: rekey needs the new key (storage.encryption_key or storage.keeper) and the old one")
	}
	if progress == nil {
		progress = func(string, string, error) {}
	}
	err := s.walk(ctx, prefix, func(key string) {
		c.Scanned++
		outcome, err := s.rekeyOne(ctx, key, old)
		switch outcome {
		case "rekeyed":
			c.Converted++
		case "already":
			c.Already++
		case "foreign":
			c.Foreign++
		case "plaintext":
			c.Plaintext++
		default:
			c.Failed++
		}
		progress(key, outcome, err)
	})
	return c, err
}

func (s *Store) rekeyOne(ctx context.Context, key string, old Keeper) (string, error) {
	r, br, enc, err := s.raw(ctx, key)
	if err != nil {
		return "failed", err
	}
	defer r.Close()
	if !enc {
		return "plaintext", nil
	}
	h, err := readHeader(br, key)
	if err != nil {
		return "failed", err
	}
	if _, err := s.unwrap(ctx, key, h); err == nil {
		return "already", nil
	}
	dk, err := old.Decrypt(ctx, h.wrapped)
	if err != nil || len(dk) != dataKeySize {
		return "foreign", nil
	}
	wrapped, err := s.keeper.Encrypt(ctx, dk)
	clear(dk)
	if err != nil {
		return "failed", fmt.Errorf("storage: rekey %s: wrapping the data key: %w", key, err)
	}
	if len(wrapped) > maxWrapped {
		return "failed", fmt.Errorf("storage: rekey %s: the keeper's wrapped key is too long", key)
	}
	nh := header{chunk: h.chunk, wrapped: wrapped}
	body := io.MultiReader(bytes.NewReader(nh.bytes()), br)
	if err := s.putRaw(ctx, key, body, r.ContentType()); err != nil {
		return "failed", err
	}
	return "rekeyed", nil
}

// putRaw writes r as the object key as it is, with no encryption.
func (s *Store) putRaw(ctx context.Context, key string, r io.Reader, contentType string) error {
	clearText := *s // the same bucket, without the keeper
	clearText.keeper = nil
	_, err := clearText.Put(ctx, key, r, contentType)
	return err
}
