// Package imaging reads AURA's fundus photographs (JPEG and PNG) within a
// memory bound. It learns from an image's header, before any pixel is
// decoded, how many bytes its decode will hold (dimensions, bit depth,
// colour type, components, subsampling, progressive coding); it decodes a
// 16-bit PNG row by row straight into 8 bits per sample, so it costs no more
// than an 8-bit one; and a Budget (a weighted semaphore over those bytes)
// bounds what all the decodes of a process hold at once.
//
// It imports nothing else of AURA.
package imaging

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Formats.
const (
	PNG  = "png"
	JPEG = "jpeg"
)

// ErrFormat is wrapped by every error about an image that is not a
// well-formed JPEG or PNG.
var ErrFormat = errors.New("imaging: not a well-formed image")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// Header is what an image says of itself before its pixels.
type Header struct {
	Format        string // PNG or JPEG
	Width, Height int
	// Depth is the bits per sample (PNG: 1, 2, 4, 8 or 16; JPEG: 8 or 12).
	Depth int
	// ColorType is the PNG colour type (0 grey, 2 RGB, 3 palette, 4 grey
	// and alpha, 6 RGBA); Transparent says a tRNS chunk came before the
	// pixels; Interlaced is Adam7.
	ColorType   int
	Transparent bool
	Interlaced  bool
	// Components are the JPEG's colour components with their sampling
	// factors; Progressive says it is coded in several scans.
	Components  []Component
	Progressive bool
	// adobeRGB: an Adobe APP14 segment says the three components are RGB
	// (image/jpeg then converts them to an RGBA image).
	adobeRGB bool
}

// Component is a JPEG colour component's horizontal and vertical sampling.
type Component struct{ H, V int }

// Pixels is Width×Height.
func (h Header) Pixels() int64 { return int64(h.Width) * int64(h.Height) }

// ReadHeader reads an image's header from r, stopping before its pixels: a
// PNG's chunks up to the first IDAT, a JPEG's segments up to its frame
// header (SOFn).
func ReadHeader(r io.Reader) (Header, error) {
	br := bufio.NewReader(r)
	sig, err := br.Peek(8)
	switch {
	case err == nil && bytes.Equal(sig, pngSig):
		return readPNGHeader(br)
	case len(sig) >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF:
		return readJPEGHeader(br)
	}
	return Header{}, formatErr("neither a PNG nor a JPEG")
}

var pngSig = []byte("\x89PNG\r\n\x1a\n")

// pngChannels are the samples per pixel of each PNG colour type.
var pngChannels = map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

// pngDepths are the bit depths each PNG colour type allows.
var pngDepths = map[int][]int{0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}

func readPNGHeader(br *bufio.Reader) (Header, error) {
	if _, err := br.Discard(8); err != nil {
		return Header{}, formatErr("truncated PNG")
	}
	h := Header{Format: PNG}
	for i := 0; ; i++ {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return h, formatErr("truncated PNG")
		}
		n, typ := binary.BigEndian.Uint32(hdr[:4]), string(hdr[4:])
		if n > 1<<31-1 {
			return h, formatErr("PNG chunk too long")
		}
		if i == 0 {
			if typ != "IHDR" || n != 13 {
				return h, formatErr("PNG does not start with IHDR")
			}
			var d [13]byte
			if _, err := io.ReadFull(br, d[:]); err != nil {
				return h, formatErr("truncated PNG")
			}
			h.Width, h.Height = int(binary.BigEndian.Uint32(d[0:])), int(binary.BigEndian.Uint32(d[4:]))
			h.Depth, h.ColorType, h.Interlaced = int(d[8]), int(d[9]), d[12] == 1
			ok := false
			for _, dd := range pngDepths[h.ColorType] {
				ok = ok || dd == h.Depth
			}
			switch {
			case h.Width <= 0 || h.Height <= 0 || h.Width > 1<<30 || h.Height > 1<<30:
				return h, formatErr("bad PNG dimensions")
			case !ok:
				return h, formatErr("bad PNG bit depth %d for colour type %d", h.Depth, h.ColorType)
			case d[10] != 0 || d[11] != 0 || d[12] > 1:
				return h, formatErr("bad PNG compression, filter or interlace method")
			}
			if _, err := br.Discard(4); err != nil { // CRC: checked when the pixels are read
				return h, formatErr("truncated PNG")
			}
			continue
		}
		switch typ {
		case "IDAT", "IEND":
			return h, nil
		case "tRNS":
			h.Transparent = true
		}
		if _, err := br.Discard(int(n) + 4); err != nil {
			return h, formatErr("truncated PNG")
		}
	}
}

func readJPEGHeader(br *bufio.Reader) (Header, error) {
	h := Header{Format: JPEG}
	if _, err := br.Discard(2); err != nil {
		return h, formatErr("truncated JPEG")
	}
	for {
		// a marker: 0xFF, any fill 0xFF bytes, then its code
		c, err := br.ReadByte()
		if err != nil {
			return h, formatErr("truncated JPEG")
		}
		if c != 0xFF {
			return h, formatErr("JPEG marker expected")
		}
		for c == 0xFF {
			if c, err = br.ReadByte(); err != nil {
				return h, formatErr("truncated JPEG")
			}
		}
		if c == 0x01 || 0xD0 <= c && c <= 0xD7 { // no length
			continue
		}
		if c == 0xD9 || c == 0xDA {
			return h, formatErr("JPEG without a frame header")
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return h, formatErr("truncated JPEG")
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return h, formatErr("bad JPEG segment length")
		}
		if c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC {
			d := make([]byte, n)
			if _, err := io.ReadFull(br, d); err != nil || n < 6 {
				return h, formatErr("truncated JPEG frame header")
			}
			h.Depth, h.Height, h.Width = int(d[0]), int(binary.BigEndian.Uint16(d[1:])), int(binary.BigEndian.Uint16(d[3:]))
			h.Progressive = c == 0xC2 || c == 0xC6 || c == 0xCA || c == 0xCE
			nc := int(d[5])
			if nc < 1 || nc > 4 || n < 6+3*nc {
				return h, formatErr("bad JPEG components")
			}
			for i := range nc {
				hv := d[6+3*i+1]
				h.Components = append(h.Components, Component{H: max(1, int(hv>>4)), V: max(1, int(hv&15))})
			}
			if h.Width <= 0 || h.Height <= 0 {
				return h, formatErr("bad JPEG dimensions")
			}
			return h, nil
		}
		if c == 0xEE && n >= 12 { // APP14 "Adobe": its transform byte
			d := make([]byte, n)
			if _, err := io.ReadFull(br, d); err != nil {
				return h, formatErr("truncated JPEG")
			}
			h.adobeRGB = string(d[:5]) == "Adobe" && d[11] == 0
			continue
		}
		if _, err := br.Discard(n); err != nil {
			return h, formatErr("truncated JPEG")
		}
	}
}
