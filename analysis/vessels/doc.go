// Package vessels is AURA's built-in analyzer of colour fundus photographs:
// it finds the field of view, segments the retinal vessels by a classic
// image-processing method (a multi-scale line detector on the green
// channel's contrast; no trained model, no model files), and measures
// them: vessel density, box-counting fractal dimension, tortuosity and mean
// vessel width, with an image-quality score and a gradable flag.
//
// AURA measures; it does not diagnose. The metrics describe the vessel map
// this method found on one photograph. They are screening indicators for a
// clinician to read; the vessel map's agreement was measured on synthetic
// images and on real photographs of one public data set (CHASE_DB1, one
// camera, children's eyes; real_test.go), and nothing here claims
// diagnostic accuracy. docs/analysis.md describes the
// method, each metric and its limitations.
//
// Analyze is safe for concurrent use; each call works on its own buffers. It
// works at a bounded working resolution (WorkingMaxSide), so a 40-megapixel
// photograph takes about as long as a 1-megapixel one (about a second of CPU
// on one core of a 2-core machine), and returns the vessel map at the
// original size.
//
// Synth draws synthetic fundus photographs with their exact vessel mask, for
// tests of this package and of the packages that use it.
package vessels
