package clinics_test

import (
	"errors"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/services/clinics"
)

func ptr(s string) *string { return &s }

// TestClinicRules: only an admin creates or renames a clinic; the name is
// checked by the one text rule; a name equal up to case is CONFLICT with
// the clinic's own message; each change is audited at the service's clock.
func TestClinicRules(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		st := repositories.New(testenv.OpenDB(t, e))
		at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		svc := &clinics.Service{Clock: func() time.Time { return at }}
		ctx := testenv.Ctx(t)
		_, admin := testenv.Account(t, st, "admin@example.com", models.RoleAdmin)
		_, doctor := testenv.Account(t, st, "doc@example.com", models.RoleDoctor)

		if _, err := svc.Create(ctx, st, doctor, clinics.ClinicInput{Name: ptr("Mắt Sài Gòn")}); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("doctor created a clinic: %v", err)
		}
		var inv *models.Error
		_, err := svc.Create(ctx, st, admin, clinics.ClinicInput{Name: ptr("Mắt\u202e Sài Gòn")})
		if !errors.As(err, &inv) || inv.Details["name"] != "must not contain control, bidi or invisible characters" {
			t.Fatalf("bidi name: %v", err)
		}
		c, err := svc.Create(ctx, st, admin, clinics.ClinicInput{Name: ptr("  Mắt Sài Gòn "), Address: models.Opt[string]{Set: true, Value: " 1 Lê Lợi "}})
		testenv.Must(t, err, "create")
		if c.Name != "Mắt Sài Gòn" || c.Address == nil || *c.Address != "1 Lê Lợi" {
			t.Fatalf("not trimmed: %+v", c)
		}
		_, err = svc.Create(ctx, st, admin, clinics.ClinicInput{Name: ptr("MẮT SÀI GÒN")})
		if !errors.Is(err, models.ErrConflict) || err.(*models.Error).Message != "A clinic with this name already exists" {
			t.Fatalf("same name up to case: %v", err)
		}
		if _, err := svc.Update(ctx, st, admin, c.ID, clinics.ClinicInput{Name: ptr("")}); !errors.Is(err, models.ErrInvalid) {
			t.Fatalf("empty rename: %v", err)
		}
		u, err := svc.Update(ctx, st, admin, c.ID, clinics.ClinicInput{Name: ptr("Mắt Hà Nội")})
		testenv.Must(t, err, "rename")
		if u.Name != "Mắt Hà Nội" {
			t.Fatalf("renamed to %q", u.Name)
		}
		page, err := st.Audit.List(repositories.AuditFilter{EntityID: c.ID}, 1, 10)
		testenv.Must(t, err, "audit")
		if page.Total != 2 || page.Items[0].Action != models.AuditClinicUpdate || !page.Items[0].At.Equal(at) {
			t.Fatalf("audit rows: %+v", page.Items)
		}
	})
}

// TestAttachDoctor: only a DOCTOR account is attached, with a licence
// number checked by the text rule; the same number for another doctor is
// CONFLICT; attaching again updates.
func TestAttachDoctor(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		st := repositories.New(testenv.OpenDB(t, e))
		svc := &clinics.Service{}
		ctx := testenv.Ctx(t)
		_, admin := testenv.Account(t, st, "admin@example.com", models.RoleAdmin)
		d1, doc1 := testenv.Account(t, st, "d1@example.com", models.RoleDoctor)
		d2, _ := testenv.Account(t, st, "d2@example.com", models.RoleDoctor)
		p, _ := testenv.Account(t, st, "p@example.com")
		c, err := svc.Create(ctx, st, admin, clinics.ClinicInput{Name: ptr("Clinic")})
		testenv.Must(t, err, "create")

		var inv *models.Error
		if _, err := svc.Attach(ctx, st, admin, c.ID, p.ID, clinics.DoctorInput{LicenseNo: "L-1"}); !errors.As(err, &inv) || inv.Details["userId"] == "" {
			t.Fatalf("patient attached: %v", err)
		}
		if _, err := svc.Attach(ctx, st, admin, c.ID, d1.ID, clinics.DoctorInput{LicenseNo: " "}); !errors.As(err, &inv) || inv.Details["licenseNo"] != "is required" {
			t.Fatalf("blank licence: %v", err)
		}
		v, err := svc.Attach(ctx, st, admin, c.ID, d1.ID, clinics.DoctorInput{LicenseNo: "L-1", Specialization: ptr("retina")})
		testenv.Must(t, err, "attach")
		if v.Email != "d1@example.com" || v.Doctor.LicenseNo != "L-1" {
			t.Fatalf("view: %+v", v)
		}
		if _, err := svc.Attach(ctx, st, admin, c.ID, d2.ID, clinics.DoctorInput{LicenseNo: "L-1"}); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("licence of another doctor: %v", err)
		}
		if _, err := svc.Attach(ctx, st, admin, c.ID, d1.ID, clinics.DoctorInput{LicenseNo: "L-2"}); err != nil {
			t.Fatalf("attach again: %v", err)
		}
		me, err := svc.Me(ctx, st, doc1)
		testenv.Must(t, err, "me")
		if me.Doctor.LicenseNo != "L-2" {
			t.Fatalf("licence not updated: %+v", me.Doctor)
		}
	})
}
