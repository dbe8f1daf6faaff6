package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
)

// TestPatientVisibilityMatrix: who may read GET /api/patients/{id}, by role
// and by whether the patient sent a screening to a clinic of the caller. Not
// visible answers exactly as an unknown id does; a role that may never read
// a profile gets 403. Losing a membership or a role takes effect at once.
func TestPatientVisibilityMatrix(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newClinicWorld(t, e.URI(t))
		s := w.s
		const unknown = "22222222-2222-4222-8222-222222222222"
		targets := map[string]string{"p1": w.p1.ID, "p2": w.p2.ID, "lonely": w.lonely.ID, "unknown": unknown, "malformed": "x'; DROP TABLE users; --"}
		callers := map[string]person{"admin": w.admin, "d1": w.d1, "d2": w.d2, "p1": w.p1, "lonely": w.lonely}
		want := map[string]map[string]int{
			"admin":  {"p1": 200, "p2": 200, "lonely": 200, "unknown": 404, "malformed": 404},
			"d1":     {"p1": 200, "p2": 404, "lonely": 404, "unknown": 404, "malformed": 404},
			"d2":     {"p1": 404, "p2": 200, "lonely": 404, "unknown": 404, "malformed": 404},
			"p1":     {"p1": 403, "p2": 403, "lonely": 403, "unknown": 403, "malformed": 403},
			"lonely": {"p1": 403, "p2": 403, "lonely": 403, "unknown": 403, "malformed": 403},
		}
		notFound := string(s.Do(t, "GET", "/api/patients/"+unknown, nil, w.d1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND").Body)
		for cn, caller := range callers {
			for tn, target := range targets {
				r := s.Do(t, "GET", "/api/patients/"+strings.ReplaceAll(target, " ", "%20"), nil, caller.Token)
				if r.Status != want[cn][tn] {
					t.Errorf("%s reads %s: %d, want %d: %s", cn, tn, r.Status, want[cn][tn], r.Body)
				}
				if r.Status == http.StatusNotFound && string(r.Body) != notFound {
					t.Errorf("%s reads %s: 404 body %s differs from an unknown id's %s", cn, tn, r.Body, notFound)
				}
			}
		}
		// Membership ends: the next request no longer sees the patient.
		s.Do(t, "DELETE", "/api/admin/clinics/"+w.c1+"/doctors/"+w.d1.ID, nil, w.admin.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, w.d1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		attach(t, s, w.admin.Token, w.c1, w.d1.ID, "BS-001").Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, w.d1.Token).Expect(t, http.StatusOK, "")
		// The role goes: the same token gets 403 at once.
		s.Do(t, "PATCH", "/api/admin/users/"+w.d1.ID, map[string]any{"roles": []string{"PATIENT"}}, w.admin.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		// Deactivation: every request of the account is refused.
		s.Do(t, "PATCH", "/api/admin/users/"+w.d2.ID, map[string]any{"isActive": false}, w.admin.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/patients/"+w.p2.ID, nil, w.d2.Token).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
}

type auditRow struct {
	ID                                uint64
	At                                time.Time
	ActorID, ActorRole, IP, RequestID *string
	Action, EntityType, EntityID      string
}

func auditLogs(t *testing.T, s *testenv.Server, adminTok, query string) []auditRow {
	t.Helper()
	var page struct {
		Items []auditRow
		Total int
	}
	s.Do(t, "GET", "/api/admin/audit-logs?"+query, nil, adminTok).Expect(t, http.StatusOK, "").Data(t, &page)
	return page.Items
}

// TestAuditTrail: reads of a patient's data by others and every write are
// recorded with actor, role, address and request id; the patient's own
// reads and refused reads are not; admins filter and page the trail; a read
// that cannot be recorded fails with 503 and a write that cannot be recorded
// does not happen.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newClinicWorld(t, e.URI(t))
		s, adm := w.s, w.admin.Token
		s.DoHeaders(t, "GET", "/api/patients/"+w.p1.ID, nil, map[string]string{"Authorization": "Bearer " + w.d1.Token, "X-Request-ID": "req-audit-1"}).
			Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, w.d2.Token).Expect(t, http.StatusNotFound, "")
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, adm).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/patients/me", nil, w.p1.Token).Expect(t, http.StatusOK, "")

		rows := auditLogs(t, s, adm, "entityType=patient&entityId="+w.p1.ID+"&action=patient.read")
		if len(rows) != 2 || *rows[0].ActorID != w.admin.ID || *rows[0].ActorRole != "ADMIN" ||
			*rows[1].ActorID != w.d1.ID || *rows[1].ActorRole != "DOCTOR" || *rows[1].RequestID != "req-audit-1" ||
			*rows[1].IP != "127.0.0.1" || rows[0].ID <= rows[1].ID {
			t.Fatalf("patient reads: %+v", rows)
		}
		for _, q := range []string{"action=clinic.create", "action=doctor.attach", "action=user.roles"} {
			if rows := auditLogs(t, s, adm, q); len(rows) != 2 || *rows[0].ActorRole != "ADMIN" || *rows[0].ActorID != w.admin.ID {
				t.Errorf("%s: %+v", q, rows)
			}
		}
		today := time.Now().UTC().Format(time.DateOnly)
		tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
		if all, same := auditLogs(t, s, adm, "pageSize=100"), auditLogs(t, s, adm, "pageSize=100&from="+today+"&to="+today); len(all) < 8 || len(same) != len(all) {
			t.Fatalf("today: %d of %d", len(same), len(all))
		}
		if rows := auditLogs(t, s, adm, "from="+tomorrow); len(rows) != 0 {
			t.Fatalf("tomorrow: %+v", rows)
		}
		if rows := auditLogs(t, s, adm, "pageSize=1&page=2"); len(rows) != 1 {
			t.Fatalf("paging: %+v", rows)
		}
		for _, q := range []string{"from=yesterday", "to=2026-13-01", "pageSize=101", "page=0", "from=" + tomorrow + "&to=" + today} {
			s.Do(t, "GET", "/api/admin/audit-logs?"+q, testenv.Invalid(nil), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		}
		s.Do(t, "GET", "/api/admin/audit-logs", nil, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		// The trail refuses writes: reads fail with 503, writes do not happen.
		db := s.App.DB.WithContext(testenv.Ctx(t))
		if e.Name == "postgres" {
			testenv.Must(t, db.Exec(`CREATE FUNCTION no_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit disabled'; END $$ LANGUAGE plpgsql`).Error, "fn")
			testenv.Must(t, db.Exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION no_audit()`).Error, "trigger")
		} else {
			testenv.Must(t, db.Exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_logs BEGIN SELECT RAISE(ABORT, 'audit disabled'); END`).Error, "trigger")
		}
		s.Do(t, "GET", "/api/patients/"+w.p1.ID, nil, w.d1.Token).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
		s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": "Unrecorded"}, adm).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
		testenv.Must(t, db.Exec(`DROP TRIGGER no_audit`+map[bool]string{true: " ON audit_logs", false: ""}[e.Name == "postgres"]).Error, "drop")
		var list struct{ Items []struct{ Name string } }
		s.Do(t, "GET", "/api/clinics", nil, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("a write that could not be audited happened: %+v", list.Items)
		}
	})
}

// seedAnalysis records a finished analysis of a seeded screening straight
// in the database (risk level high, a vessel map and an overlay named).
func seedAnalysis(t *testing.T, s *testenv.Server, id string) {
	t.Helper()
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Exec(`UPDATE screenings SET completed_at = ?, analyzer = 'classical',
		analyzer_version = 'test', profile_version = 1, gradable = ?, quality = 0.9, risk_level = 'high', findings_json = '[]',
		vessel_key = ?, overlay_key = ?, duration_ms = 5 WHERE id = ?`,
		time.Now().UTC(), true, "screenings/"+id+"/vessels.png", "screenings/"+id+"/overlay.jpg", id).Error, "seed analysis")
}

// TestStaffRoleVisibilityMatrix: what a CLINIC_ADMIN and a TECHNICIAN of
// clinic 1 may do with the screenings and patients of their own clinic and
// of clinic 2. A CLINIC_ADMIN sees its clinic's screenings (with analysis
// and review) and patients as a doctor does but claims and reviews
// nothing (403). A TECHNICIAN lists and reads its clinic's screenings for
// intake only: the Screening comes without analysis and review, and the
// maps, overlay and report answer 403; it reads no patient profile (403).
// The other clinic's are 404, as unknown ids. Reads are audited under the
// role held in the clinic.
//
// Patients enrolled without an account join as further targets here (a
// record of clinic 1 and one of clinic 2) once such records exist.
func TestStaffRoleVisibilityMatrix(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		seedAnalysis(t, s, w.screen1)
		seedAnalysis(t, s, w.screening)
		s.Do(t, "POST", "/api/screenings/"+w.screen1+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "POST", "/api/screenings/"+w.screening+"/claim", nil, w.d2.Token).Expect(t, http.StatusOK, "")
		const unknown = "22222222-2222-4222-8222-222222222222"
		own, other := map[string]string{"ca1": w.screen1, "t1": w.screen1}, w.screening
		type cell struct{ own, other int }
		callers := map[string]person{"ca1": w.ca1, "t1": w.t1}
		want := map[string]map[string]cell{
			"ca1": {
				"GET /screenings/{id}":        {200, 404},
				"POST /screenings/{id}/claim": {403, 403}, "POST /screenings/{id}/release": {403, 403},
				"POST /screenings/{id}/review": {403, 403}, "GET /patients/{patient}": {200, 404},
			},
			"t1": {
				"GET /screenings/{id}": {200, 404}, "GET /screenings/{id}/vessels": {403, 404},
				"GET /screenings/{id}/vessels?kind=av": {403, 404}, "GET /screenings/{id}/overlay": {403, 404},
				"GET /screenings/{id}/report": {403, 404}, "POST /screenings/{id}/claim": {403, 403},
				"POST /screenings/{id}/review": {403, 403}, "GET /patients/{patient}": {403, 403},
			},
		}
		patientOf := map[string]string{w.screen1: w.p1.ID, w.screening: w.p2.ID}
		notFound := string(s.Do(t, "GET", "/api/screenings/"+unknown, nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND").Body)
		for cn, caller := range callers {
			for ep, c := range want[cn] {
				method, path, _ := strings.Cut(ep, " ")
				for _, target := range []struct {
					id   string
					want int
				}{{own[cn], c.own}, {other, c.other}} {
					p := "/api" + strings.NewReplacer("{id}", target.id, "{patient}", patientOf[target.id]).Replace(path)
					var body any
					if method == "POST" {
						body = map[string]any{}
					}
					if ep == "POST /screenings/{id}/review" {
						body = map[string]any{"riskLevel": "high", "recommendation": "Khám lại sau 3 tháng"}
					}
					r := s.Do(t, method, p, body, caller.Token)
					if r.Status != target.want {
						t.Errorf("%s %s %s: %d, want %d: %s", cn, method, p, r.Status, target.want, r.Body)
					}
					if r.Status == http.StatusNotFound && strings.HasPrefix(path, "/screenings/{id}") && path != "/screenings/{id}/vessels" &&
						string(r.Body) != notFound {
						t.Errorf("%s %s: 404 body %s differs from an unknown id's %s", cn, p, r.Body, notFound)
					}
				}
			}
		}

		type screeningOut struct {
			ID, Status string
			Analysis   *struct{ RiskLevel *string }
			Review     *struct{ Reviewer struct{ UserID string } }
			Patient    struct{ UserID, FullName, PatientCode string }
			Image      struct{ SHA256 string }
			Links      map[string]string
		}
		// The CLINIC_ADMIN reads the results and the claim.
		var sc screeningOut
		s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &sc)
		if sc.Analysis == nil || sc.Analysis.RiskLevel == nil || *sc.Analysis.RiskLevel != "high" || sc.Review == nil ||
			sc.Review.Reviewer.UserID != w.d1.ID || sc.Links["report"] == "" || sc.Links["vessels"] == "" {
			t.Errorf("clinic admin's screening %+v", sc)
		}
		// The TECHNICIAN reads the intake: no analysis, no review, no links
		// to results; the patient's identity and the image stay.
		sc = screeningOut{}
		s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.t1.Token).Expect(t, http.StatusOK, "").Data(t, &sc)
		if sc.Status != "in_review" || sc.Analysis != nil || sc.Review != nil || len(sc.Links) != 1 || sc.Links["image"] == "" ||
			sc.Patient.UserID != w.p1.ID || sc.Patient.PatientCode == "" || sc.Image.SHA256 == "" {
			t.Errorf("technician's screening %+v", sc)
		}
		raw := string(s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.t1.Token).Expect(t, http.StatusOK, "").Body)
		if strings.Contains(raw, "high") || strings.Contains(raw, "vessels") {
			t.Errorf("technician reads results: %s", raw)
		}
		// Lists: own clinic only; the technician's rows without results, and
		// a filter on the risk level finds nothing for it.
		for cn, caller := range callers {
			var page struct{ Items []screeningOut }
			s.Do(t, "GET", "/api/screenings", nil, caller.Token).Expect(t, http.StatusOK, "").Data(t, &page)
			if len(page.Items) != 1 || page.Items[0].ID != w.screen1 || (cn == "t1") != (page.Items[0].Analysis == nil) {
				t.Errorf("%s lists %+v", cn, page.Items)
			}
			page.Items = nil
			s.Do(t, "GET", "/api/screenings?riskLevel=high", nil, caller.Token).Expect(t, http.StatusOK, "").Data(t, &page)
			if len(page.Items) != map[string]int{"ca1": 1, "t1": 0}[cn] {
				t.Errorf("%s filters by risk: %+v", cn, page.Items)
			}
		}
		// Reads are audited under the role held in the clinic.
		for cn, role := range map[string]string{"ca1": "CLINIC_ADMIN", "t1": "TECHNICIAN"} {
			rows := auditLogs(t, s, w.admin.Token, "action=screening.read&entityId="+w.screen1+"&actorId="+callers[cn].ID)
			if len(rows) == 0 {
				t.Errorf("%s: reads not audited", cn)
			}
			for _, r := range rows {
				if *r.ActorRole != role {
					t.Errorf("%s read audited as %s", cn, *r.ActorRole)
				}
			}
		}
		if rows := auditLogs(t, s, w.admin.Token, "action=patient.read&entityId="+w.p1.ID+"&actorId="+w.ca1.ID); len(rows) != 1 || *rows[0].ActorRole != "CLINIC_ADMIN" {
			t.Errorf("clinic admin's patient read: %+v", rows)
		}
		if rows := auditLogs(t, s, w.admin.Token, "action=screening.report.read&actorId="+w.t1.ID); len(rows) != 0 {
			t.Errorf("refused report reads audited: %+v", rows)
		}
		// Removal from the clinic takes effect on the next request.
		s.Do(t, "DELETE", "/api/clinics/"+w.c1+"/staff/"+w.t1.ID, nil, w.ca1.Token).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.t1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/screenings/"+w.screen1, nil, w.ca1.Token).Expect(t, http.StatusOK, "")
	})
}
