package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// jpegQuality is the quality of the embedded photograph: no visible loss at
// print size, a few hundred kilobytes at MaxImageSide.
const jpegQuality = 88

// encoded is an image ready for the PDF.
type encoded struct {
	data []byte
	kind string // "JPG" or "PNG", as fpdf names them
	w, h int
}

// encodePhoto shrinks the photograph and encodes it as JPEG; nil for a nil
// or empty image.
func encodePhoto(ctx context.Context, src image.Image) (*encoded, error) {
	if empty(src) {
		return nil, nil
	}
	img, err := shrink(ctx, src, MaxImageSide, 0, false)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("report: encode photograph: %w", err)
	}
	b := img.Bounds()
	return &encoded{data: buf.Bytes(), kind: "JPG", w: b.Dx(), h: b.Dy()}, nil
}

// encodeMap shrinks the vessel map and encodes it as PNG (lossless, so thin
// vessels stay sharp): grey when the map is grey, otherwise RGB with any
// transparency laid on white.
func encodeMap(ctx context.Context, src image.Image) (*encoded, error) {
	if empty(src) {
		return nil, nil
	}
	gray := src.ColorModel() == color.GrayModel || src.ColorModel() == color.Gray16Model
	img, err := shrink(ctx, src, MaxImageSide, 255, gray)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("report: encode vessel map: %w", err)
	}
	b := img.Bounds()
	return &encoded{data: buf.Bytes(), kind: "PNG", w: b.Dx(), h: b.Dy()}, nil
}

func empty(img image.Image) bool {
	return img == nil || img.Bounds().Empty()
}

// shrink returns src reduced by the smallest whole factor k that brings its
// longer side to at most maxSide, each output pixel the mean of a k×k block
// (box averaging keeps one-pixel vessels visible, as grey, where point
// sampling would drop them). Transparent parts are laid on the grey level bg.
// The result is opaque: *image.Gray when gray, else *image.RGBA. It reads src
// one row at a time, so the extra memory is the output and two rows; ctx is
// checked every few output rows.
func shrink(ctx context.Context, src image.Image, maxSide int, bg uint8, gray bool) (image.Image, error) {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	long := max(sw, sh)
	k := (long + maxSide - 1) / maxSide
	dw, dh := (sw+k-1)/k, (sh+k-1)/k
	if g, ok := src.(*image.Gray); ok && gray {
		return shrinkGray(ctx, g, k, dw, dh)
	}

	row := make([]uint8, 4*sw)   // one source row, premultiplied RGBA
	sums := make([]uint32, 4*dw) // one output row being summed
	var out []uint8              // output pixels, 1 or 4 per pixel
	var result image.Image       // the image out belongs to
	if gray {
		g := image.NewGray(image.Rect(0, 0, dw, dh))
		out, result = g.Pix, g
	} else {
		c := image.NewRGBA(image.Rect(0, 0, dw, dh))
		out, result = c.Pix, c
	}
	for dy := 0; dy < dh; dy++ {
		if dy%32 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		clear(sums)
		y0 := dy * k
		y1 := min(y0+k, sh)
		for sy := y0; sy < y1; sy++ {
			readRow(src, sb.Min.Y+sy, row)
			for dx := 0; dx < dw; dx++ {
				var r, g, b, a uint32
				block := row[4*dx*k : 4*min(dx*k+k, sw)]
				for i := 0; i+3 < len(block); i += 4 {
					r += uint32(block[i])
					g += uint32(block[i+1])
					b += uint32(block[i+2])
					a += uint32(block[i+3])
				}
				s := sums[4*dx : 4*dx+4]
				s[0] += r
				s[1] += g
				s[2] += b
				s[3] += a
			}
		}
		rows := uint32(y1 - y0)
		for dx := 0; dx < dw; dx++ {
			n := rows * uint32(min(k, sw-dx*k))
			o := 4 * dx
			a := (sums[o+3] + n/2) / n
			under := (255 - a) * uint32(bg) / 255 // the background showing through
			r := (sums[o]+n/2)/n + under
			g := (sums[o+1]+n/2)/n + under
			b := (sums[o+2]+n/2)/n + under
			if gray {
				// the weights of color.GrayModel
				out[dy*dw+dx] = uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
			} else {
				p := out[4*(dy*dw+dx):]
				p[0], p[1], p[2], p[3] = uint8(r), uint8(g), uint8(b), 255
			}
		}
	}
	return result, nil
}

// readRow fills row with the premultiplied 8-bit RGBA of line y of src,
// directly for the usual image types, through At for the others.
func readRow(src image.Image, y int, row []uint8) {
	b := src.Bounds()
	w := b.Dx()
	switch s := src.(type) {
	case *image.RGBA:
		off := s.PixOffset(b.Min.X, y)
		copy(row, s.Pix[off:off+4*w])
	case *image.NRGBA:
		off := s.PixOffset(b.Min.X, y)
		p := s.Pix[off : off+4*w]
		for i := 0; i < len(p); i += 4 {
			a := uint32(p[i+3])
			row[i] = uint8((uint32(p[i])*a + 127) / 255)
			row[i+1] = uint8((uint32(p[i+1])*a + 127) / 255)
			row[i+2] = uint8((uint32(p[i+2])*a + 127) / 255)
			row[i+3] = uint8(a)
		}
	case *image.Gray:
		off := s.PixOffset(b.Min.X, y)
		for x, v := range s.Pix[off : off+w] {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = v, v, v, 255
		}
	case *image.YCbCr:
		for x := 0; x < w; x++ {
			yi, ci := s.YOffset(b.Min.X+x, y), s.COffset(b.Min.X+x, y)
			r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r, g, bl, 255
		}
	default:
		for x := 0; x < w; x++ {
			r, g, bl, a := src.At(b.Min.X+x, y).RGBA()
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = uint8(r>>8), uint8(g>>8), uint8(bl>>8), uint8(a>>8)
		}
	}
}

// shrinkGray is shrink for a grey image to a grey one: one channel to sum
// instead of four (a vessel map is usually grey).
func shrinkGray(ctx context.Context, src *image.Gray, k, dw, dh int) (*image.Gray, error) {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	dst := image.NewGray(image.Rect(0, 0, dw, dh))
	sums := make([]uint32, dw)
	for dy := 0; dy < dh; dy++ {
		if dy%32 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		clear(sums)
		y0 := dy * k
		y1 := min(y0+k, sh)
		for sy := y0; sy < y1; sy++ {
			off := src.PixOffset(sb.Min.X, sb.Min.Y+sy)
			row := src.Pix[off : off+sw]
			for dx := range sums {
				var v uint32
				for _, p := range row[dx*k : min(dx*k+k, sw)] {
					v += uint32(p)
				}
				sums[dx] += v
			}
		}
		rows := uint32(y1 - y0)
		out := dst.Pix[dy*dst.Stride:]
		for dx, v := range sums {
			n := rows * uint32(min(k, sw-dx*k))
			out[dx] = uint8((v + n/2) / n)
		}
	}
	return dst, nil
}
