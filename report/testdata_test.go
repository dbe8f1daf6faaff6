package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The synthetic pictures: an orange disc (the fundus) on black with a pale
// optic disc and dark vessels branching from it, and the matching vessel map
// (white vessels on black, as a grey image).

type segment struct{ x0, y0, x1, y1, width float64 }

// vesselTree is in units of the image side.
var vesselTree = []segment{
	{0.62, 0.5, 0.85, 0.25, 0.010}, {0.62, 0.5, 0.88, 0.72, 0.010},
	{0.62, 0.5, 0.3, 0.22, 0.012}, {0.62, 0.5, 0.28, 0.8, 0.012},
	{0.45, 0.36, 0.2, 0.45, 0.006}, {0.45, 0.64, 0.22, 0.58, 0.006},
	{0.75, 0.38, 0.7, 0.15, 0.005}, {0.76, 0.62, 0.72, 0.86, 0.005},
	{0.3, 0.22, 0.12, 0.3, 0.004}, {0.28, 0.8, 0.12, 0.7, 0.004},
}

func fundus(n int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	c, rad := float64(n)/2, float64(n)*0.46
	for y := 0; y < n; y++ {
		dy := float64(y) + 0.5 - c
		if math.Abs(dy) >= rad {
			continue
		}
		half := math.Sqrt(rad*rad - dy*dy)
		for x := int(c - half); x < int(c+half) && x < n; x++ {
			dx := float64(x) + 0.5 - c
			shade := 1 - 0.35*math.Sqrt(dx*dx+dy*dy)/rad // darker towards the rim
			p := img.PixOffset(x, y)
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(235*shade), uint8(120*shade), uint8(40*shade), 255
		}
	}
	disc(img, 0.62*float64(n), 0.5*float64(n), 0.06*float64(n), color.RGBA{250, 215, 150, 255})
	for _, s := range vesselTree {
		line(img, s, float64(n), color.RGBA{110, 20, 15, 255})
	}
	return img
}

func vesselMap(n int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, n, n))
	for _, s := range vesselTree {
		line(img, s, float64(n), color.Gray{255})
	}
	return img
}

func disc(img *image.RGBA, cx, cy, r float64, c color.RGBA) {
	for y := int(cy - r); y <= int(cy+r); y++ {
		for x := int(cx - r); x <= int(cx+r); x++ {
			if dx, dy := float64(x)-cx, float64(y)-cy; dx*dx+dy*dy <= r*r {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

// line stamps squares along a segment (scaled by n): crude, but all a test
// picture needs.
func line(img interface{ Set(x, y int, c color.Color) }, s segment, n float64, c color.Color) {
	x0, y0, x1, y1 := s.x0*n, s.y0*n, s.x1*n, s.y1*n
	half := max(1, s.width*n/2)
	steps := int(math.Hypot(x1-x0, y1-y0)/max(1, half/2)) + 1
	for i := 0; i <= steps; i++ {
		t := float64(i) / float64(steps)
		x, y := x0+(x1-x0)*t, y0+(y1-y0)*t
		for yy := int(y - half); yy <= int(y+half); yy++ {
			for xx := int(x - half); xx <= int(x+half); xx++ {
				img.Set(xx, yy, c)
			}
		}
	}
}

var (
	fundus4096 = sync.OnceValue(func() *image.RGBA { return fundus(4096) })
	map4096    = sync.OnceValue(func() *image.Gray { return vesselMap(4096) })
	fundus800  = sync.OnceValue(func() *image.RGBA { return fundus(800) })
	map800     = sync.OnceValue(func() *image.Gray { return vesselMap(800) })
)

func f64(v float64) *float64 { return &v }
func str(s string) *string   { return &s }

const testSHA = "3f786850e387550fdab836ed7e6dc881de23001b6c1f6b7d6d3e6e1b2c9a4f57"

// sample is a complete reviewed screening.
func sample(lang string) Data {
	d := Data{
		Lang:        lang,
		Clinic:      Clinic{Name: "Phòng khám Mắt Ánh Dương", Address: "123 Nguyễn Văn Cừ, Phường 2, Quận 5, TP. Hồ Chí Minh"},
		Patient:     Patient{FullName: "Nguyễn Thị Lan", Code: "BN-000123", DateOfBirth: "1961-03-12", Sex: "female"},
		ScreeningID: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		Eye:         "right",
		TakenAt:     time.Date(2026, 11, 15, 2, 31, 0, 0, time.UTC),
		Image:       fundus800(),
		VesselMap:   map800(),
		ImageSHA256: testSHA,
		Analysis: &Analysis{
			Analyzer: "AURA-vessel", Version: "1.4.2", ProfileVersion: 3,
			Gradable: true, Quality: 0.92,
			RiskLevel: str("medium"), Confidence: f64(0.82),
			Metrics: Metrics{
				VesselDensity: f64(0.0621), FractalDimension: f64(1.412),
				Tortuosity: f64(1.183), MeanVesselWidthPx: f64(9.43),
			},
			Findings: []Finding{
				{Code: "LOW_DENSITY", Severity: "medium", Message: "Vessel density below the profile's reference range"},
				{Code: "TORTUOSITY", Severity: "low", Message: "Tortuosity slightly above the reference range"},
			},
			CompletedAt: time.Date(2026, 11, 15, 2, 32, 0, 0, time.UTC),
		},
		Ranges: []Range{
			{Metric: "vesselDensity", Low: f64(0.08), High: f64(0.15), BelowLevel: "medium"},
			{Metric: "fractalDimension", Low: f64(1.35), High: f64(1.55), BelowLevel: "medium"},
			{Metric: "tortuosity", High: f64(1.15), AboveLevel: "high"},
			{Metric: "meanVesselWidthPx", Low: f64(6), High: f64(14)},
		},
		Review: &Review{
			DoctorName: "BS. Trần Văn Minh", LicenseNo: "0012345/HCM-CCHN", RiskLevel: "high",
			Notes: "Mật độ mạch máu giảm rõ ở vùng thái dương; các mạch nhỏ quanh hoàng điểm xoắn vặn hơn bình thường. " +
				"Không thấy xuất huyết hay xuất tiết trên ảnh đáy mắt.",
			Recommendation: "Khám chuyên khoa tim mạch và kiểm tra huyết áp, đường huyết trong vòng 4 tuần. Chụp lại ảnh đáy mắt sau 6 tháng.",
			ReviewedAt:     time.Date(2026, 11, 16, 3, 5, 0, 0, time.UTC),
		},
		GeneratedAt: time.Date(2026, 11, 16, 3, 10, 0, 0, time.UTC),
	}
	if lang == "en" {
		d.Review.Notes = "Vessel density clearly reduced in the temporal region; the small vessels around the macula are more tortuous than usual. No haemorrhage or exudate seen on the fundus photograph."
		d.Review.Recommendation = "See a cardiologist and have blood pressure and blood sugar checked within 4 weeks. Repeat the fundus photograph in 6 months."
	}
	return d
}

func render(t testing.TB, d Data) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(context.Background(), &buf, d); err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("output is not a PDF: %q", buf.Bytes()[:min(20, buf.Len())])
	}
	keep(t, buf.Bytes())
	return buf.Bytes()
}

// keep writes the PDF to $AURA_TEST_REPORT_DIR, when set, to look at.
func keep(t testing.TB, pdf []byte) {
	dir := os.Getenv("AURA_TEST_REPORT_DIR")
	if dir == "" {
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_") + ".pdf"
	if err := os.WriteFile(filepath.Join(dir, name), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// poppler runs one of poppler's tools on pdf, skipping the test when it is
// not installed (Debian: apt-get install poppler-utils).
func poppler(t *testing.T, pdf []byte, tool string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed (apt-get install poppler-utils): cannot read the PDF back", tool)
	}
	f := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, f)
	if tool == "pdftotext" {
		args = append(args, "-")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return string(out)
}

func pdfText(t *testing.T, pdf []byte) string { return poppler(t, pdf, "pdftotext", "-enc", "UTF-8") }

func pageCount(t *testing.T, pdf []byte) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindStringSubmatch(poppler(t, pdf, "pdfinfo"))
	if m == nil {
		t.Fatal("pdfinfo printed no page count")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func mustContain(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the PDF's text lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("text:\n%s", text)
	}
}
