package tests

import (
	"encoding/json"
	"testing"

	"aura/internal/testenv"
)

func engineOf(e testenv.Engine) string {
	if e.Name == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// checkAnonymousHealth fails t unless r is the anonymous health view: what a
// load balancer needs (status, db_status, db_error) and the engine, and
// nothing else.
func checkAnonymousHealth(t *testing.T, r *testenv.Response, e testenv.Engine) {
	t.Helper()
	var h map[string]any
	r.Data(t, &h)
	want := map[string]any{"status": "ok", "db_status": true, "db_error": nil,
		"database": map[string]any{"engine": engineOf(e)}}
	if r.Status == 503 {
		want["status"], want["db_status"], want["db_error"] = "unavailable", false, "database unavailable"
	}
	got, _ := json.Marshal(h)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("anonymous health: %s, want %s", got, exp)
	}
}

type operatorHealth struct {
	Status   string `json:"status"`
	DBStatus bool   `json:"db_status"`
	Database struct {
		Engine        string         `json:"engine"`
		PingMs        *float64       `json:"ping_ms"`
		ServerVersion string         `json:"server_version"`
		Pool          map[string]int `json:"pool"`
	} `json:"database"`
	Version struct {
		AURA string `json:"aura"`
		Go   string `json:"go"`
	} `json:"version"`
}

// TestHealthViews: anonymous callers, bad tokens and non-admins get the
// anonymous view (never 401); an admin's valid token gets the pool, the
// ping time and the versions; a revoked admin session falls back to the
// anonymous view.
func TestHealthViews(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		patient := register(t, s, "patient.health@example.com")
		admin := makeAdmin(t, s, "admin.health@example.com")

		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, "").Expect(t, 200, ""), e)
		for name, auth := range map[string]string{
			"patient":           "Bearer " + patient.AccessToken,
			"garbage token":     "Bearer not-a-jwt",
			"forged token":      "Bearer " + admin[:len(admin)-4] + "AAAA",
			"other scheme":      "Basic YWRtaW46YWRtaW4=",
			"empty bearer":      "Bearer ",
			"refresh as bearer": "Bearer " + patient.RefreshToken,
		} {
			r := s.DoHeaders(t, "GET", "/api/health", nil, map[string]string{"Authorization": auth})
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", name, r.Status, r.Body)
			}
			checkAnonymousHealth(t, r, e)
		}

		var h operatorHealth
		s.Do(t, "GET", "/api/health", nil, admin).Expect(t, 200, "").Data(t, &h)
		if h.Status != "ok" || !h.DBStatus || h.Database.Engine != engineOf(e) || h.Database.PingMs == nil ||
			h.Database.Pool["max_open"] == 0 || h.Database.ServerVersion == "" || h.Version.AURA == "" || h.Version.Go == "" {
			t.Fatalf("operator health: %+v", h)
		}
		t.Logf("operator view: %+v", h)

		s.Do(t, "POST", "/api/auth/logout", nil, admin).Expect(t, 200, "")
		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, admin).Expect(t, 200, ""), e)
	})
}
