package tests

import (
	"net/http/httptest"
	"testing"

	"aura/internal/testenv"
)

// BenchmarkMe measures GET /api/auth/me through the whole middleware chain
// and a real database (JWT check, one query for session, user and roles,
// JSON), without the network: go test ./tests -run '^$' -bench Me -benchmem
func BenchmarkMe(b *testing.B) {
	benchGET(b, "/api/auth/me", true)
}

// BenchmarkHealth measures GET /api/health as a load balancer calls it
// (anonymous: a ping, no pool figures, no session).
func BenchmarkHealth(b *testing.B) {
	benchGET(b, "/api/health", false)
}

// benchGET serves GET path on every engine, in parallel, expecting 200.
func benchGET(b *testing.B, path string, authed bool) {
	for _, e := range testenv.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			f := newFixture(b, e.URI(b))
			req := httptest.NewRequest("GET", path, nil)
			if authed {
				req.Header.Set("Authorization", "Bearer "+f.user)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := httptest.NewRecorder()
					f.handler.ServeHTTP(rec, req.Clone(req.Context()))
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body.String())
					}
				}
			})
		})
	}
}
