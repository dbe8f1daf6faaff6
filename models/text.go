package models

import "aura/vocab"

// CheckText is the one rule for text people type into AURA:
// vocab.CheckText (there so that the analysis packages, which import no
// models, use the same rule for a risk rule's recommendation).
func CheckText(s string, lo, hi int, lines bool) string { return vocab.CheckText(s, lo, hi, lines) }
