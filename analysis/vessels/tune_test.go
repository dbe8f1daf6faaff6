package vessels

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tuneCase is one photograph at one size with its planes computed once.
type tuneCase struct {
	name, scale string
	gt, fm      *image.Gray
	f           fov
	sp          *segPlanes
}

func loadTuneCases(t *testing.T, p segParams) []tuneCase {
	dir := chaseDir(t)
	names := chaseImages(t, dir, true, false)
	if only := os.Getenv("AURA_EVAL_IMAGES"); only != "" {
		names = nil
		for _, n := range strings.Split(only, ",") {
			if splitOf(n) == "dev" { // the held-out split is never tuned on
				names = append(names, n)
			}
		}
	}
	scales := []realScale{{"584px", 584}, {"native", 0}}
	var out []tuneCase
	for _, n := range names {
		for _, s := range scales {
			img, gt, fm := realCase(t, dir, n, s)
			wk, err := load(context.Background(), img, WorkingMaxSide)
			if err != nil {
				t.Fatal(err)
			}
			if wk.g.w != img.Bounds().Dx() {
				t.Fatalf("working copy resized")
			}
			f := findFOV(wk.r)
			sp, err := segmentPlanes(context.Background(), wk, f, p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tuneCase{n, s.name, gt, fm, f, sp})
		}
	}
	return out
}

func maskGray(m *mask) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, m.w, m.h))
	for i, v := range m.m {
		if v {
			g.Pix[i] = 255
		}
	}
	return g
}

func scoreCases(cs []tuneCase, p segParams) string {
	var b strings.Builder
	for _, sc := range []string{"584px", "native"} {
		var rows []realRow
		for _, c := range cs {
			if c.scale != sc {
				continue
			}
			m := thresholdPlanes(c.sp, c.f, p)
			rows = append(rows, realRow{name: c.name, scale: sc, a: compare(c.gt, c.fm, maskGray(m))})
		}
		m := meansOf(rows)
		fmt.Fprintf(&b, " %s: Dice %.4f Se %.3f Sp %.4f dens %+.1f%% abs %.1f%% |", sc, m.dice, m.sens, m.spec, 100*m.densErr, 100*m.absDensErr)
	}
	return b.String()
}

// TestTuneSegmentation is a development tool (AURA_TEST_TUNE=1): it
// computes the segmentation's planes once per development photograph (at
// 584 px and as taken, where the working copy is the photograph itself)
// and prints the mean agreement with the expert for a grid of hysteresis
// thresholds, so that a change of the thresholds is measured in seconds
// rather than by re-running every analysis. AURA_EVAL_IMAGES limits it to
// some photographs; it never reads the held-out split.
//
//	AURA_TEST_TUNE=1 AURA_TEST_DATASETS=/work/shared/datasets go test ./analysis/vessels -run TuneSegmentation -v
func TestTuneSegmentation(t *testing.T) {
	if os.Getenv("AURA_TEST_TUNE") == "" {
		t.Skip("development tool: AURA_TEST_TUNE=1")
	}
	p := defaultSeg
	cs := loadTuneCases(t, p)
	t.Logf("default %+v:%s", p, scoreCases(cs, p))
	for _, th := range []float64{1.8, 2.2, 2.6, 3.0} {
		for _, tl := range []float64{0.6, 0.75, 0.9, 1.05, 1.2} {
			for _, hm := range []float64{0.3, 0.4, 0.5} {
				q := p
				q.tHigh, q.tLow, q.halfMax = th, tl, hm
				t.Logf("tHigh %.2f tLow %.2f halfMax %.2f:%s", th, tl, hm, scoreCases(cs, q))
			}
		}
	}
}

// TestTuneErrorMap writes, for each development photograph as taken, the
// error map of the default segmentation to $AURA_EVAL_SAVE/err-<name>.png:
// red = found but not the expert's, green = the expert's but missed,
// yellow = both.
func TestTuneErrorMap(t *testing.T) {
	dir := os.Getenv("AURA_EVAL_SAVE")
	if os.Getenv("AURA_TEST_TUNE") == "" || dir == "" {
		t.Skip("development tool: AURA_TEST_TUNE=1 AURA_EVAL_SAVE=dir")
	}
	cs := loadTuneCases(t, defaultSeg)
	for _, c := range cs {
		if c.scale != "native" {
			continue
		}
		m := thresholdPlanes(c.sp, c.f, defaultSeg)
		out := image.NewRGBA(image.Rect(0, 0, m.w, m.h))
		for i, v := range m.m {
			g := c.gt.Pix[i] != 0
			if v {
				out.Pix[4*i] = 255
			}
			if g {
				out.Pix[4*i+1] = 255
			}
			out.Pix[4*i+3] = 255
		}
		f, err := os.Create(filepath.Join(dir, "err-"+c.name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		err = png.Encode(f, out)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
