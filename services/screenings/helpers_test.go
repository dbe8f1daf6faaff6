package screenings_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"aura/analysis"
	"aura/internal/testenv"
	"aura/models"
	"aura/queue"
	"aura/repositories"
	"aura/services/screenings"
	"aura/storage"
)

// clock is the service's clock; tests move it.
type clock = testenv.Clock

// fakeAnalyzer answers what the test sets and keeps the images it was given.
type fakeAnalyzer struct {
	mu   sync.Mutex
	res  *analysis.Result
	err  error
	seen []analysis.Image
}

func (f *fakeAnalyzer) Name() string { return "fake" }

func (f *fakeAnalyzer) Analyze(_ context.Context, im analysis.Image) (*analysis.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, im)
	return f.res, f.err
}

func (f *fakeAnalyzer) set(res *analysis.Result, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res, f.err = res, err
}

// world is a screening Service on a fresh database of one engine, with a
// patient, two doctors of the clinic, a doctor of another clinic, and the
// analysis queue's runner (driven by the test with RunOne).
type world struct {
	db       *gorm.DB
	st       *repositories.Store
	svc      *screenings.Service
	clock    *clock
	analyzer *fakeAnalyzer
	runner   *queue.Runner

	clinicID, otherClinicID        string
	patient, doctorA, doctorB, far models.Actor
}

func newWorld(t *testing.T, e testenv.Engine) *world {
	t.Helper()
	db := testenv.OpenDB(t, e)
	ctx := testenv.Ctx(t)
	blobs, err := storage.Open(ctx, "file://"+t.TempDir())
	testenv.Must(t, err, "store")
	t.Cleanup(func() { _ = blobs.Close() })
	w := &world{db: db, st: repositories.New(db.WithContext(ctx)), clock: testenv.NewClock(),
		analyzer: &fakeAnalyzer{}}
	w.svc = screenings.New(screenings.Settings{MaxImageBytes: 1 << 20, MaxAttempts: 3, TempDir: t.TempDir(), DefaultLang: "en",
		FrontendURL: "http://front.example", ReportTimeout: 30 * time.Second}, blobs, w.analyzer, w.clock.Now)
	worker := &screenings.Worker{S: w.svc, St: func(ctx context.Context) *repositories.Store { return repositories.New(db.WithContext(ctx)) }}
	w.runner = queue.New(queue.Config{Kind: models.JobAnalyze, Workers: 1, MaxAttempts: 3, Lease: time.Minute,
		PollInterval: time.Second, MaxBackoff: time.Second},
		func(ctx context.Context) *repositories.Jobs { return repositories.New(db.WithContext(ctx)).Jobs },
		worker.Handle, worker.GiveUp, testenv.Logger(t))
	w.runner.Clock = w.clock.Now

	w.clinicID, w.otherClinicID = w.clinic(t, "Phòng khám An Bình"), w.clinic(t, "Clinic Two")
	w.patient = w.user(t, "patient", models.RolePatient)
	w.doctorA = w.doctor(t, "doctor.a", w.clinicID)
	w.doctorB = w.doctor(t, "doctor.b", w.clinicID)
	w.far = w.doctor(t, "doctor.far", w.otherClinicID)
	return w
}

func (w *world) clinic(t *testing.T, name string) string {
	t.Helper()
	now := w.clock.Now()
	c := &models.Clinic{ID: uuid.NewString(), Name: name, NameKey: strings.ToLower(name), CreatedAt: now, UpdatedAt: now}
	testenv.Must(t, w.st.Clinics.Create(c), "clinic %s", name)
	return c.ID
}

func (w *world) user(t *testing.T, name string, roles ...string) models.Actor {
	t.Helper()
	email := name + "@screenings.example"
	u := &models.User{ID: uuid.NewString(), Email: email, EmailNormalized: &email, PasswordHash: "hash", IsActive: true,
		CreatedAt: w.clock.Now()}
	testenv.Must(t, w.st.Users.Create(u, roles...), "user %s", name)
	return models.Actor{UserID: u.ID, Roles: roles}
}

func (w *world) doctor(t *testing.T, name, clinicID string) models.Actor {
	t.Helper()
	a := w.user(t, name, models.RoleDoctor)
	now := w.clock.Now()
	testenv.Must(t, w.st.Doctors.Upsert(&models.Doctor{UserID: a.UserID, LicenseNo: "L-" + name, LicenseKey: "l-" + name,
		CreatedAt: now, UpdatedAt: now}), "doctor %s", name)
	testenv.Must(t, w.st.Members.Add(clinicID, a.UserID, models.RoleDoctor, now), "attach %s", name)
	return a
}

// photo is a w×h PNG with a little content.
func photo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var buf bytes.Buffer
	testenv.Must(t, png.Encode(&buf, img), "encode")
	return buf.Bytes()
}

// upload uploads a 256×256 photograph to the clinic for the patient.
func (w *world) upload(t *testing.T) *repositories.ScreeningRow {
	t.Helper()
	sp, err := w.svc.Spool(context.Background(), bytes.NewReader(photo(t, 256, 256)))
	testenv.Must(t, err, "spool")
	defer sp.Close()
	row, _, err := w.svc.Upload(context.Background(), w.st, w.patient, screenings.UploadInput{Image: sp, Eye: "left", ClinicID: w.clinicID})
	testenv.Must(t, err, "upload")
	return row
}

// analysed uploads a photograph and runs its analysis with a gradable result.
func (w *world) analysed(t *testing.T) string {
	t.Helper()
	row := w.upload(t)
	w.analyzer.set(gradable(0.12, 1.2), nil)
	w.runOne(t)
	return row.ID
}

func (w *world) runOne(t *testing.T) {
	t.Helper()
	ran, err := w.runner.RunOne(context.Background())
	if err != nil || !ran {
		t.Fatalf("RunOne: ran %v, %v", ran, err)
	}
}

func (w *world) get(t *testing.T, id string) *repositories.ScreeningRow {
	t.Helper()
	row, err := w.st.Screenings.Get(id, repositories.Scope{All: true})
	testenv.Must(t, err, "get %s", id)
	return row
}

func (w *world) count(t *testing.T, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, w.db.Model(model).Where(where, args...).Count(&n).Error, "count")
	return n
}

// gradable is a gradable result with a 256×256 vessel map.
func gradable(density, tortuosity float64) *analysis.Result {
	c := 0.8
	m := image.NewGray(image.Rect(0, 0, 256, 256))
	m.Pix[0] = 255
	return &analysis.Result{Analyzer: "fake", Version: "fake-1", Gradable: true, Quality: 0.8, Confidence: &c,
		Metrics:   &analysis.Metrics{VesselDensity: density, FractalDimension: 1.5, Tortuosity: tortuosity, MeanVesselWidthPx: 4},
		VesselMap: m}
}
