package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// ErrOverBudget is wrapped by the error of an image whose decode alone
// needs more bytes than the whole Budget (a *TooLargeError).
var ErrOverBudget = errors.New("imaging: decode needs more memory than allowed")

// TooLargeError says how many bytes an image's decode needs and the budget.
type TooLargeError struct{ Need, Budget int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("imaging: decoding needs %d MiB, more than the %d MiB allowed", mib(e.Need), mib(e.Budget))
}

// Unwrap makes errors.Is(err, ErrOverBudget) true.
func (e *TooLargeError) Unwrap() error { return ErrOverBudget }

func mib(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// Budget bounds the bytes that decodes hold at once: each decode first
// acquires its header's estimate (DecodeBytes, CheckBytes) from a weighted
// semaphore and gives it back when done; waiters are served first come,
// first served, so a large decode is not starved by small ones. A nil
// *Budget bounds nothing.
type Budget struct {
	sem   *semaphore.Weighted
	total int64
	inUse atomic.Int64
	peak  atomic.Int64
}

// NewBudget is a Budget of total bytes.
func NewBudget(total int64) *Budget {
	return &Budget{sem: semaphore.NewWeighted(total), total: total}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// Peak is the most bytes held at once so far.
func (b *Budget) Peak() int64 { return b.peak.Load() }

// Acquire waits until n bytes are free (or ctx ends) and returns the
// function that gives them back. More than the whole budget is refused at
// once with a *TooLargeError.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	if n > b.total {
		return nil, &TooLargeError{Need: n, Budget: b.total}
	}
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	now := b.inUse.Add(n)
	for p := b.peak.Load(); now > p && !b.peak.CompareAndSwap(p, now); p = b.peak.Load() {
	}
	return func() { b.inUse.Add(-n); b.sem.Release(n) }, nil
}

// maxHeader bounds what is kept of a file while its header is read (the
// header is then read again by the decoder): metadata before the pixels
// beyond it is refused.
const maxHeader = 4 << 20

// Prepared is an image whose header has been read and whose pixels have
// not: acquire Header.DecodeBytes (or CheckBytes) of a Budget, then Decode
// (or Check) it.
type Prepared struct {
	Header Header
	r      io.Reader
}

// Prepare reads r's header, keeping the bytes it read so that Decode reads
// the whole file from r again.
func Prepare(r io.Reader) (*Prepared, error) {
	var kept bytes.Buffer
	h, err := ReadHeader(io.TeeReader(io.LimitReader(r, maxHeader), &kept))
	if err != nil {
		if kept.Len() >= maxHeader {
			return nil, formatErr("more than %d MiB before the pixels", maxHeader>>20)
		}
		return nil, err
	}
	return &Prepared{Header: h, r: io.MultiReader(&kept, r)}, nil
}

// Decode decodes the image. A 16-bit PNG becomes 8 bits per sample as it
// is read (Gray, RGBA or NRGBA), never a 16-bit image. A bad file's error
// wraps ErrFormat.
func (p *Prepared) Decode() (image.Image, error) { return decode(p.r, p.Header, true) }

// Check reads the image whole without keeping it: a 16-bit PNG row by row,
// anything else decoded.
func (p *Prepared) Check() error {
	_, err := decode(p.r, p.Header, false)
	return err
}

// Decode decodes a JPEG or PNG within b: it reads the header, waits for
// DecodeBytes of the budget, and decodes. The caller calls release once it
// no longer holds the image. Errors wrap ErrFormat for a bad file,
// ErrOverBudget for one too large for b, or are ctx's.
func (b *Budget) Decode(ctx context.Context, r io.Reader) (img image.Image, h Header, release func(), err error) {
	p, err := Prepare(r)
	if err != nil {
		return nil, h, nil, err
	}
	if release, err = b.Acquire(ctx, p.Header.DecodeBytes()); err != nil {
		return nil, p.Header, nil, err
	}
	if img, err = p.Decode(); err != nil {
		release()
		return nil, p.Header, nil, err
	}
	return img, p.Header, release, nil
}

// Check reads the whole image within b (CheckBytes of it) to refuse a
// truncated or damaged file, without keeping the result.
func (b *Budget) Check(ctx context.Context, r io.Reader) (Header, error) {
	p, err := Prepare(r)
	if err != nil {
		return Header{}, err
	}
	release, err := b.Acquire(ctx, p.Header.CheckBytes())
	if err != nil {
		return p.Header, err
	}
	defer release()
	return p.Header, p.Check()
}

func decode(r io.Reader, h Header, keep bool) (image.Image, error) {
	var img image.Image
	var err error
	switch {
	case h.Format == PNG && h.Depth == 16:
		img, err = readPNG16(r, keep)
	case h.Format == PNG:
		img, err = png.Decode(r)
	default:
		img, err = jpeg.Decode(r)
	}
	if err != nil {
		if errors.Is(err, ErrFormat) {
			return nil, err
		}
		return nil, formatErr("%v", err)
	}
	return img, nil
}
