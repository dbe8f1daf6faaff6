package vessels

import (
	"context"

	"aura/analysis"
)

func init() {
	analysis.Register(Name, func(analysis.Settings) (analysis.Analyzer, error) { return Analyzer{}, nil })
}

// Analyzer is the analysis.Analyzer of this package, registered as
// "vessels": it decodes the photograph and measures it with Analyze. It has
// no settings.
type Analyzer struct{}

// Name is "vessels".
func (Analyzer) Name() string { return Name }

// Analyze decodes im (a file that does not decode is analysis.ErrUnreadable)
// and measures its vessels.
func (Analyzer) Analyze(ctx context.Context, im analysis.Image) (*analysis.Result, error) {
	img, err := im.Decode()
	if err != nil {
		return nil, err
	}
	return Analyze(ctx, img)
}
