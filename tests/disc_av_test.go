package tests

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aura/analysis/vessels"
	"aura/internal/testenv"
)

// analysisJSON is the analysis of a screening as raw JSON fields, to tell
// null from absent.
func analysisJSON(t *testing.T, s *testenv.Server, token, id string) (an map[string]json.RawMessage, metrics map[string]json.RawMessage, review map[string]json.RawMessage) {
	t.Helper()
	var sc struct {
		Analysis map[string]json.RawMessage
		Review   map[string]json.RawMessage
	}
	s.Do(t, "GET", "/api/screenings/"+id, nil, token).Expect(t, http.StatusOK, "").Data(t, &sc)
	if sc.Analysis != nil {
		_ = json.Unmarshal(sc.Analysis["metrics"], &metrics)
	}
	return sc.Analysis, metrics, sc.Review
}

// TestDiscArteriesVeinsAndOverlay: an analysed screening shows the optic
// disc and the disc metrics; the artery/vein map is an RGB PNG of the
// image's size in the contract's four colours whose vessel pixels are the
// binary map's; the overlay is a JPEG; both follow the vessel map's rules
// (visibility, audit, NOT_READY) and an unknown kind is 400 and records
// nothing. The review carries the doctor's agreement and corrected metrics,
// shown in the view and the report; ADMINs list the analyzers in use.
func TestDiscArteriesVeinsAndOverlay(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newReviewWorld(t, e.URI(t))
		s, base := w.s, "/api/screenings/"+w.id

		an, m, _ := analysisJSON(t, s, w.p.Token, w.id)
		var disc *struct{ X, Y, Radius float64 }
		if err := json.Unmarshal(an["opticDisc"], &disc); err != nil || disc == nil {
			t.Fatalf("opticDisc %s: %v", an["opticDisc"], err)
		}
		if disc.X < 0 || disc.X > 1024 || disc.Y < 0 || disc.Y > 1024 || disc.Radius <= 0 {
			t.Errorf("disc %+v", *disc)
		}
		for _, k := range []string{"crae", "crve", "avr", "arteryDensity", "veinDensity"} {
			raw, ok := m[k]
			if !ok {
				t.Errorf("metrics lack %s", k)
			}
			var v *float64
			if err := json.Unmarshal(raw, &v); err != nil || v == nil || *v <= 0 {
				t.Errorf("%s = %s", k, raw)
			}
		}
		var version string
		_ = json.Unmarshal(an["version"], &version)
		if version != vessels.Version {
			t.Errorf("version %q", version)
		}

		// The artery/vein map.
		status, h, avPNG := rawGet(t, s, base+"/vessels?kind=av", w.d1.Token, nil)
		if status != http.StatusOK || h.Get("Content-Type") != "image/png" {
			t.Fatalf("av map: %d %v", status, h)
		}
		av, err := png.Decode(bytes.NewReader(avPNG))
		if err != nil {
			t.Fatal(err)
		}
		if _, grey := av.(*image.Gray); grey {
			t.Fatal("the A/V map is grey")
		}
		_, _, binPNG := rawGet(t, s, base+"/vessels?kind=binary", w.d1.Token, nil)
		_, _, defPNG := rawGet(t, s, base+"/vessels", w.d1.Token, nil)
		if !bytes.Equal(binPNG, defPNG) {
			t.Error("kind=binary is not the default map")
		}
		bin, err := png.Decode(bytes.NewReader(binPNG))
		if err != nil {
			t.Fatal(err)
		}
		// The maps have the photograph's size (newReviewWorld uploads fundus).
		if photo := smallFundus.get().img.Bounds(); av.Bounds() != bin.Bounds() || av.Bounds() != photo {
			t.Fatalf("sizes %v %v", av.Bounds(), bin.Bounds())
		}
		counts := map[[3]uint32]int{}
		for y := 0; y < 1024; y++ {
			for x := 0; x < 1024; x++ {
				r, g, b, _ := av.At(x, y).RGBA()
				c := [3]uint32{r >> 8, g >> 8, b >> 8}
				counts[c]++
				v, _, _, _ := bin.At(x, y).RGBA()
				if (c != [3]uint32{}) != (v != 0) {
					t.Fatalf("(%d,%d): A/V %v, binary %d", x, y, c, v>>8)
				}
			}
		}
		for c := range counts {
			switch c {
			case [3]uint32{}, [3]uint32{255, 0, 0}, [3]uint32{0, 0, 255}, [3]uint32{0, 255, 0}:
			default:
				t.Fatalf("colour %v in the A/V map", c)
			}
		}
		if counts[[3]uint32{255, 0, 0}] == 0 || counts[[3]uint32{0, 0, 255}] == 0 {
			t.Errorf("no arteries or no veins: %v", counts)
		}

		// The overlay.
		status, h, ov := rawGet(t, s, base+"/overlay", w.d1.Token, nil)
		if status != http.StatusOK || h.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("overlay: %d %v", status, h)
		}
		if _, err := jpeg.Decode(bytes.NewReader(ov)); err != nil {
			t.Fatalf("overlay: %v", err)
		}
		if status, _, _ := rawGet(t, s, base+"/overlay", w.p.Token, nil); status != http.StatusOK {
			t.Errorf("the patient's overlay: %d", status)
		}
		s.Do(t, "GET", base+"/overlay", nil, w.out.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", base+"/vessels?kind=av", nil, w.out.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		if rows := auditLogs(t, s, w.adm, "action=screening.overlay.read&entityId="+w.id); len(rows) != 1 {
			t.Errorf("overlay reads audited %d times, want 1 (the doctor's)", len(rows))
		}
		before := len(auditLogs(t, s, w.adm, "action=screening.vessels.read&entityId="+w.id+"&pageSize=100"))
		r := s.Do(t, "GET", base+"/vessels?kind=arteries", testenv.Invalid(nil), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["kind"]; !ok {
			t.Errorf("details %v", r.Env.Details)
		}
		if after := len(auditLogs(t, s, w.adm, "action=screening.vessels.read&entityId="+w.id+"&pageSize=100")); after != before {
			t.Errorf("a refused read was audited: %d -> %d", before, after)
		}

		// NOT_READY before the analysis.
		jpg, _ := fundusLarge(t)
		var fresh screening
		upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &fresh)
		s.Do(t, "GET", "/api/screenings/"+fresh.ID+"/overlay", nil, w.p.Token).Expect(t, http.StatusConflict, "NOT_READY")
		s.Do(t, "GET", "/api/screenings/"+fresh.ID+"/vessels?kind=av", nil, w.p.Token).Expect(t, http.StatusConflict, "NOT_READY")

		// The review with agreement and corrections.
		s.Do(t, "POST", base+"/claim", nil, w.d1.Token).Expect(t, http.StatusOK, "")
		for name, bad := range map[string]map[string]any{
			"agreement": {"riskLevel": "low", "recommendation": "x", "analysisAgreement": "maybe"},
			"unknown":   {"riskLevel": "low", "recommendation": "x", "correctedMetrics": map[string]any{"cupDiscRatio": 0.3}},
			"range":     {"riskLevel": "low", "recommendation": "x", "correctedMetrics": map[string]any{"vesselDensity": 1.5}},
			"null":      {"riskLevel": "low", "recommendation": "x", "correctedMetrics": map[string]any{"avr": nil}},
		} {
			r := s.Do(t, "POST", base+"/review", testenv.Invalid(bad), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if len(r.Env.Details) != 1 {
				t.Errorf("%s: %v", name, r.Env.Details)
			}
		}
		if sc := getScreening(t, s, w.adm, w.id); sc.Status != "in_review" {
			t.Fatalf("a refused review changed the screening: %s", sc.Status)
		}
		rv := map[string]any{"riskLevel": "medium", "recommendation": "Đo huyết áp; tái khám sau 6 tháng.",
			"analysisAgreement": "partial", "correctedMetrics": map[string]any{"avr": 0.62, "crae": 14.5}}
		s.Do(t, "POST", base+"/review", rv, w.d1.Token).Expect(t, http.StatusOK, "")
		_, m2, review := analysisJSON(t, s, w.p.Token, w.id)
		if string(review["analysisAgreement"]) != `"partial"` {
			t.Errorf("analysisAgreement %s", review["analysisAgreement"])
		}
		var corr map[string]float64
		if err := json.Unmarshal(review["correctedMetrics"], &corr); err != nil || corr["avr"] != 0.62 || corr["crae"] != 14.5 || len(corr) != 2 {
			t.Errorf("correctedMetrics %s", review["correctedMetrics"])
		}
		if string(m2["avr"]) != string(m["avr"]) {
			t.Errorf("the measured avr changed: %s -> %s", m["avr"], m2["avr"])
		}
		status, _, pdf := rawGet(t, s, base+"/report", w.p.Token, nil)
		if status != http.StatusOK {
			t.Fatalf("report %d", status)
		}
		if dir := os.Getenv("AURA_TEST_REPORT_DIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "disc-av-"+e.Name+".pdf"), pdf, 0o644)
		}
		text := pdfText(t, pdf)
		for _, want := range []string{"CRAE", "AVR", "BS: 0,620", "một phần", "Động mạch (đỏ)"} {
			if !strings.Contains(text, want) {
				t.Errorf("report lacks %q", want)
			}
		}

		// The analyzers in use.
		var uses struct {
			Items []struct {
				Analyzer, Version string
				Results           int
			}
			Configured string
		}
		s.Do(t, "GET", "/api/admin/analyzers", nil, w.adm).Expect(t, http.StatusOK, "").Data(t, &uses)
		if uses.Configured != "vessels" || len(uses.Items) != 1 || uses.Items[0].Analyzer != "vessels" ||
			uses.Items[0].Version != vessels.Version || uses.Items[0].Results != 1 {
			t.Errorf("analyzers %+v", uses)
		}
		s.Do(t, "GET", "/api/admin/analyzers", nil, w.d1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
	})
}

// TestRulesOnDiscMetrics: the risk profile accepts rules on the new
// metrics; a rule on avr fires when the disc is found, and does not when
// the disc is outside the field (avr null).
func TestRulesOnDiscMetrics(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newReviewWorld(t, e.URI(t))
		s := w.s
		s.Do(t, "PUT", "/api/admin/analysis-profile", map[string]any{"rules": []map[string]any{
			{"metric": "avr", "below": 5, "riskLevel": "high"},
			{"metric": "veinDensity", "above": 0.9, "riskLevel": "critical"},
		}, "trends": []any{}}, w.adm).Expect(t, http.StatusOK, "") // rules only: the patient's earlier results are other photographs
		r := s.Do(t, "PUT", "/api/admin/analysis-profile", testenv.Invalid(map[string]any{"rules": []map[string]any{
			{"metric": "cupDiscRatio", "above": 0.6, "riskLevel": "high"}}}), w.adm).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if !strings.Contains(r.Env.Details["rules[0].metric"], "avr") {
			t.Errorf("details %v", r.Env.Details)
		}

		jpg, _ := fundus(t)
		outside := vessels.Synth(vessels.SynthOptions{Width: 768, Height: 768, Seed: 21, DiscOutside: true})
		var b bytes.Buffer
		_ = jpeg.Encode(&b, outside.Image, &jpeg.Options{Quality: 90})
		var withDisc, noDisc screening
		upload(t, s, w.p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &withDisc)
		upload(t, s, w.p.Token, form{image: b.Bytes(), fields: map[string]string{"eye": "right"}}, nil).Expect(t, http.StatusAccepted, "").Data(t, &noDisc)
		analyse(t, s)

		sc := getScreening(t, s, w.p.Token, withDisc.ID)
		if sc.Analysis == nil || sc.Analysis.RiskLevel == nil || *sc.Analysis.RiskLevel != "high" || len(sc.Analysis.Findings) != 1 ||
			sc.Analysis.Findings[0].Code != "AVR_LOW" {
			t.Fatalf("with the disc: %+v", sc.Analysis)
		}
		an, m, _ := analysisJSON(t, s, w.p.Token, noDisc.ID)
		if string(an["opticDisc"]) != "null" || string(m["avr"]) != "null" || string(m["crae"]) != "null" || string(m["arteryDensity"]) != "null" {
			t.Fatalf("without the disc: opticDisc %s metrics %v", an["opticDisc"], m)
		}
		sc = getScreening(t, s, w.p.Token, noDisc.ID)
		if sc.Analysis.RiskLevel == nil || *sc.Analysis.RiskLevel != "low" || len(sc.Analysis.Findings) != 0 {
			t.Fatalf("a rule on a null metric fired: %+v", sc.Analysis)
		}
	})
}
