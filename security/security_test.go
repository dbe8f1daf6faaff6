package security

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(Argon2Params{Memory: 64, Time: 1, Threads: 1}, 0)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "violet-harbor-lantern-91")
	if err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q %v", enc, err)
	}
	if ok, rehash, err := h.Verify(ctx, "violet-harbor-lantern-91", enc); !ok || rehash || err != nil {
		t.Fatalf("verify: %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, "violet-harbor-lantern-92", enc); ok {
		t.Fatal("wrong password verified")
	}
	// stronger parameters ask for a re-hash at the next login
	h2 := NewHasher(Argon2Params{Memory: 128, Time: 1, Threads: 1}, 0)
	if ok, rehash, _ := h2.Verify(ctx, "violet-harbor-lantern-91", enc); !ok || !rehash {
		t.Fatal("stale parameters not flagged")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5", "$2b$12$short"} {
		if ok, _, err := h.Verify(ctx, "x", bad); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v", bad, ok, err)
		}
	}
}

func TestJWTRejects(t *testing.T) {
	j := NewJWT("secret-one-secret-one-secret-one-00", time.Minute)
	tok, _ := j.Issue("u", "e@x.co", "s", nil, time.Now())
	if _, err := j.Verify(tok); err != nil {
		t.Fatal(err)
	}
	old, _ := j.Issue("u", "e@x.co", "s", nil, time.Now().Add(-2*time.Minute))
	other, _ := NewJWT("secret-two-secret-two-secret-two-00", time.Minute).Issue("u", "e@x.co", "s", nil, time.Now())
	for name, bad := range map[string]string{"expired": old, "other key": other, "empty": "", "garbage": "x.y.z"} {
		if _, err := j.Verify(bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestOpaqueTokens(t *testing.T) {
	a, b := NewOpaqueToken(32), NewOpaqueToken(32)
	if a == b || len(a) != 43 || !PlausibleToken(a, 32) || PlausibleToken(a+"x", 32) || PlausibleToken("!!"+a[2:], 32) {
		t.Fatalf("tokens %q %q", a, b)
	}
	if HashToken(a) == a || len(HashToken(a)) != 64 {
		t.Fatal("hash")
	}
}

// A hasher with a large memory cost returns the heap's free memory once the
// burst is over, not while hashes keep coming; a small one never does.
func TestHasherReturnsMemoryWhenIdle(t *testing.T) {
	h := NewHasher(Argon2Params{Memory: releaseMinKiB, Time: 1, Threads: 1}, 0)
	released := func() bool {
		h.relMu.Lock()
		defer h.relMu.Unlock()
		return !h.lastRelease.IsZero()
	}
	ctx := context.Background()
	for range 3 {
		if _, err := h.Hash(ctx, "violet tractor harbour"); err != nil {
			t.Fatal(err)
		}
		if released() {
			t.Fatal("memory returned during the burst")
		}
	}
	deadline := time.Now().Add(5 * idleRelease)
	for !released() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !released() {
		t.Fatalf("memory not returned %s after the last hash", 5*idleRelease)
	}
	small := NewHasher(Argon2Params{Memory: 64, Time: 1, Threads: 1}, 0)
	if small.idleRelease != 0 {
		t.Fatal("a 64 KiB hasher returns memory")
	}
}

// TestNoPasswordMatchesNothing: the marker of an account without a password
// matches no password, not even its own text, and is no error.
func TestNoPasswordMatchesNothing(t *testing.T) {
	h := NewHasher(Argon2Params{Memory: 64, Time: 1, Threads: 1}, 0)
	for _, pw := range []string{"", NoPassword, "violet harbor lantern 91"} {
		ok, rehash, err := h.Verify(context.Background(), pw, NoPassword)
		if ok || rehash || err != nil {
			t.Fatalf("Verify(%q, NoPassword) = %v, %v, %v", pw, ok, rehash, err)
		}
	}
}
