package repositories_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/database"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// screeningColumns are the columns of screenings as the release before the
// embedded models.Analysis created them, plus the nullable ones added since:
// the same names mean AutoMigrate finds nothing to change in an existing
// database but to add those.
var screeningColumns = []string{"id", "patient_id", "clinic_id", "status", "eye", "note", "lang", "image_key", "image_type",
	"image_bytes", "image_width", "image_height", "image_sha256", "idempotency_key", "idem_patient_id", "vessel_key", "analyzer",
	"analyzer_version", "profile_version", "gradable", "quality", "risk_level", "confidence", "vessel_density",
	"fractal_dimension", "tortuosity", "mean_vessel_width_px", "findings_json", "completed_at", "duration_ms", "reviewer_id",
	"claimed_at", "review_risk_level", "review_notes", "recommendation", "reviewed_at", "failure_code", "failure_message",
	"attempts", "created_at", "updated_at",
	// Added by vessels-2.1 (issue 19): nullable, so AutoMigrate adds them to
	// an existing table and the rows it holds read them as NULL.
	"crae", "crve", "avr", "artery_density", "vein_density", "optic_disc_x", "optic_disc_y", "optic_disc_radius",
	"av_key", "overlay_key", "analysis_agreement", "corrected_metrics",
	// Added by DICOM input (issue 20): nullable, NULL for JPEG and PNG uploads.
	"dicom_sop_instance_uid", "dicom_clinic_id", "dicom_study_instance_uid", "dicom_series_instance_uid",
	"dicom_modality", "dicom_acquired_at",
	// Added by the risk rules' recommendations (issue 22): nullable, NULL for
	// results rated before, or without a rule that carries advice.
	"recommendation_json",

	// Added by batches (issue 20): nullable, NULL for a single upload.
	"batch_id",
	// Added by the review's feedback (issue 21): nullable, NULL for reviews
	// before it or without feedback.
	"feedback"}

// TestScreeningAnalysisKeepsItsColumns: the analysis is one embedded value,
// stored under the columns it always had; a recorded analysis is read back
// whole, also after the migration runs again on the database holding it.
func TestScreeningAnalysisKeepsItsColumns(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		db, st := open(t, e)
		cols, err := db.Migrator().ColumnTypes(&models.Screening{})
		testenv.Must(t, err, "columns")
		var names []string
		for _, c := range cols {
			names = append(names, c.Name())
		}
		slices.Sort(names)
		want := slices.Sorted(slices.Values(screeningColumns))
		if !slices.Equal(names, want) {
			t.Fatalf("screenings columns changed:\n got %q\nwant %q", names, want)
		}
		if !db.Migrator().HasIndex(&models.Screening{}, "idx_screenings_risk_level") {
			t.Error("idx_screenings_risk_level is gone")
		}

		id := seedQueued(t, st)
		key, name, version, level, findings := "screenings/x/vessels.png", "vessels", "vessels-1.1.0", "high", `[{"code":"C","severity":"high","message":"m"}]`
		pv, gradable, q, c, d, fd, tort, w, ms := 3, true, 0.9, 0.8, 0.04, 1.4, 1.1, 4.5, int64(1234)
		at := t0.Add(time.Minute)
		a := models.Analysis{VesselKey: &key, Analyzer: &name, AnalyzerVersion: &version, ProfileVersion: &pv, Gradable: &gradable,
			Quality: &q, RiskLevel: &level, Confidence: &c, VesselDensity: &d, FractalDimension: &fd, Tortuosity: &tort,
			MeanVesselWidthPx: &w, FindingsJSON: &findings, CompletedAt: &at, DurationMs: &ms}
		ok, err := st.Screenings.SaveAnalysis(id, a, 2)
		if err != nil || !ok {
			t.Fatalf("SaveAnalysis: %v %v", ok, err)
		}
		testenv.Must(t, database.Migrate(context.Background(), db, testenv.Logger(t)), "migrate again")
		row, err := st.Screenings.Get(id, repositories.Scope{All: true})
		testenv.Must(t, err, "get")
		got := row.Analysis
		if row.Status != models.StatusAwaitingReview || row.Attempts != 2 || !row.UpdatedAt.Equal(at) || got.CompletedAt == nil ||
			!got.CompletedAt.Equal(at) || *got.VesselKey != key || *got.Analyzer != name || *got.AnalyzerVersion != version ||
			*got.ProfileVersion != pv || !*got.Gradable || *got.Quality != q || *got.RiskLevel != level || *got.Confidence != c ||
			*got.VesselDensity != d || *got.FractalDimension != fd || *got.Tortuosity != tort || *got.MeanVesselWidthPx != w ||
			*got.FindingsJSON != findings || *got.DurationMs != ms {
			t.Fatalf("analysis read back differs: status %s attempts %d %+v", row.Status, row.Attempts, got)
		}
		var density float64
		testenv.Must(t, db.Raw("SELECT vessel_density FROM screenings WHERE id = ?", id).Scan(&density).Error, "raw column")
		if density != d {
			t.Errorf("vessel_density column holds %v, want %v", density, d)
		}
		// Recorded once: a second result for the same screening changes nothing.
		if ok, err := st.Screenings.SaveAnalysis(id, a, 3); err != nil || ok {
			t.Errorf("second SaveAnalysis: %v %v, want false nil", ok, err)
		}
	})
}

// seedQueued creates a patient, a clinic and a queued screening; it returns
// the screening's id.
func seedQueued(t *testing.T, st *repositories.Store) string {
	t.Helper()
	u := newUser(t, st, uuid.NewString()+"@patient.example", models.RolePatient)
	testenv.Must(t, st.Patients.Ensure(u.ID, "P-"+u.ID[:8], t0), "patient")
	cl := &models.Clinic{ID: uuid.NewString(), Name: "Clinic " + u.ID[:8], NameKey: "clinic " + u.ID[:8], CreatedAt: t0, UpdatedAt: t0}
	testenv.Must(t, st.Clinics.Create(cl), "clinic")
	id := uuid.NewString()
	sc := &models.Screening{ID: id, PatientID: u.ID, ClinicID: cl.ID, Status: models.StatusQueued, Eye: "left", Lang: "en",
		ImageKey: "screenings/" + id + "/image.png", ImageType: "image/png", ImageBytes: 1, ImageWidth: 2, ImageHeight: 2,
		ImageSHA256: "00", CreatedAt: t0, UpdatedAt: t0}
	testenv.Must(t, st.Screenings.Create(sc), "screening")
	return id
}
