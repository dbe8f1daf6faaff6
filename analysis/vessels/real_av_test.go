package vessels

import (
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The optic disc and the artery/vein classification on the real
// photographs of CHASE_DB1. The data set has no disc and no artery/vein
// labels, so nothing here measures accuracy: the guard checks that the
// measurements exist and stay in a plausible range on the held-out split
// (a regression guard), and AURA_TEST_EVAL=1 prints every photograph's
// figures (and AURA_TEST_SAVE=dir writes the overlays, to look at).

type realAV struct {
	name                 string
	disc                 bool
	x, y, r              float64
	crae, crve, avr      float64 // NaN when null
	arteryDens, veinDens float64
}

func evalRealAV(t *testing.T, dir string, names []string) []realAV {
	rows := make([]realAV, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			img := decodeFile(t, filepath.Join(dir, "images", n+".jpg"), func(f *os.File) (image.Image, error) { return jpeg.Decode(f) })
			res := mustAnalyze(t, img)
			saveTmp(t, "overlay-"+n+".png", res.Overlay)
			r := realAV{name: n, crae: ptrVal(nil), crve: ptrVal(nil), avr: ptrVal(nil), arteryDens: ptrVal(nil), veinDens: ptrVal(nil)}
			if d := res.OpticDisc; d != nil {
				r.disc, r.x, r.y, r.r = true, d.X, d.Y, d.Radius
			}
			if m := res.Metrics; m != nil {
				r.crae, r.crve, r.avr, r.arteryDens, r.veinDens = ptrVal(m.CRAE), ptrVal(m.CRVE), ptrVal(m.AVR), ptrVal(m.ArteryDensity), ptrVal(m.VeinDensity)
			}
			rows[i] = r
		}()
	}
	wg.Wait()
	return rows
}

// TestRealPhotographsDiscAVHeldOut: on the six held-out photographs, the
// disc is found on at least five, with a radius of 4 to 14% of the short
// side; arteries and veins each cover at least 1% of the field on every
// one; AVR is measured on at least five and its median is between 0.6 and
// 1.1 (published AVRs of healthy eyes are about 0.65-0.85).
func TestRealPhotographsDiscAVHeldOut(t *testing.T) {
	t.Parallel()
	dir := chaseDir(t)
	rows := evalRealAV(t, dir, chaseImages(t, dir, false, true))
	var discs, withAVR int
	var avrs []float64
	for _, r := range rows {
		t.Logf("%s: disc %v (%.0f, %.0f) r %.0f; crae %.1f crve %.1f avr %.3f; artery %.3f vein %.3f",
			r.name, r.disc, r.x, r.y, r.r, r.crae, r.crve, r.avr, r.arteryDens, r.veinDens)
		if r.disc && r.r >= 0.04*960 && r.r <= 0.14*960 {
			discs++
		}
		if !(r.arteryDens >= 0.01 && r.veinDens >= 0.01) {
			t.Errorf("%s: artery density %.3f, vein density %.3f", r.name, r.arteryDens, r.veinDens)
		}
		if r.avr == r.avr {
			withAVR++
			avrs = append(avrs, r.avr)
		}
	}
	if len(rows) != 6 {
		t.Fatalf("%d held-out photographs, want 6", len(rows))
	}
	if discs < 5 || withAVR < 5 {
		t.Errorf("disc found on %d of 6 (want >= 5), AVR on %d (want >= 5)", discs, withAVR)
	}
	if len(avrs) > 0 {
		slices.Sort(avrs)
		med := avrs[len(avrs)/2]
		if len(avrs)%2 == 0 {
			med = (avrs[len(avrs)/2-1] + avrs[len(avrs)/2]) / 2
		}
		if med < 0.6 || med > 1.1 {
			t.Errorf("median AVR %.3f, want 0.6..1.1", med)
		}
	}
}

// TestRealPhotographsDiscAVEval prints the disc and the A/V figures of every
// photograph (AURA_TEST_EVAL=1; it asserts nothing).
func TestRealPhotographsDiscAVEval(t *testing.T) {
	if os.Getenv("AURA_TEST_EVAL") == "" {
		t.Skip("AURA_TEST_EVAL not set")
	}
	dir := chaseDir(t)
	rows := evalRealAV(t, dir, chaseImages(t, dir, true, true))
	var b strings.Builder
	b.WriteString("\n| photograph | disc (x, y), r px | CRAE px | CRVE px | AVR | artery density | vein density |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		disc := "not found"
		if r.disc {
			disc = fmt.Sprintf("(%.0f, %.0f), %.0f", r.x, r.y, r.r)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %.2f | %.3f | %.3f |\n", r.name, disc, r.crae, r.crve, r.avr, r.arteryDens, r.veinDens)
	}
	t.Log(b.String())
}
