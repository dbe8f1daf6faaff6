package tests

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"aura/analysis"
	"aura/app"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// fixedAnalyzer returns, for each analysis, the metrics the test set last
// (gradable), without looking at the image: tests choose the results.
type fixedAnalyzer struct {
	mu   sync.Mutex
	next analysis.Metrics
}

func (f *fixedAnalyzer) Name() string { return "vessels" }

func (f *fixedAnalyzer) set(m analysis.Metrics) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = m
}

func (f *fixedAnalyzer) Analyze(ctx context.Context, _ analysis.Image) (*analysis.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.next
	conf := 0.9
	return &analysis.Result{Analyzer: "vessels", Version: "vessels-test", Gradable: true, Quality: 0.9,
		QualityDetail: analysis.Quality{Score: 0.9}, Confidence: &conf, Metrics: &m}, nil
}

// metricsOf are normal metrics with the vessel density and tortuosity given.
func metricsOf(vd, tort float64) analysis.Metrics {
	return analysis.Metrics{VesselDensity: vd, FractalDimension: 1.5, Tortuosity: tort, MeanVesselWidthPx: 6}
}

type trendOut struct {
	Eye    string
	Points []struct {
		ScreeningID string
		TakenAt     time.Time
		Metrics     struct{ VesselDensity, FractalDimension, Tortuosity, MeanVesselWidthPx float64 }
		RiskLevel   *string
	}
	Changes []struct {
		Metric                           string
		Baseline, Latest, RelativeChange float64
		Flag                             string
	}
	Disclaimer string
}

type alertOut struct {
	ID, ClinicID, ScreeningID, Kind, Level, Status string
	Patient                                        struct{ ID, PatientCode, FullName string }
	AcknowledgedBy, ResolvedBy                     *struct{ UserID string }
	Note                                           *string
}

type alertNotice struct {
	Type, Title, Body string
	ScreeningID       *string
}

func noticesOfType(t *testing.T, s *testenv.Server, token, kind string) []alertNotice {
	t.Helper()
	var page struct{ Items []alertNotice }
	s.Do(t, "GET", "/api/notifications?pageSize=100", nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	var out []alertNotice
	for _, n := range page.Items {
		if n.Type == kind {
			out = append(out, n)
		}
	}
	return out
}

// mailsTo are the subjects of the outbox messages of kind to recipient.
func mailsTo(t *testing.T, s *testenv.Server, kind, recipient string) []string {
	t.Helper()
	var rows []models.OutboxMessage
	testenv.Must(t, s.App.DB.Where("kind = ? AND recipient = ?", kind, recipient).Find(&rows).Error, "outbox")
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Subject)
	}
	return out
}

func setLanguage(t *testing.T, s *testenv.Server, token, lang string) {
	t.Helper()
	s.Do(t, "PATCH", "/api/auth/me", map[string]any{"language": lang}, token).Expect(t, http.StatusOK, "")
}

func listAlerts(t *testing.T, s *testenv.Server, token, clinicID, query string) []alertOut {
	t.Helper()
	var page struct {
		Items []alertOut
		Total int
	}
	s.Do(t, "GET", "/api/clinics/"+clinicID+"/alerts"+query, nil, token).Expect(t, http.StatusOK, "").Data(t, &page)
	if page.Total != len(page.Items) {
		t.Fatalf("total %d for %d items", page.Total, len(page.Items))
	}
	return page.Items
}

// TestFollowUpTrendsAndAlerts: results with chosen metrics make trend
// points (oldest first, values as measured) and changes (computed here);
// a metric past its threshold adds TREND_CHANGE; a high result or a trend
// change opens one alert with the result (a low or medium one none), told
// to every doctor of the clinic (or the assigned one only) and to its
// admins, in each one's language; alerts are listed, acknowledged and
// resolved, with their 400/403/404/409; trends follow the patient's
// visibility.
func TestFollowUpTrendsAndAlerts(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		fa := &fixedAnalyzer{}
		s.App.Screenings.Analyzer = fa
		setLanguage(t, s, w.d1.Token, "vi")
		setLanguage(t, s, w.ca1.Token, "en")
		d3 := makeDoctor(t, s, w.admin.Token, "doctor.three@clinic.example")
		addMember(t, s, w.c1, d3.ID, "DOCTOR")
		pat := signUp(t, s, "patient.nine@patient.example")
		jpg, _ := fundus(t)
		send := func(eye string, m analysis.Metrics) string {
			t.Helper()
			fa.set(m)
			var sc screening
			upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": eye, "clinicId": w.c1}}, nil).
				Expect(t, http.StatusAccepted, "").Data(t, &sc)
			if analyse(t, s) != 1 {
				t.Fatal("not analysed")
			}
			return sc.ID
		}

		// No result yet: empty, not an error.
		var tr trendOut
		s.Do(t, "GET", "/api/patients/me/trends?eye=left", nil, pat.Token).Expect(t, http.StatusOK, "").Data(t, &tr)
		if tr.Eye != "left" || len(tr.Points) != 0 || len(tr.Changes) != 0 || tr.Disclaimer == "" {
			t.Fatalf("empty trends %+v", tr)
		}

		first := send("left", metricsOf(0.12, 1.25))  // low, the baseline
		medium := send("left", metricsOf(0.11, 1.35)) // medium (tortuosity > 1.3), +8% and -8%: no alert
		trend := send("left", metricsOf(0.085, 1.25)) // low by the rules, density -29% > 25%: TREND_CHANGE
		high := send("left", metricsOf(0.04, 1.3))    // high (density < 0.05), and -67%
		right := send("right", metricsOf(0.03, 1.1))  // the other eye: high, its own baseline
		for id, want := range map[string][]string{
			first: nil, medium: {"TORTUOSITY_HIGH"}, trend: {"TREND_CHANGE"},
			high: {"VESSEL_DENSITY_LOW", "TREND_CHANGE", "VESSEL_DENSITY_LOW"}, right: {"VESSEL_DENSITY_LOW", "VESSEL_DENSITY_LOW"},
		} {
			sc := getScreening(t, s, pat.Token, id)
			var codes []string
			for _, f := range sc.Analysis.Findings {
				codes = append(codes, f.Code)
				if f.Code == "TREND_CHANGE" && f.Severity != "high" {
					t.Errorf("TREND_CHANGE severity %s", f.Severity)
				}
			}
			if strings.Join(codes, ",") != strings.Join(want, ",") {
				t.Errorf("findings of %s: %v, want %v (%+v)", id, codes, want, sc.Analysis.Findings)
			}
		}

		// Trends, as the patient and as the clinic's doctor.
		for _, get := range []func() *testenv.Response{
			func() *testenv.Response { return s.Do(t, "GET", "/api/patients/me/trends?eye=left", nil, pat.Token) },
			func() *testenv.Response {
				return s.Do(t, "GET", "/api/patients/"+pat.ID+"/trends?eye=left", nil, w.d1.Token)
			},
		} {
			var tr trendOut
			get().Expect(t, http.StatusOK, "").Data(t, &tr)
			wantIDs := []string{first, medium, trend, high}
			wantVD := []float64{0.12, 0.11, 0.085, 0.04}
			wantLevel := []string{"low", "medium", "low", "high"}
			if len(tr.Points) != 4 {
				t.Fatalf("points %+v", tr.Points)
			}
			for i, p := range tr.Points {
				if p.ScreeningID != wantIDs[i] || p.Metrics.VesselDensity != wantVD[i] || p.RiskLevel == nil || *p.RiskLevel != wantLevel[i] {
					t.Errorf("point %d: %+v", i, p)
				}
				if i > 0 && p.TakenAt.Before(tr.Points[i-1].TakenAt) {
					t.Errorf("points out of order")
				}
			}
			rel := (0.04 - 0.12) / 0.12
			if len(tr.Changes) != 1 || tr.Changes[0].Metric != "vesselDensity" || tr.Changes[0].Baseline != 0.12 ||
				tr.Changes[0].Latest != 0.04 || math.Abs(tr.Changes[0].RelativeChange-rel) > 1e-9 || tr.Changes[0].Flag != "decline" {
				t.Errorf("changes %+v, want vesselDensity %v decline", tr.Changes, rel)
			}
		}
		if rows := auditLogs(t, s, w.admin.Token, "action=patient.trends.read&entityId="+pat.ID); len(rows) != 1 {
			t.Errorf("trend reads audited %d times, want 1 (the doctor's)", len(rows))
		}
		r := s.Do(t, "GET", "/api/patients/me/trends?eye=up", testenv.Invalid(nil), pat.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["eye"]; !ok {
			t.Errorf("bad eye: %s", r.Body)
		}
		s.Do(t, "GET", "/api/patients/"+pat.ID+"/trends", testenv.Invalid(nil), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "GET", "/api/patients/"+pat.ID+"/trends?eye=left", nil, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/patients/"+pat.ID+"/trends?eye=left", nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/patients/"+pat.ID+"/trends?eye=left", nil, pat.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		var lonely trendOut
		s.Do(t, "GET", "/api/patients/me/trends?eye=right", nil, w.lonely.Token).Expect(t, http.StatusOK, "").Data(t, &lonely)
		if len(lonely.Points) != 0 || len(lonely.Changes) != 0 {
			t.Errorf("lonely %+v", lonely)
		}

		// Alerts: the trend change, the high left and the high right result.
		got := listAlerts(t, s, w.d1.Token, w.c1, "")
		kinds := map[string]string{}
		for _, a := range got {
			kinds[a.ScreeningID] = a.Kind + "/" + a.Level + "/" + a.Status
			if a.ClinicID != w.c1 || a.Patient.ID != pat.ID || a.Patient.PatientCode == "" {
				t.Errorf("alert %+v", a)
			}
		}
		if len(got) != 3 || kinds[trend] != "TREND_CHANGE/low/open" || kinds[high] != "HIGH_RISK/high/open" || kinds[right] != "HIGH_RISK/high/open" {
			t.Fatalf("alerts %v", kinds)
		}
		// Told to every doctor of c1 (no doctor assigned) and its admin, in
		// their language; not to c2's.
		if n := noticesOfType(t, s, w.d1.Token, "ALERT_OPENED"); len(n) != 3 || !strings.Contains(n[0].Title, "Cảnh báo") {
			t.Errorf("d1 notices %+v", n)
		}
		if n := noticesOfType(t, s, d3.Token, "ALERT_OPENED"); len(n) != 3 || !strings.Contains(n[0].Title, "alert") {
			t.Errorf("d3 notices %+v", n)
		}
		if n := noticesOfType(t, s, w.ca1.Token, "ALERT_OPENED"); len(n) != 3 || !strings.Contains(n[0].Title, "alert") {
			t.Errorf("ca1 notices %+v", n)
		}
		if n := noticesOfType(t, s, w.d2.Token, "ALERT_OPENED"); len(n) != 0 {
			t.Errorf("d2 told %+v", n)
		}
		if m := mailsTo(t, s, models.MailAlertOpened, w.d1.Email); len(m) != 3 || !strings.Contains(m[0], "Cảnh báo") {
			t.Errorf("d1 mails %v", m)
		}
		if m := mailsTo(t, s, models.MailAlertOpened, w.ca1.Email); len(m) != 3 || !strings.Contains(m[0], "alert") {
			t.Errorf("ca1 mails %v", m)
		}

		// An assigned doctor is the only doctor told.
		an := enrol(t, s, w.t1.Token, w.c1, map[string]any{"fullName": "Nguyễn Văn An"})
		s.Do(t, "PUT", "/api/clinics/"+w.c1+"/patients/"+an.ID+"/doctor", map[string]any{"doctorId": d3.ID}, w.ca1.Token).Expect(t, http.StatusOK, "")
		fa.set(metricsOf(0.045, 1.1))
		var anSc screening
		staffUpload(t, s, w.t1.Token, w.c1, an.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &anSc)
		analyse(t, s)
		count := func(token string) int {
			n := 0
			for _, x := range noticesOfType(t, s, token, "ALERT_OPENED") {
				if x.ScreeningID != nil && *x.ScreeningID == anSc.ID {
					n++
				}
			}
			return n
		}
		if count(d3.Token) != 1 || count(w.d1.Token) != 0 || count(w.ca1.Token) != 1 {
			t.Errorf("assigned: d3 %d, d1 %d, ca1 %d", count(d3.Token), count(w.d1.Token), count(w.ca1.Token))
		}

		// The list: filters, roles, another clinic.
		if open := listAlerts(t, s, w.ca1.Token, w.c1, "?status=open&page=1&pageSize=50"); len(open) != 4 {
			t.Errorf("open %d", len(open))
		}
		listAlerts(t, s, w.admin.Token, w.c1, "")
		r = s.Do(t, "GET", "/api/clinics/"+w.c1+"/alerts?status=closed", testenv.Invalid(nil), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["status"]; !ok {
			t.Errorf("bad status: %s", r.Body)
		}
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/alerts", nil, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/alerts", nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+w.c1+"/alerts", nil, pat.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		if l := listAlerts(t, s, w.d2.Token, w.c2, ""); len(l) != 0 {
			t.Errorf("c2 alerts %+v", l)
		}

		// Acknowledge, resolve, and the transitions refused.
		var id string
		for _, a := range got {
			if a.ScreeningID == high {
				id = a.ID
			}
		}
		s.Do(t, "POST", "/api/alerts/"+id+"/acknowledge", nil, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/alerts/"+id+"/acknowledge", nil, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/alerts/"+id+"/acknowledge", nil, pat.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/alerts/00000000-0000-4000-8000-000000000000/acknowledge", nil, w.d1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		var a alertOut
		s.Do(t, "POST", "/api/alerts/"+id+"/acknowledge", nil, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &a)
		if a.Status != "acknowledged" || a.AcknowledgedBy == nil || a.AcknowledgedBy.UserID != w.d1.ID || a.ResolvedBy != nil {
			t.Errorf("acknowledged %+v", a)
		}
		s.Do(t, "POST", "/api/alerts/"+id+"/acknowledge", nil, w.d1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
		for _, bad := range []string{"a\x07b", strings.Repeat("é", 1001)} {
			r := s.Do(t, "POST", "/api/alerts/"+id+"/resolve", testenv.Invalid(map[string]any{"note": bad}), w.ca1.Token).
				Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if _, ok := r.Env.Details["note"]; !ok {
				t.Errorf("bad note: %s", r.Body)
			}
		}
		s.Do(t, "POST", "/api/alerts/"+id+"/resolve", map[string]any{"note": "x"}, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/alerts/"+id+"/resolve", map[string]any{"note": "Seen; recalled for a repeat photo.\nBooked."}, w.ca1.Token).
			Expect(t, http.StatusOK, "").Data(t, &a)
		if a.Status != "resolved" || a.ResolvedBy == nil || a.ResolvedBy.UserID != w.ca1.ID || a.Note == nil || !strings.HasPrefix(*a.Note, "Seen") {
			t.Errorf("resolved %+v", a)
		}
		s.Do(t, "POST", "/api/alerts/"+id+"/resolve", map[string]any{}, w.ca1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
		s.Do(t, "POST", "/api/alerts/"+id+"/acknowledge", nil, w.ca1.Token).Expect(t, http.StatusConflict, "INVALID_STATE")
		// An open alert may be resolved straight away, without a note.
		for _, x := range got {
			if x.ScreeningID == right {
				s.Do(t, "POST", "/api/alerts/"+x.ID+"/resolve", nil, w.d1.Token).Expect(t, http.StatusOK, "").Data(t, &a)
				if a.Status != "resolved" || a.Note != nil {
					t.Errorf("resolved without note %+v", a)
				}
			}
		}
		if l := listAlerts(t, s, w.d1.Token, w.c1, "?status=resolved"); len(l) != 2 {
			t.Errorf("resolved %d", len(l))
		}
		// The record with an alert joins an account that has its own
		// record: the alert follows the merge.
		acct := signUp(t, s, "an.account@patient.example")
		s.Do(t, "GET", "/api/patients/me", nil, acct.Token).Expect(t, http.StatusOK, "")
		testenv.Must(t, repositories.New(s.App.DB.WithContext(testenv.Ctx(t))).Tx(func(tx *repositories.Store) error {
			return tx.Patients.Join(an.ID, acct.ID, time.Now().UTC())
		}), "join")
		for _, x := range listAlerts(t, s, w.ca1.Token, w.c1, "") {
			if x.ScreeningID == anSc.ID && x.Patient.ID != acct.ID {
				t.Errorf("alert after the merge: %+v", x)
			}
		}
		for action, n := range map[string]int{"alert.acknowledge": 1, "alert.resolve": 1} {
			if rows := auditLogs(t, s, w.admin.Token, "action="+action+"&entityId="+id); len(rows) != n {
				t.Errorf("%s audited %d times", action, len(rows))
			}
		}
	})
}

// TestAlertEscalationOnce: two instances on one database escalate the
// alerts still open after alerts.escalate_after at the same moment: each
// clinic admin is told once per alert (notice and mail, in their
// language); an acknowledged alert and a recent one are not escalated; a
// later run escalates nothing more.
func TestAlertEscalationOnce(t *testing.T) {
	t.Parallel()
	for _, e := range testenv.Engines() {
		if e.Name == "sqlite-memory" {
			continue // two instances need one database
		}
		t.Run(e.Name, func(t *testing.T) {
			uri := e.URI(t)
			w := newStaffWorld(t, uri)
			s1 := w.s
			s2 := testenv.Start(t, testenv.Config(t, uri, nil))
			fa := &fixedAnalyzer{}
			s1.App.Screenings.Analyzer = fa
			ca1b := signUp(t, s1, "manager.bis@clinic.example")
			addMember(t, s1, w.c1, ca1b.ID, "CLINIC_ADMIN")
			setLanguage(t, s1, ca1b.Token, "vi")
			pat := signUp(t, s1, "hoa@patient.example")
			jpg, _ := fundus(t)
			send := func() string {
				fa.set(metricsOf(0.03, 1.1))
				var sc screening
				upload(t, s1, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": w.c1}}, nil).
					Expect(t, http.StatusAccepted, "").Data(t, &sc)
				analyse(t, s1)
				return sc.ID
			}
			stale, acked := send(), send()
			alerts := listAlerts(t, s1, w.ca1.Token, w.c1, "")
			for _, a := range alerts {
				if a.ScreeningID == acked {
					s1.Do(t, "POST", "/api/alerts/"+a.ID+"/acknowledge", nil, w.d1.Token).Expect(t, http.StatusOK, "")
				}
			}
			clock := testenv.NewClock()
			var hs []*app.Housekeeper
			for _, s := range []*testenv.Server{s1, s2} {
				h := app.NewHousekeeper(s.App.DB, s.App.Cfg.Housekeeping, testenv.Logger(t))
				h.Clock, h.Alerts = clock.Now, s.App.NewAlerts()
				hs = append(hs, h)
			}
			clock.Add(23 * time.Hour)
			if n, err := hs[0].EscalateAlerts(testenv.Ctx(t)); err != nil || n != 0 {
				t.Fatalf("before the delay: %d %v", n, err)
			}
			clock.Add(2 * time.Hour)
			// An alert opened now (the test clock's now) is not due.
			s1.App.Screenings.Alerts.Clock = clock.Now
			fresh := send()
			counts := make([]int, 2)
			for _, err := range testenv.Race(2, func(i int) error {
				n, err := hs[i].EscalateAlerts(testenv.Ctx(t))
				counts[i] = n
				return err
			}) {
				testenv.Must(t, err, "escalate")
			}
			if counts[0]+counts[1] != 1 {
				t.Fatalf("escalated %v, want one alert once", counts)
			}
			for _, h := range hs {
				if n, err := h.EscalateAlerts(testenv.Ctx(t)); err != nil || n != 0 {
					t.Fatalf("again: %d %v", n, err)
				}
			}
			for _, admin := range []struct {
				p     person
				title string
			}{{w.ca1, "still open"}, {ca1b, "chưa được xử lý"}} {
				n := noticesOfType(t, s1, admin.p.Token, "ALERT_ESCALATED")
				if len(n) != 1 || n[0].ScreeningID == nil || *n[0].ScreeningID != stale || !strings.Contains(n[0].Title, admin.title) {
					t.Errorf("%s escalation notices %+v", admin.p.Email, n)
				}
				if m := mailsTo(t, s1, models.MailAlertEscalated, admin.p.Email); len(m) != 1 {
					t.Errorf("%s escalation mails %v", admin.p.Email, m)
				}
			}
			if n := noticesOfType(t, s1, w.d1.Token, "ALERT_ESCALATED"); len(n) != 0 {
				t.Errorf("doctor told of escalation %+v", n)
			}
			for _, a := range listAlerts(t, s2, w.ca1.Token, w.c1, "?status=open") {
				if a.ScreeningID == stale {
					continue
				}
				if a.ScreeningID != fresh {
					t.Errorf("open alert %+v", a)
				}
			}
		})
	}
}

// TestProfileTrends: the risk profile carries the default trend
// thresholds; a PUT may replace them (validated: known metric, once,
// positive) or, leaving them out, keep them.
func TestProfileTrends(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		adm := makeAdmin(t, s, "admin@clinic.example")
		type profile struct {
			Version int
			Rules   []map[string]any
			Trends  []struct {
				Metric            string
				MaxRelativeChange float64
			}
		}
		var p profile
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if len(p.Trends) != 4 || p.Trends[0].Metric != "vesselDensity" || p.Trends[0].MaxRelativeChange != 0.25 {
			t.Fatalf("default trends %+v", p.Trends)
		}
		rule := map[string]any{"metric": "tortuosity", "above": 1.4, "riskLevel": "high"}
		s.Do(t, "PUT", "/api/admin/analysis-profile", map[string]any{"rules": []any{rule}}, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 2 || len(p.Trends) != 4 {
			t.Fatalf("trends kept %+v", p)
		}
		s.Do(t, "PUT", "/api/admin/analysis-profile", map[string]any{"rules": []any{rule},
			"trends": []any{map[string]any{"metric": "avr", "maxRelativeChange": 0.1}}}, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 3 || len(p.Trends) != 1 || p.Trends[0].Metric != "avr" {
			t.Fatalf("trends replaced %+v", p)
		}
		r := s.Do(t, "PUT", "/api/admin/analysis-profile", testenv.Invalid(map[string]any{"rules": []any{}, "trends": []any{
			map[string]any{"metric": "cupToDisc", "maxRelativeChange": 0.1},
			map[string]any{"metric": "avr", "maxRelativeChange": 0},
			map[string]any{"metric": "avr", "maxRelativeChange": 0.2},
		}}), adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		for _, f := range []string{"trends[0].metric", "trends[1].maxRelativeChange", "trends[2].metric"} {
			if _, ok := r.Env.Details[f]; !ok {
				t.Errorf("no %s: %s", f, r.Body)
			}
		}
		s.Do(t, "GET", "/api/admin/analysis-profile", nil, adm).Expect(t, http.StatusOK, "").Data(t, &p)
		if p.Version != 3 || len(p.Trends) != 1 {
			t.Errorf("a refused profile changed it: %+v", p)
		}
	})
}
