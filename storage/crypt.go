package storage

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"gocloud.dev/secrets"
	"gocloud.dev/secrets/awskms"
	"gocloud.dev/secrets/localsecrets"
)

// Encryption at rest (docs/storage.md, "Encryption at rest").
//
// With a Keeper, every object Put writes is envelope-encrypted: a random
// 32-byte data key per object, AES-256-GCM over the object in chunks of
// chunkSize bytes, and the data key wrapped by the keeper (the master key).
// The object is
//
//	header: magic "AURAENC" | version 1 | chunk size (uint32 BE) |
//	        wrapped key length (uint16 BE) | wrapped key
//	chunks: AES-256-GCM(data key, nonce, plaintext chunk, aad), each
//	        chunkSize+16 bytes but the last, which is 16 to chunkSize+16
//
// where the nonce is 3 zero bytes | chunk index (uint64 BE) | 1 for the last
// chunk else 0, and aad is magic | version | chunk size | object key. A
// chunk moved, dropped, added after the last one or cut short, a last chunk
// removed, or an object copied under another key therefore fails to
// decrypt. The wrapped key is outside the aad so that a new master key only
// rewrites the header (Rekey). The data key is used for one object only, so
// counter nonces never repeat under one key.
//
// An object without the magic is read as it is: objects stored before
// encryption was turned on stay readable (Encrypt converts them).

// ErrUndecryptable is wrapped by every error about an encrypted object that
// cannot be read back: no key configured, the wrong key, or an object
// altered or cut short. It is never answered with the object's bytes.
var ErrUndecryptable = errors.New("storage: object cannot be decrypted")

// Keeper wraps and unwraps data keys with the master key; a
// *secrets.Keeper of gocloud.dev is one.
type Keeper interface {
	Encrypt(ctx context.Context, plaintext []byte) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext []byte) ([]byte, error)
	Close() error
}

const (
	magic        = "AURAENC"
	formatV1     = 1
	chunkSize    = 64 << 10
	tagSize      = 16
	dataKeySize  = 32
	fixedHeader  = len(magic) + 1 + 4 + 2
	maxWrapped   = 4096
	nonceSize    = 12
	maxChunkSize = 16 << 20
)

// KeeperSchemes are the storage.keeper URL schemes, and whether this build
// has their driver: base64key (a local key) and awskms are compiled in;
// gcpkms and hashivault would pull large client libraries and are not.
var KeeperSchemes = map[string]bool{
	localsecrets.Scheme: true,
	awskms.Scheme:       true,
	"gcpkms":            false,
	"hashivault":        false,
}

// OpenKeeper returns the master key of storage.encryption_key (base64 of 32
// bytes) or storage.keeper (a gocloud.dev/secrets URL); nil, nil when both
// are empty. Errors name the setting and never repeat the key.
func OpenKeeper(ctx context.Context, encryptionKey, keeperURL string) (Keeper, error) {
	encryptionKey, keeperURL = strings.TrimSpace(encryptionKey), strings.TrimSpace(keeperURL)
	switch {
	case encryptionKey != "" && keeperURL != "":
		return nil, errors.New("storage.encryption_key and storage.keeper are both set: set one")
	case encryptionKey != "":
		k, err := ParseKey(encryptionKey)
		if err != nil {
			return nil, fmt.Errorf("storage.encryption_key: %w", err)
		}
		return localsecrets.NewKeeper(k), nil
	case keeperURL == "":
		return nil, nil
	}
	u, err := url.Parse(keeperURL)
	if err != nil {
		return nil, errors.New("storage.keeper: not a URL; use base64key://KEY, awskms://KEY_ID?region=R")
	}
	have, known := KeeperSchemes[u.Scheme]
	switch {
	case !known:
		return nil, fmt.Errorf("storage.keeper: scheme %q is not known; use base64key:// or awskms:// (gcpkms:// and hashivault:// are not compiled into this build)", u.Scheme)
	case !have:
		return nil, fmt.Errorf("storage.keeper: %s:// is not compiled into this build; use base64key:// or awskms:// (docs/storage.md)", u.Scheme)
	}
	mux := new(secrets.URLMux)
	mux.RegisterKeeper(localsecrets.Scheme, new(localsecrets.URLOpener))
	mux.RegisterKeeper(awskms.Scheme, new(awskms.URLOpener))
	k, err := mux.OpenKeeper(ctx, keeperURL)
	if err != nil {
		// The driver's message may quote the URL, and a base64key URL is
		// the key itself: say only which scheme failed.
		return nil, fmt.Errorf("storage.keeper: the %s:// keeper could not be opened (check the URL's form)", u.Scheme)
	}
	return k, nil
}

// ParseKey decodes a master key written as base64 (standard or URL
// alphabet, padded or not) of exactly 32 bytes.
func ParseKey(s string) ([32]byte, error) {
	var k [32]byte
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return k, fmt.Errorf("must be base64 of 32 bytes (this is %d bytes); make one with: openssl rand -base64 32", len(b))
			}
			copy(k[:], b)
			return k, nil
		}
	}
	return k, errors.New("is not base64; make one with: openssl rand -base64 32")
}

// header is the parsed header of an encrypted object.
type header struct {
	chunk   int
	wrapped []byte
	size    int // bytes of the header
}

func (h header) bytes() []byte {
	b := make([]byte, 0, fixedHeader+len(h.wrapped))
	b = append(b, magic...)
	b = append(b, formatV1)
	b = binary.BigEndian.AppendUint32(b, uint32(h.chunk))
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.wrapped)))
	return append(b, h.wrapped...)
}

// aad binds every chunk to the format, the chunk size and the object key.
func aad(chunk int, key string) []byte {
	b := make([]byte, 0, len(magic)+5+len(key))
	b = append(b, magic...)
	b = append(b, formatV1)
	b = binary.BigEndian.AppendUint32(b, uint32(chunk))
	return append(b, key...)
}

func nonce(dst []byte, index uint64, final bool) []byte {
	dst = dst[:nonceSize]
	clear(dst[:3])
	binary.BigEndian.PutUint64(dst[3:11], index)
	dst[11] = 0
	if final {
		dst[11] = 1
	}
	return dst
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// isEncrypted reports whether the object read by br starts with the magic.
// A store error (not the end of a short object) is returned.
func isEncrypted(br *bufio.Reader) (bool, error) {
	b, err := br.Peek(len(magic))
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return false, err
	}
	return string(b) == magic, nil
}

// readHeader reads the header of an encrypted object from br (its magic
// already seen).
func readHeader(br *bufio.Reader, key string) (header, error) {
	fixed := make([]byte, fixedHeader)
	if _, err := io.ReadFull(br, fixed); err != nil {
		return header{}, corrupt(key, "header cut short", err)
	}
	if v := fixed[len(magic)]; v != formatV1 {
		return header{}, corrupt(key, fmt.Sprintf("format version %d is not known", v), nil)
	}
	h := header{chunk: int(binary.BigEndian.Uint32(fixed[len(magic)+1:]))}
	n := int(binary.BigEndian.Uint16(fixed[len(magic)+5:]))
	if h.chunk < 1 || h.chunk > maxChunkSize || n == 0 || n > maxWrapped {
		return header{}, corrupt(key, "header out of range", nil)
	}
	h.wrapped = make([]byte, n)
	if _, err := io.ReadFull(br, h.wrapped); err != nil {
		return header{}, corrupt(key, "header cut short", err)
	}
	h.size = fixedHeader + n
	return h, nil
}

func corrupt(key, why string, err error) error {
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s: %s: %w", ErrUndecryptable, key, why, err)
	}
	return fmt.Errorf("%w: %s: %s", ErrUndecryptable, key, why)
}

// plainSize is the plaintext size of an encrypted object of stored bytes
// (-1 when it cannot hold a whole chunk: the reads will fail).
func plainSize(stored int64, h header) int64 {
	body := stored - int64(h.size)
	if body < tagSize {
		return -1
	}
	full := int64(h.chunk + tagSize)
	chunks := (body + full - 1) / full
	return body - chunks*tagSize
}

// unwrap returns the data key of h, decrypted by the store's keeper.
func (s *Store) unwrap(ctx context.Context, key string, h header) ([]byte, error) {
	if s.keeper == nil {
		return nil, corrupt(key, "the object is encrypted and no key is configured (storage.encryption_key or storage.keeper)", nil)
	}
	dk, err := s.keeper.Decrypt(ctx, h.wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the data key does not unwrap with the configured key (wrong key, or the keeper failed): %w", ErrUndecryptable, key, err)
	}
	if len(dk) != dataKeySize {
		return nil, corrupt(key, "the data key has the wrong length", nil)
	}
	return dk, nil
}

// sealer is the encrypted form of a plaintext reader: the header, then the
// chunks, each sealed as soon as it is read (one chunk of lookahead tells
// the last one), so that no more than two chunks are held.
type sealer struct {
	src     io.Reader
	aead    cipher.AEAD
	aad     []byte
	nonce   [nonceSize]byte
	buf     []byte // plaintext: chunkSize+1 (one byte of lookahead)
	have    int    // bytes of buf carried over
	out     []byte // sealed chunk
	pending []byte // not yet returned
	index   uint64
	done    bool
}

// sealStream starts the encryption of src as the object key: a new data
// key, wrapped by the keeper.
func (s *Store) sealStream(ctx context.Context, key string, src io.Reader) (io.Reader, error) {
	dk := make([]byte, dataKeySize)
	if _, err := rand.Read(dk); err != nil {
		return nil, err
	}
	wrapped, err := s.keeper.Encrypt(ctx, dk)
	if err != nil {
		return nil, fmt.Errorf("storage: put %s: wrapping the data key: %w", key, err)
	}
	if len(wrapped) > maxWrapped {
		return nil, fmt.Errorf("storage: put %s: the keeper's wrapped key is %d bytes (at most %d)", key, len(wrapped), maxWrapped)
	}
	aead, err := newGCM(dk)
	clear(dk)
	if err != nil {
		return nil, err
	}
	h := header{chunk: s.chunk, wrapped: wrapped}
	return &sealer{src: src, aead: aead, aad: aad(s.chunk, key), buf: make([]byte, s.chunk+1),
		out: make([]byte, 0, s.chunk+tagSize), pending: h.bytes()}, nil
}

func (s *sealer) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.done {
			return 0, io.EOF
		}
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *sealer) fill() error {
	size := len(s.buf) - 1
	n, err := io.ReadFull(s.src, s.buf[s.have:])
	total := s.have + n
	switch err {
	case nil: // a byte beyond this chunk: it is not the last
		s.out = s.aead.Seal(s.out[:0], nonce(s.nonce[:], s.index, false), s.buf[:size], s.aad)
		s.buf[0], s.have = s.buf[size], 1
		s.index++
	case io.EOF, io.ErrUnexpectedEOF:
		s.out = s.aead.Seal(s.out[:0], nonce(s.nonce[:], s.index, true), s.buf[:total], s.aad)
		s.done = true
	default:
		return err
	}
	s.pending = s.out
	return nil
}

// opener is the plaintext of an encrypted object: each chunk is read,
// authenticated and only then returned.
type opener struct {
	src     io.Reader
	closer  io.Closer
	key     string
	aead    cipher.AEAD
	aad     []byte
	nonce   [nonceSize]byte
	buf     []byte // sealed: chunk+tag+1 (one byte of lookahead)
	have    int
	plain   []byte // the current chunk's plaintext
	pending []byte // not yet returned
	index   uint64
	done    bool
	err     error
	onFail  func(key string, err error)
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.pending) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		if err := o.next(); err != nil {
			o.err = err
			if errors.Is(err, ErrUndecryptable) && o.onFail != nil {
				o.onFail(o.key, err)
			}
			return 0, err
		}
	}
	n := copy(p, o.pending)
	o.pending = o.pending[n:]
	return n, nil
}

func (o *opener) next() error {
	size := len(o.buf) - 1
	n, err := io.ReadFull(o.src, o.buf[o.have:])
	total := o.have + n
	var sealed []byte
	final := false
	switch err {
	case nil:
		sealed = o.buf[:size]
	case io.EOF, io.ErrUnexpectedEOF:
		sealed, final = o.buf[:total], true
	default:
		return fmt.Errorf("storage: get %s: %w", o.key, err)
	}
	if len(sealed) < tagSize {
		return corrupt(o.key, fmt.Sprintf("chunk %d cut short", o.index), nil)
	}
	plain, err := o.aead.Open(o.plain[:0], nonce(o.nonce[:], o.index, final), sealed, o.aad)
	if err != nil {
		return corrupt(o.key, fmt.Sprintf("chunk %d fails authentication (altered, moved or cut short)", o.index), nil)
	}
	if !final {
		o.buf[0], o.have = o.buf[size], 1
	}
	o.plain, o.pending, o.done = plain, plain, final
	o.index++
	return nil
}

func (o *opener) Close() error { return o.closer.Close() }

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// open returns the plaintext reader of the object whose raw reader is r
// (its size stored bytes): the object itself when it is not encrypted, else
// its decryption, the first chunk already authenticated, and the plaintext
// size.
func (s *Store) open(ctx context.Context, key string, r io.ReadCloser, stored int64) (io.ReadCloser, int64, error) {
	br := bufio.NewReaderSize(r, 4096)
	enc, err := isEncrypted(br)
	if err != nil {
		return nil, 0, wrap("get", key, err)
	}
	if !enc {
		return readCloser{br, r}, stored, nil
	}
	h, err := readHeader(br, key)
	if err != nil {
		return nil, 0, err
	}
	dk, err := s.unwrap(ctx, key, h)
	if err != nil {
		return nil, 0, err
	}
	aead, err := newGCM(dk)
	clear(dk)
	if err != nil {
		return nil, 0, corrupt(key, "bad data key", err)
	}
	o := &opener{src: br, closer: r, key: key, aead: aead, aad: aad(h.chunk, key),
		buf: make([]byte, h.chunk+tagSize+1), plain: make([]byte, 0, h.chunk), onFail: s.onCorrupt}
	// The first chunk is checked before anything is answered, so that a
	// wrong key or an altered object fails the request, not its body.
	if err := o.next(); err != nil {
		return nil, 0, err
	}
	return o, plainSize(stored, h), nil
}
