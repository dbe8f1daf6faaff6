package vessels

import (
	"context"
	"math"
	"testing"
)

// drawLine sets the pixels within width/2 of the segment (x0,y0)-(x1,y1).
func drawLine(m *mask, x0, y0, x1, y1, width float64) {
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := 0; y < m.h; y++ {
		for x := 0; x < m.w; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			t := math.Max(0, math.Min(1, ((px-x0)*dx+(py-y0)*dy)/l2))
			if math.Hypot(px-(x0+t*dx), py-(y0+t*dy)) <= width/2 {
				m.m[y*m.w+x] = true
			}
		}
	}
}

func TestThinningIsOnePixelThin(t *testing.T) {
	m := newMask(200, 200)
	drawLine(m, 20, 30, 180, 120, 9)
	s := thin(m)
	for i, v := range s.m {
		if v && countSet(s.neighbours(i%s.w, i/s.w)) > 2 {
			t.Fatalf("pixel %d has more than two neighbours: not a one-pixel line", i)
		}
	}
	// Its length is close to the line's.
	want := math.Hypot(160, 90)
	if l := linkLength(s); l < want*0.9 || l > want*1.05 {
		t.Errorf("skeleton length %.1f, want about %.1f", l, want)
	}
}

func TestWidthOfABar(t *testing.T) {
	for _, w := range []float64{3, 7, 12} {
		m := newMask(300, 300)
		drawLine(m, 30, 40, 270, 250, w)
		s := prune(thin(m), 12)
		got := float64(m.count()) / linkLength(s)
		if math.Abs(got-w) > 0.15*w+0.5 {
			t.Errorf("width %.0f: measured %.2f", w, got)
		}
	}
}

func TestTortuosity(t *testing.T) {
	// Straight lines at several angles measure close to 1.
	for _, a := range []float64{0, 0.2, math.Pi / 8, math.Pi / 4, 1.1} {
		m := newMask(300, 300)
		drawLine(m, 150-120*math.Cos(a), 150-120*math.Sin(a), 150+120*math.Cos(a), 150+120*math.Sin(a), 1.5)
		ts := segmentTortuosities(thin(m), 10, 3)
		if len(ts) != 1 || ts[0] > 1.02 {
			t.Errorf("straight line at %.2f rad: %v, want one segment close to 1", a, ts)
		}
	}
	// A half circle: arc/chord = pi/2.
	m := newMask(300, 300)
	for k := 0; k < 2000; k++ {
		th := math.Pi * float64(k) / 1999
		x, y := 150+100*math.Cos(th), 100+100*math.Sin(th)
		m.m[int(y)*300+int(x)] = true
	}
	ts := segmentTortuosities(thin(m), 10, 3)
	if len(ts) != 1 || math.Abs(ts[0]-math.Pi/2) > 0.05 {
		t.Errorf("half circle: %v, want %.3f", ts, math.Pi/2)
	}
	// A Y is three segments; tiny ones are ignored.
	y := newMask(200, 200)
	drawLine(y, 100, 100, 100, 190, 1.5)
	drawLine(y, 100, 100, 40, 20, 1.5)
	drawLine(y, 100, 100, 160, 20, 1.5)
	drawLine(y, 100, 150, 104, 150, 1.5) // a 4-pixel bump
	if ts := segmentTortuosities(prune(thin(y), 8), 10, 3); len(ts) != 3 {
		t.Errorf("Y: %d segments %v, want 3", len(ts), ts)
	}
}

func TestBoxCountingDimension(t *testing.T) {
	full := newMask(256, 256)
	for i := range full.m {
		full.m[i] = true
	}
	if d := boxCountingDimension(full, 64); math.Abs(d-2) > 0.01 {
		t.Errorf("filled square: %.3f, want 2", d)
	}
	line := newMask(256, 256)
	drawLine(line, 0, 128, 256, 128, 1)
	if d := boxCountingDimension(line, 64); math.Abs(d-1) > 0.05 {
		t.Errorf("line: %.3f, want 1", d)
	}
	if d := boxCountingDimension(newMask(256, 256), 64); d != 1 {
		t.Errorf("empty: %.3f, want 1", d)
	}
	// A Sierpinski carpet has dimension log 8 / log 3 = 1.893.
	carpet := newMask(243, 243)
	for y := 0; y < 243; y++ {
		for x := 0; x < 243; x++ {
			in := true
			for a, b := x, y; a > 0 || b > 0; a, b = a/3, b/3 {
				if a%3 == 1 && b%3 == 1 {
					in = false
				}
			}
			carpet.m[y*243+x] = in
		}
	}
	if d := boxCountingDimension(carpet, 64); math.Abs(d-1.893) > 0.08 {
		t.Errorf("Sierpinski carpet: %.3f, want about 1.893", d)
	}
}

func TestDistanceInside(t *testing.T) {
	m := newMask(50, 40)
	for y := 10; y < 30; y++ {
		for x := 10; x < 40; x++ {
			m.m[y*50+x] = true
		}
	}
	d := distanceInside(m)
	if v := d.p[20*50+25]; v != 10 { // 10 from the rows 9 and 30 (unset) above and below
		t.Errorf("centre distance %v, want 10", v)
	}
	if v := d.p[10*50+10]; v != 1 {
		t.Errorf("corner distance %v, want 1", v)
	}
	if v := d.p[0]; v != 0 {
		t.Errorf("outside distance %v, want 0", v)
	}
}

func TestClosingFillsNarrowDarkLines(t *testing.T) {
	a := newPlane(60, 60)
	for i := range a.p {
		a.p[i] = 0.6
	}
	for y := 0; y < 60; y++ { // a dark vertical line 3 px wide
		for x := 28; x < 31; x++ {
			a.p[y*60+x] = 0.3
		}
	}
	c := closing(a, 3)
	if v := c.p[30*60+29]; math.Abs(float64(v)-0.6) > 1e-6 {
		t.Errorf("closed line %v, want 0.6", v)
	}
	b := blur(a, 1.5)
	if v := b.p[30*60+29]; v <= 0.3 || v >= 0.6 {
		t.Errorf("blurred line %v, want between", v)
	}
}

func TestWorkingSize(t *testing.T) {
	for _, c := range []struct{ w, h, ww, wh int }{
		{512, 512, 512, 512}, {1024, 768, 1024, 768}, {2048, 2048, 1024, 1024}, {8000, 5000, 1024, 640}, {3, 5000, 1, 1024},
	} {
		w, h, _ := workingSize(c.w, c.h, 1024)
		if w != c.ww || h != c.wh {
			t.Errorf("%dx%d: working %dx%d, want %dx%d", c.w, c.h, w, h, c.ww, c.wh)
		}
	}
}

// TestFOV: the field of view of a synthetic image is found where it is drawn.
func TestFOV(t *testing.T) {
	s := Synth(SynthOptions{Width: 640, Height: 480, Seed: 4})
	wk, err := load(context.Background(), s.Image, WorkingMaxSide)
	if err != nil {
		t.Fatal(err)
	}
	f := findFOV(wk.r)
	var agree, n int
	for i, v := range s.FOV.Pix {
		n++
		if (v != 0) == f.lit.m[i] {
			agree++
		}
	}
	if r := float64(agree) / float64(n); r < 0.995 || !f.surround {
		t.Errorf("field of view agrees on %.4f of pixels (surround %v)", r, f.surround)
	}
	want := 2 * 0.92 * 240.0
	if math.Abs(f.diameter-want) > 0.02*want {
		t.Errorf("diameter %.1f, want about %.1f", f.diameter, want)
	}
}
