package tests

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

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

// storageHealth is the store part of the operator view.
type storageHealth struct {
	Status  string `json:"status"`
	Storage *struct {
		Status string  `json:"status"`
		Driver string  `json:"driver"`
		PingMs float64 `json:"ping_ms"`
		Error  string  `json:"error"`
	} `json:"storage"`
}

// TestHealthStorage: the operator view (an admin's token, and the metrics
// listener's /health) reports the image store; a store that does not answer
// (an S3 server answering 503, a store directory gone) makes it say
// "unavailable" and the whole "degraded", still 200 (the database decides
// 503). The anonymous view never pings the store and never names it.
func TestHealthStorage(t *testing.T) {
	s3 := startS3(t)
	s := testenv.Start(t, testenv.Config(t, "sqlite:///:memory:", map[string]string{"AURA_STORAGE_URI": s3.uri(),
		"AURA_METRICS_ADDR": "127.0.0.1:0"}))
	admin := makeAdmin(t, s, "admin.health@example.com")
	e := testenv.Engine{Name: "sqlite-memory"}
	operator := func(want int) (storageHealth, string) {
		var h storageHealth
		r := s.Do(t, "GET", "/api/health", nil, admin).Expect(t, want, "")
		r.Data(t, &h)
		res, err := http.Get(s.MetricsURL + "/health")
		testenv.Must(t, err, "metrics health")
		defer res.Body.Close()
		var m struct{ Data storageHealth }
		if res.StatusCode != want || json.NewDecoder(res.Body).Decode(&m) != nil || m.Data.Storage == nil || h.Storage == nil ||
			m.Data.Status != h.Status || m.Data.Storage.Status != h.Storage.Status {
			t.Fatalf("metrics /health %d %+v, api %+v", res.StatusCode, m.Data, h)
		}
		return h, string(r.Body)
	}

	h, _ := operator(200)
	if h.Status != "ok" || h.Storage.Status != "ok" || h.Storage.Driver != "s3" || h.Storage.Error != "" {
		t.Fatalf("store up: %+v %+v", h, h.Storage)
	}
	calls := s3.calls.Load()
	for range 5 {
		checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, "").Expect(t, 200, ""), e)
	}
	if n := s3.calls.Load() - calls; n != 0 {
		t.Fatalf("the anonymous view called the store %d times", n)
	}

	s3.down.Store(true)
	start := time.Now()
	h, body := operator(200)
	if h.Status != "degraded" || h.Storage.Status != "unavailable" || h.Storage.Driver != "s3" || h.Storage.Error == "" ||
		strings.Contains(body, "test-secret-key") || strings.Contains(body, "test-access-key") {
		t.Fatalf("store down: %+v %+v %s", h, h.Storage, body)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Fatalf("operator health with the store down took %v", took)
	}
	checkAnonymousHealth(t, s.Do(t, "GET", "/api/health", nil, "").Expect(t, 200, ""), e)
	s3.down.Store(false)
	if h, _ := operator(200); h.Status != "ok" || h.Storage.Status != "ok" {
		t.Fatalf("store back: %+v %+v", h, h.Storage)
	}

	// A file store whose directory is gone.
	dir := t.TempDir()
	fs := testenv.Start(t, testenv.Config(t, "sqlite:///:memory:", map[string]string{"AURA_STORAGE_URI": "file://" + dir + "/store"}))
	fadmin := makeAdmin(t, fs, "admin.file@example.com")
	var fh storageHealth
	fs.Do(t, "GET", "/api/health", nil, fadmin).Expect(t, 200, "").Data(t, &fh)
	if fh.Status != "ok" || fh.Storage == nil || fh.Storage.Driver != "file" || fh.Storage.Status != "ok" {
		t.Fatalf("file store: %+v", fh)
	}
	testenv.Must(t, os.RemoveAll(dir+"/store"), "remove the store")
	fs.Do(t, "GET", "/api/health", nil, fadmin).Expect(t, 200, "").Data(t, &fh)
	if fh.Status != "degraded" || fh.Storage.Status != "unavailable" || fh.Storage.Driver != "file" {
		t.Fatalf("file store gone: %+v %+v", fh, fh.Storage)
	}
}
