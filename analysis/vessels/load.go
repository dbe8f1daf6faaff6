package vessels

import (
	"context"
	"image"
	"image/color"
)

// working is the image at the working resolution: three planes in 0..1 and
// the mapping between original and working pixels.
type working struct {
	r, g, b *plane
	// origW, origH are the original image's size.
	origW, origH int
	// xmap[x], ymap[y] are the working column and row of original pixel (x, y).
	xmap, ymap []int
	// scale is working size / original size (<= 1).
	scale float64
}

// workingSize is the working size for an original of w x h: the long side is
// at most maxSide, never enlarged.
func workingSize(w, h, maxSide int) (int, int, float64) {
	long := max(w, h)
	if long <= maxSide {
		return w, h, 1
	}
	s := float64(maxSide) / float64(long)
	ww := max(1, int(float64(w)*s+0.5))
	hh := max(1, int(float64(h)*s+0.5))
	return ww, hh, float64(ww) / float64(w)
}

// binMap maps each of n original indices to one of m working bins, evenly.
func binMap(n, m int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = int(int64(i) * int64(m) / int64(n))
	}
	return out
}

// load reads img into working planes, averaging the original pixels that fall
// in each working pixel (area averaging). It reads every pixel once and keeps
// only working-size buffers plus one row.
func load(ctx context.Context, img image.Image, maxSide int) (*working, error) {
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	w, h, scale := workingSize(W, H, maxSide)
	wk := &working{
		r: newPlane(w, h), g: newPlane(w, h), b: newPlane(w, h),
		origW: W, origH: H, xmap: binMap(W, w), ymap: binMap(H, h), scale: scale,
	}
	rowR := make([]float32, W)
	rowG := make([]float32, W)
	rowB := make([]float32, W)
	cntX := make([]float32, w)
	for _, xb := range wk.xmap {
		cntX[xb]++
	}
	cntY := make([]float32, h)
	for _, yb := range wk.ymap {
		cntY[yb]++
	}
	for y := 0; y < H; y++ {
		if y&255 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		readRow(img, b.Min.Y+y, rowR, rowG, rowB)
		off := wk.ymap[y] * w
		dr, dg, db := wk.r.p[off:off+w], wk.g.p[off:off+w], wk.b.p[off:off+w]
		for x, xb := range wk.xmap {
			dr[xb] += rowR[x]
			dg[xb] += rowG[x]
			db[xb] += rowB[x]
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			inv := 1 / (cntX[x] * cntY[y])
			i := y*w + x
			wk.r.p[i] *= inv
			wk.g.p[i] *= inv
			wk.b.p[i] *= inv
		}
	}
	return wk, nil
}

// readRow converts row y of img to r, g, b in 0..1 (colours composited on
// black where there is transparency).
func readRow(img image.Image, y int, r, g, b []float32) {
	const k8 = 1.0 / 255
	const k16 = 1.0 / 65535
	b0 := img.Bounds()
	x0 := b0.Min.X
	switch m := img.(type) {
	case *image.YCbCr:
		for x := range r {
			yi := m.YOffset(x0+x, y)
			ci := m.COffset(x0+x, y)
			rr, gg, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			r[x], g[x], b[x] = float32(rr)*k8, float32(gg)*k8, float32(bb)*k8
		}
	case *image.RGBA:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range r {
			p := row[4*x : 4*x+3]
			r[x], g[x], b[x] = float32(p[0])*k8, float32(p[1])*k8, float32(p[2])*k8
		}
	case *image.NRGBA:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range r {
			p := row[4*x : 4*x+4]
			a := float32(p[3]) * k8 * k8
			r[x], g[x], b[x] = float32(p[0])*a, float32(p[1])*a, float32(p[2])*a
		}
	case *image.Gray:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range r {
			v := float32(row[x]) * k8
			r[x], g[x], b[x] = v, v, v
		}
	default:
		for x := range r {
			rr, gg, bb, _ := img.At(x0+x, y).RGBA()
			r[x], g[x], b[x] = float32(rr)*k16, float32(gg)*k16, float32(bb)*k16
		}
	}
}

// upscaleMask returns the working mask m at the original size, each original
// pixel taking its working pixel's value (nearest neighbour): 255 set, 0 not.
func (wk *working) upscaleMask(ctx context.Context, m *mask) (*image.Gray, error) {
	out := image.NewGray(image.Rect(0, 0, wk.origW, wk.origH))
	prev := -1
	for y := 0; y < wk.origH; y++ {
		row := out.Pix[y*out.Stride : y*out.Stride+wk.origW]
		yb := wk.ymap[y]
		if yb == prev {
			copy(row, out.Pix[(y-1)*out.Stride:(y-1)*out.Stride+wk.origW])
			continue
		}
		if y&255 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		prev = yb
		src := m.m[yb*m.w : (yb+1)*m.w]
		for x, xb := range wk.xmap {
			if src[xb] {
				row[x] = 255
			}
		}
	}
	return out, nil
}
