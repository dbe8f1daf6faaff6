package imaging

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"image"
	"io"
)

// readPNG16 reads a PNG of 16 bits per sample row by row (two rows held at
// a time) and, when keep, writes each pixel at 8 bits per sample into the
// image it returns: Gray for grey, RGBA for RGB, NRGBA when there is alpha
// or a tRNS colour key. Without keep it only checks the file whole, as
// image/png would: chunk order and CRCs, the filter of every row, exactly
// the pixel data the header announces, the zlib checksum, and IEND.
func readPNG16(r io.Reader, keep bool) (image.Image, error) {
	c := &chunks{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.NewIEEE()}
	sig := make([]byte, 8)
	if _, err := io.ReadFull(c.r, sig); err != nil || !bytes.Equal(sig, pngSig) {
		return nil, formatErr("not a PNG")
	}
	var h Header
	var key []byte // tRNS colour key, 16-bit samples
	for seen := 0; ; seen++ {
		typ, data, err := c.next(true)
		if err != nil {
			return nil, err
		}
		if seen == 0 {
			if typ != "IHDR" || len(data) != 13 {
				return nil, formatErr("PNG does not start with IHDR")
			}
			h = Header{Format: PNG, Width: int(binary.BigEndian.Uint32(data[0:])), Height: int(binary.BigEndian.Uint32(data[4:])),
				Depth: int(data[8]), ColorType: int(data[9]), Interlaced: data[12] == 1}
			if h.Depth != 16 || h.ColorType == 3 || pngChannels[h.ColorType] == 0 || data[10] != 0 || data[11] != 0 || data[12] > 1 ||
				h.Width <= 0 || h.Height <= 0 || h.Width > 1<<30 || h.Height > 1<<30 {
				return nil, formatErr("bad PNG header")
			}
			continue
		}
		switch typ {
		case "IHDR":
			return nil, formatErr("PNG chunk out of order")
		case "tRNS":
			switch {
			case h.ColorType == 0 && len(data) == 2, h.ColorType == 2 && len(data) == 6:
				key = data
			case h.ColorType == 0 || h.ColorType == 2:
				return nil, formatErr("bad tRNS length")
			default:
				return nil, formatErr("tRNS, color type mismatch")
			}
		case "IEND":
			return nil, formatErr("PNG without pixel data")
		}
		if typ == "IDAT" {
			break
		}
	}
	h.Transparent = key != nil
	img, err := c.pixels(h, key, keep)
	if err != nil {
		return nil, err
	}
	for {
		typ, _, err := c.next(false)
		if err != nil {
			return nil, err
		}
		switch typ {
		case "IDAT": // trailing IDAT chunks are ignored, as image/png does
			if _, err := io.CopyN(c.crc, c.r, c.left); err != nil {
				return nil, formatErr("truncated PNG")
			}
			c.left = 0
			if err := c.close(); err != nil {
				return nil, err
			}
		case "IEND":
			return img, nil
		}
	}
}

// chunks reads a PNG's chunks, checking each CRC.
type chunks struct {
	r   *bufio.Reader
	crc hash.Hash32
	// the IDAT chunk being read: its bytes left
	left int64
	typ  string
	open bool // an IDAT whose CRC is still to be read
	one  [1]byte
}

// next reads the next chunk's header and, when body (and it is not an
// IDAT), its data, checking the CRC. An IDAT's data is left to Read.
func (c *chunks) next(body bool) (string, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return "", nil, formatErr("truncated PNG")
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if n > 1<<31-1 {
		return "", nil, formatErr("PNG chunk too long")
	}
	c.typ = string(hdr[4:])
	c.crc.Reset()
	c.crc.Write(hdr[4:])
	if c.typ == "IDAT" {
		c.left, c.open = n, true
		return c.typ, nil, nil
	}
	var data []byte
	if body && n <= 1<<20 {
		data = make([]byte, n)
		if _, err := io.ReadFull(c.r, data); err != nil {
			return "", nil, formatErr("truncated PNG")
		}
		c.crc.Write(data)
	} else if _, err := io.CopyN(c.crc, c.r, n); err != nil {
		return "", nil, formatErr("truncated PNG")
	}
	return c.typ, data, c.endChunk()
}

func (c *chunks) endChunk() error {
	var sum [4]byte
	if _, err := io.ReadFull(c.r, sum[:]); err != nil {
		return formatErr("truncated PNG")
	}
	if binary.BigEndian.Uint32(sum[:]) != c.crc.Sum32() {
		return formatErr("invalid checksum")
	}
	return nil
}

// fill moves to the next IDAT chunk once the current one is read; io.EOF
// at the end of the pixel data.
func (c *chunks) fill() error {
	for c.left == 0 {
		if err := c.close(); err != nil {
			return err
		}
		if c.typ != "IDAT" {
			return io.EOF
		}
		b, err := c.r.Peek(8)
		if err != nil || len(b) < 8 {
			return formatErr("truncated PNG")
		}
		if string(b[4:8]) != "IDAT" {
			c.typ = ""
			return io.EOF
		}
		if _, _, err := c.next(false); err != nil {
			return err
		}
	}
	return nil
}

// Read reads the pixel data across consecutive IDAT chunks; io.EOF once a
// chunk of another type follows (it is then read by next).
func (c *chunks) Read(p []byte) (int, error) {
	if err := c.fill(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p[:min(int64(len(p)), c.left)])
	c.crc.Write(p[:n])
	c.left -= int64(n)
	if err == io.EOF {
		err = formatErr("truncated PNG")
	}
	return n, err
}

// ReadByte lets the inflater read exactly what it needs, no further.
func (c *chunks) ReadByte() (byte, error) {
	if err := c.fill(); err != nil {
		return 0, err
	}
	b, err := c.r.ReadByte()
	if err != nil {
		return 0, formatErr("truncated PNG")
	}
	c.one[0] = b
	c.crc.Write(c.one[:])
	c.left--
	return b, nil
}

// close ends the IDAT chunk being read, once its data is read: its CRC.
func (c *chunks) close() error {
	if !c.open {
		return nil
	}
	c.open = false
	return c.endChunk()
}

// adam7 are the interlace passes: x and y offset and step.
var adam7 = [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// pixels inflates the rows and, when keep, unfilters them into an 8-bit image.
func (c *chunks) pixels(h Header, key []byte, keep bool) (image.Image, error) {
	zr, err := zlib.NewReader(c)
	if err != nil {
		return nil, formatErr("%v", err)
	}
	ch := pngChannels[h.ColorType]
	bpp := 2 * ch
	rect := image.Rect(0, 0, h.Width, h.Height)
	var gray *image.Gray
	var rgba *image.RGBA
	var nrgba *image.NRGBA
	if keep {
		switch {
		case h.ColorType == 0 && key == nil:
			gray = image.NewGray(rect)
		case h.ColorType == 2 && key == nil:
			rgba = image.NewRGBA(rect)
		default:
			nrgba = image.NewNRGBA(rect)
		}
	}
	passes := [][4]int{{0, 0, 1, 1}}
	if h.Interlaced {
		passes = adam7[:]
	}
	cr := make([]byte, 1+h.Width*bpp)
	pr := make([]byte, 1+h.Width*bpp)
	for _, p := range passes {
		pw, ph := (h.Width-p[0]+p[2]-1)/p[2], (h.Height-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		n := 1 + pw*bpp
		clear(pr[:n])
		for y := range ph {
			if _, err := io.ReadFull(zr, cr[:n]); err != nil {
				return nil, formatErr("not enough pixel data")
			}
			if cr[0] > 4 {
				return nil, formatErr("bad filter type")
			}
			if !keep {
				continue
			}
			unfilter(cr[1:n], pr[1:n], cr[0], bpp)
			row := cr[1:n]
			dy := p[1] + y*p[3]
			for x := range pw {
				s := row[x*bpp : x*bpp+bpp]
				dx := p[0] + x*p[2]
				switch {
				case gray != nil:
					gray.Pix[dy*gray.Stride+dx] = s[0]
				case rgba != nil:
					o := dy*rgba.Stride + dx*4
					rgba.Pix[o], rgba.Pix[o+1], rgba.Pix[o+2], rgba.Pix[o+3] = s[0], s[2], s[4], 0xFF
				default:
					o := dy*nrgba.Stride + dx*4
					d := nrgba.Pix[o : o+4 : o+4]
					switch h.ColorType {
					case 0:
						d[0], d[1], d[2], d[3] = s[0], s[0], s[0], alpha(s, key)
					case 2:
						d[0], d[1], d[2], d[3] = s[0], s[2], s[4], alpha(s, key)
					case 4:
						d[0], d[1], d[2], d[3] = s[0], s[0], s[0], s[2]
					case 6:
						d[0], d[1], d[2], d[3] = s[0], s[2], s[4], s[6]
					}
				}
			}
			cr, pr = pr, cr
		}
	}
	// The stream must end here: this reads the zlib checksum.
	var one [1]byte
	if n, err := io.ReadFull(zr, one[:]); n != 0 {
		return nil, formatErr("too much pixel data")
	} else if err != io.EOF {
		return nil, formatErr("bad pixel data: %v", err)
	}
	if c.left != 0 {
		return nil, formatErr("too much pixel data")
	}
	if err := c.close(); err != nil {
		return nil, err
	}
	switch {
	case gray != nil:
		return gray, nil
	case rgba != nil:
		return rgba, nil
	case nrgba != nil:
		return nrgba, nil
	}
	return nil, nil
}

// alpha is 0 for a pixel of the tRNS colour key, else opaque.
func alpha(s, key []byte) byte {
	if key != nil && bytes.Equal(s[:len(key)], key) {
		return 0
	}
	return 0xFF
}

// unfilter undoes a row's PNG filter in place (cdat the row, pdat the
// previous one, bpp bytes per pixel).
func unfilter(cdat, pdat []byte, filter byte, bpp int) {
	switch filter {
	case 1: // sub
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2: // up
		for i, p := range pdat {
			cdat[i] += p
		}
	case 3: // average
		for i := range bpp {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2)
		}
	case 4: // Paeth
		for i := range cdat {
			var a, c int
			if i >= bpp {
				a, c = int(cdat[i-bpp]), int(pdat[i-bpp])
			}
			cdat[i] += paeth(a, int(pdat[i]), c)
		}
	}
}

func paeth(a, b, c int) uint8 {
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return uint8(a)
	case pb <= pc:
		return uint8(b)
	}
	return uint8(c)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
