package tests

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"aura/internal/testenv"
)

// A minimal DICOM Part 10 writer for the tests: preamble, "DICM", the file
// meta group (explicit VR little endian) and a dataset in explicit VR
// little endian.

type dcmEl struct {
	tag uint32 // group<<16 | element
	vr  string
	val []byte
	// raw is written as is instead of the element (hostile files).
	raw []byte
}

const (
	sopOP8     = "1.2.840.10008.5.1.4.1.1.77.1.5.1"
	sopSC      = "1.2.840.10008.5.1.4.1.1.7"
	tsExplicit = "1.2.840.10008.1.2.1"
	tsJPEGBase = "1.2.840.10008.1.2.4.50"
)

func dcmStr(s string) []byte {
	if len(s)%2 == 1 {
		s += " "
	}
	return []byte(s)
}

func dcmUID(s string) []byte {
	if len(s)%2 == 1 {
		s += "\x00"
	}
	return []byte(s)
}

func dcmUS(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func dcmWrite(b *bytes.Buffer, e dcmEl) {
	if e.raw != nil {
		b.Write(e.raw)
		return
	}
	_ = binary.Write(b, binary.LittleEndian, uint16(e.tag>>16))
	_ = binary.Write(b, binary.LittleEndian, uint16(e.tag))
	b.WriteString(e.vr)
	switch e.vr {
	case "OB", "OW", "SQ", "UN", "UT":
		b.Write([]byte{0, 0})
		_ = binary.Write(b, binary.LittleEndian, uint32(len(e.val)))
	default:
		_ = binary.Write(b, binary.LittleEndian, uint16(len(e.val)))
	}
	b.Write(e.val)
}

// dcmFile is a Part 10 file of the given SOP class, instance and transfer
// syntax holding els (in tag order).
func dcmFile(sop, inst, ts string, els []dcmEl) []byte {
	var meta bytes.Buffer
	for _, e := range []dcmEl{
		{tag: 0x00020001, vr: "OB", val: []byte{0, 1}},
		{tag: 0x00020002, vr: "UI", val: dcmUID(sop)},
		{tag: 0x00020003, vr: "UI", val: dcmUID(inst)},
		{tag: 0x00020010, vr: "UI", val: dcmUID(ts)},
	} {
		dcmWrite(&meta, e)
	}
	var b bytes.Buffer
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	dcmWrite(&b, dcmEl{tag: 0x00020000, vr: "UL", val: binary.LittleEndian.AppendUint32(nil, uint32(meta.Len()))})
	b.Write(meta.Bytes())
	for _, e := range els {
		dcmWrite(&b, e)
	}
	return b.Bytes()
}

// dcmHeader is the dataset's header elements before the image module.
func dcmHeader(sop, inst string, extra map[uint32]string) []dcmEl {
	fields := map[uint32]string{
		0x00080016: sop, 0x00080018: inst, 0x00080020: "20261201", 0x00080030: "093000",
		0x00080060: "OP", 0x0020000D: "1.2.826.0.1.3680043.2.1.1", 0x0020000E: "1.2.826.0.1.3680043.2.1.1.1",
	}
	for k, v := range extra {
		fields[k] = v
	}
	vrs := map[uint32]string{0x00080016: "UI", 0x00080018: "UI", 0x00080020: "DA", 0x00080030: "TM", 0x00080060: "CS",
		0x0008002A: "DT", 0x00100010: "PN", 0x00100020: "LO", 0x00100030: "DA", 0x00100040: "CS",
		0x0020000D: "UI", 0x0020000E: "UI", 0x00200060: "CS", 0x00200062: "CS"}
	var out []dcmEl
	for _, tg := range []uint32{0x00080016, 0x00080018, 0x00080020, 0x0008002A, 0x00080030, 0x00080060, 0x00100010, 0x00100020,
		0x00100030, 0x00100040, 0x0020000D, 0x0020000E, 0x00200060, 0x00200062} {
		v, ok := fields[tg]
		if !ok {
			continue
		}
		if vrs[tg] == "UI" {
			out = append(out, dcmEl{tag: tg, vr: "UI", val: dcmUID(v)})
		} else {
			out = append(out, dcmEl{tag: tg, vr: vrs[tg], val: dcmStr(v)})
		}
	}
	return out
}

// dcmImage is the image module: samples per pixel, photometric, rows,
// columns, 8 bits.
func dcmImage(spp int, photometric string, rows, cols int) []dcmEl {
	els := []dcmEl{
		{tag: 0x00280002, vr: "US", val: dcmUS(uint16(spp))},
		{tag: 0x00280004, vr: "CS", val: dcmStr(photometric)},
	}
	if spp == 3 {
		els = append(els, dcmEl{tag: 0x00280006, vr: "US", val: dcmUS(0)})
	}
	return append(els,
		dcmEl{tag: 0x00280010, vr: "US", val: dcmUS(uint16(rows))},
		dcmEl{tag: 0x00280011, vr: "US", val: dcmUS(uint16(cols))},
		dcmEl{tag: 0x00280100, vr: "US", val: dcmUS(8)},
		dcmEl{tag: 0x00280101, vr: "US", val: dcmUS(8)},
		dcmEl{tag: 0x00280102, vr: "US", val: dcmUS(7)},
		dcmEl{tag: 0x00280103, vr: "US", val: dcmUS(0)},
	)
}

// dcmRGB is an uncompressed RGB object of img.
func dcmRGB(sop, inst string, img image.Image, extra map[uint32]string) []byte {
	r := img.Bounds()
	pix := make([]byte, 0, r.Dx()*r.Dy()*3)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			pix = append(pix, byte(cr>>8), byte(cg>>8), byte(cb>>8))
		}
	}
	els := append(dcmHeader(sop, inst, extra), dcmImage(3, "RGB", r.Dy(), r.Dx())...)
	els = append(els, dcmEl{tag: 0x7FE00010, vr: "OB", val: pix})
	return dcmFile(sop, inst, tsExplicit, els)
}

// dcmGray is an uncompressed MONOCHROME2 object of n×n pixels.
func dcmGray(sop, inst string, n int, extra map[uint32]string) []byte {
	pix := make([]byte, n*n)
	for i := range pix {
		pix[i] = byte(i % 251)
	}
	els := append(dcmHeader(sop, inst, extra), dcmImage(1, "MONOCHROME2", n, n)...)
	els = append(els, dcmEl{tag: 0x7FE00010, vr: "OB", val: pix})
	return dcmFile(sop, inst, tsExplicit, els)
}

// dcmJPEG is a JPEG baseline object holding jpg as one fragment.
func dcmJPEG(sop, inst string, jpg []byte, w, h int, extra map[uint32]string) []byte {
	els := append(dcmHeader(sop, inst, extra), dcmImage(3, "YBR_FULL_422", h, w)...)
	var px bytes.Buffer
	px.Write([]byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})
	px.Write([]byte{0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0}) // empty offset table
	frag := jpg
	if len(frag)%2 == 1 {
		frag = append(append([]byte(nil), frag...), 0)
	}
	px.Write([]byte{0xFE, 0xFF, 0x00, 0xE0})
	_ = binary.Write(&px, binary.LittleEndian, uint32(len(frag)))
	px.Write(frag)
	px.Write([]byte{0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0})
	els = append(els, dcmEl{raw: px.Bytes()})
	return dcmFile(sop, inst, tsJPEGBase, els)
}

// dicomScreening is the part of a Screening with its dicom block.
type dicomScreening struct {
	ID, Eye string
	Patient struct{ ID, FullName string }
	Image   struct {
		ContentType   string
		Width, Height int
	}
	DICOM *struct {
		StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID string
		Modality                                            *string
		AcquiredAt                                          *string
	} `json:"dicom"`
}

func dicomUpload(t *testing.T, s *testenv.Server, token string, file []byte, fields map[string]string) *testenv.Response {
	t.Helper()
	return upload(t, s, token, form{image: file, filename: "IM0001.dcm", partType: "application/dicom", fields: fields}, nil)
}

func dicomUploadInvalid(t *testing.T, s *testenv.Server, token string, file []byte, fields map[string]string) *testenv.Response {
	t.Helper()
	return upload(t, s, token, form{image: file, filename: "IM0001.dcm", partType: "application/dicom", fields: fields, invalid: true}, nil)
}

// TestDICOMUpload: DICOM Part 10 files on POST /api/screenings, as a
// clinic's staff and a patient send them: the photograph taken out
// (uncompressed RGB and MONOCHROME2 as PNG, JPEG baseline as its JPEG),
// the eye from the laterality, the patient from PatientID (found by the
// clinic's externalId, else enrolled from the header), the dicom block, a
// resend of the same SOP Instance UID answering the first screening.
func TestDICOMUpload(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		jpg, _ := fundusLarge(t)
		an := enrol(t, s, w.t1.Token, w.c1, map[string]any{"fullName": "Nguyễn Văn An", "externalId": "HS-1"})

		// Ophthalmic Photography, uncompressed RGB, an unknown PatientID:
		// the patient is enrolled from the header.
		const inst1 = "1.2.826.0.1.3680043.2.1.1.1.1"
		op := dcmRGB(sopOP8, inst1, fundusLargeImage(), map[uint32]string{0x00100010: "Tran^Thi^Binh", 0x00100020: "HS-9",
			0x00100030: "19600102", 0x00100040: "F", 0x00200062: "R", 0x0008002A: "20261201093015"})
		var first dicomScreening
		dicomUpload(t, s, w.t1.Token, op, map[string]string{"clinicId": w.c1}).Expect(t, http.StatusAccepted, "").Data(t, &first)
		if first.Eye != "right" || first.Image.ContentType != "image/png" || first.Image.Width != 1024 || first.Image.Height != 1024 ||
			first.Patient.FullName != "Tran Thi Binh" || first.DICOM == nil || first.DICOM.SOPInstanceUID != inst1 ||
			first.DICOM.StudyInstanceUID != "1.2.826.0.1.3680043.2.1.1" || first.DICOM.Modality == nil || *first.DICOM.Modality != "OP" ||
			first.DICOM.AcquiredAt == nil || !strings.HasPrefix(*first.DICOM.AcquiredAt, "2026-12-01T09:30:15") {
			t.Fatalf("first %+v dicom %+v", first, first.DICOM)
		}
		pg := listPatients(t, s, w.ca1.Token, w.c1, url.Values{"q": {"HS-9"}})
		if len(pg.Items) != 1 || pg.Items[0].ID != first.Patient.ID || pg.Items[0].FullName != "Tran Thi Binh" {
			t.Errorf("enrolled %+v", pg.Items)
		}
		// The same object again (a camera's retry): the first screening.
		var again dicomScreening
		dicomUpload(t, s, w.t1.Token, op, map[string]string{"clinicId": w.c1}).Expect(t, http.StatusAccepted, "").Data(t, &again)
		if again.ID != first.ID {
			t.Errorf("resend made %s, first %s", again.ID, first.ID)
		}
		// The stored photograph is the PNG taken out of it.
		if code, h, body := rawGet(t, s, "/api/screenings/"+first.ID+"/image", w.ca1.Token, nil); code != http.StatusOK ||
			h.Get("Content-Type") != "image/png" || len(body) == 0 {
			t.Errorf("image %d %s", code, h.Get("Content-Type"))
		}

		// Secondary Capture, JPEG baseline, Laterality (0020,0060), a
		// known externalId.
		sc := dcmJPEG(sopSC, "1.2.826.0.1.3680043.2.1.1.1.2", jpg, 1024, 1024, map[uint32]string{0x00100020: "HS-1", 0x00200060: "L"})
		var second dicomScreening
		dicomUpload(t, s, w.ca1.Token, sc, map[string]string{"clinicId": w.c1}).Expect(t, http.StatusAccepted, "").Data(t, &second)
		if second.Eye != "left" || second.Patient.ID != an.ID || second.Image.ContentType != "image/jpeg" || second.DICOM == nil {
			t.Errorf("second %+v", second)
		}
		// An eye sent wins over the header; an explicit patientId too.
		var third dicomScreening
		dicomUpload(t, s, w.t1.Token, dcmGray(sopOP8, "1.2.826.0.1.3680043.2.1.1.1.3", 300, map[uint32]string{0x00100020: "HS-9", 0x00200062: "R"}),
			map[string]string{"clinicId": w.c1, "patientId": an.ID, "eye": "left"}).Expect(t, http.StatusAccepted, "").Data(t, &third)
		if third.Eye != "left" || third.Patient.ID != an.ID || third.Image.Width != 300 {
			t.Errorf("third %+v", third)
		}
		// A patient's own DICOM: the header's PatientID names nobody.
		var own dicomScreening
		dicomUpload(t, s, w.p1.Token, dcmGray(sopSC, "1.2.826.0.1.3680043.2.1.1.1.4", 256, map[uint32]string{0x00100020: "HS-1", 0x00200062: "L"}),
			map[string]string{"clinicId": w.c1}).Expect(t, http.StatusAccepted, "").Data(t, &own)
		if own.Patient.ID != w.p1.ID || own.Eye != "left" {
			t.Errorf("own %+v", own)
		}
		// A JPEG upload has no dicom block.
		var plain dicomScreening
		staffUpload(t, s, w.t1.Token, w.c1, an.ID, nil).Expect(t, http.StatusAccepted, "").Data(t, &plain)
		if plain.DICOM != nil {
			t.Errorf("plain dicom %+v", plain.DICOM)
		}

		// An unknown PatientID without a PatientName: the patient is needed.
		r := dicomUploadInvalid(t, s, w.t1.Token, dcmGray(sopOP8, "1.2.826.0.1.3680043.2.1.1.1.5", 256, map[uint32]string{0x00100020: "HS-404", 0x00200062: "L"}),
			map[string]string{"clinicId": w.c1}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["patientId"]; !ok {
			t.Errorf("no patientId: %s", r.Body)
		}
		// No eye sent and none in the header.
		r = dicomUploadInvalid(t, s, w.t1.Token, dcmGray(sopOP8, "1.2.826.0.1.3680043.2.1.1.1.6", 256, nil),
			map[string]string{"clinicId": w.c1, "patientId": an.ID}).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if _, ok := r.Env.Details["eye"]; !ok {
			t.Errorf("no eye: %s", r.Body)
		}
	})
}

// TestDICOMRefused: DICOM objects AURA does not take (415) and hostile
// files (400, never a 500, nothing left behind).
func TestDICOMRefused(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		an := enrol(t, s, w.t1.Token, w.c1, map[string]any{"fullName": "Nguyễn Văn An", "externalId": "HS-1"})
		fields := map[string]string{"clinicId": w.c1, "patientId": an.ID, "eye": "left"}
		good := dcmGray(sopOP8, "1.2.3.4.5", 256, nil)

		const ct = "1.2.840.10008.5.1.4.1.1.2"
		ctFile := dcmGray(ct, "1.2.3.4.6", 256, nil)
		j2k := bytes.Replace(dcmJPEG(sopOP8, "1.2.3.4.7", []byte{0xFF, 0xD8, 0xFF, 0xD9}, 256, 256, nil),
			dcmUID(tsJPEGBase), dcmUID("1.2.840.10008.1.2.4.90"), 1)
		bits16 := bytes.Replace(good, append([]byte{0x28, 0x00, 0x00, 0x01, 'U', 'S', 2, 0}, dcmUS(8)...),
			append([]byte{0x28, 0x00, 0x00, 0x01, 'U', 'S', 2, 0}, dcmUS(16)...), 1)
		for name, f := range map[string][]byte{"CT": ctFile, "JPEG 2000": j2k, "16-bit": bits16} {
			if r := dicomUploadInvalid(t, s, w.t1.Token, f, fields); r.Status != http.StatusUnsupportedMediaType || r.Env.Code != "UNSUPPORTED_MEDIA_TYPE" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}

		// Hostile files.
		hugeLen := dcmFile(sopOP8, "1.2.3.4.8", tsExplicit, append(dcmHeader(sopOP8, "1.2.3.4.8", nil),
			dcmEl{raw: []byte{0x10, 0x00, 0x10, 0x00, 'U', 'T', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF, 'x', 'y'}}))
		var deep bytes.Buffer
		for i := 0; i < 10000; i++ { // sequences of undefined length, each in the last's item
			deep.Write([]byte{0x08, 0x00, 0x15, 0x11, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF})
		}
		deepFile := dcmFile(sopOP8, "1.2.3.4.9", tsExplicit, append(dcmHeader(sopOP8, "1.2.3.4.9", nil), dcmEl{raw: deep.Bytes()}))
		// 60000×60000 pixels declared, a few bytes held.
		hugePixels := dcmFile(sopOP8, "1.2.3.4.10", tsExplicit, append(append(dcmHeader(sopOP8, "1.2.3.4.10", nil),
			dcmImage(1, "MONOCHROME2", 60000, 60000)...), dcmEl{tag: 0x7FE00010, vr: "OB", val: make([]byte, 64)}))
		lying := dcmFile(sopOP8, "1.2.3.4.11", tsExplicit, append(append(dcmHeader(sopOP8, "1.2.3.4.11", nil),
			dcmImage(1, "MONOCHROME2", 256, 256)...), dcmEl{raw: []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4}}))
		for name, f := range map[string][]byte{
			"truncated":       good[:len(good)-1000],
			"header only":     good[:200],
			"huge length":     hugeLen,
			"deep sequences":  deepFile,
			"huge pixel data": hugePixels,
			"lying pixels":    lying,
			"short pixels":    dcmFile(sopOP8, "1.2.3.4.12", tsExplicit, append(append(dcmHeader(sopOP8, "1.2.3.4.12", nil), dcmImage(1, "MONOCHROME2", 256, 256)...), dcmEl{tag: 0x7FE00010, vr: "OB", val: make([]byte, 1000)})),
			"no pixels":       dcmFile(sopOP8, "1.2.3.4.13", tsExplicit, dcmHeader(sopOP8, "1.2.3.4.13", nil)),
			"bad jpeg":        dcmJPEG(sopOP8, "1.2.3.4.14", []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4}, 256, 256, nil),
		} {
			r := dicomUploadInvalid(t, s, w.t1.Token, f, fields)
			if r.Status != http.StatusBadRequest || r.Env.Code != "VALIDATION_FAILED" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			} else if _, ok := r.Env.Details["image"]; !ok {
				t.Errorf("%s: %s", name, r.Body)
			}
		}
		// The good one is still taken after all that.
		dicomUpload(t, s, w.t1.Token, good, fields).Expect(t, http.StatusAccepted, "")
		_ = jpeg.DefaultQuality
	})
}

// stow posts the files as one STOW-RS request with token.
func stow(t *testing.T, s *testenv.Server, token string, files ...[]byte) (int, map[string]struct {
	VR    string `json:"vr"`
	Value []map[string]struct {
		VR    string `json:"vr"`
		Value []any  `json:"Value"`
	} `json:"Value"`
}) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		_, _ = pw.Write(f)
	}
	_ = mw.Close()
	ct := `multipart/related; type="application/dicom"; boundary=` + mw.Boundary()
	r := s.DoHeaders(t, "POST", "/api/dicomweb/studies", b.Bytes(), map[string]string{"Authorization": "Bearer " + token, "Content-Type": ct})
	var ds map[string]struct {
		VR    string `json:"vr"`
		Value []map[string]struct {
			VR    string `json:"vr"`
			Value []any  `json:"Value"`
		} `json:"Value"`
	}
	if r.Status == 200 || r.Status == 202 || r.Status == 409 {
		if err := json.Unmarshal(r.Body, &ds); err != nil {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
	return r.Status, ds
}

// TestDICOMDevices: a clinic admin registers a device (its token shown
// once), the device stores objects by STOW-RS (200 all, 202 some, 409
// none, with ReferencedSOPSequence and FailedSOPSequence), its token does
// nothing else, and a revoked token stops working.
func TestDICOMDevices(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		an := enrol(t, s, w.t1.Token, w.c1, map[string]any{"fullName": "Nguyễn Văn An", "externalId": "HS-1"})
		var dev struct{ ID, Name, Token string }
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/devices", map[string]any{"name": "Fundus camera 1"}, w.ca1.Token).
			Expect(t, http.StatusCreated, "").Data(t, &dev)
		if dev.Name != "Fundus camera 1" || !strings.HasPrefix(dev.Token, "aurad_") {
			t.Fatalf("device %+v", dev)
		}
		// Not a clinic admin: 403; another clinic's admin: 404; a bad name: 400.
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/devices", map[string]any{"name": "x"}, w.t1.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/devices", map[string]any{"name": "x"}, w.ca2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/clinics/"+w.c1+"/devices", testenv.Invalid(map[string]any{"name": " "}), w.ca1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		good := dcmGray(sopOP8, "1.2.3.9.1", 256, map[uint32]string{0x00100020: "HS-1", 0x00200062: "L"})
		other := dcmGray(sopOP8, "1.2.3.9.2", 256, map[uint32]string{0x00100020: "HS-1", 0x00200062: "R"})
		ct := dcmGray("1.2.840.10008.5.1.4.1.1.2", "1.2.3.9.3", 256, map[uint32]string{0x00100020: "HS-1", 0x00200062: "R"})
		code, ds := stow(t, s, dev.Token, good)
		if code != http.StatusOK || len(ds["00081199"].Value) != 1 || len(ds["00081198"].Value) != 0 {
			t.Fatalf("all stored: %d %+v", code, ds)
		}
		ref := ds["00081199"].Value[0]
		url := ref["00081190"].Value[0].(string)
		if ref["00081155"].Value[0] != "1.2.3.9.1" || ref["00081150"].Value[0] != sopOP8 || !strings.HasPrefix(url, "/api/screenings/") {
			t.Errorf("referenced %+v", ref)
		}
		sc := getScreening(t, s, w.ca1.Token, strings.TrimPrefix(url, "/api/screenings/"))
		if sc.Eye != "left" || sc.Clinic.ID != w.c1 {
			t.Errorf("screening %+v", sc)
		}
		var first dicomScreening
		s.Do(t, "GET", url, nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &first)
		if first.Patient.ID != an.ID || first.DICOM == nil || first.DICOM.SOPInstanceUID != "1.2.3.9.1" {
			t.Errorf("first %+v", first)
		}
		// One stored, one refused (a CT): 202. The resend of good is the
		// same screening.
		code, ds = stow(t, s, dev.Token, other, ct, good)
		if code != http.StatusAccepted || len(ds["00081199"].Value) != 2 || len(ds["00081198"].Value) != 1 {
			t.Fatalf("some: %d %+v", code, ds)
		}
		if ds["00081199"].Value[1]["00081190"].Value[0] != url {
			t.Errorf("resend %+v", ds["00081199"].Value[1])
		}
		if reason := ds["00081198"].Value[0]["00081197"].Value[0]; reason != float64(0x0122) {
			t.Errorf("reason %v", reason)
		}
		// None stored: 409.
		if code, ds = stow(t, s, dev.Token, ct, good[:300]); code != http.StatusConflict || len(ds["00081198"].Value) != 2 {
			t.Errorf("none: %d %+v", code, ds)
		}
		// Not multipart/related: 415.
		s.DoHeaders(t, "POST", "/api/dicomweb/studies", testenv.Invalid(good), map[string]string{"Authorization": "Bearer " + dev.Token, "Content-Type": "application/dicom"}).
			Expect(t, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
		// The device token does nothing else.
		s.Do(t, "GET", "/api/screenings", nil, dev.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		// A user's token is not a device's.
		if code, _ := stow(t, s, w.ca1.Token, good); code != http.StatusUnauthorized {
			t.Errorf("user token: %d", code)
		}
		// Revoked: 401.
		var rev struct{ RevokedAt *string }
		s.Do(t, "DELETE", "/api/clinics/"+w.c1+"/devices/"+dev.ID, nil, w.ca1.Token).Expect(t, http.StatusOK, "").Data(t, &rev)
		if rev.RevokedAt == nil {
			t.Errorf("not revoked")
		}
		if code, _ := stow(t, s, dev.Token, good); code != http.StatusUnauthorized {
			t.Errorf("revoked: %d", code)
		}
		s.Do(t, "DELETE", "/api/clinics/"+w.c2+"/devices/"+dev.ID, nil, w.ca2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		// Registering and revoking are audited, once each (a second revoke
		// changes nothing).
		s.Do(t, "DELETE", "/api/clinics/"+w.c1+"/devices/"+dev.ID, nil, w.ca1.Token).Expect(t, http.StatusOK, "")
		for _, action := range []string{"device.create", "device.revoke"} {
			var n int64
			testenv.Must(t, s.App.DB.Table("audit_logs").Where("action = ? AND entity_id = ? AND actor_role = ?", action, dev.ID, "CLINIC_ADMIN").Count(&n).Error, "audit")
			if n != 1 {
				t.Errorf("%s: %d rows", action, n)
			}
		}
		// The stored token is its hash, not the token.
		var stored string
		testenv.Must(t, s.App.DB.Table("devices").Where("id = ?", dev.ID).Select("token_hash").Scan(&stored).Error, "device")
		if stored == "" || strings.Contains(stored, strings.TrimPrefix(dev.Token, "aurad_")) {
			t.Errorf("stored token %q", stored)
		}
	})
}
