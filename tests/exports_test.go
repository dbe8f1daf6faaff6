package tests

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"aura/internal/testenv"
	"aura/models"
	"aura/services/exports"
)

// The official FHIR R4 JSON schema (tests/testdata/fhir/fhir.schema.json,
// see NOTICE there), compiled once.
var (
	fhirSchemaOnce sync.Once
	fhirSchema     *jsonschema.Schema
	fhirSchemaErr  error
)

func fhirR4(t *testing.T) *jsonschema.Schema {
	t.Helper()
	fhirSchemaOnce.Do(func() {
		f, err := os.Open("testdata/fhir/fhir.schema.json")
		if err != nil {
			fhirSchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			fhirSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		const url = "http://hl7.org/fhir/json-schema/4.0"
		if fhirSchemaErr = c.AddResource(url, doc); fhirSchemaErr != nil {
			return
		}
		fhirSchema, fhirSchemaErr = c.Compile(url)
	})
	if fhirSchemaErr != nil {
		t.Fatalf("FHIR R4 schema: %v", fhirSchemaErr)
	}
	return fhirSchema
}

// validFHIR fails t unless body is a valid FHIR R4 resource.
func validFHIR(t *testing.T, body []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("FHIR export is not JSON: %v", err)
	}
	if err := fhirR4(t).Validate(inst); err != nil {
		t.Fatalf("FHIR export is not valid R4: %v\n%s", err, body)
	}
}

type fhirBundle struct {
	ResourceType, ID, Type string
	Entry                  []struct {
		FullURL  string
		Resource map[string]any
	}
}

func (b fhirBundle) of(kind string) []map[string]any {
	var out []map[string]any
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == kind {
			out = append(out, e.Resource)
		}
	}
	return out
}

// requiredR4 checks what the R4 JSON schema leaves out: the required
// primitive elements of the resources AURA writes (cardinality 1..1 in
// the R4 specification) and that every reference inside the Bundle
// resolves to an entry's fullUrl.
func requiredR4(t *testing.T, b fhirBundle) {
	t.Helper()
	if b.Type == "" {
		t.Error("Bundle.type missing")
	}
	urls := map[string]bool{}
	for _, e := range b.Entry {
		if e.FullURL == "" {
			t.Error("entry without fullUrl")
		}
		urls[e.FullURL] = true
	}
	required := map[string][]string{
		"Observation":      {"status", "code"},
		"DiagnosticReport": {"status", "code"},
		"Media":            {"status", "content"},
		"Patient":          {},
	}
	for _, e := range b.Entry {
		kind, _ := e.Resource["resourceType"].(string)
		els, ok := required[kind]
		if !ok {
			t.Errorf("unexpected resource %s", kind)
		}
		for _, el := range els {
			if v, ok := e.Resource[el]; !ok || v == "" {
				t.Errorf("%s.%s missing", kind, el)
			}
		}
		raw, _ := json.Marshal(e.Resource)
		for _, part := range strings.Split(string(raw), `"reference":"`)[1:] {
			if ref, _, _ := strings.Cut(part, `"`); !urls[ref] {
				t.Errorf("%s refers to %s, not in the Bundle", kind, ref)
			}
		}
	}
}

// seedMetrics records a finished, gradable analysis with every metric of
// the screening (risk level high, a vessel map).
func seedMetrics(t *testing.T, s *testenv.Server, id string) {
	t.Helper()
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Exec(`UPDATE screenings SET completed_at = ?, analyzer = 'classical',
		analyzer_version = 'test', profile_version = 1, gradable = ?, quality = 0.9, risk_level = 'high', findings_json = '[]',
		vessel_density = 0.125, fractal_dimension = 1.42, tortuosity = 1.08, mean_vessel_width_px = 4.5,
		crae = 140.5, crve = 210.25, avr = 0.668, artery_density = 0.05, vein_density = 0.07,
		vessel_key = ?, duration_ms = 5 WHERE id = ?`,
		time.Now().UTC(), true, "screenings/"+id+"/vessels.png", id).Error, "seed analysis")
}

func countAudit(t *testing.T, s *testenv.Server, action, entityType, entityID, actorID string) int64 {
	t.Helper()
	return countWhere(t, s, "SELECT count(*) FROM audit_logs WHERE action = ? AND entity_type = ? AND entity_id = ? AND actor_id = ?",
		action, entityType, entityID, actorID)
}

// TestScreeningFHIR: GET /api/screenings/{id}/fhir is a FHIR R4 Bundle
// that the official R4 JSON schema accepts: the Patient (Vietnamese name
// whole), one Observation per metric with its unit, the analysis's risk
// level, the photograph and vessel map as Media, and a DiagnosticReport
// preliminary before the review and final, with the doctor's conclusion,
// after it, always saying AURA does not diagnose. Who reads the results
// exports them: the patient, the clinic's doctor and admin, ADMIN; a
// TECHNICIAN 403; another clinic's staff and patients 404; NOT_READY
// before the analysis. Every export is audited, the patient's own too.
func TestScreeningFHIR(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Ngọc"}, w.p1.Token).Expect(t, http.StatusOK, "")
		seedMetrics(t, s, w.screen1)
		seedMetrics(t, s, w.screening)
		pending := seedScreening(t, s, w.p1, w.c1)
		path := "/api/screenings/" + w.screen1 + "/fhir"

		get := func(tok string) fhirBundle {
			t.Helper()
			code, h, body := rawGet(t, s, path, tok, nil)
			if code != http.StatusOK {
				t.Fatalf("GET fhir: %d %s", code, body)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Errorf("Content-Type %q", ct)
			}
			validFHIR(t, body)
			var b fhirBundle
			testenv.Must(t, json.Unmarshal(body, &b), "decode bundle")
			requiredR4(t, b)
			return b
		}

		b := get(w.p1.Token)
		if b.ResourceType != "Bundle" || b.Type != "collection" || b.ID != w.screen1 {
			t.Fatalf("bundle: %s %s %s", b.ResourceType, b.Type, b.ID)
		}
		pats := b.of("Patient")
		if len(pats) != 1 || pats[0]["id"] != w.p1.ID {
			t.Fatalf("patients: %v", pats)
		}
		if name, _ := json.Marshal(pats[0]["name"]); !strings.Contains(string(name), "Nguyễn Thị Ngọc") {
			t.Errorf("patient name: %s", name)
		}
		units := map[string]string{}
		for _, o := range b.of("Observation") {
			code := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
			if q, ok := o["valueQuantity"].(map[string]any); ok {
				units[code] = q["unit"].(string)
			}
			if o["status"] != "preliminary" {
				t.Errorf("observation %s status %v", code, o["status"])
			}
		}
		want := map[string]string{"vesselDensity": "1", "fractalDimension": "1", "tortuosity": "1", "meanVesselWidthPx": "px",
			"crae": "px", "crve": "px", "avr": "1", "arteryDensity": "1", "veinDensity": "1"}
		for k, u := range want {
			if units[k] != u {
				t.Errorf("metric %s: unit %q, want %q (all: %v)", k, units[k], u, units)
			}
		}
		if len(b.of("Observation")) != len(want)+1 {
			t.Errorf("%d observations, want the metrics and the risk level", len(b.of("Observation")))
		}
		media := b.of("Media")
		if len(media) != 2 {
			t.Fatalf("media: %v", media)
		}
		if c := media[1]["content"].(map[string]any); c["contentType"] != "image/png" || c["url"] != "/api/screenings/"+w.screen1+"/vessels" {
			t.Errorf("vessel map: %v", c)
		}
		reports := b.of("DiagnosticReport")
		if len(reports) != 1 || reports[0]["status"] != "preliminary" {
			t.Fatalf("report: %v", reports)
		}
		if c, _ := reports[0]["conclusion"].(string); !strings.Contains(c, "not a diagnosis") && !strings.Contains(c, "không phải chẩn đoán") {
			t.Errorf("conclusion without the statement that AURA does not diagnose: %q", c)
		}
		if n := countAudit(t, s, exports.AuditFHIR, "screening", w.screen1, w.p1.ID); n != 1 {
			t.Errorf("the patient's export: %d audit rows", n)
		}

		// The doctor reviews: final, the conclusion is the review's.
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/review", map[string]any{"riskLevel": "medium",
			"notes": "Hẹp tiểu động mạch nhẹ", "recommendation": "Tái khám sau 6 tháng"}, w.d1.Token).Expect(t, http.StatusOK, "")
		b = get(w.d1.Token)
		r := b.of("DiagnosticReport")[0]
		if r["status"] != "final" {
			t.Errorf("reviewed report status %v", r["status"])
		}
		if c, _ := r["conclusion"].(string); !strings.Contains(c, "medium") || !strings.Contains(c, "Hẹp tiểu động mạch nhẹ") ||
			!strings.Contains(c, "Tái khám sau 6 tháng") {
			t.Errorf("conclusion: %q", c)
		}
		if cc, _ := json.Marshal(r["conclusionCode"]); !strings.Contains(string(cc), `"code":"medium"`) {
			t.Errorf("conclusionCode: %s", cc)
		}
		if _, ok := r["resultsInterpreter"]; !ok {
			t.Error("no resultsInterpreter after the review")
		}
		if n := countAudit(t, s, exports.AuditFHIR, "screening", w.screen1, w.d1.ID); n != 1 {
			t.Errorf("the doctor's export: %d audit rows", n)
		}
		get(w.ca1.Token)
		get(w.admin.Token)
		if n := countAudit(t, s, exports.AuditFHIR, "screening", w.screen1, w.ca1.ID); n != 1 {
			t.Errorf("the clinic admin's export: %d audit rows", n)
		}

		// Who may not.
		s.Do(t, "GET", path, nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		for _, p := range []person{w.d2, w.ca2, w.t2, w.p2, w.lonely} {
			s.Do(t, "GET", path, nil, p.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		}
		s.Do(t, "GET", "/api/screenings/22222222-2222-4222-8222-222222222222/fhir", nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/screenings/"+pending+"/fhir", nil, w.p1.Token).Expect(t, http.StatusConflict, "NOT_READY")
		s.Do(t, "GET", path, nil, "").Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
		if n := countAudit(t, s, exports.AuditFHIR, "screening", w.screen1, w.t1.ID); n != 0 {
			t.Errorf("a refused export was audited: %d", n)
		}
	})
}

// TestFHIRSchemaRejects: the schema check is not vacuous: an Observation
// without its code, with an unknown element, or a Bundle of an unknown
// type is refused. (The R4 JSON schema does not require primitive
// elements such as Observation.status: requiredR4 checks those.)
func TestFHIRSchemaRejects(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"resourceType":"Observation","status":"final"}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"units":"px"}}`,
		`{"resourceType":"Bundle","type":"collections"}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		testenv.Must(t, err, "decode")
		if fhirR4(t).Validate(inst) == nil {
			t.Errorf("accepted %s", doc)
		}
	}
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"unit":"px"}}`))
	if err := fhirR4(t).Validate(inst); err != nil {
		t.Errorf("refused a valid Observation: %v", err)
	}
}

// csvExport fetches path, checks the headers, the byte-order mark, the
// RFC 4180 line ends and the header row, and returns the rows keyed by
// column.
func csvExport(t *testing.T, s *testenv.Server, path, token string) []map[string]string {
	t.Helper()
	rows, _ := csvRows(t, s, path, token, exports.Columns())
	return rows
}

// csvRows is csvExport for an export whose header row is header; it also
// returns the whole body as sent.
func csvRows(t *testing.T, s *testenv.Server, path, token string, header []string) ([]map[string]string, string) {
	t.Helper()
	code, h, raw := rawGet(t, s, path, token, nil)
	body := raw
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(ct, "utf-8") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") {
		t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
	}
	if !bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatalf("no byte-order mark: %q", body[:min(len(body), 16)])
	}
	body = body[3:]
	if !bytes.Contains(body, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(body, []byte("\r\n"), nil), []byte("\n")) &&
		!bytes.Contains(body, []byte(`"`)) {
		t.Errorf("line ends are not CRLF")
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, body)
	}
	if strings.Join(recs[0], ",") != strings.Join(header, ",") {
		t.Fatalf("header %v", recs[0])
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out, string(raw)
}

// TestScreeningsCSV: the patient's own CSV and a clinic's over a range:
// UTF-8 with a byte-order mark, a header row, one row per screening with
// its metrics, risk levels and review; Vietnamese intact; a cell that
// would run as a formula begins with an apostrophe. The clinic's export is
// its CLINIC_ADMIN's and ADMIN's (a DOCTOR, TECHNICIAN or PATIENT 403,
// another clinic's admin 404), needs from and to, refuses a reversed range
// or one over a year naming the field, and is audited on the clinic and
// on each screening written.
func TestScreeningsCSV(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "Nguyễn Thị Ngọc"}, w.p1.Token).Expect(t, http.StatusOK, "")
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Exec("UPDATE users SET full_name = ? WHERE id = ?",
			"=HYPERLINK(\"http://evil.example\")", w.p2.ID).Error, "hostile name")
		seedMetrics(t, s, w.screen1)
		seedMetrics(t, s, w.screening)
		second := seedScreening(t, s, w.p1, w.c1) // not analysed yet
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/review", map[string]any{"riskLevel": "medium",
			"notes": "=1+1", "recommendation": "-2+3 tái khám", "analysisAgreement": "partial"}, w.d1.Token).Expect(t, http.StatusOK, "")

		// The patient's own.
		rows := csvExport(t, s, "/api/patients/me/screenings.csv", w.p1.Token)
		if len(rows) != 2 || rows[0]["screeningId"] != w.screen1 || rows[1]["screeningId"] != second {
			t.Fatalf("patient rows: %v", rows)
		}
		r := rows[0]
		for col, want := range map[string]string{"fullName": "Nguyễn Thị Ngọc", "clinicName": "Phòng khám An Bình", "eye": "left",
			"vesselDensity": "0.125", "crae": "140.5", "avr": "0.668", "riskLevel": "high", "reviewRiskLevel": "medium",
			"reviewNotes": "'=1+1", "recommendation": "'-2+3 tái khám", "analysisAgreement": "partial", "status": "reviewed", "gradable": "true"} {
			if r[col] != want {
				t.Errorf("column %s: %q, want %q", col, r[col], want)
			}
		}
		if r["reviewer"] == "" || r["reviewedAt"] == "" {
			t.Errorf("review columns empty: %v", r)
		}
		if rows[1]["riskLevel"] != "" || rows[1]["vesselDensity"] != "" || rows[1]["status"] != "awaiting_review" {
			t.Errorf("unanalysed row: %v", rows[1])
		}
		if n := countAudit(t, s, exports.AuditCSV, "screening", w.screen1, w.p1.ID); n != 1 {
			t.Errorf("the patient's export: %d audit rows", n)
		}
		s.Do(t, "GET", "/api/patients/me/screenings.csv", nil, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		// Staff who are patients too get their own screenings only: none.
		if rows := csvExport(t, s, "/api/patients/me/screenings.csv", w.ca1.Token); len(rows) != 0 {
			t.Errorf("a clinic admin's own export: %v", rows)
		}

		// A clinic's.
		today := time.Now().UTC().Format("2006-01-02")
		rng := "?from=" + time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02") + "&to=" + today
		rows = csvExport(t, s, "/api/clinics/"+w.c1+"/screenings.csv"+rng, w.ca1.Token)
		if len(rows) != 2 || rows[0]["screeningId"] != w.screen1 || rows[1]["screeningId"] != second {
			t.Fatalf("clinic 1 rows: %v", rows)
		}
		if n := countAudit(t, s, exports.AuditCSV, "clinic", w.c1, w.ca1.ID); n != 1 {
			t.Errorf("the clinic export: %d audit rows on the clinic", n)
		}
		for _, id := range []string{w.screen1, second} {
			if n := countAudit(t, s, exports.AuditCSV, "screening", id, w.ca1.ID); n != 1 {
				t.Errorf("the clinic export: %d audit rows on %s", n, id)
			}
		}
		rows = csvExport(t, s, "/api/clinics/"+w.c2+"/screenings.csv"+rng, w.admin.Token)
		if len(rows) != 1 || rows[0]["screeningId"] != w.screening || rows[0]["fullName"] != `'=HYPERLINK("http://evil.example")` {
			t.Fatalf("clinic 2 rows: %v", rows)
		}
		past := "?from=2020-01-01&to=2020-12-31"
		if rows = csvExport(t, s, "/api/clinics/"+w.c1+"/screenings.csv"+past, w.ca1.Token); len(rows) != 0 {
			t.Errorf("a range before any screening: %v", rows)
		}

		// Who may not.
		s.Do(t, "GET", "/api/clinics/"+w.c2+"/screenings.csv"+rng, nil, w.ca1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/22222222-2222-4222-8222-222222222222/screenings.csv"+rng, nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		for _, p := range []person{w.d1, w.t1, w.p1} {
			s.Do(t, "GET", "/api/clinics/"+w.c1+"/screenings.csv"+rng, nil, p.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		}

		// Ranges.
		for q, field := range map[string]string{
			"":                               "from",
			"?to=" + today:                   "from",
			"?from=" + today:                 "to",
			"?from=2025-02-01&to=2025-01-31": "to",
			"?from=2024-01-01&to=2025-01-02": "to",
			"?from=yesterday&to=" + today:    "from",
			"?from=2025-01-01&to=2025-13-01": "to",
		} {
			var body any
			if !strings.Contains(q, "from=") || !strings.Contains(q, "to=") {
				body = testenv.Invalid(nil) // a required parameter left out, deliberately
			}
			r := s.Do(t, "GET", "/api/clinics/"+w.c1+"/screenings.csv"+q, body, w.ca1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details[field] == "" {
				t.Errorf("%q: no detail for %s: %v", q, field, r.Env.Details)
			}
		}
		csvExport(t, s, "/api/clinics/"+w.c1+"/screenings.csv?from=2024-01-01&to=2024-12-31", w.ca1.Token) // a leap year is within a year
	})
}

// TestClinicCSVStreams: a clinic's export of thousands of screenings is
// written as it is read, and outlives the per-request query timeout while
// a slow client reads it: every row arrives, in order, once.
func TestClinicCSVStreams(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_DATABASE_QUERY_TIMEOUT": "1s"}))
		admin := makeAdmin(t, s, "admin@stream.example")
		clinic := createClinic(t, s, admin, "Phòng khám Sông Hàn")
		p := signUp(t, s, "hoa@patient.example")
		s.Do(t, "GET", "/api/patients/me", nil, p.Token).Expect(t, http.StatusOK, "")
		const n = 4000
		start := time.Now().UTC().Add(-time.Hour)
		rows := make([]models.Screening, n)
		for i := range rows {
			id := uuid.NewString()
			at := start.Add(time.Duration(i) * time.Millisecond)
			notes := strings.Repeat("Ghi chú của bác sĩ. ", 400) // 8 kB a row: far more than the sockets buffer
			rows[i] = models.Screening{ID: id, PatientID: p.ID, ClinicID: clinic, Status: models.StatusAwaitingReview, Eye: "right",
				ImageKey: "screenings/" + id + "/image.png", ImageType: "image/png", ImageBytes: 1, ImageWidth: 256, ImageHeight: 256,
				ImageSHA256: fmt.Sprintf("%064d", i), CreatedAt: at, UpdatedAt: at, Lang: "vi", ReviewNotes: &notes, ReviewedAt: &at}
		}
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).CreateInBatches(rows, 200).Error, "seed screenings")

		day := time.Now().UTC().Format("2006-01-02")
		req, _ := http.NewRequestWithContext(testenv.Ctx(t), "GET", s.URL+"/api/clinics/"+clinic+"/screenings.csv?from="+day+"&to="+day, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := s.Client.Do(req)
		testenv.Must(t, err, "GET csv")
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		head := make([]byte, 4096)
		_, err = io.ReadFull(res.Body, head)
		testenv.Must(t, err, "first bytes")
		time.Sleep(1500 * time.Millisecond) // past the query timeout, the cursor still open
		rest, err := io.ReadAll(res.Body)
		testenv.Must(t, err, "rest")
		recs, err := csv.NewReader(bytes.NewReader(append(head, rest...)[3:])).ReadAll()
		testenv.Must(t, err, "parse")
		if len(recs) != n+1 {
			t.Fatalf("%d rows, want %d", len(recs)-1, n)
		}
		for i, r := range recs[1:] {
			if r[0] != rows[i].ID {
				t.Fatalf("row %d: %s, want %s", i, r[0], rows[i].ID)
			}
		}
		if got := countWhere(t, s, "SELECT count(*) FROM audit_logs WHERE action = ? AND entity_type = 'screening'", exports.AuditCSV); got != n {
			t.Errorf("%d audit rows, want %d", got, n)
		}
	})
}
