package models

import (
	"slices"
	"strings"

	"aura/vocab"
)

// CheckText is the one rule for text people type into AURA:
// vocab.CheckText (there so that the analysis packages, which import no
// models, use the same rule for a risk rule's recommendation).
func CheckText(s string, lo, hi int, lines bool) string { return vocab.CheckText(s, lo, hi, lines) }

// OneOfEach reads a comma-separated list of query values (status=a,b),
// each of which must be one of allowed: the values in order, each once,
// or why the list is refused ("each must be one of a, b, c"). "" is no
// list.
func OneOfEach(raw string, allowed []string) (values []string, fault string) {
	if raw == "" {
		return nil, ""
	}
	for v := range strings.SplitSeq(raw, ",") {
		if !slices.Contains(allowed, v) {
			return nil, "each must be one of " + strings.Join(allowed, ", ")
		}
		if !slices.Contains(values, v) {
			values = append(values, v)
		}
	}
	return values, ""
}
