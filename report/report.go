// Package report renders a patient's retinal vascular screening report as a
// PDF of one or two A4 pages, in Vietnamese or English, that the patient can
// take to another doctor.
//
// The package imports no other AURA package: the caller fills a Data value
// from whatever it holds and calls Render. The font (Liberation Sans, regular
// and bold, which covers every Vietnamese letter with its tone marks) is
// embedded from a Go module, so the binary needs no font files at run time.
package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"time"
)

// MaxImageSide is the longest side, in pixels, of an image as embedded in the
// PDF. Larger images are shrunk by an integer factor (box averaging) first, so
// the cost and size of a report do not grow with the camera's resolution.
const MaxImageSide = 1000

// MaxPages is the most pages a report has. Notes that would run past it are
// shortened, ending with an ellipsis and a line saying so.
const MaxPages = 2

// LayoutVersion names what a PDF of given Data shows. Raise it with any
// change that makes the same Data print differently: callers that keep
// rendered reports (services/screenings) make them again.
const LayoutVersion = "3"

// Data is everything a report shows. Only what is known needs to be filled:
// empty strings print as "—", nil images as "not available", a nil Analysis as
// "no analysis", a nil Review as "awaiting doctor review".
type Data struct {
	// Lang is "vi" (the default, also for "" and anything not English) or
	// "en" ("en-GB" and the like count as "en").
	Lang string

	Clinic  Clinic
	Patient Patient

	ScreeningID string
	// Eye is "right" or "left" ("OD"/"OS" and "R"/"L" are understood too).
	Eye string
	// TakenAt is when the photograph was uploaded.
	TakenAt time.Time

	// Image is the fundus photograph; VesselMap the analyser's vessel map.
	// Either may be nil. They are shrunk to at most MaxImageSide pixels and
	// embedded as JPEG (photograph) and PNG (map).
	Image     image.Image
	VesselMap image.Image
	// Overlay is the photograph with the vessel types and the optic disc
	// drawn on it; when set it is shown instead of the vessel map.
	Overlay image.Image
	// ImageSHA256 is the hex SHA-256 of the original upload, printed in full
	// at the foot of every page so the report can be checked against it.
	ImageSHA256 string

	Analysis *Analysis
	// Ranges are the reference ranges of the active risk profile, shown
	// beside each measurement.
	Ranges []Range
	Review *Review

	// GeneratedAt is printed in the header and stored as the PDF's creation
	// date; zero means now.
	GeneratedAt time.Time
	// Location is the time zone dates are printed in; nil means Vietnam's
	// (UTC+07:00, no daylight saving).
	Location *time.Location
}

// Clinic is the clinic issuing the report.
type Clinic struct {
	Name, Address string
}

// Patient identifies the patient.
type Patient struct {
	FullName string
	Code     string
	// DateOfBirth is "YYYY-MM-DD" or ""; any other text is printed as given.
	DateOfBirth string
	// Sex is "male", "female" or "other" ("M"/"F", "nam"/"nữ" understood);
	// anything else is printed as given.
	Sex string
}

// Analysis is the automatic analysis of the photograph.
type Analysis struct {
	Analyzer, Version string
	ProfileVersion    int
	Gradable          bool
	// Quality is the image quality score from 0 to 1.
	Quality float64
	// RiskLevel is one of vocab.RiskLevels ("low", "medium", "high",
	// "critical"); nil when the risk rules gave none (an ungradable image).
	// Another value is printed as given, on a grey badge.
	RiskLevel *string
	// Confidence is from 0 to 1.
	Confidence *float64
	Metrics    Metrics
	Findings   []Finding
	// Recommendation is the risk rules' follow-up advice, in the report's
	// language; "" for none. Printed beside the statement that AURA
	// measures and does not diagnose.
	Recommendation string
	CompletedAt    time.Time
}

// Metrics are the vascular measurements; nil means not measured.
type Metrics struct {
	VesselDensity     *float64 // vessel area fraction, 0–1
	FractalDimension  *float64
	Tortuosity        *float64
	MeanVesselWidthPx *float64 // pixels
	CRAE, CRVE        *float64 // pixels
	AVR               *float64
	ArteryDensity     *float64 // area fraction, 0–1
	VeinDensity       *float64 // area fraction, 0–1
}

// Finding is one finding of the risk rules (a rule met, or an ungradable
// image), printed as given.
type Finding struct {
	Code, Severity, Message string
}

// Range is the reference range of one metric in the active risk profile.
type Range struct {
	// Metric is one of vocab.MetricNames ("vesselDensity",
	// "fractalDimension", "tortuosity", "meanVesselWidthPx"), matched
	// ignoring case.
	Metric string
	// Low and High bound the expected values; nil leaves that side open.
	Low, High *float64
	// BelowLevel and AboveLevel, when set, are the risk levels the profile
	// gives a value below Low or above High ("below 0.08: medium").
	BelowLevel, AboveLevel string
}

// Review is a doctor's review of the screening.
type Review struct {
	DoctorName, LicenseNo string
	RiskLevel             string // one of vocab.RiskLevels
	Notes                 string
	Recommendation        string
	ReviewedAt            time.Time
	// Agreement is the doctor's agreement with the analysis ("agree",
	// "partial", "disagree"; "" when not given), CorrectedMetrics the
	// values the doctor corrected, by vocabulary name: each is printed as
	// the doctor's under the measured one.
	Agreement        string
	CorrectedMetrics map[string]float64
}

// ErrNoWriter is returned by Render when w is nil.
var ErrNoWriter = errors.New("report: nil writer")

// Render writes the PDF report of d to w. It checks ctx between its steps
// (and while shrinking images) and returns ctx's error, having written
// nothing, when ctx ends first. Nothing is written to w unless the whole PDF
// was made.
func Render(ctx context.Context, w io.Writer, d Data) error {
	if w == nil {
		return ErrNoWriter
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.GeneratedAt.IsZero() {
		d.GeneratedAt = time.Now()
	}
	if d.Location == nil {
		d.Location = vietnam
	}
	photo, err := encodePhoto(ctx, d.Image)
	if err != nil {
		return err
	}
	var vessels *encoded
	if d.Overlay != nil {
		vessels, err = encodePhoto(ctx, d.Overlay)
	} else {
		vessels, err = encodeMap(ctx, d.VesselMap)
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := build(ctx, &buf, &d, photo, vessels); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: write: %w", err)
	}
	return nil
}

// vietnam is Vietnam's time, which has no daylight saving; a fixed zone needs
// no time zone database on the host.
var vietnam = time.FixedZone("UTC+07:00", 7*3600)
