package imaging

// overhead covers what a decode holds beside its pixels: the inflater's
// window, buffers, Huffman tables.
const overhead = 1 << 20

// DecodeBytes is how many bytes decoding the image (Decode) holds at most:
// the decoded pixels in the type Decode returns and the decoder's working
// buffers. The estimates follow Go's decoders (image/png, image/jpeg) and
// this package's 16-bit PNG reader; TestDecodeBytesBoundsAllocation checks
// them against what a decode really allocates.
func (h Header) DecodeBytes() int64 {
	px := h.Pixels()
	switch h.Format {
	case PNG:
		rows := 2 * (1 + h.rowBytes())
		if h.Depth == 16 {
			// read row by row into 8 bits per sample
			return px*int64(h.outBytesPerPixel()) + rows + overhead
		}
		// image/png was seen to allocate up to a fifth more than its image
		img := px * int64(h.outBytesPerPixel()) * 5 / 4
		if h.Interlaced {
			img *= 2 // each pass is decoded into an image of its own, then merged
		}
		return img + rows + overhead
	case JPEG:
		return h.jpegBytes() + overhead
	}
	return px*8 + overhead
}

// CheckBytes is how many bytes Check holds at most: a 16-bit PNG is read
// without keeping its pixels (two rows); any other image is decoded.
func (h Header) CheckBytes() int64 {
	if h.Format == PNG && h.Depth == 16 {
		return 2*(1+h.rowBytes()) + overhead
	}
	return h.DecodeBytes()
}

// rowBytes is the bytes of one PNG row of samples (its filter byte apart).
func (h Header) rowBytes() int64 {
	return (int64(h.Width)*int64(pngChannels[h.ColorType]*h.Depth) + 7) / 8
}

// outBytesPerPixel is the bytes per pixel of the image a PNG decodes to:
// Go's types for 8 bits and less (Gray, Paletted; RGBA or NRGBA), and for
// 16 bits this package's 8-bit ones (Gray; RGBA or NRGBA).
func (h Header) outBytesPerPixel() int {
	switch {
	case h.ColorType == 3:
		return 1
	case h.ColorType == 0 && !h.Transparent:
		return 1
	}
	return 4
}

// jpegBytes follows image/jpeg: the YCbCr (or Gray) planes padded to whole
// MCUs, the black plane and the CMYK image of a four-component file, the
// RGBA image of an Adobe RGB one, and, when progressive, 64 int32
// coefficients per 8×8 block of every component.
func (h Header) jpegBytes() int64 {
	if len(h.Components) == 0 {
		return h.Pixels() * 4
	}
	hmax, vmax := 1, 1
	for _, c := range h.Components {
		hmax, vmax = max(hmax, c.H), max(vmax, c.V)
	}
	mxx := (int64(h.Width) + 8*int64(hmax) - 1) / (8 * int64(hmax))
	myy := (int64(h.Height) + 8*int64(vmax) - 1) / (8 * int64(vmax))
	c0 := h.Components[0]
	y := 8 * int64(c0.H) * mxx * 8 * int64(c0.V) * myy
	var n int64
	switch len(h.Components) {
	case 1:
		n = 8 * mxx * 8 * myy
	default:
		n = y + 2*y/int64(c0.H*c0.V)
		if len(h.Components) == 4 {
			c3 := h.Components[3]
			n += 8*int64(c3.H)*mxx*8*int64(c3.V)*myy + h.Pixels()*4
		} else if h.adobeRGB {
			n += h.Pixels() * 4
		}
	}
	if h.Progressive {
		for _, c := range h.Components {
			n += 256 * mxx * myy * int64(c.H*c.V)
		}
	}
	return n
}
