package analysis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"sort"
	"strings"
	"sync"
	"time"

	"aura/fault"

	// The formats an upload may be: an analyzer that decodes can read them.
	_ "image/jpeg"
	_ "image/png"

	"aura/imaging"
)

// Analyzer measures one fundus photograph. Analyze may be called from
// several goroutines at once.
type Analyzer interface {
	// Name is the analyzer's name: what analysis.analyzer says to choose it,
	// and Result.Analyzer.
	Name() string
	// Analyze measures im. An error marked fault.Permanent (ErrUnreadable
	// is one) fails the screening at once; one marked fault.Outage (the
	// model server is not there) is waited out; any other is retried.
	Analyze(ctx context.Context, im Image) (*Result, error)
}

// Image is a photograph as it was uploaded. An analyzer that needs the
// pixels calls Decode; one that forwards the file (oip) uses Bytes and Size
// and never pays for a decode.
type Image struct {
	// Bytes are the file as uploaded (JPEG or PNG).
	Bytes []byte
	// ContentType is the type the upload was recognised as ("image/jpeg").
	ContentType string
	// Width and Height are the size read from the header at upload; 0 when
	// not known (Size then reads the header).
	Width, Height int
}

// ErrUnreadable marks a photograph that does not decode: no retry will
// change it (it comes marked fault.Permanent).
var ErrUnreadable = errors.New("image unreadable")

// Decode decodes the pixels. A 16-bit PNG is decoded row by row into 8
// bits per sample (imaging), so it holds at most 4 bytes a pixel, not 8. A
// file that does not decode is ErrUnreadable.
func (im Image) Decode() (image.Image, error) {
	p, err := imaging.Prepare(bytes.NewReader(im.Bytes))
	if err != nil {
		return nil, unreadable(err)
	}
	img, err := p.Decode()
	if err != nil {
		return nil, unreadable(err)
	}
	return img, nil
}

// Size is the photograph's width and height, from the upload's record or
// else from the file's header (no pixel is decoded).
func (im Image) Size() (int, int, error) {
	if im.Width > 0 && im.Height > 0 {
		return im.Width, im.Height, nil
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(im.Bytes))
	if err != nil {
		return 0, 0, unreadable(err)
	}
	return cfg.Width, cfg.Height, nil
}

func unreadable(err error) error {
	return fault.Permanent(fmt.Errorf("%w: %v", ErrUnreadable, err))
}

// Settings reads an analyzer's own settings: Settings(key) is the value of
// analysis.<name>.<key> in the configuration, as typed there (a string, a
// time.Duration, ...), or nil when there is no such setting.
type Settings func(key string) any

// String is the setting key as a string ("" when unset or not a string).
func (s Settings) String(key string) string {
	v, _ := s.get(key).(string)
	return v
}

// Duration is the setting key as a duration (0 when unset or not one).
func (s Settings) Duration(key string) time.Duration {
	v, _ := s.get(key).(time.Duration)
	return v
}

func (s Settings) get(key string) any {
	if s == nil {
		return nil
	}
	return s(key)
}

// Factory builds an analyzer from its settings; an error names the setting
// that is wrong.
type Factory func(Settings) (Analyzer, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes an analyzer available under name (what analysis.analyzer
// says). An analyzer package registers itself in its init, and the program
// chooses the analyzers it offers by importing their packages. It panics
// when name is empty or taken: two analyzers cannot share a name.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || strings.TrimSpace(name) != name || f == nil {
		panic(fmt.Sprintf("analysis.Register: bad analyzer %q", name))
	}
	if _, taken := registry[name]; taken {
		panic(fmt.Sprintf("analysis.Register: analyzer %q registered twice", name))
	}
	registry[name] = f
}

// Names lists the registered analyzers, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the analyzer registered under name with its settings.
func New(name string, s Settings) (Analyzer, error) {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("analysis.analyzer (AURA_ANALYSIS_ANALYZER): unknown %q; accepted: %s", name, strings.Join(Names(), ", "))
	}
	a, err := f(s)
	if err != nil {
		return nil, err
	}
	if a.Name() != name {
		return nil, fmt.Errorf("analyzer %q calls itself %q", name, a.Name())
	}
	return a, nil
}
