// Package models holds AURA's GORM models and domain errors. It imports nothing
// of the project's own, so every other layer can depend on it.
package models
