package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image/png"
	"testing"
)

// implicitFile is a Part 10 file in Implicit VR Little Endian: the meta
// group explicit, the dataset's elements tag + 32-bit length + value.
func implicitFile(els [][3]any) []byte {
	var meta bytes.Buffer
	el := func(b *bytes.Buffer, g, e uint16, vr string, v []byte) {
		_ = binary.Write(b, binary.LittleEndian, g)
		_ = binary.Write(b, binary.LittleEndian, e)
		b.WriteString(vr)
		if vr == "OB" {
			b.Write([]byte{0, 0})
			_ = binary.Write(b, binary.LittleEndian, uint32(len(v)))
		} else {
			_ = binary.Write(b, binary.LittleEndian, uint16(len(v)))
		}
		b.Write(v)
	}
	el(&meta, 2, 1, "OB", []byte{0, 1})
	el(&meta, 2, 0x10, "UI", []byte("1.2.840.10008.1.2\x00"))
	var b bytes.Buffer
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	el(&b, 2, 0, "UL", binary.LittleEndian.AppendUint32(nil, uint32(meta.Len())))
	b.Write(meta.Bytes())
	for _, e := range els {
		t, v := e[0].(uint32), e[1].([]byte)
		_ = binary.Write(&b, binary.LittleEndian, uint16(t>>16))
		_ = binary.Write(&b, binary.LittleEndian, uint16(t))
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(v)))
		b.Write(v)
	}
	return b.Bytes()
}

func us(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// TestParseDICOMImplicit: an implicit VR file (the dictionary gives the
// VRs), with a defined-length sequence, read into a MONOCHROME2 PNG.
func TestParseDICOMImplicit(t *testing.T) {
	pix := make([]byte, 16*16)
	for i := range pix {
		pix[i] = byte(i)
	}
	// ReferencedImageSequence (0008,1140), one empty item, defined lengths.
	seq := []byte{0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0}
	f := implicitFile([][3]any{
		{uint32(0x00080016), []byte(SOPSecondaryCapture + "\x00"), nil},
		{uint32(0x00080018), []byte("1.2.3.4\x00"), nil},
		{uint32(0x00081140), seq, nil},
		{uint32(0x00100020), []byte("HS-1"), nil},
		{uint32(0x00200062), []byte("R "), nil},
		{uint32(0x00280002), us(1), nil},
		{uint32(0x00280004), []byte("MONOCHROME2 "), nil},
		{uint32(0x00280010), us(16), nil},
		{uint32(0x00280011), us(16), nil},
		{uint32(0x00280100), us(8), nil},
		{uint32(0x7FE00010), pix, nil},
	})
	df, err := ParseDICOM(context.Background(), f, 40_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if df.Info.Eye() != "right" || df.Info.PatientID != "HS-1" || df.Info.SOPInstanceUID != "1.2.3.4" || df.Ext() != "png" {
		t.Fatalf("%+v", df.Info)
	}
	var out bytes.Buffer
	if err := df.WriteImage(&out); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&out)
	if err != nil || img.Bounds().Dx() != 16 {
		t.Fatalf("png %v", err)
	}
	// Cut anywhere: a format error, never a panic.
	for n := 132; n < len(f); n += 7 {
		if _, err := ParseDICOM(context.Background(), f[:n], 40_000_000); !errors.Is(err, ErrFormat) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}
