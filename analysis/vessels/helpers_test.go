package vessels

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"testing"

	"aura/analysis"
)

// agreement compares a vessel map with the ground truth inside the field of
// view.
type agreement struct {
	dice, sensitivity, specificity float64
	gtDensity, density             float64
}

func compare(gt, fovMask, pred *image.Gray) agreement {
	var tp, fp, fn, tn float64
	for i, f := range fovMask.Pix {
		if f == 0 {
			continue
		}
		g, p := gt.Pix[i] != 0, pred.Pix[i] != 0
		switch {
		case g && p:
			tp++
		case p:
			fp++
		case g:
			fn++
		default:
			tn++
		}
	}
	var a agreement
	if tp+fp+fn > 0 {
		a.dice = 2 * tp / (2*tp + fp + fn)
	}
	if tp+fn > 0 {
		a.sensitivity = tp / (tp + fn)
	}
	if tn+fp > 0 {
		a.specificity = tn / (tn + fp)
	}
	n := tp + fp + fn + tn
	a.gtDensity = (tp + fn) / n
	a.density = (tp + fp) / n
	return a
}

func mustAnalyze(t testing.TB, img image.Image) *analysis.Result {
	t.Helper()
	res, err := analyze(context.Background(), img)
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	return res
}

// saveSideBySide writes the input and the vessel map next to each other (and
// the ground truth third when given) to path.
func saveSideBySide(t testing.TB, path string, img image.Image, maps ...*image.Gray) {
	t.Helper()
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*(1+len(maps)), b.Dy()))
	draw.Draw(out, image.Rect(0, 0, b.Dx(), b.Dy()), img, b.Min, draw.Src)
	for k, m := range maps {
		r := image.Rect(b.Dx()*(k+1), 0, b.Dx()*(k+2), b.Dy())
		draw.Draw(out, r, m, image.Point{}, draw.Src)
	}
	for y := 0; y < b.Dy(); y++ { // a thin separator
		for k := 1; k <= len(maps); k++ {
			out.Set(b.Dx()*k, y, color.RGBA{255, 0, 0, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Logf("example not saved: %v", err)
		return
	}
	defer f.Close()
	if err := png.Encode(f, out); err != nil {
		t.Logf("example not saved: %v", err)
	}
}
