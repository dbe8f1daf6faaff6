package tests

import (
	"archive/zip"
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aura/internal/testenv"
	"aura/models"
)

// batchOut is the Batch object the tests read.
type batchOut struct {
	ID, ClinicID, Status string
	Name                 *string
	Counts               struct{ Queued, Processing, AwaitingReview, InReview, Reviewed, Failed int }
	Rejected             int
}

// batchVerdict is the answer to POST /api/batches/{id}/items.
type batchVerdict struct {
	Accepted []struct{ File, ScreeningID string }
	Rejected []struct{ File, Code, Message string }
}

// batchFile is one file part: its filename and bytes.
type batchFile struct {
	name string
	data []byte
}

// batchBody is a multipart body of parts in the order given: a manifest
// (when manifest != ""), placed after the files when manifestLast, and
// the files.
func batchBody(manifest string, manifestLast bool, files ...batchFile) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	writeManifest := func() {
		if manifest == "" {
			return
		}
		pw, _ := w.CreateFormFile("manifest", "manifest.csv")
		_, _ = pw.Write([]byte(manifest))
	}
	if !manifestLast {
		writeManifest()
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename="%s"`, f.name))
		h.Set("Content-Type", "application/octet-stream")
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write(f.data)
	}
	if manifestLast {
		writeManifest()
	}
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// archiveBody is a multipart body of one archive part.
func archiveBody(zipBytes []byte) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	pw, _ := w.CreateFormFile("archive", "batch.zip")
	_, _ = pw.Write(zipBytes)
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// zipOf is a ZIP of the files (deflated), in order.
func zipOf(t *testing.T, files ...batchFile) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.Create(f.name)
		testenv.Must(t, err, "zip entry")
		_, err = w.Write(f.data)
		testenv.Must(t, err, "zip write")
	}
	testenv.Must(t, zw.Close(), "zip close")
	return b.Bytes()
}

func postItems(t *testing.T, s *testenv.Server, token, batchID, ct string, body []byte) *testenv.Response {
	t.Helper()
	return s.DoHeaders(t, "POST", "/api/batches/"+batchID+"/items", body,
		map[string]string{"Authorization": "Bearer " + token, "Content-Type": ct})
}

func newBatch(t *testing.T, s *testenv.Server, token, clinicID, name string) batchOut {
	t.Helper()
	var b batchOut
	s.Do(t, "POST", "/api/clinics/"+clinicID+"/batches", map[string]any{"name": name}, token).Expect(t, http.StatusCreated, "").Data(t, &b)
	return b
}

func getBatch(t *testing.T, s *testenv.Server, token, id string) batchOut {
	t.Helper()
	var b batchOut
	s.Do(t, "GET", "/api/batches/"+id, nil, token).Expect(t, http.StatusOK, "").Data(t, &b)
	return b
}

// rejectedBy maps a verdict's refused files to their codes and messages.
func rejectedBy(v batchVerdict) map[string]string {
	out := map[string]string{}
	for _, r := range v.Rejected {
		out[r.File] += r.Code + " " + r.Message + "|"
	}
	return out
}

// TestBatches: a technician opens a batch and sends a manifest with files
// (the manifest last) and a ZIP; good rows become queued screenings of the
// batch whose analyses queue behind single uploads, bad rows are refused
// with their reason while the rest go on (unknown eye, unknown patientCode,
// a bad image, a file named but not sent, a file sent but not named, a row
// naming a file twice); an unknown externalId with a fullName enrols the
// patient; counts follow the statuses; items list and page; batches list
// and page; a closed batch takes no items (409); another clinic's staff get
// 404, a patient 403.
func TestBatches(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_STORAGE_URI": "file://" + t.TempDir()}))
		spool := t.TempDir()
		s.App.Screenings.Settings.TempDir = spool
		adm := makeAdmin(t, s, "admin@clinic.example")
		c1, c2 := createClinic(t, s, adm, "Clinic One"), createClinic(t, s, adm, "Clinic Two")
		tech := staffMember(t, s, c1, "tech@one.example", models.RoleTechnician)
		doc1 := staffMember(t, s, c1, "doc@one.example", models.RoleDoctor)
		doc2 := staffMember(t, s, c2, "doc@two.example", models.RoleDoctor)
		pat := signUp(t, s, "patient@batch.example")
		an := enrol(t, s, tech.Token, c1, map[string]any{"fullName": "Nguyễn Văn An", "externalId": "HS-1"})

		b := newBatch(t, s, tech.Token, c1, "Camp 1")
		if b.Status != "open" || b.ClinicID != c1 || models.Deref(b.Name) != "Camp 1" || b.Counts.Queued != 0 || b.Rejected != 0 {
			t.Fatalf("new batch: %+v", b)
		}
		img := func(i int) []byte { return encodeJPEG(t, 300+i, 300, 70) }
		manifest := "file,eye,patientCode,externalId,fullName,dateOfBirth,sex\n" +
			"a.jpg,left," + an.PatientCode + ",,,,\n" +
			"b.jpg,R,,hs-1,,,\n" +
			"c.jpg,L,,HS-NEW,Trần Thị Bình,1970-01-02,female\n" +
			"d.jpg,up," + an.PatientCode + ",,,,\n" +
			"e.jpg,left,AU-ZZZZ-ZZZZ,,,,\n" +
			"f.jpg,left," + an.PatientCode + ",,,,\n" +
			"g.jpg,right," + an.PatientCode + ",,,,\n" +
			"a.jpg,right," + an.PatientCode + ",,,,\n" +
			"i.jpg,right,,HS-UNKNOWN,,,\n"
		ct, body := batchBody(manifest, true,
			batchFile{"a.jpg", img(1)}, batchFile{"b.jpg", img(2)}, batchFile{"c.jpg", img(3)}, batchFile{"d.jpg", img(4)},
			batchFile{"e.jpg", img(5)}, batchFile{"f.jpg", []byte("not an image at all")}, batchFile{"h.jpg", img(6)},
			batchFile{"i.jpg", img(7)})
		var v batchVerdict
		postItems(t, s, tech.Token, b.ID, ct, body).Expect(t, http.StatusAccepted, "").Data(t, &v)
		var acc []string
		for _, a := range v.Accepted {
			acc = append(acc, a.File)
		}
		if fmt.Sprint(acc) != "[a.jpg b.jpg c.jpg]" {
			t.Fatalf("accepted %v; rejected %+v", acc, v.Rejected)
		}
		rej := rejectedBy(v)
		for file, want := range map[string]string{
			"d.jpg": "VALIDATION_FAILED eye:", "e.jpg": "VALIDATION_FAILED patientCode:", "f.jpg": "UNSUPPORTED_MEDIA_TYPE",
			"g.jpg": "VALIDATION_FAILED file: is named in the manifest but was not sent", "a.jpg": "VALIDATION_FAILED file: is named twice",
			"h.jpg": "VALIDATION_FAILED file: was sent but is not named", "i.jpg": "VALIDATION_FAILED fullName:",
		} {
			if !strings.HasPrefix(rej[file], want) {
				t.Errorf("%s: rejected as %q, want %q", file, rej[file], want)
			}
		}
		if len(v.Rejected) != 7 {
			t.Fatalf("rejected %+v", v.Rejected)
		}
		// The new patient is enrolled with the row's details.
		pg := listPatients(t, s, doc1.Token, c1, url.Values{"q": {"HS-NEW"}})
		if len(pg.Items) != 1 || pg.Items[0].FullName != "Trần Thị Bình" || models.Deref(pg.Items[0].DateOfBirth) != "1970-01-02" {
			t.Fatalf("enrolled: %+v", pg.Items)
		}
		// Each accepted screening names the batch, its job the batch's priority.
		db := s.App.DB.WithContext(testenv.Ctx(t))
		for _, a := range v.Accepted {
			var sc models.Screening
			testenv.Must(t, db.Where("id = ?", a.ScreeningID).Take(&sc).Error, "screening")
			var j models.Job
			testenv.Must(t, db.Where("ref = ?", a.ScreeningID).Take(&j).Error, "job")
			if models.Deref(sc.BatchID) != b.ID || sc.Status != models.StatusQueued || j.Priority != models.PriorityBatch {
				t.Fatalf("screening %s: batch %v, status %s, job priority %d", a.ScreeningID, sc.BatchID, sc.Status, j.Priority)
			}
		}
		// In Vietnamese, the reason is too.
		var vi batchVerdict
		ct, body = batchBody("file,eye,patientCode\nz.jpg,up,"+an.PatientCode+"\n", false, batchFile{"z.jpg", img(8)})
		s.DoHeaders(t, "POST", "/api/batches/"+b.ID+"/items", body, map[string]string{"Authorization": "Bearer " + tech.Token,
			"Content-Type": ct, "Accept-Language": "vi"}).Expect(t, http.StatusAccepted, "").Data(t, &vi)
		if len(vi.Rejected) != 1 || vi.Rejected[0].Message != "eye: phải là left, right, L hoặc R" {
			t.Fatalf("vi: %+v", vi)
		}

		// A ZIP: manifest.csv and the images in a folder; what archivers add is skipped.
		z := zipOf(t, batchFile{"manifest.csv", []byte("file,eye,externalId\nday1/x.jpg,left,HS-1\nday1/y.jpg,right,HS-NEW\n")},
			batchFile{"day1/x.jpg", img(9)}, batchFile{"day1/y.jpg", img(10)}, batchFile{"__MACOSX/day1/._x.jpg", []byte("junk")},
			batchFile{".DS_Store", []byte("junk")})
		ct, body = archiveBody(z)
		var zv batchVerdict
		postItems(t, s, doc1.Token, b.ID, ct, body).Expect(t, http.StatusAccepted, "").Data(t, &zv)
		if len(zv.Accepted) != 2 || len(zv.Rejected) != 0 {
			t.Fatalf("zip: %+v", zv)
		}

		// Counts per status.
		testenv.Must(t, db.Model(&models.Screening{}).Where("id = ?", v.Accepted[0].ScreeningID).Update("status", models.StatusReviewed).Error, "status")
		testenv.Must(t, db.Model(&models.Screening{}).Where("id = ?", v.Accepted[1].ScreeningID).Update("status", models.StatusFailed).Error, "status")
		got := getBatch(t, s, tech.Token, b.ID)
		if got.Counts.Queued != 3 || got.Counts.Reviewed != 1 || got.Counts.Failed != 1 || got.Counts.Processing != 0 || got.Rejected != 8 {
			t.Fatalf("counts: %+v", got)
		}
		// Items: filtered by status, paged.
		var items struct {
			Items []screening
			Total int
		}
		s.Do(t, "GET", "/api/batches/"+b.ID+"/items?status=queued&pageSize=2&page=2", nil, doc1.Token).Expect(t, http.StatusOK, "").Data(t, &items)
		if items.Total != 3 || len(items.Items) != 1 || items.Items[0].Status != "queued" {
			t.Fatalf("items: %+v", items)
		}
		s.Do(t, "GET", "/api/batches/"+b.ID+"/items", nil, tech.Token).Expect(t, http.StatusOK, "").Data(t, &items)
		if items.Total != 5 {
			t.Fatalf("all items: %d", items.Total)
		}
		s.Do(t, "GET", "/api/batches/"+b.ID+"/items?status=bogus", testenv.Invalid(nil), tech.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		// Batches of the clinic, newest first, paged.
		b2 := newBatch(t, s, doc1.Token, c1, "Camp 2")
		var list struct {
			Items []batchOut
			Total int
		}
		s.Do(t, "GET", "/api/clinics/"+c1+"/batches?pageSize=1", nil, tech.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if list.Total != 2 || len(list.Items) != 1 || list.Items[0].ID != b2.ID {
			t.Fatalf("list: %+v", list)
		}
		s.Do(t, "GET", "/api/clinics/"+c1+"/batches?pageSize=1&page=2", nil, tech.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != b.ID || list.Items[0].Counts.Queued != 3 {
			t.Fatalf("list page 2: %+v", list)
		}

		// Close: no more items.
		var closed batchOut
		s.Do(t, "POST", "/api/batches/"+b.ID+"/close", nil, tech.Token).Expect(t, http.StatusOK, "").Data(t, &closed)
		if closed.Status != "closed" {
			t.Fatalf("closed: %+v", closed)
		}
		s.Do(t, "POST", "/api/batches/"+b.ID+"/close", nil, tech.Token).Expect(t, http.StatusOK, "")
		// Made and closed once each in the audit trail, as the technician.
		for _, action := range []string{"batch.create", "batch.close"} {
			var n int64
			testenv.Must(t, s.App.DB.Model(&models.AuditLog{}).Where("action = ? AND entity_type = ? AND entity_id = ? AND actor_id = ? AND actor_role = ?",
				action, "batch", b.ID, tech.ID, models.RoleTechnician).Count(&n).Error, "count audit")
			if n != 1 {
				t.Errorf("%s audited %d times, want 1", action, n)
			}
		}
		ct, body = batchBody("file,eye,patientCode\nq.jpg,left,"+an.PatientCode+"\n", false, batchFile{"q.jpg", img(11)})
		postItems(t, s, tech.Token, b.ID, ct, body).Expect(t, http.StatusConflict, "INVALID_STATE")

		// Another clinic's staff: 404 everywhere; a patient: 403.
		for _, r := range []*testenv.Response{
			s.Do(t, "GET", "/api/batches/"+b2.ID, nil, doc2.Token),
			s.Do(t, "GET", "/api/batches/"+b2.ID+"/items", nil, doc2.Token),
			s.Do(t, "POST", "/api/batches/"+b2.ID+"/close", nil, doc2.Token),
			postItems(t, s, doc2.Token, b2.ID, ct, body),
			s.Do(t, "GET", "/api/clinics/"+c1+"/batches", nil, doc2.Token),
			s.Do(t, "POST", "/api/clinics/"+c1+"/batches", map[string]any{}, doc2.Token),
		} {
			r.Expect(t, http.StatusNotFound, "NOT_FOUND")
		}
		for _, r := range []*testenv.Response{
			s.Do(t, "GET", "/api/batches/"+b2.ID, nil, pat.Token),
			postItems(t, s, pat.Token, b2.ID, ct, body),
			s.Do(t, "POST", "/api/clinics/"+c1+"/batches", map[string]any{}, pat.Token),
			s.Do(t, "GET", "/api/clinics/"+c1+"/batches", nil, pat.Token),
		} {
			r.Expect(t, http.StatusForbidden, "FORBIDDEN")
		}
		if b2 := getBatch(t, s, doc1.Token, b2.ID); b2.Status != "open" || b2.Counts.Queued != 0 {
			t.Fatalf("b2 changed: %+v", b2)
		}
		assertSpoolEmpty(t, spool)
	})
}

// TestBatchRefusals: hostile or oversized requests are refused whole and
// leave nothing behind (no screening, no stored image, no temporary file):
// a ZIP entry climbing out with ../, an absolute name, a ZIP bomb, an
// archive without manifest.csv, a manifest that is not CSV of the known
// columns, an archive sent with a manifest, more rows than
// intake.max_batch_items (413), a body over intake.max_request_bytes (413).
func TestBatchRefusals(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		store := t.TempDir()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_STORAGE_URI": "file://" + store,
			"AURA_INTAKE_MAX_BATCH_ITEMS": "3", "AURA_SCREENING_MAX_IMAGE_BYTES": "200000", "AURA_INTAKE_MAX_REQUEST_BYTES": "400000"}))
		spool := t.TempDir()
		s.App.Screenings.Settings.TempDir = spool
		adm := makeAdmin(t, s, "admin@clinic.example")
		c1 := createClinic(t, s, adm, "Clinic One")
		tech := staffMember(t, s, c1, "tech@one.example", models.RoleTechnician)
		an := enrol(t, s, tech.Token, c1, map[string]any{"fullName": "An", "externalId": "HS-1"})
		b := newBatch(t, s, tech.Token, c1, "")
		jpg := encodeJPEG(t, 300, 300, 70)
		man := []byte("file,eye,patientCode\nx.jpg,left," + an.PatientCode + "\n")

		refuse := func(what string, status int, code string, ct string, body []byte) {
			t.Helper()
			r := postItems(t, s, tech.Token, b.ID, ct, body)
			if r.Status != status || !strings.Contains(string(r.Body), code) {
				t.Fatalf("%s: %d %s", what, r.Status, r.Body)
			}
		}
		ct, body := archiveBody(zipOf(t, batchFile{"manifest.csv", []byte("file,eye,patientCode\n../x.jpg,left," + an.PatientCode + "\n")},
			batchFile{"../x.jpg", jpg}))
		refuse("../ in the archive", 400, "VALIDATION_FAILED", ct, body)
		ct, body = archiveBody(zipOf(t, batchFile{"manifest.csv", man}, batchFile{"/etc/x.jpg", jpg}))
		refuse("absolute name", 400, "VALIDATION_FAILED", ct, body)
		// A bomb: 64 MiB of zeros deflate to about 64 KiB.
		ct, body = archiveBody(zipOf(t, batchFile{"manifest.csv", man}, batchFile{"x.jpg", make([]byte, 64<<20)}))
		refuse("ZIP bomb", 400, "ZIP bomb", ct, body)
		ct, body = archiveBody(zipOf(t, batchFile{"x.jpg", jpg}))
		refuse("no manifest", 400, "manifest.csv", ct, body)
		ct, body = archiveBody([]byte("PK not really a zip"))
		refuse("not a ZIP", 400, "VALIDATION_FAILED", ct, body)
		ct, body = batchBody("name,eye\nx.jpg,left\n", false, batchFile{"x.jpg", jpg})
		refuse("unknown column", 400, "VALIDATION_FAILED", ct, body)
		ct, body = batchBody("file,eye\n\"x.jpg,left\n", false, batchFile{"x.jpg", jpg})
		refuse("not CSV", 400, "VALIDATION_FAILED", ct, body)
		ct, body = batchBody("file,eye\n", false, batchFile{"x.jpg", jpg})
		refuse("no row", 400, "VALIDATION_FAILED", ct, body)
		ct, body = batchBody("", false, batchFile{"x.jpg", jpg})
		refuse("no manifest part", 400, "VALIDATION_FAILED", ct, body)
		ct, body = batchBody("file,eye\n\xff.jpg,left\n", false, batchFile{"x.jpg", jpg})
		refuse("not UTF-8", 400, "VALIDATION_FAILED", ct, body)
		// Limits: 4 rows where 3 are allowed; 4 files; a body over 400 000 bytes.
		rows := "file,eye,patientCode\n"
		for i := range 4 {
			rows += fmt.Sprintf("%d.jpg,left,%s\n", i, an.PatientCode)
		}
		ct, body = batchBody(rows, false, batchFile{"0.jpg", jpg})
		refuse("too many rows", 413, "PAYLOAD_TOO_LARGE", ct, body)
		ct, body = batchBody(string(man), false, batchFile{"1.jpg", jpg}, batchFile{"2.jpg", jpg}, batchFile{"3.jpg", jpg}, batchFile{"4.jpg", jpg})
		refuse("too many files", 413, "PAYLOAD_TOO_LARGE", ct, body)
		big := make([]byte, 150_000)
		ct, body = batchBody(string(man), false, batchFile{"1.jpg", big}, batchFile{"2.jpg", big}, batchFile{"3.jpg", big})
		refuse("too many bytes", 413, "PAYLOAD_TOO_LARGE", ct, body)
		s.DoHeaders(t, "POST", "/api/batches/"+b.ID+"/items", testenv.Invalid(man), map[string]string{"Authorization": "Bearer " + tech.Token,
			"Content-Type": "text/csv"}).Expect(t, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")

		if n := countScreenings(t, s); n != 0 {
			t.Fatalf("%d screenings stored", n)
		}
		var files []string
		_ = filepath.Walk(store, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) != 0 {
			t.Fatalf("stored: %v", files)
		}
		assertSpoolEmpty(t, spool)
		if got := getBatch(t, s, tech.Token, b.ID); got.Rejected != 0 || slices.Contains([]string{"closed"}, got.Status) {
			t.Fatalf("batch: %+v", got)
		}
	})
}
