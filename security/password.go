package security

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are the argon2id costs; Memory is in KiB.
type Argon2Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultArgon2 is OWASP's minimum for argon2id: m=19 MiB, t=2, p=1.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// NoPassword is the password_hash of an account that has no password (made
// by Google sign-in): no password matches it, and checking one costs what a
// wrong password costs. Its owner sets a password with a reset link.
const NoPassword = "!no-password"

// ErrMalformedHash is returned for a stored hash in no known format.
var ErrMalformedHash = errors.New("malformed password hash")

// Hasher hashes and verifies passwords. At most maxConcurrent hashes run at
// once, so a burst of logins queues instead of holding m MiB per request.
//
// The queue is bounded too: a flood of sign-ups cannot line up unbounded work
// in front of logins. New hashes (sign-up, password change) may only wait
// while fewer than half the queue's places are taken; verifications (login)
// may use all of them. Beyond that the caller gets ErrBusy at once.
//
// Each argon2id hash allocates its whole memory cost (19 MiB by default) and
// the Go heap keeps such memory for reuse, so a burst of logins would leave
// the process tens of MiB larger for good. When no hash has run for
// idleRelease, the Hasher returns the heap's free memory to the operating
// system (debug.FreeOSMemory), at most once per releaseGap.
type Hasher struct {
	params  Argon2Params
	sem     chan struct{}
	dummy   string
	waiting atomic.Int64
	// busy counts the callers refused with ErrBusy.
	busy atomic.Uint64
	// maxWaiting is how many callers may wait for a hash slot.
	maxWaiting int64

	idleRelease time.Duration // 0: never return memory
	relMu       sync.Mutex
	relTimer    *time.Timer
	lastRelease time.Time
}

// Returning memory after a burst: the burst must have been over for
// idleRelease, and two returns are at least releaseGap apart (each is a full
// garbage collection, and the next hash faults its pages in again).
const (
	idleRelease = time.Second
	releaseGap  = 10 * time.Second
	// releaseMinKiB: hashes smaller than this leave nothing worth returning.
	releaseMinKiB = 4 << 10
)

// ErrBusy: too many hashes are already waiting; try again shortly.
var ErrBusy = errors.New("password hasher busy")

// NewHasher returns a Hasher; maxConcurrent <= 0 means one per CPU.
func NewHasher(p Argon2Params, maxConcurrent int) *Hasher {
	if p.SaltLen == 0 {
		p.SaltLen = 16
	}
	if p.KeyLen == 0 {
		p.KeyLen = 32
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, sem: make(chan struct{}, maxConcurrent), maxWaiting: int64(64 * maxConcurrent)}
	if p.Memory >= releaseMinKiB {
		h.idleRelease = idleRelease
	}
	h.dummy = h.encode(make([]byte, p.SaltLen), make([]byte, p.KeyLen))
	return h
}

// acquire takes a hash slot, waiting if allowed: a caller may queue only
// while fewer than queueShare of maxWaiting are waiting.
func (h *Hasher) acquire(ctx context.Context, queueShare float64) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if n := h.waiting.Add(1); float64(n) > queueShare*float64(h.maxWaiting) {
		h.waiting.Add(-1)
		h.busy.Add(1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() {
	<-h.sem
	if h.idleRelease > 0 && h.idle() {
		h.relMu.Lock()
		if h.relTimer == nil {
			h.relTimer = time.AfterFunc(h.idleRelease, h.returnMemory)
		} else {
			h.relTimer.Reset(h.idleRelease)
		}
		h.relMu.Unlock()
	}
}

// idle: no hash running and none waiting.
func (h *Hasher) idle() bool { return len(h.sem) == 0 && h.waiting.Load() == 0 }

// returnMemory runs idleRelease after the last hash ended: if no hash has
// started since, it gives the heap's free pages back to the system; a later
// hash re-arms it.
func (h *Hasher) returnMemory() {
	if !h.idle() {
		return // a hash is running; its release re-arms the timer
	}
	h.relMu.Lock()
	if wait := releaseGap - time.Since(h.lastRelease); wait > 0 {
		h.relTimer.Reset(wait)
		h.relMu.Unlock()
		return
	}
	h.lastRelease = time.Now()
	h.relMu.Unlock()
	debug.FreeOSMemory()
}

// Running is how many hashes run now.
func (h *Hasher) Running() int { return len(h.sem) }

// Limit is how many hashes may run at once.
func (h *Hasher) Limit() int { return cap(h.sem) }

// Waiting is how many callers wait for a hash slot now.
func (h *Hasher) Waiting() int64 { return h.waiting.Load() }

// Refused is how many callers were refused with ErrBusy since the start.
func (h *Hasher) Refused() uint64 { return h.busy.Load() }

// Hash returns the argon2id PHC string of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx, 0.5); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return h.encode(salt, key), nil
}

func (h *Hasher) encode(salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches encoded (argon2id PHC or bcrypt),
// and whether the hash should be replaced by one with the current parameters.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	if err := h.acquire(ctx, 1); err != nil {
		return false, false, err
	}
	defer h.release()
	none := encoded == NoPassword
	if none {
		encoded = h.dummy
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, salt, key, err := decodeArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
		ok = subtle.ConstantTimeCompare(got, key) == 1 && !none
		stale := p.Memory != h.params.Memory || p.Time != h.params.Time || p.Threads != h.params.Threads
		return ok, ok && stale, nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		if err != nil {
			return false, false, ErrMalformedHash
		}
		return true, true, nil
	}
	return false, false, ErrMalformedHash
}

// VerifyDummy does the work of one Verify against a fixed hash and returns
// false, so an unknown account costs what a wrong password costs.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, password, h.dummy)
}

func decodeArgon2(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 {
		return p, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, ErrMalformedHash
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
