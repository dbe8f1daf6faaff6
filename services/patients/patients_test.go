package patients_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/services/patients"
)

func TestNewCode(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^AU-[ABCDEFGHJKMNPQRSTVWXYZ2-9]{4}-[ABCDEFGHJKMNPQRSTVWXYZ2-9]{4}$`)
	seen := map[string]bool{}
	for range 1000 {
		c := patients.NewCode()
		if !re.MatchString(c) || seen[c] {
			t.Fatalf("code %q (seen before: %v)", c, seen[c])
		}
		seen[c] = true
	}
}

// TestPatientProfile: a patient's profile is made on first read; their own
// changes are checked (the year against the clock, notes by the one text
// rule, blank notes become null); a doctor who has none of the patient's
// screenings gets NOT_FOUND, a patient FORBIDDEN, an admin the profile.
func TestPatientProfile(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		st := repositories.New(testenv.OpenDB(t, e))
		ctx := testenv.Ctx(t)
		svc := &patients.Service{Clock: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }}
		u, me := testenv.Account(t, st, "p@example.com")
		_, other := testenv.Account(t, st, "q@example.com")
		_, doctor := testenv.Account(t, st, "d@example.com", models.RoleDoctor)
		_, admin := testenv.Account(t, st, "a@example.com", models.RoleAdmin)

		p, err := svc.Me(ctx, st, me)
		testenv.Must(t, err, "me")
		if p.UserID == nil || *p.UserID != u.ID || p.ID != u.ID || p.PatientCode == "" {
			t.Fatalf("profile: %+v", p)
		}
		var inv *models.Error
		_, err = svc.UpdateMe(ctx, st, me, patients.Change{MedicalHistory: patients.History{
			DiabetesSinceYear: models.Opt[int]{Set: true, Value: 2031},
			Notes:             models.Opt[string]{Set: true, Value: "a\u200bb"},
		}})
		if !errors.As(err, &inv) || inv.Details["medicalHistory.notes"] != "must not contain control, bidi or invisible characters" ||
			inv.Details["medicalHistory.diabetesSinceYear"] == "" {
			t.Fatalf("bad change: %v", err)
		}
		p, err = svc.UpdateMe(ctx, st, me, patients.Change{MedicalHistory: patients.History{
			DiabetesSinceYear: models.Opt[int]{Set: true, Value: 2030},
			Notes:             models.Opt[string]{Set: true, Value: "line one\n\tline two "},
		}})
		testenv.Must(t, err, "change")
		if p.HistoryNotes == nil || *p.HistoryNotes != "line one\n\tline two" || *p.DiabetesSinceYear != 2030 {
			t.Fatalf("changed: %+v", p)
		}
		p, err = svc.UpdateMe(ctx, st, me, patients.Change{MedicalHistory: patients.History{Notes: models.Opt[string]{Set: true, Value: "  "}}})
		testenv.Must(t, err, "blank notes")
		if p.HistoryNotes != nil {
			t.Fatalf("blank notes kept: %q", *p.HistoryNotes)
		}

		if _, err := svc.Get(ctx, st, other, u.ID); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("patient read another: %v", err)
		}
		if _, err := svc.Get(ctx, st, doctor, u.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unrelated doctor: %v", err)
		}
		got, err := svc.Get(ctx, st, admin, u.ID)
		testenv.Must(t, err, "admin get")
		if got.PatientCode != p.PatientCode {
			t.Fatalf("admin sees %+v", got)
		}
	})
}
