package screenings_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"aura/analysis"
	"aura/fault"
	"aura/internal/testenv"
	"aura/models"
	"aura/services/screenings"
)

// details returns the fields a VALIDATION_FAILED names (fails t otherwise).
func details(t *testing.T, err error) map[string]string {
	t.Helper()
	var e *models.Error
	if !errors.As(err, &e) || e.Code != models.CodeValidation {
		t.Fatalf("want VALIDATION_FAILED, got %v", err)
	}
	return e.Details
}

// TestUploadValidation: an upload names every wrong field at once; a good
// one stores the photograph and commits the screening, its job and its audit
// row; an Idempotency-Key replays the first upload for 24 hours only.
func TestUploadValidation(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newWorld(t, e)
		ctx := context.Background()
		spool := func() *screenings.Spooled {
			sp, err := w.svc.Spool(ctx, bytes.NewReader(photo(t, 256, 256)))
			testenv.Must(t, err, "spool")
			t.Cleanup(sp.Close)
			return sp
		}
		str := func(s string) *string { return &s }
		for _, c := range []struct {
			name string
			in   screenings.UploadInput
			want []string
		}{
			{"nothing", screenings.UploadInput{}, []string{"image", "eye", "clinicId"}},
			{"eye", screenings.UploadInput{Image: spool(), Eye: "up", ClinicID: w.clinicID}, []string{"eye"}},
			{"note with a control character", screenings.UploadInput{Image: spool(), Eye: "left", ClinicID: w.clinicID, Note: str("a\x07b")}, []string{"note"}},
			{"note too long", screenings.UploadInput{Image: spool(), Eye: "left", ClinicID: w.clinicID, Note: str(strings.Repeat("é", 1001))}, []string{"note"}},
			{"key", screenings.UploadInput{Image: spool(), Eye: "left", ClinicID: w.clinicID, IdempotencyKey: "has space"}, []string{"Idempotency-Key"}},
			{"clinic not an id", screenings.UploadInput{Image: spool(), Eye: "left", ClinicID: "clinic-1"}, []string{"clinicId"}},
			{"clinic unknown", screenings.UploadInput{Image: spool(), Eye: "right", ClinicID: "3b0c4c8e-6f4e-4a43-9b1e-2f6f0f0f0f0f"}, []string{"clinicId"}},
			{"clinic unnamed among two", screenings.UploadInput{Image: spool(), Eye: "right"}, []string{"clinicId"}},
		} {
			_, _, err := w.svc.Upload(ctx, w.st, w.patient, c.in)
			got := details(t, err)
			for _, f := range c.want {
				if got[f] == "" {
					t.Errorf("%s: %v does not name %s", c.name, got, f)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("%s: %v, want only %v", c.name, got, c.want)
			}
		}
		// A doctor uploads for a patient of the clinic, so must name one.
		_, _, err := w.svc.Upload(ctx, w.st, w.doctorA, screenings.UploadInput{Image: spool(), Eye: "left", ClinicID: w.clinicID})
		if got := details(t, err); got["patientId"] == "" || len(got) != 1 {
			t.Errorf("a doctor uploads without a patient: %v", got)
		}
		if n := w.count(t, &models.Screening{}, "1 = 1"); n != 0 {
			t.Fatalf("refused uploads left %d screenings", n)
		}

		in := screenings.UploadInput{Image: spool(), Eye: "left", ClinicID: w.clinicID, Note: str("  after lunch \n"), IdempotencyKey: "k-1"}
		row, replayed, err := w.svc.Upload(ctx, w.st, w.patient, in)
		testenv.Must(t, err, "upload")
		if replayed || row.Status != models.StatusQueued || row.Eye != "left" || row.Note == nil || *row.Note != "after lunch" ||
			row.ImageWidth != 256 || row.ImageHeight != 256 || row.ImageType != "image/png" || row.Lang != "en" || row.Analysis.Done() {
			t.Fatalf("uploaded row %+v", row)
		}
		if n := w.count(t, &models.Job{}, "ref = ? AND kind = ?", row.ID, models.JobAnalyze); n != 1 {
			t.Errorf("%d analysis jobs", n)
		}
		if n := w.count(t, &models.AuditLog{}, "entity_id = ? AND action = ?", row.ID, models.AuditUpload); n != 1 {
			t.Errorf("%d upload audit rows", n)
		}
		b, err := w.svc.Image(ctx, w.st, w.patient, row.ID)
		testenv.Must(t, err, "image")
		stored, _ := io.ReadAll(b.Body)
		b.Body.Close()
		if !bytes.Equal(stored, photo(t, 256, 256)) {
			t.Error("the stored photograph is not the upload")
		}

		again, replayed, err := w.svc.Upload(ctx, w.st, w.patient, screenings.UploadInput{Image: spool(), Eye: "right", ClinicID: w.clinicID, IdempotencyKey: "k-1"})
		if err != nil || !replayed || again.ID != row.ID {
			t.Fatalf("replay: %v %v %v", again, replayed, err)
		}
		w.clock.Add(screenings.IdempotencyWindow + time.Second)
		later, replayed, err := w.svc.Upload(ctx, w.st, w.patient, screenings.UploadInput{Image: spool(), Eye: "right", ClinicID: w.clinicID, IdempotencyKey: "k-1"})
		if err != nil || replayed || later.ID == row.ID {
			t.Fatalf("after the window: %v %v %v", later, replayed, err)
		}
	})
}

// TestSpoolChecksTheFile: the photograph is judged by its content and size:
// not an image is UNSUPPORTED_MEDIA_TYPE, over max_image_bytes
// PAYLOAD_TOO_LARGE, under 256 px a side VALIDATION_FAILED on image, a
// truncated file refused; a good one is measured.
func TestSpoolChecksTheFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t, testenv.Engines()[0])
	ctx := context.Background()
	good := photo(t, 300, 256)
	for _, c := range []struct {
		name string
		body []byte
		want error
	}{
		{"text", []byte("hello, this is not a photograph at all"), models.ErrUnsupportedImage},
		{"too big", append(append([]byte{}, good...), make([]byte, 1<<20)...), models.ErrTooLarge},
		{"too small", photo(t, 100, 300), models.ErrInvalid},
		{"truncated", good[:len(good)/2], models.ErrInvalid},
	} {
		sp, err := w.svc.Spool(ctx, bytes.NewReader(c.body))
		if !errors.Is(err, c.want) || sp != nil {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	sp, err := w.svc.Spool(ctx, bytes.NewReader(good))
	testenv.Must(t, err, "spool")
	defer sp.Close()
	if sp.Width != 300 || sp.Height != 256 || sp.ContentType != "image/png" || sp.Size != int64(len(good)) || len(sp.SHA256) != 64 {
		t.Fatalf("spooled %+v", sp)
	}
}

// TestClaimReleaseReview: the review steps move a screening only from the
// states the rules allow, each answering the 409 that says why not.
func TestClaimReleaseReview(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newWorld(t, e)
		ctx := context.Background()
		id := w.analysed(t)
		queued := w.upload(t)
		if _, err := w.svc.Claim(ctx, w.st, w.doctorA, queued.ID); !errors.Is(err, models.ErrInvalidState) {
			t.Errorf("claim of a queued screening: %v", err)
		}
		verdict := screenings.ReviewInput{RiskLevel: "medium", Recommendation: "See an ophthalmologist within 3 months"}

		step := func(what string, err error, want error) {
			t.Helper()
			if want == nil && err != nil || want != nil && !errors.Is(err, want) {
				t.Fatalf("%s: %v, want %v", what, err, want)
			}
		}
		_, err := w.svc.Claim(ctx, w.st, w.patient, id)
		step("patient claims", err, models.ErrForbidden)
		_, err = w.svc.Claim(ctx, w.st, w.far, id)
		step("doctor of another clinic claims", err, models.ErrNotFound)
		_, err = w.svc.Review(ctx, w.st, w.doctorA, id, verdict)
		step("review unclaimed", err, models.ErrNotClaimed)

		row, err := w.svc.Claim(ctx, w.st, w.doctorA, id)
		step("A claims", err, nil)
		if row.Status != models.StatusInReview || *row.ReviewerID != w.doctorA.UserID || row.ClaimedAt == nil {
			t.Fatalf("claimed row %+v", row)
		}
		_, err = w.svc.Claim(ctx, w.st, w.doctorA, id)
		step("A claims again", err, nil)
		_, err = w.svc.Claim(ctx, w.st, w.doctorB, id)
		step("B claims A's", err, models.ErrAlreadyClaimed)
		_, err = w.svc.Release(ctx, w.st, w.doctorB, id)
		step("B releases A's", err, models.ErrNotClaimed)
		_, err = w.svc.Review(ctx, w.st, w.doctorB, id, verdict)
		step("B reviews A's", err, models.ErrNotClaimed)
		row, err = w.svc.Release(ctx, w.st, w.doctorA, id)
		step("A releases", err, nil)
		if row.Status != models.StatusAwaitingReview || row.ReviewerID != nil {
			t.Fatalf("released row %+v", row)
		}
		_, err = w.svc.Claim(ctx, w.st, w.doctorB, id)
		step("B claims", err, nil)

		bad := details(t, func() error {
			_, err := w.svc.Review(ctx, w.st, w.doctorB, id, screenings.ReviewInput{RiskLevel: "very_high", Recommendation: " "})
			return err
		}())
		if bad["riskLevel"] == "" || bad["recommendation"] == "" {
			t.Errorf("bad verdict: %v", bad)
		}
		row, err = w.svc.Review(ctx, w.st, w.doctorB, id, verdict)
		step("B reviews", err, nil)
		if row.Status != models.StatusReviewed || *row.ReviewRiskLevel != "medium" || *row.Recommendation != verdict.Recommendation || row.ReviewedAt == nil {
			t.Fatalf("reviewed row %+v", row)
		}
		if n := w.count(t, &models.Notification{}, "user_id = ? AND type = ?", w.patient.UserID, models.NoticeReviewed); n != 1 {
			t.Errorf("%d review notices to the patient", n)
		}
		if n := w.count(t, &models.OutboxMessage{}, "1 = 1"); n != 1 {
			t.Errorf("%d mails queued", n)
		}
		_, err = w.svc.Review(ctx, w.st, w.doctorB, id, verdict)
		step("B reviews again", err, models.ErrInvalidState)
		_, err = w.svc.Claim(ctx, w.st, w.doctorA, id)
		step("A claims the reviewed", err, models.ErrInvalidState)
		_, err = w.svc.Release(ctx, w.st, w.doctorB, id)
		step("B releases the reviewed", err, models.ErrInvalidState)
		for action, n := range map[string]int64{models.AuditClaim: 2, models.AuditRelease: 1, models.AuditReview: 1} {
			if got := w.count(t, &models.AuditLog{}, "entity_id = ? AND action = ?", id, action); got != n {
				t.Errorf("%d %s audit rows, want %d", got, action, n)
			}
		}
	})
}

// TestAnalysisApplied: the worker gives the analyzer the stored file as
// uploaded (it decodes nothing itself: here the file is not even an image),
// records the result rated by the profile in force, stores the vessel map,
// tells the patient and the clinic's doctors, and finishes the job; an
// ungradable result has no metrics and no risk level.
func TestAnalysisApplied(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newWorld(t, e)
		ctx := context.Background()
		row := w.upload(t)
		if _, err := w.svc.VesselMap(ctx, w.st, w.patient, row.ID, ""); !errors.Is(err, models.ErrNotReady) {
			t.Errorf("the vessel map before the analysis: %v", err)
		}
		// The analyzer is handed the stored bytes, whatever they are.
		garbage := []byte("not an image: the worker must not decode it")
		_, err := w.svc.Blobs.Put(ctx, row.ImageKey, bytes.NewReader(garbage), "image/png")
		testenv.Must(t, err, "replace the stored file")
		w.analyzer.set(gradable(0.04, 1.2), nil)
		w.runOne(t)
		if len(w.analyzer.seen) != 1 || !bytes.Equal(w.analyzer.seen[0].Bytes, garbage) || w.analyzer.seen[0].ContentType != "image/png" ||
			w.analyzer.seen[0].Width != 256 || w.analyzer.seen[0].Height != 256 {
			t.Fatalf("the analyzer was given %+v", w.analyzer.seen)
		}
		got := w.get(t, row.ID)
		v := screenings.ViewOf(got.Analysis)
		if got.Status != models.StatusAwaitingReview || v == nil || v.Analyzer != "fake" || v.Version != "fake-1" || !v.Gradable ||
			v.Quality != 0.8 || v.ProfileVersion != 1 || v.RiskLevel == nil || *v.RiskLevel != "high" || v.Metrics == nil ||
			v.Metrics.VesselDensity != 0.04 || v.Confidence == nil || len(v.Findings) != 2 || v.Findings[0].Code != "VESSEL_DENSITY_LOW" ||
			!v.CompletedAt.Equal(w.clock.Now()) || got.Attempts != 1 {
			t.Fatalf("recorded %s %+v", got.Status, v)
		}
		m, err := w.svc.VesselMap(ctx, w.st, w.patient, row.ID, "")
		testenv.Must(t, err, "vessel map")
		m.Body.Close()
		if n := w.count(t, &models.Notification{}, "screening_id = ? AND type = ?", row.ID, models.NoticeWaiting); n != 2 {
			t.Errorf("%d doctors told, want the clinic's 2", n)
		}
		if n := w.count(t, &models.Notification{}, "user_id = ? AND type = ?", w.patient.UserID, models.NoticeAnalyzed); n != 1 {
			t.Errorf("%d analysed notices to the patient", n)
		}
		if n := w.count(t, &models.Job{}, "ref = ? AND finished_at IS NOT NULL", row.ID); n != 1 {
			t.Errorf("the job is not finished")
		}

		poor := w.upload(t)
		w.analyzer.set(&analysis.Result{Analyzer: "fake", Version: "fake-1", Quality: 0.2,
			QualityDetail: analysis.Quality{Reasons: []string{"too dark"}}}, nil)
		w.runOne(t)
		pv := screenings.ViewOf(w.get(t, poor.ID).Analysis)
		if pv == nil || pv.Gradable || pv.Metrics != nil || pv.RiskLevel != nil || pv.Confidence != nil ||
			len(pv.Findings) != 1 || pv.Findings[0].Code != "UNGRADABLE_IMAGE" {
			t.Fatalf("ungradable recorded as %+v", pv)
		}
		if _, err := w.svc.VesselMap(ctx, w.st, w.patient, poor.ID, ""); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("a vessel map without one: %v", err)
		}
	})
}

// TestAnalysisFailures: an analyzer's refusal fails the screening at once
// (ANALYSIS_FAILED), a file that does not decode too (IMAGE_UNREADABLE), and
// the patient is told; a passing fault is retried and does not fail it.
func TestAnalysisFailures(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newWorld(t, e)
		for _, c := range []struct {
			err    error
			status string // processing: queued or processing, waiting for its retry
			code   string
		}{
			{errors.New("model server busy"), models.StatusProcessing, ""},
			{fault.Permanent(errors.New("model server refused the image")), models.StatusFailed, screenings.FailureAnalysis},
			{func() error { _, err := (analysis.Image{Bytes: []byte("x")}).Decode(); return err }(), models.StatusFailed, screenings.FailureImageUnreadable},
		} {
			row := w.upload(t)
			w.analyzer.set(nil, c.err)
			w.runOne(t)
			got := w.get(t, row.ID)
			if got.Status != c.status && !(c.status == models.StatusProcessing && got.Status == models.StatusQueued) || c.code != "" && (got.FailureCode == nil || *got.FailureCode != c.code) || got.Analysis.Done() {
				t.Errorf("%v: status %s failure %v", c.err, got.Status, got.FailureCode)
			}
			if c.status == models.StatusFailed {
				if n := w.count(t, &models.Notification{}, "screening_id = ? AND type = ?", row.ID, models.NoticeFailed); n != 1 {
					t.Errorf("%v: %d failure notices", c.err, n)
				}
				continue
			}
			// Not failed: put off for a retry; the next run records it.
			w.clock.Add(time.Minute)
			w.analyzer.set(gradable(0.12, 1.1), nil)
			w.runOne(t)
			if got := w.get(t, row.ID); got.Status != models.StatusAwaitingReview || got.Attempts != 2 {
				t.Errorf("after the retry: %s, %d attempts", got.Status, got.Attempts)
			}
		}
	})
}
