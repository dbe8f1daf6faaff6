package tests

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// benchPatients is how many patients BenchmarkClinicPatientSearch enrols
// in its one clinic.
const benchPatients = 100_000

// BenchmarkClinicPatientSearch measures GET /api/clinics/{id}/patients
// through the whole chain (session, permission, audit row, JSON) on a
// clinic of 100 000 patients, on every engine: the first page, a rare and
// a common name fragment (typed without diacritics), a patient code, and a
// risk filter. Filling takes a while per engine:
//
//	go test ./tests -run '^$' -bench ClinicPatientSearch -benchtime 200x
func BenchmarkClinicPatientSearch(b *testing.B) {
	for _, e := range testenv.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			s := testenv.Start(b, testenv.Config(b, e.URI(b), nil))
			admin := makeAdmin(b, s, "admin.bench@example.com")
			var c struct{ ID string }
			r := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/api/admin/clinics", strings.NewReader(`{"name":"Bench"}`))
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header.Set("Content-Type", "application/json")
			s.App.Handler.ServeHTTP(r, req)
			if r.Code != http.StatusCreated {
				b.Fatalf("clinic: %d %s", r.Code, r.Body.String())
			}
			c.ID = jsonField(b, r.Body.Bytes(), "id")
			code := fillPatients(b, s, c.ID)
			for _, q := range []struct{ name, query string }{
				{"first-page", ""},
				{"name-rare", "q=" + url.QueryEscape("dang duc phuc")},
				{"name-common", "q=nguyen"},
				{"code", "q=" + code},
				{"risk-critical", "riskLevel=critical"},
			} {
				b.Run(q.name, func(b *testing.B) {
					req := httptest.NewRequest("GET", "/api/clinics/"+c.ID+"/patients?"+q.query, nil)
					req.Header.Set("Authorization", "Bearer "+admin)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						rec := httptest.NewRecorder()
						s.App.Handler.ServeHTTP(rec, req.Clone(req.Context()))
						if rec.Code != 200 {
							b.Fatalf("%d %s", rec.Code, rec.Body.String())
						}
					}
				})
			}
		})
	}
}

// jsonField reads data.<name> (a string) of an envelope.
func jsonField(b testing.TB, body []byte, name string) string {
	b.Helper()
	i := strings.Index(string(body), `"`+name+`":"`)
	if i < 0 {
		b.Fatalf("no %s in %s", name, body)
	}
	rest := string(body[i+len(name)+4:])
	return rest[:strings.IndexByte(rest, '"')]
}

// fillPatients enrols benchPatients accountless patients with Vietnamese
// names in clinicID, one in twenty critical, straight in the database, and
// returns the code of one of them.
func fillPatients(b testing.TB, s *testenv.Server, clinicID string) string {
	b.Helper()
	sur := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	mid := []string{"Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc"}
	given := []string{"An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh", "Long", "Mai", "Nam", "Phúc",
		"Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy"}
	levels := []string{"low", "low", "low", "medium", "medium", "high"}
	rng := rand.New(rand.NewPCG(1, 2))
	db := s.App.DB.WithContext(testenv.Ctx(b))
	start := time.Now().UTC().Add(-time.Hour)
	const batch = 500
	var code string
	for i := 0; i < benchPatients; i += batch {
		ps := make([]models.Patient, 0, batch)
		cps := make([]models.ClinicPatient, 0, batch)
		for j := i; j < i+batch && j < benchPatients; j++ {
			name := sur[rng.IntN(len(sur))] + " " + mid[rng.IntN(len(mid))] + " " + given[rng.IntN(len(given))]
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", j)
			c := fmt.Sprintf("AU-%04d-%04d", j/10000, j%10000)
			ext := fmt.Sprintf("HS-%06d", j)
			extKey := strings.ToLower(ext)
			at := start.Add(time.Duration(j) * time.Millisecond)
			ps = append(ps, models.Patient{ID: id, PatientCode: c, RecordName: &name, NameKey: models.SearchKey(name), CreatedAt: at, UpdatedAt: at})
			var lvl *string
			switch k := rng.IntN(20); {
			case k == 0:
				v := "critical"
				lvl = &v
			case k < 15:
				v := levels[rng.IntN(len(levels))]
				lvl = &v
			}
			cps = append(cps, models.ClinicPatient{ClinicID: clinicID, PatientID: id, ExternalID: &ext, ExternalKey: &extKey, LatestRiskLevel: lvl,
				NameKey: models.SearchKey(name), CreatedAt: at})
			if j == benchPatients/2 {
				code = c
			}
		}
		testenv.Must(b, db.Create(&ps).Error, "patients")
		testenv.Must(b, db.Create(&cps).Error, "enrolments")
	}
	// Statistics (and, on PostgreSQL, the visibility map index-only scans
	// need) as a database in use for a while has them.
	analyze := "ANALYZE"
	if s.App.DB.Dialector.Name() == "postgres" {
		analyze = "VACUUM ANALYZE"
	}
	testenv.Must(b, db.Exec(analyze).Error, "analyze")
	return code
}
