package oip

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aura/analysis"
	"aura/fault"
)

// modelServer is an in-process model server speaking the Open Inference
// Protocol v2 REST for one model: it checks the request as KServe or Triton
// would and answers with what answer returns (status, body).
type modelServer struct {
	*httptest.Server
	calls  atomic.Int64
	answer func(w http.ResponseWriter, r *http.Request, image []byte)
}

func startModel(t *testing.T, model string, answer func(w http.ResponseWriter, r *http.Request, image []byte)) *modelServer {
	t.Helper()
	m := &modelServer{answer: answer}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/v2/models/"+model+"/infer" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"no such model"}`)
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"content type"}`)
			return
		}
		var req struct {
			Inputs []struct {
				Name     string   `json:"name"`
				Shape    []int    `json:"shape"`
				Datatype string   `json:"datatype"`
				Data     []string `json:"data"`
			} `json:"inputs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) != 1 || req.Inputs[0].Name != "image" ||
			req.Inputs[0].Datatype != "BYTES" || len(req.Inputs[0].Data) != 1 || len(req.Inputs[0].Shape) != 1 || req.Inputs[0].Shape[0] != 1 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"bad inputs"}`)
			return
		}
		img, err := base64.StdEncoding.DecodeString(req.Inputs[0].Data[0])
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"not base64"}`)
			return
		}
		m.answer(w, r, img)
	}))
	t.Cleanup(m.Close)
	return m
}

type tensor struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Datatype string `json:"datatype"`
	Data     []any  `json:"data"`
}

func fp(name string, v float64) tensor {
	return tensor{Name: name, Shape: []int{1}, Datatype: "FP32", Data: []any{v}}
}

// good are the outputs of a model that measured a gradable image.
func good(extra ...tensor) []tensor {
	return append([]tensor{fp("vessel_density", 0.12), fp("fractal_dimension", 1.61), fp("tortuosity", 1.08),
		fp("mean_vessel_width_px", 4.5), fp("quality", 0.9), fp("confidence", 0.75),
		{Name: "gradable", Shape: []int{1}, Datatype: "BOOL", Data: []any{true}}}, extra...)
}

func writeOutputs(w http.ResponseWriter, outs []tensor) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"model_name": "retina", "model_version": "3", "outputs": outs})
}

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func vesselMap(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for x := range w {
		g.SetGray(x, h/2, color.Gray{Y: 255})
	}
	return g
}

func mapTensor(b []byte) tensor {
	return tensor{Name: "vessel_map", Shape: []int{1}, Datatype: "BYTES", Data: []any{base64.StdEncoding.EncodeToString(b)}}
}

// photo is the image the analyzer is asked about: a file of 64×48 pixels
// (by the upload's record) whose bytes are not an image at all, so a decode
// would fail: oip forwards the file and never decodes it.
var photo = analysis.Image{Bytes: []byte("\xff\xd8\xff the photograph"), ContentType: "image/jpeg", Width: 64, Height: 48}

func analyzer(t *testing.T, url string, timeout time.Duration) *Analyzer {
	t.Helper()
	a, err := New(url, "retina", timeout)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func analyze(t *testing.T, a *Analyzer) (*analysis.Result, error) {
	t.Helper()
	return a.Analyze(context.Background(), photo)
}

// TestGoodAnswer: the outputs map to the metrics, quality, confidence and
// the vessel map; the image is sent as uploaded.
func TestGoodAnswer(t *testing.T) {
	var got []byte
	m := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, img []byte) {
		got = img
		writeOutputs(w, good(mapTensor(pngBytes(t, vesselMap(64, 48)))))
	})
	res, err := analyze(t, analyzer(t, m.URL+"/", 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "\xff\xd8\xff the photograph" {
		t.Fatalf("the model got %q", got)
	}
	if res.Analyzer != "oip" || res.Version != "retina 3" || !res.Gradable || res.Quality != 0.9 ||
		res.Confidence == nil || *res.Confidence != 0.75 || res.Metrics == nil {
		t.Fatalf("result %+v", res)
	}
	if m := *res.Metrics; m.VesselDensity != 0.12 || m.FractalDimension != 1.61 || m.Tortuosity != 1.08 || m.MeanVesselWidthPx != 4.5 {
		t.Fatalf("metrics %+v", m)
	}
	vm := res.VesselMap
	if vm == nil || vm.Bounds() != image.Rect(0, 0, 64, 48) || vm.GrayAt(10, 24).Y != 255 || vm.GrayAt(10, 10).Y != 0 {
		t.Fatalf("vessel map %v", vm)
	}
}

// TestUngradableAndDefaults: gradable false drops metrics and confidence;
// without quality and vessel_map the result says quality 1 and has no map.
func TestUngradableAndDefaults(t *testing.T) {
	outs := []tensor{fp("vessel_density", 0.01), fp("fractal_dimension", 1.1), fp("tortuosity", 1), fp("mean_vessel_width_px", 2),
		{Name: "gradable", Shape: []int{1}, Datatype: "BOOL", Data: []any{false}}, fp("quality", 0.2), fp("confidence", 0.1)}
	m := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, _ []byte) { writeOutputs(w, outs) })
	res, err := analyze(t, analyzer(t, m.URL, 5*time.Second))
	if err != nil || res.Gradable || res.Metrics != nil || res.Confidence != nil || res.Quality != 0.2 || res.VesselMap != nil {
		t.Fatalf("ungradable: %+v %v", res, err)
	}
	m2 := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, _ []byte) { writeOutputs(w, good()[:4]) })
	res, err = analyze(t, analyzer(t, m2.URL, 5*time.Second))
	if err != nil || !res.Gradable || res.Quality != 1 || res.Confidence != nil || res.VesselMap != nil {
		t.Fatalf("defaults: %+v %v", res, err)
	}
}

func permanent(err error) bool { return fault.IsPermanent(err) }

// TestFailures: a 4xx or an answer that is not OIP is permanent; a 5xx, a
// timeout or a refused connection is not (the queue retries it).
func TestFailures(t *testing.T) {
	status := func(code int) func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"error":"nope"}`)
		}
	}
	body := func(s string) func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) { _, _ = io.WriteString(w, s) }
	}
	outs := func(o ...tensor) func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) { writeOutputs(w, o) }
	}
	cases := []struct {
		name      string
		answer    func(w http.ResponseWriter, r *http.Request, _ []byte)
		permanent bool
		says      string
	}{
		{"400", status(400), true, "refused"},
		{"404", status(404), true, "refused"},
		{"422", status(422), true, "refused"},
		{"408", status(408), false, "408"},
		{"429", status(429), false, "429"},
		{"500", status(500), false, "500"},
		{"502", status(502), false, "502"},
		{"503", status(503), false, "503"},
		{"not json", body("<html>hello</html>"), true, "not OIP"},
		{"empty body", body(""), true, "not OIP"},
		{"truncated json", body(`{"outputs":[{"name":"vessel_density","data":[0.1]`), true, "not OIP"},
		{"no outputs", body(`{"model_name":"retina"}`), true, "lacks output"},
		{"a metric missing", outs(good()[1:]...), true, "vessel_density"},
		{"a metric as text", outs(append(good()[1:], tensor{Name: "vessel_density", Datatype: "BYTES", Data: []any{"0.1"}})...), true, "vessel_density"},
		{"a metric empty", outs(append(good()[1:], tensor{Name: "vessel_density", Datatype: "FP32", Data: []any{}})...), true, "vessel_density"},
		{"vessel_map not base64", outs(good(tensor{Name: "vessel_map", Datatype: "BYTES", Data: []any{"%%%"}})...), true, "base64"},
		{"vessel_map not an image", outs(good(mapTensor([]byte("not a png")))...), true, "vessel_map"},
		{"vessel_map truncated", outs(good(mapTensor(pngBytes(t, vesselMap(64, 48))[:60]))...), true, "vessel_map"},
		{"vessel_map of another size", outs(good(mapTensor(pngBytes(t, vesselMap(32, 24))))...), true, "vessel_map"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := startModel(t, "retina", c.answer)
			res, err := analyze(t, analyzer(t, m.URL, 5*time.Second))
			if err == nil || permanent(err) != c.permanent || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("want error (permanent %v) saying %q; got %+v, %v", c.permanent, c.says, res, err)
			}
		})
	}

	// Which of the failures that are retried are an outage of the model
	// server (waited out without using up attempts).
	for code, outage := range map[int]bool{429: true, 502: true, 503: true, 504: true, 408: false, 500: false} {
		t.Run(fmt.Sprintf("outage %d", code), func(t *testing.T) {
			m := startModel(t, "retina", status(code))
			_, err := analyze(t, analyzer(t, m.URL, 5*time.Second))
			if err == nil || permanent(err) || fault.IsOutage(err) != outage {
				t.Fatalf("%d: want outage %v, got %v", code, outage, err)
			}
		})
	}

	t.Run("wrong model", func(t *testing.T) {
		m := startModel(t, "other", outs(good()...))
		if _, err := analyze(t, analyzer(t, m.URL, 5*time.Second)); !permanent(err) {
			t.Fatalf("unknown model: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		m := startModel(t, "retina", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			writeOutputs(w, good())
		})
		start := time.Now()
		_, err := analyze(t, analyzer(t, m.URL, 200*time.Millisecond))
		if err == nil || permanent(err) || fault.IsOutage(err) || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("timeout: %v", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("the timeout took %v", took)
		}
	})
	t.Run("answer stalls mid-body", func(t *testing.T) {
		m := startModel(t, "retina", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, `{"outputs":[`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		if _, err := analyze(t, analyzer(t, m.URL, 300*time.Millisecond)); err == nil || permanent(err) {
			t.Fatalf("stalled body: %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		_, err = analyze(t, analyzer(t, "http://"+addr, 2*time.Second))
		if err == nil || permanent(err) || !fault.IsOutage(err) || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("refused: %v", err)
		}
	})
	t.Run("connection dropped", func(t *testing.T) {
		m := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		if _, err := analyze(t, analyzer(t, m.URL, 2*time.Second)); err == nil || permanent(err) {
			t.Fatalf("dropped: %v", err)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		m := startModel(t, "retina", func(w http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := analyzer(t, m.URL, time.Minute).Analyze(ctx, photo)
		if err == nil || permanent(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled: %v", err)
		}
	})
}

// bombPNG is a valid, tiny PNG whose header claims w×h 8-bit gray pixels
// and whose one IDAT chunk holds a few zero rows.
func bombPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	raw := pngBytes(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	binary.BigEndian.PutUint32(raw[16:], uint32(w))
	binary.BigEndian.PutUint32(raw[20:], uint32(h))
	binary.BigEndian.PutUint32(raw[29:], crc32.ChecksumIEEE(raw[12:29]))
	return raw
}

// TestHugeVesselMap: a vessel_map whose header claims 60000×60000 pixels
// (a few hundred bytes on the wire) is refused as permanent without
// allocating its pixels.
func TestHugeVesselMap(t *testing.T) {
	bomb := bombPNG(t, 60000, 60000)
	m := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, _ []byte) { writeOutputs(w, good(mapTensor(bomb))) })
	a := analyzer(t, m.URL, 5*time.Second)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := analyze(t, a)
	runtime.ReadMemStats(&after)
	if !permanent(err) || !strings.Contains(err.Error(), "vessel_map") {
		t.Fatalf("bomb: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("refusing the bomb allocated %d MiB", grew>>20)
	}
	// With no size to compare with, the map is still bounded.
	res, err := a.Analyze(context.Background(), analysis.Image{Bytes: []byte("x"), ContentType: "image/jpeg"})
	if !permanent(err) {
		t.Fatalf("bomb with no image: %+v %v", res, err)
	}
}

// TestSizeFromHeader: without the upload's record of the size, the vessel
// map is checked against the size in the file's header, read without
// decoding a pixel: the file here is a header claiming 64×48 and no pixels.
func TestSizeFromHeader(t *testing.T) {
	file := bombPNG(t, 64, 48)
	if _, err := (analysis.Image{Bytes: file}).Decode(); !errors.Is(err, analysis.ErrUnreadable) {
		t.Fatalf("the test's file decodes (%v): it must be a header only", err)
	}
	im := analysis.Image{Bytes: file, ContentType: "image/png"}
	for _, c := range []struct {
		w, h int
		ok   bool
	}{{64, 48, true}, {48, 64, false}} {
		m := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			writeOutputs(w, good(mapTensor(pngBytes(t, vesselMap(c.w, c.h)))))
		})
		res, err := analyzer(t, m.URL, 5*time.Second).Analyze(context.Background(), im)
		if c.ok != (err == nil) || c.ok && res.VesselMap.Bounds() != image.Rect(0, 0, 64, 48) || !c.ok && !permanent(err) {
			t.Errorf("map %d×%d for a 64×48 header: %+v %v", c.w, c.h, res, err)
		}
	}
}

// TestRegistered: the package registers itself as "oip", built from its
// settings and refusing bad ones by name.
func TestRegistered(t *testing.T) {
	settings := map[string]any{"url": "http://model:8080", "model": "retina", "timeout": 3 * time.Second}
	a, err := analysis.New(Name, func(k string) any { return settings[k] })
	if err != nil || a.Name() != "oip" || a.(*Analyzer).Client.Timeout != 3*time.Second {
		t.Fatalf("analysis.New(oip): %v %v", a, err)
	}
	settings["timeout"] = time.Duration(0)
	if _, err := analysis.New(Name, func(k string) any { return settings[k] }); err == nil ||
		!strings.Contains(err.Error(), "analysis.oip.timeout") {
		t.Fatalf("a zero timeout: %v", err)
	}
}

// TestHugeAnswer: an answer beyond 64 MiB is cut and refused, not read whole.
func TestHugeAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 80 MiB")
	}
	m := startModel(t, "retina", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		_, _ = io.WriteString(w, `{"outputs":[{"name":"junk","datatype":"BYTES","data":["`)
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for range 80 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `"]}]}`)
	})
	if _, err := analyze(t, analyzer(t, m.URL, 30*time.Second)); !permanent(err) {
		t.Fatalf("huge answer: %v", err)
	}
}

// TestNewRefusesBadSettings: the URL and model name are checked at start.
func TestNewRefusesBadSettings(t *testing.T) {
	for _, c := range []struct{ url, model string }{
		{"", "m"}, {"ftp://x", "m"}, {"http://", "m"}, {"http://x", ""}, {"http://x", "a/b"}, {"http://x", "a?b"},
	} {
		if _, err := New(c.url, c.model, time.Second); err == nil {
			t.Errorf("New(%q, %q) accepted", c.url, c.model)
		}
	}
}
