package audit_test

import (
	"errors"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
)

// TestAuditTrail: Record writes the actor, role and time given; List is for
// admins only, filters by entity and whole UTC days, and names each bad
// filter in the details.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		st := repositories.New(testenv.OpenDB(t, e))
		ctx := testenv.Ctx(t)
		_, admin := testenv.Account(t, st, "admin@example.com", models.RoleAdmin)
		_, doctor := testenv.Account(t, st, "doc@example.com", models.RoleDoctor)
		admin.IP, admin.RequestID = "192.0.2.1", "req-1"
		day1 := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
		day2 := day1.Add(2 * time.Minute)
		testenv.Must(t, audit.Record(st, admin, models.RoleAdmin, models.AuditClinicCreate, models.EntityClinic, "c1", day1), "record 1")
		testenv.Must(t, audit.Record(st, admin, models.RoleAdmin, models.AuditClinicUpdate, models.EntityClinic, "c1", day2), "record 2")
		svc := &audit.Service{}

		if _, err := svc.List(ctx, st, doctor, audit.Query{}); !errors.Is(err, models.ErrForbidden) {
			t.Fatalf("doctor read the trail: %v", err)
		}
		p, err := svc.List(ctx, st, admin, audit.Query{EntityID: "c1", From: "2026-05-01", To: "2026-05-01", Page: 1, PageSize: 10})
		testenv.Must(t, err, "list")
		if p.Total != 1 || p.Items[0].Action != models.AuditClinicCreate || *p.Items[0].IP != "192.0.2.1" || *p.Items[0].ActorRole != models.RoleAdmin {
			t.Fatalf("1 May: %+v", p.Items)
		}
		p, err = svc.List(ctx, st, admin, audit.Query{EntityID: "c1", Page: 1, PageSize: 10})
		testenv.Must(t, err, "list all")
		if p.Total != 2 || p.Items[0].Action != models.AuditClinicUpdate {
			t.Fatalf("newest first: %+v", p.Items)
		}
		var inv *models.Error
		_, err = svc.List(ctx, st, admin, audit.Query{From: "yesterday", EntityType: "a\x00b"})
		if !errors.As(err, &inv) || inv.Details["from"] == "" || inv.Details["entityType"] == "" {
			t.Fatalf("bad filters: %v", err)
		}
		_, err = svc.List(ctx, st, admin, audit.Query{From: "2026-05-02", To: "2026-05-01T00:00:00Z"})
		if !errors.As(err, &inv) || inv.Details["to"] != "must be after from" {
			t.Fatalf("to before from: %v", err)
		}
	})
}
