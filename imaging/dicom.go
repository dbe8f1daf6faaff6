package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// DICOM Part 10 input: the SOP classes and transfer syntaxes AURA takes.
const (
	SOPOphthalmic8Bit    = "1.2.840.10008.5.1.4.1.1.77.1.5.1"
	SOPSecondaryCapture  = "1.2.840.10008.5.1.4.1.1.7"
	tsImplicitLE         = "1.2.840.10008.1.2"
	tsExplicitLE         = "1.2.840.10008.1.2.1"
	tsJPEGBaseline       = "1.2.840.10008.1.2.4.50"
	dicomMaxDepth        = 8
	dicomMaxElements     = 100_000
	dicomParseTimeLimit  = 10 * time.Second
	undefinedLength      = 0xFFFFFFFF
	itemTag              = 0xFFFEE000
	itemDelimTag         = 0xFFFEE00D
	seqDelimTag          = 0xFFFEE0DD
	pixelDataTag         = 0x7FE00010
	dicomPreambleAndMagc = 132
)

// ErrDICOMUnsupported is wrapped by the error of a well-formed DICOM file
// AURA does not take: another SOP class, a transfer syntax it cannot
// decode, pixels that are not 8-bit RGB or MONOCHROME2.
var ErrDICOMUnsupported = errors.New("imaging: DICOM object not supported")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDICOMUnsupported}, args...)...)
}

// IsDICOM says whether head (the first 132 bytes or more of a file) is a
// DICOM Part 10 file: a 128-byte preamble and "DICM".
func IsDICOM(head []byte) bool {
	return len(head) >= dicomPreambleAndMagc && string(head[128:132]) == "DICM"
}

// DICOMInfo is what AURA keeps of a DICOM object's header.
type DICOMInfo struct {
	SOPClassUID       string
	SOPInstanceUID    string
	StudyInstanceUID  string
	SeriesInstanceUID string
	Modality          string
	// Laterality is ImageLaterality (0020,0062), else Laterality
	// (0020,0060): "L", "R" or whatever else the file says.
	Laterality       string
	PatientID        string
	PatientName      string // PN with its ^ separators turned to spaces
	PatientBirthDate string // YYYY-MM-DD, or "" when absent or malformed
	PatientSex       string // M, F, O or ""
	AcquiredAt       *time.Time
}

// Eye is "left" or "right" from the laterality, else "".
func (i DICOMInfo) Eye() string {
	switch strings.ToUpper(strings.TrimSpace(i.Laterality)) {
	case "L":
		return "left"
	case "R":
		return "right"
	}
	return ""
}

// DICOMFile is a parsed DICOM object whose photograph can be written out as
// a JPEG (JPEG baseline, the file's own bytes) or a PNG (uncompressed
// pixels).
type DICOMFile struct {
	Info        DICOMInfo
	Rows, Cols  int
	samples     int
	planar      bool
	jpeg        []byte
	native      []byte
	transferUID string
}

// ImageBytes is an estimate of the memory WriteImage holds: the decoded
// photograph.
func (f *DICOMFile) ImageBytes() int64 {
	if f.jpeg != nil {
		return 0 // written as is; checked later as any JPEG
	}
	if f.samples == 1 {
		return int64(f.Rows) * int64(f.Cols)
	}
	return int64(f.Rows) * int64(f.Cols) * 4
}

// Ext is the extension of what WriteImage writes (jpg or png).
func (f *DICOMFile) Ext() string {
	if f.jpeg != nil {
		return "jpg"
	}
	return "png"
}

// WriteImage writes the photograph's first frame: the JPEG stream of a
// JPEG baseline object as it is, uncompressed pixels as a PNG.
func (f *DICOMFile) WriteImage(w io.Writer) error {
	if f.jpeg != nil {
		_, err := w.Write(f.jpeg)
		return err
	}
	r := image.Rect(0, 0, f.Cols, f.Rows)
	n := f.Rows * f.Cols
	if f.samples == 1 {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, &image.Gray{Pix: f.native[:n], Stride: f.Cols, Rect: r})
	}
	img := image.NewRGBA(r)
	for i := 0; i < n; i++ {
		var red, green, blue byte
		if f.planar {
			red, green, blue = f.native[i], f.native[n+i], f.native[2*n+i]
		} else {
			red, green, blue = f.native[3*i], f.native[3*i+1], f.native[3*i+2]
		}
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = red, green, blue, 0xFF
	}
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}

// ParseDICOM reads a DICOM Part 10 file held in b (its size is bounded by
// the caller's upload limit). Before the DICOM library reads a byte, a
// scan of the file's structure refuses what could make a parser allocate
// or recurse without bound: a declared length beyond the end of the file,
// sequences nested deeper than 8, more than 100 000 elements; and the
// library's parse (metadata only: the pixels are located by the scan) is
// given at most 10 seconds. Errors wrap ErrFormat for a damaged or hostile
// file, ErrDICOMUnsupported for one AURA does not take, or are ctx's.
func ParseDICOM(ctx context.Context, b []byte, maxPixels int64) (*DICOMFile, error) {
	if !IsDICOM(b) {
		return nil, formatErr("not a DICOM Part 10 file")
	}
	sc := &dcmScan{b: b}
	ts, pos, err := sc.meta()
	if err != nil {
		return nil, err
	}
	switch ts {
	case tsImplicitLE:
	case tsExplicitLE, tsJPEGBaseline:
		sc.explicit = true
	default:
		return nil, unsupported("transfer syntax %q", ts)
	}
	if _, err := sc.dataset(pos, len(b), 0, false); err != nil {
		return nil, err
	}
	if sc.pixelFound == false {
		return nil, formatErr("no pixel data")
	}
	ds, err := parseLimited(ctx, b)
	if err != nil {
		return nil, err
	}
	f := &DICOMFile{transferUID: ts}
	f.Info = infoOf(ds)
	switch f.Info.SOPClassUID {
	case SOPOphthalmic8Bit, SOPSecondaryCapture:
	default:
		return nil, unsupported("SOP class %q", f.Info.SOPClassUID)
	}
	if f.Info.SOPInstanceUID == "" || len(f.Info.SOPInstanceUID) > 64 {
		return nil, formatErr("SOPInstanceUID (0008,0018) missing or longer than 64 characters")
	}
	f.Rows, f.Cols = intOf(ds, tag.Rows), intOf(ds, tag.Columns)
	f.samples = intOf(ds, tag.SamplesPerPixel)
	if f.Rows <= 0 || f.Cols <= 0 {
		return nil, formatErr("Rows and Columns must be given")
	}
	if int64(f.Rows)*int64(f.Cols) > maxPixels {
		return nil, &TooLargeError{Need: int64(f.Rows) * int64(f.Cols) * 4, Budget: maxPixels * 4}
	}
	if ts == tsJPEGBaseline {
		if sc.frags == nil {
			return nil, formatErr("JPEG baseline pixel data must be encapsulated")
		}
		var jb bytes.Buffer
		for _, fr := range sc.frags {
			jb.Write(fr)
			// The first frame ends with its EOI marker.
			if bytes.HasSuffix(bytes.TrimRight(fr, "\x00"), []byte{0xFF, 0xD9}) {
				break
			}
		}
		if !bytes.HasPrefix(jb.Bytes(), []byte{0xFF, 0xD8, 0xFF}) {
			return nil, formatErr("pixel data is not a JPEG stream")
		}
		f.jpeg = jb.Bytes()
		return f, nil
	}
	if sc.native == nil {
		return nil, formatErr("uncompressed pixel data must have a defined length")
	}
	bits := intOf(ds, tag.BitsAllocated)
	photometric := strings.TrimSpace(strOf(ds, tag.PhotometricInterpretation))
	switch {
	case bits != 8:
		return nil, unsupported("BitsAllocated %d (only 8)", bits)
	case f.samples == 1 && photometric == "MONOCHROME2":
	case f.samples == 3 && photometric == "RGB":
		f.planar = intOf(ds, tag.PlanarConfiguration) == 1
	default:
		return nil, unsupported("photometric interpretation %q with %d samples per pixel", photometric, f.samples)
	}
	need := int64(f.Rows) * int64(f.Cols) * int64(f.samples)
	if int64(len(sc.native)) < need {
		return nil, formatErr("pixel data holds %d bytes, less than Rows×Columns×SamplesPerPixel (%d)", len(sc.native), need)
	}
	f.native = sc.native
	return f, nil
}

// parseLimited runs the library's parse (pixel data skipped) with a time
// limit; a panic in it is a damaged file.
func parseLimited(ctx context.Context, b []byte) (dicom.Dataset, error) {
	type result struct {
		ds  dicom.Dataset
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: formatErr("DICOM parser failed: %v", p)}
			}
		}()
		ds, err := dicom.Parse(bytes.NewReader(b), int64(len(b)), nil, dicom.SkipPixelData(), dicom.AllowMissingMetaElementGroupLength())
		done <- result{ds, err}
	}()
	t := time.NewTimer(dicomParseTimeLimit)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			if errors.Is(r.err, ErrFormat) {
				return r.ds, r.err
			}
			return r.ds, formatErr("DICOM: %v", r.err)
		}
		return r.ds, nil
	case <-t.C:
		return dicom.Dataset{}, formatErr("DICOM header took longer than %s to read", dicomParseTimeLimit)
	case <-ctx.Done():
		return dicom.Dataset{}, ctx.Err()
	}
}

func strOf(ds dicom.Dataset, t tag.Tag) string {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return ""
	}
	s, ok := e.Value.GetValue().([]string)
	if !ok || len(s) == 0 {
		return ""
	}
	return strings.TrimRight(strings.TrimSpace(strings.Join(s, "\\")), "\x00")
}

func intOf(ds dicom.Dataset, t tag.Tag) int {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return 0
	}
	if v, ok := e.Value.GetValue().([]int); ok && len(v) > 0 {
		return v[0]
	}
	return 0
}

func infoOf(ds dicom.Dataset) DICOMInfo {
	i := DICOMInfo{
		SOPClassUID:       strOf(ds, tag.SOPClassUID),
		SOPInstanceUID:    strOf(ds, tag.SOPInstanceUID),
		StudyInstanceUID:  strOf(ds, tag.StudyInstanceUID),
		SeriesInstanceUID: strOf(ds, tag.SeriesInstanceUID),
		Modality:          strOf(ds, tag.Modality),
		Laterality:        strOf(ds, tag.ImageLaterality),
		PatientID:         strOf(ds, tag.PatientID),
		PatientSex:        strings.ToUpper(strOf(ds, tag.PatientSex)),
	}
	if i.SOPClassUID == "" {
		i.SOPClassUID = strOf(ds, tag.MediaStorageSOPClassUID)
	}
	if i.Laterality == "" {
		i.Laterality = strOf(ds, tag.Laterality)
	}
	i.PatientName = strings.Join(strings.FieldsFunc(strOf(ds, tag.PatientName), func(r rune) bool { return r == '^' || r == ' ' || r == '=' }), " ")
	if d, err := time.Parse("20060102", strOf(ds, tag.PatientBirthDate)); err == nil {
		i.PatientBirthDate = d.Format("2006-01-02")
	}
	switch i.PatientSex {
	case "M", "F", "O":
	default:
		i.PatientSex = ""
	}
	if t, ok := dicomTime(strOf(ds, tag.AcquisitionDateTime), ""); ok {
		i.AcquiredAt = &t
	} else {
		for _, p := range [][2]tag.Tag{{tag.AcquisitionDate, tag.AcquisitionTime}, {tag.ContentDate, tag.ContentTime}, {tag.StudyDate, tag.StudyTime}} {
			if t, ok := dicomTime(strOf(ds, p[0]), strOf(ds, p[1])); ok {
				i.AcquiredAt = &t
				break
			}
		}
	}
	return i
}

// dicomTime reads a DT (or a DA and a TM) without an offset as UTC.
func dicomTime(date, tm string) (time.Time, bool) {
	s := date + tm
	if i := strings.IndexAny(s, "+-"); i > 0 {
		s = s[:i] // an offset is not kept: read as written
	}
	if j := strings.IndexByte(s, '.'); j > 0 {
		s = s[:j]
	}
	for _, layout := range []string{"20060102150405", "200601021504", "2006010215", "20060102"} {
		if len(s) == len(layout) {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// dcmScan walks a Part 10 file's structure without keeping anything but
// where the pixels are, refusing what a parser could not read in bounded
// memory and time.
type dcmScan struct {
	b          []byte
	explicit   bool
	elements   int
	pixelFound bool
	native     []byte
	frags      [][]byte
}

var longVR = map[string]bool{"OB": true, "OD": true, "OF": true, "OL": true, "OV": true, "OW": true, "SQ": true,
	"SV": true, "UC": true, "UN": true, "UR": true, "UT": true, "UV": true}

// meta reads the file meta group (explicit VR little endian): the
// transfer syntax, and where the dataset starts.
func (s *dcmScan) meta() (string, int, error) {
	pos, ts := dicomPreambleAndMagc, ""
	for pos+8 <= len(s.b) && binary.LittleEndian.Uint16(s.b[pos:]) == 0x0002 {
		el, vr, vl, hl, err := s.header(pos, len(s.b), true)
		if err != nil {
			return "", 0, err
		}
		if vl == undefinedLength || int64(vl) > int64(len(s.b)-pos-hl) {
			return "", 0, formatErr("file meta element (0002,%04X) runs past the end of the file", el&0xFFFF)
		}
		if el == 0x00020010 {
			ts = strings.TrimRight(string(s.b[pos+hl:pos+hl+int(vl)]), "\x00 ")
		}
		_ = vr
		pos += hl + int(vl)
	}
	if ts == "" {
		return "", 0, formatErr("no TransferSyntaxUID (0002,0010) in the file meta information")
	}
	return ts, pos, nil
}

// header reads an element header at pos: tag (group<<16|element), VR,
// value length, header length.
func (s *dcmScan) header(pos, end int, explicit bool) (uint32, string, uint32, int, error) {
	if end-pos < 8 {
		return 0, "", 0, 0, formatErr("truncated at byte %d", pos)
	}
	b := s.b[pos:end]
	t := uint32(binary.LittleEndian.Uint16(b))<<16 | uint32(binary.LittleEndian.Uint16(b[2:]))
	if t>>16 == 0xFFFE || !explicit {
		return t, "", binary.LittleEndian.Uint32(b[4:]), 8, nil
	}
	vr := string(b[4:6])
	if longVR[vr] {
		if len(b) < 12 {
			return 0, "", 0, 0, formatErr("truncated at byte %d", pos)
		}
		return t, vr, binary.LittleEndian.Uint32(b[8:]), 12, nil
	}
	return t, vr, uint32(binary.LittleEndian.Uint16(b[6:])), 8, nil
}

// dataset walks elements from pos to end; inItem says an item of
// undefined length, which ends at its delimiter. It returns where it
// stopped.
func (s *dcmScan) dataset(pos, end, depth int, inItem bool) (int, error) {
	for pos < end {
		t, vr, vl, hl, err := s.header(pos, end, s.explicit)
		if err != nil {
			return 0, err
		}
		if s.elements++; s.elements > dicomMaxElements {
			return 0, formatErr("more than %d elements", dicomMaxElements)
		}
		if t == itemDelimTag {
			if !inItem {
				return 0, formatErr("item delimiter outside an item at byte %d", pos)
			}
			return pos + 8, nil
		}
		if t>>16 == 0xFFFE {
			return 0, formatErr("unexpected item tag at byte %d", pos)
		}
		v := pos + hl
		switch {
		case t == pixelDataTag && depth == 0:
			s.pixelFound = true
			if vl == undefinedLength {
				if pos, err = s.fragments(v, end); err != nil {
					return 0, err
				}
				continue
			}
			if int64(vl) > int64(end-v) {
				return 0, formatErr("pixel data declares %d bytes, more than the file holds", vl)
			}
			s.native = s.b[v : v+int(vl)]
			pos = v + int(vl)
		case vr == "SQ" || vl == undefinedLength ||
			(!s.explicit && vl >= 8 && int64(vl) <= int64(end-v) && binary.LittleEndian.Uint32(s.b[v:]) == 0xE000FFFE):
			if pos, err = s.sequence(v, end, vl, depth+1); err != nil {
				return 0, err
			}
		default:
			if int64(vl) > int64(end-v) {
				return 0, formatErr("element (%04X,%04X) declares %d bytes, more than the file holds", t>>16, t&0xFFFF, vl)
			}
			pos = v + int(vl)
		}
	}
	if inItem {
		return 0, formatErr("item without its delimiter: truncated")
	}
	return pos, nil
}

// sequence walks a sequence's items from pos (its value) and returns the
// position after it.
func (s *dcmScan) sequence(pos, end int, vl uint32, depth int) (int, error) {
	if depth > dicomMaxDepth {
		return 0, formatErr("sequences nested deeper than %d", dicomMaxDepth)
	}
	seqEnd := end
	if vl != undefinedLength {
		if int64(vl) > int64(end-pos) {
			return 0, formatErr("sequence declares %d bytes, more than the file holds", vl)
		}
		seqEnd = pos + int(vl)
	}
	for pos < seqEnd {
		t, _, il, _, err := s.header(pos, seqEnd, false)
		if err != nil {
			return 0, err
		}
		if s.elements++; s.elements > dicomMaxElements {
			return 0, formatErr("more than %d elements", dicomMaxElements)
		}
		pos += 8
		switch {
		case t == seqDelimTag && vl == undefinedLength:
			return pos, nil
		case t != itemTag:
			return 0, formatErr("expected an item at byte %d", pos-8)
		case il == undefinedLength:
			if pos, err = s.dataset(pos, seqEnd, depth, true); err != nil {
				return 0, err
			}
		default:
			if int64(il) > int64(seqEnd-pos) {
				return 0, formatErr("item declares %d bytes, more than its sequence holds", il)
			}
			if _, err := s.dataset(pos, pos+int(il), depth, false); err != nil {
				return 0, err
			}
			pos += int(il)
		}
	}
	if vl == undefinedLength {
		return 0, formatErr("sequence without its delimiter: truncated")
	}
	return pos, nil
}

// fragments walks encapsulated pixel data: the basic offset table, then
// the fragments, to the sequence delimiter.
func (s *dcmScan) fragments(pos, end int) (int, error) {
	first := true
	for {
		t, _, il, _, err := s.header(pos, end, false)
		if err != nil {
			return 0, err
		}
		pos += 8
		if t == seqDelimTag {
			return pos, nil
		}
		if t != itemTag || il == undefinedLength || int64(il) > int64(end-pos) {
			return 0, formatErr("damaged encapsulated pixel data at byte %d", pos-8)
		}
		if s.elements++; s.elements > dicomMaxElements {
			return 0, formatErr("more than %d elements", dicomMaxElements)
		}
		if !first {
			s.frags = append(s.frags, s.b[pos:pos+int(il)])
		}
		first = false
		pos += int(il)
	}
}
