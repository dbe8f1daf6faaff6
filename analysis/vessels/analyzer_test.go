package vessels

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"testing"

	"aura/analysis"
	"aura/fault"
)

// TestRegisteredAnalyzer: the package registers itself as "vessels"; its
// Analyzer decodes the file and measures it, and a file that does not
// decode is analysis.ErrUnreadable.
func TestRegisteredAnalyzer(t *testing.T) {
	t.Parallel()
	a, err := analysis.New(Name, nil)
	if err != nil || a.Name() != "vessels" {
		t.Fatalf("analysis.New(vessels): %v %v", a, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, Synth(SynthOptions{Width: 320, Height: 320, Seed: 7}).Image); err != nil {
		t.Fatal(err)
	}
	res, err := a.Analyze(context.Background(), analysis.Image{Bytes: buf.Bytes(), ContentType: "image/png"})
	if err != nil || res.Analyzer != Name || res.Version != Version || res.VesselMap == nil || res.VesselMap.Bounds().Dx() != 320 {
		t.Fatalf("Analyze: %+v %v", res, err)
	}
	_, err = a.Analyze(context.Background(), analysis.Image{Bytes: buf.Bytes()[:buf.Len()/2], ContentType: "image/png"})
	if !errors.Is(err, analysis.ErrUnreadable) || !fault.IsPermanent(err) {
		t.Fatalf("a truncated file: %v", err)
	}
}
