package security

import (
	"context"
	"testing"
	"time"
)

// BenchmarkHashArgon2id measures one sign-up's hash at the production
// parameters (m=19 MiB, t=2, p=1).
func BenchmarkHashArgon2id(b *testing.B) {
	h := NewHasher(DefaultArgon2, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "violet-harbor-lantern-91"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBcrypt12 measures a login of a first-backend account.
func BenchmarkVerifyBcrypt12(b *testing.B) {
	h := NewHasher(DefaultArgon2, 0)
	const hash = "$2b$12$o5DPm4gKlckDRd0QuKRaU.ClnGMKnXubOnasz0K5qihRv.0iXY6h2"
	ctx := context.Background()
	for b.Loop() {
		if ok, _, _ := h.Verify(ctx, "MinhPass12345", hash); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkJWTVerify measures the check every authenticated request pays.
func BenchmarkJWTVerify(b *testing.B) {
	j := NewJWT("bench-secret-bench-secret-bench-secret", 15*time.Minute)
	tok, _ := j.Issue("0b9a54c2-2a55-4f1e-9a39-4c5b7b8d1e01", "lan@example.com", "5d0d3e2a-8a61-4d43-9d55-0a1f7e3b2c11", []string{"PATIENT"}, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWTIssue measures signing at login, register and refresh.
func BenchmarkJWTIssue(b *testing.B) {
	j := NewJWT("bench-secret-bench-secret-bench-secret", 15*time.Minute)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Issue("0b9a54c2-2a55-4f1e-9a39-4c5b7b8d1e01", "lan@example.com", "sid", []string{"PATIENT"}, now); err != nil {
			b.Fatal(err)
		}
	}
}
