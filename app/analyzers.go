package app

// The analyzers analysis.analyzer may choose: each registers itself with
// aura/analysis when imported, so an analyzer is its package and its line
// here (docs/analysis.md, "Adding an analyzer").
import (
	_ "aura/analysis/oip"
	_ "aura/analysis/vessels"
)
