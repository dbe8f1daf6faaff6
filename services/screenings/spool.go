package screenings

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders of the accepted formats
	_ "image/png"
	"io"
	"os"

	"aura/imaging"
	"aura/models"
)

// Limits of an upload's picture (the contract's).
const (
	MinSide   = 256
	MaxPixels = 40_000_000
)

// Spooled is an uploaded image held in a temporary file while it is checked
// and stored: its size, SHA-256, type and dimensions. Close removes it.
type Spooled struct {
	f           *os.File
	Size        int64
	SHA256      string
	ContentType string
	Ext         string
	Width       int
	Height      int
	// DICOM is the header of a DICOM Part 10 upload (nil for a JPEG or
	// PNG); the file then holds the photograph taken out of it.
	DICOM *imaging.DICOMInfo
}

// Close removes the temporary file.
func (sp *Spooled) Close() {
	if sp != nil && sp.f != nil {
		_ = sp.f.Close()
		_ = os.Remove(sp.f.Name())
	}
}

// Reader reads the image from its start.
func (sp *Spooled) Reader() (io.Reader, error) {
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(sp.f, 64<<10), nil
}

func invalidImage(msg string) error {
	return models.Invalid(map[string]string{"image": msg})
}

// Spool streams an uploaded image to a temporary file, never holding it in
// memory, and checks it: at most MaxImageBytes (PAYLOAD_TOO_LARGE beyond,
// found while streaming); a JPEG or PNG by its content, whatever its name or
// declared type (UNSUPPORTED_MEDIA_TYPE otherwise); dimensions read from its
// header before any pixel is decoded (at least 256×256, at most 40
// megapixels); and decoded once whole, so a truncated or damaged file is
// refused. The caller must Close the result.
func (s *Service) Spool(ctx context.Context, r io.Reader) (sp *Spooled, err error) {
	f, err := os.CreateTemp(s.Settings.TempDir, "aura-upload-*")
	if err != nil {
		return nil, err
	}
	// held, not sp: a failing return has set sp to nil before this runs,
	// and the refused upload's temporary file must still go.
	held := &Spooled{f: f}
	sp = held
	defer func() {
		if err != nil {
			held.Close()
			sp = nil
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, s.Settings.MaxImageBytes+1))
	switch {
	case errors.Is(err, models.ErrTooLarge) || n > s.Settings.MaxImageBytes:
		return nil, models.ErrTooLarge
	case err != nil && ctx.Err() != nil:
		return nil, errors.Join(models.ErrUnavailable, err)
	case err != nil:
		return nil, invalidImage("could not be read whole")
	case n == 0:
		return nil, invalidImage("is empty")
	}
	sp.Size, sp.SHA256 = n, hex.EncodeToString(h.Sum(nil))

	rd, err := sp.Reader()
	if err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	k, _ := io.ReadFull(rd, head)
	if imaging.IsDICOM(head[:k]) {
		if err := s.fromDICOM(ctx, sp); err != nil {
			return nil, err
		}
		if rd, err = sp.Reader(); err != nil {
			return nil, err
		}
		k, _ = io.ReadFull(rd, head)
	}
	switch sniff(head[:k]) {
	case "image/jpeg":
		sp.ContentType, sp.Ext = "image/jpeg", "jpg"
	case "image/png":
		sp.ContentType, sp.Ext = "image/png", "png"
	default:
		return nil, models.ErrUnsupportedImage
	}
	if rd, err = sp.Reader(); err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(rd)
	switch {
	case err != nil:
		return nil, invalidImage("is not a readable " + sp.Ext + " image")
	case cfg.Width < MinSide || cfg.Height < MinSide:
		return nil, invalidImage("must be at least 256×256 pixels")
	case int64(cfg.Width)*int64(cfg.Height) > MaxPixels:
		return nil, invalidImage("must be at most 40 megapixels")
	}
	sp.Width, sp.Height = cfg.Width, cfg.Height
	if err := s.checkWhole(ctx, sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// checkWhole reads the image once, whole, within the decode memory budget:
// a 16-bit PNG row by row (two rows held), any other image decoded. An
// image whose decode alone would need more than the whole budget is refused.
func (s *Service) checkWhole(ctx context.Context, sp *Spooled) error {
	rd, err := sp.Reader()
	if err != nil {
		return err
	}
	_, err = s.decodeBudget.Check(ctx, rd)
	var tooLarge *imaging.TooLargeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return invalidImage(fmt.Sprintf("would need %d MiB of memory to decode, more than screening.decode_memory allows (%d MiB)",
			(tooLarge.Need+1<<20-1)>>20, tooLarge.Budget>>20))
	case ctx.Err() != nil:
		return errors.Join(models.ErrUnavailable, ctx.Err())
	}
	return invalidImage("is truncated or damaged")
}

// sniff names the image type by its signature: JPEG (FF D8 FF) and PNG
// (the 8-byte PNG signature) are the only ones AURA takes.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	}
	return ""
}
