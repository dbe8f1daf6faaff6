package tests

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

// oipModel is a model server speaking the Open Inference Protocol v2 REST
// for model "retina" on a fixed loopback address that can go down (refusing
// connections) and come back. mode says how it answers while up: "ok",
// "hang" (until the client gives up), or an HTTP status.
type oipModel struct {
	addr  string
	mode  atomic.Value
	calls atomic.Int64
	mu    sync.Mutex
	srv   *http.Server
}

func startOIPModel(t *testing.T) *oipModel {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	m := &oipModel{addr: ln.Addr().String()}
	m.mode.Store("ok")
	m.serve(ln)
	t.Cleanup(m.down)
	return m
}

func (m *oipModel) url() string { return "http://" + m.addr }

func (m *oipModel) serve(ln net.Listener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.srv = &http.Server{Handler: http.HandlerFunc(m.infer)}
	go func() { _ = m.srv.Serve(ln) }()
}

// down closes the listener and every connection: connections are refused.
func (m *oipModel) down() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		_ = m.srv.Close()
		m.srv = nil
	}
}

func (m *oipModel) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", m.addr)
	testenv.Must(t, err, "listen again on %s", m.addr)
	m.serve(ln)
}

func (m *oipModel) infer(w http.ResponseWriter, r *http.Request) {
	m.calls.Add(1)
	var req struct {
		Inputs []struct {
			Name     string
			Datatype string
			Data     []string
		}
	}
	if r.URL.Path != "/v2/models/retina/infer" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Inputs) != 1 ||
		req.Inputs[0].Name != "image" || req.Inputs[0].Datatype != "BYTES" || len(req.Inputs[0].Data) != 1 {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	src, err := base64.StdEncoding.DecodeString(req.Inputs[0].Data[0])
	if err != nil {
		http.Error(w, `{"error":"not base64"}`, http.StatusBadRequest)
		return
	}
	switch mode := m.mode.Load().(string); mode {
	case "ok":
	case "hang":
		<-r.Context().Done()
		return
	default:
		w.WriteHeader(map[string]int{"503": 503, "500": 500, "400": 400, "422": 422}[mode])
		_, _ = io.WriteString(w, `{"error":"`+mode+`"}`)
		return
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		http.Error(w, `{"error":"not an image"}`, http.StatusBadRequest)
		return
	}
	vm := image.NewGray(image.Rect(0, 0, cfg.Width, cfg.Height))
	for x := range cfg.Width {
		vm.Pix[cfg.Height/2*vm.Stride+x] = 255
	}
	var b bytes.Buffer
	_ = png.Encode(&b, vm)
	num := func(name string, v float64) map[string]any {
		return map[string]any{"name": name, "shape": []int{1}, "datatype": "FP32", "data": []any{v}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"model_name": "retina", "model_version": "7", "outputs": []any{
		num("vessel_density", 0.04), num("fractal_dimension", 1.55), num("tortuosity", 1.12), num("mean_vessel_width_px", 5.5),
		num("quality", 0.88), num("confidence", 0.7),
		map[string]any{"name": "gradable", "shape": []int{1}, "datatype": "BOOL", "data": []any{true}},
		map[string]any{"name": "vessel_map", "shape": []int{1}, "datatype": "BYTES", "data": []any{base64.StdEncoding.EncodeToString(b.Bytes())}},
	}})
}

// analysisJob reads the analysis job of screening id.
func analysisJob(t *testing.T, s *testenv.Server, id string) models.Job {
	t.Helper()
	var j models.Job
	testenv.Must(t, s.App.DB.Where("kind = ? AND ref = ?", models.JobAnalyze, id).First(&j).Error, "job of %s", id)
	return j
}

// skipBackoff moves the analysis runner's clock by d, so a retry due later
// is due now.
func skipBackoff(s *testenv.Server, d time.Duration) {
	prev := s.App.Analysis.Clock
	s.App.Analysis.Clock = func() time.Time { return prev.Now().Add(d) }
}

// TestOIPAnalyzer: with analysis.analyzer=oip the upload is measured by the
// model server: its outputs become the analysis (rated by the risk profile)
// and its vessel map is served. While the model server is down (refusing,
// or 503) it is waited out without using up attempts; a timeout or a 500 is
// retried after its backoff, and after analysis.max_attempts the screening
// is failed with the reason and the patient is told. A 4xx fails it at once.
func TestOIPAnalyzer(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		model := startOIPModel(t)
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{
			"AURA_ANALYSIS_ANALYZER": "oip", "AURA_ANALYSIS_OIP_URL": model.url(), "AURA_ANALYSIS_OIP_MODEL": "retina",
			"AURA_ANALYSIS_OIP_TIMEOUT": "500ms", "AURA_ANALYSIS_MAX_ATTEMPTS": "3"}))
		adm := makeAdmin(t, s, "admin@clinic.example")
		createClinic(t, s, adm, "Only Clinic")
		pat := signUp(t, s, "mai@patient.example")
		jpg := encodeJPEG(t, 512, 384, 85)
		send := func() string {
			var sc screening
			upload(t, s, pat.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &sc)
			return sc.ID
		}

		// The model answers: analysed from its outputs.
		ok := send()
		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run: %d", n)
		}
		sc := getScreening(t, s, pat.Token, ok)
		a := sc.Analysis
		if sc.Status != "awaiting_review" || a == nil || a.Analyzer != "oip" || a.Version != "retina 7" || !a.Gradable ||
			a.Quality != 0.88 || a.Confidence == nil || *a.Confidence != 0.7 || a.Metrics == nil ||
			a.Metrics.VesselDensity != 0.04 || a.Metrics.FractalDimension != 1.55 || a.Metrics.Tortuosity != 1.12 ||
			a.Metrics.MeanVesselWidthPx != 5.5 || a.RiskLevel == nil || *a.RiskLevel != "high" || a.ProfileVersion != 1 {
			t.Fatalf("analysis %+v %+v", sc, a)
		}
		status, h, body := rawGet(t, s, "/api/screenings/"+ok+"/vessels", pat.Token, nil)
		vm, err := png.Decode(bytes.NewReader(body))
		if status != 200 || h.Get("Content-Type") != "image/png" || err != nil || vm.Bounds().Dx() != 512 || vm.Bounds().Dy() != 384 {
			t.Fatalf("vessel map: %d %v %v", status, err, h)
		}

		// Down (an outage: no attempt used), then timing out (attempt 1),
		// 503 (an outage again), 500 (attempt 2), timing out (attempt 3):
		// then failed.
		id := send()
		model.down()
		start := time.Now()
		if n := analyse(t, s); n != 1 {
			t.Fatalf("try while down ran %d jobs", n)
		}
		j := analysisJob(t, s, id)
		wait := j.NextAttemptAt.Sub(start)
		if j.Attempts != 0 || j.FinishedAt != nil || j.OutageSince == nil || !strings.Contains(j.LastError, "unreachable") ||
			wait < 700*time.Millisecond || wait > 2*time.Second {
			t.Fatalf("after the refused try: %+v (next in %v)", j, wait)
		}
		if sc := getScreening(t, s, pat.Token, id); sc.Status != "processing" || sc.Failure != nil {
			t.Fatalf("between attempts %+v", sc)
		}
		if n := analyse(t, s); n != 0 {
			t.Fatalf("a retry ran %d jobs before its backoff", n)
		}
		model.up(t)
		step := func(mode string, attempts int, says string) {
			t.Helper()
			model.mode.Store(mode)
			skipBackoff(s, 10*time.Minute)
			start := time.Now()
			if n := analyse(t, s); n != 1 {
				t.Fatalf("%s ran %d jobs", mode, n)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("the %s try took %v", mode, took)
			}
			j = analysisJob(t, s, id)
			if j.Attempts != attempts || !strings.Contains(j.LastError, says) {
				t.Fatalf("after %s: %+v", mode, j)
			}
		}
		step("hang", 1, "unreachable")
		step("503", 1, "503") // an outage: the attempt is given back
		step("500", 2, "500")
		step("hang", 3, "unreachable")
		if j.FinishedAt == nil || !j.Failed {
			t.Fatalf("after the last attempt: %+v", j)
		}
		sc = getScreening(t, s, pat.Token, id)
		if sc.Status != "failed" || sc.Failure == nil || sc.Failure.Code != "ANALYSIS_FAILED" || sc.Failure.Attempts != 3 ||
			sc.Failure.Message != "The image could not be analysed after several attempts" || sc.Analysis != nil {
			t.Fatalf("failed screening %+v %+v", sc, sc.Failure)
		}
		skipBackoff(s, time.Hour)
		if n := analyse(t, s); n != 0 {
			t.Fatalf("a given-up job ran again (%d)", n)
		}

		// A 4xx is not retried.
		model.mode.Store("422")
		refused := send()
		if n := analyse(t, s); n != 1 {
			t.Fatalf("jobs run: %d", n)
		}
		if j := analysisJob(t, s, refused); j.Attempts != 1 || !j.Failed || !strings.Contains(j.LastError, "422") {
			t.Fatalf("refused job %+v", j)
		}
		if sc := getScreening(t, s, pat.Token, refused); sc.Status != "failed" || sc.Failure == nil || sc.Failure.Attempts != 1 ||
			sc.Failure.Message != "The analyzer could not analyse this image" {
			t.Fatalf("refused screening %+v %+v", sc, sc.Failure)
		}

		// The patient was told of the analysis and of each failure.
		var inbox struct {
			Items []struct{ Type, ScreeningID string }
		}
		s.Do(t, "GET", "/api/notifications", nil, pat.Token).Expect(t, http.StatusOK, "").Data(t, &inbox)
		got := map[string]string{}
		for _, n := range inbox.Items {
			got[n.ScreeningID] += n.Type + " "
		}
		if len(inbox.Items) != 3 || got[ok] != "SCREENING_ANALYZED " || got[id] != "SCREENING_FAILED " || got[refused] != "SCREENING_FAILED " {
			t.Fatalf("notices %v", got)
		}
	})
}
