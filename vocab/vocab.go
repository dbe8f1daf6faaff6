// Package vocab holds the words of the screening contract that the domain,
// the API and the PDF report share, so that each is written once: the risk
// levels (of a result, a review, a rule and a finding's severity) and the
// metric names, and the one rule for text people type (CheckText). It
// imports nothing of AURA, so that every package may use it
// (models, analysis and report among them).
package vocab

import "slices"

// Risk levels, lowest first (docs/screening.md: "low"|"medium"|"high"|"critical").
const (
	RiskLow      = "low"
	RiskMedium   = "medium"
	RiskHigh     = "high"
	RiskCritical = "critical"
)

// RiskLevels lists the risk levels, lowest first.
func RiskLevels() []string { return []string{RiskLow, RiskMedium, RiskHigh, RiskCritical} }

// RiskRank orders the levels: 1 for low up to 4 for critical, 0 for a value
// that is not a level.
func RiskRank(level string) int { return slices.Index(RiskLevels(), level) + 1 }

// Metric names, as the API, the risk rules and the report name them.
const (
	MetricVesselDensity     = "vesselDensity"
	MetricFractalDimension  = "fractalDimension"
	MetricTortuosity        = "tortuosity"
	MetricMeanVesselWidthPx = "meanVesselWidthPx"
	// The calibre summaries and the artery and vein densities (docs/analysis.md,
	// "Optic disc, arteries and veins"): null when the optic disc was not found.
	MetricCRAE          = "crae"
	MetricCRVE          = "crve"
	MetricAVR           = "avr"
	MetricArteryDensity = "arteryDensity"
	MetricVeinDensity   = "veinDensity"
)

// MetricNames lists the metric names in their documented order.
func MetricNames() []string {
	return []string{MetricVesselDensity, MetricFractalDimension, MetricTortuosity, MetricMeanVesselWidthPx,
		MetricCRAE, MetricCRVE, MetricAVR, MetricArteryDensity, MetricVeinDensity}
}

// IsMetric says whether name is one of MetricNames.
func IsMetric(name string) bool { return slices.Contains(MetricNames(), name) }
