package report

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"aura/vocab"
)

func TestRenderVietnamese(t *testing.T) {
	pdf := render(t, sample("vi"))
	text := pdfText(t, pdf)
	mustContain(t, text,
		"Phòng khám Mắt Ánh Dương",
		"Báo cáo sàng lọc mạch máu võng mạc",
		"Nguyễn Thị Lan", "BN-000123", "12/03/1961", "Nữ",
		"Mắt phải (OD)", "15/11/2026 09:31", // 02:31 UTC is 09:31 in Vietnam
		"Ảnh đáy mắt", "Bản đồ mạch máu",
		"Mật độ mạch máu", "0,062", "0,08 – 0,15", "dưới 0,08: trung bình", "Thấp hơn",
		"Độ xoắn vặn mạch", "≤ 1,15", "trên 1,15: cao", "Cao hơn",
		"9,4 px", "6 – 14 px", "Trong khoảng",
		"Mức nguy cơ theo AI", "Trung bình", "độ tin cậy 82%",
		"Mức nguy cơ theo bác sĩ", "Cao",
		"Kết luận của bác sĩ", "Khuyến nghị", "Ghi chú",
		"BS. Trần Văn Minh", "0012345/HCM-CCHN", "16/11/2026 10:05",
		"Chỉ số sàng lọc, không phải chẩn đoán; mọi trường hợp đều được bác sĩ xem xét.",
		"7c9e6679-7425-40de-944b-e07fc1f90ae7",
		testSHA,
	)
	if strings.Contains(text, "Đang chờ bác sĩ xem xét") {
		t.Error("a reviewed report says it awaits review")
	}
	if n := pageCount(t, pdf); n > MaxPages {
		t.Errorf("%d pages, want at most %d", n, MaxPages)
	}
	if got := pages(t, text); got[len(got)-1] != "Trang "+strconv.Itoa(len(got))+"/"+strconv.Itoa(len(got)) {
		t.Errorf("page numbers %q", got)
	}
}

// pages lists the "Trang x/y" / "Page x/y" marks in the text.
func pages(t *testing.T, text string) []string {
	t.Helper()
	m := regexp.MustCompile(`(Trang|Page) \d+/\d+`).FindAllString(text, -1)
	if len(m) == 0 {
		t.Fatal("no page numbers in the text")
	}
	return m
}

func TestRenderEnglish(t *testing.T) {
	pdf := render(t, sample("en"))
	text := pdfText(t, pdf)
	mustContain(t, text,
		"Retinal vascular screening report",
		"Nguyễn Thị Lan", "12 Mar 1961", "Female", "Right eye (OD)",
		"Vessel density", "0.062", "0.08 – 0.15", "below 0.08: medium", "Below range",
		"Risk level (AI)", "Medium", "confidence 82%", "Risk level (doctor)", "High",
		"Doctor's review", "Recommendation", "Notes", "0012345/HCM-CCHN",
		"Screening indicators, not a diagnosis; a doctor reviews every case.",
		testSHA, "Times in UTC+07:00",
	)
	if strings.Contains(text, "Báo cáo") {
		t.Error("the English report has the Vietnamese title")
	}
	if n := pageCount(t, pdf); n > MaxPages {
		t.Errorf("%d pages", n)
	}
}

func TestMissingPartsAreSaid(t *testing.T) {
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"vi", []string{"Không có ảnh", "Chưa có kết quả phân tích", "Đang chờ bác sĩ xem xét", "Chưa có kết luận"}},
		{"en", []string{"Not available", "No analysis available", "Awaiting doctor review", "No conclusion yet"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			d := sample(tc.lang)
			d.Image, d.VesselMap, d.Analysis, d.Review, d.Ranges = nil, nil, nil, nil, nil
			text := pdfText(t, render(t, d))
			mustContain(t, text, tc.want...)
			if strings.Contains(text, "AI ở trên") || strings.Contains(text, "AI results above") {
				t.Error("no AI results, yet the text says they are unconfirmed")
			}
			if n := strings.Count(text, tc.want[0]); n != 2 {
				t.Errorf("%q %d times, want 2 (photograph and map)", tc.want[0], n)
			}
		})
	}
}

func TestUnreviewedWithAnalysis(t *testing.T) {
	d := sample("vi")
	d.Review = nil
	pdf := render(t, d)
	text := pdfText(t, pdf)
	mustContain(t, text, "Mức nguy cơ theo AI", "Trung bình", "Đang chờ bác sĩ xem xét",
		"Kết quả AI ở trên chưa được bác sĩ xác nhận.")
	if n := pageCount(t, pdf); n != 1 {
		t.Errorf("an unreviewed report takes %d pages, want 1", n)
	}
}

func TestUngradableImage(t *testing.T) {
	d := sample("vi")
	d.Analysis.Gradable, d.Analysis.Quality, d.Analysis.RiskLevel = false, 0.31, nil
	d.Analysis.Metrics = Metrics{}
	text := pdfText(t, render(t, d))
	mustContain(t, text, "Ảnh không đủ chất lượng để đánh giá", "không đạt (31%)", "Không đo được")
}

func TestLongNotesStayWithinTwoPages(t *testing.T) {
	d := sample("vi")
	para := "Mạch máu vùng thái dương giảm mật độ, các nhánh nhỏ quanh hoàng điểm xoắn vặn; đề nghị theo dõi huyết áp và đường huyết định kỳ. "
	d.Review.Notes = strings.Repeat(para, 400) // about 50 000 characters
	pdf := render(t, d)
	if n := pageCount(t, pdf); n != MaxPages {
		t.Fatalf("%d pages, want %d", n, MaxPages)
	}
	text := pdfText(t, pdf)
	mustContain(t, text,
		"…", "(Nội dung quá dài nên đã được rút gọn; bản đầy đủ được lưu tại phòng khám.)",
		// what follows the notes and the footer survive the cut
		"Khám chuyên khoa tim mạch", "0012345/HCM-CCHN", "Trang 2/2", testSHA,
		"Chỉ số sàng lọc, không phải chẩn đoán; mọi trường hợp đều được bác sĩ xem xét.",
	)
	if got := strings.Count(text, "Chỉ số sàng lọc, không phải chẩn đoán"); got != 2 {
		t.Errorf("the disclaimer is on %d pages, want both", got)
	}

	// a long recommendation too, and many findings: still two pages
	d.Review.Recommendation = strings.Repeat("Tái khám sau ba tháng. ", 600)
	for i := 0; i < 60; i++ {
		d.Analysis.Findings = append(d.Analysis.Findings, Finding{Severity: "low", Message: strings.Repeat("Ghi nhận tự động số "+strconv.Itoa(i)+". ", 8)})
	}
	pdf = render(t, d)
	if n := pageCount(t, pdf); n > MaxPages {
		t.Fatalf("%d pages with long notes, recommendation and findings", n)
	}
	text = pdfText(t, pdf)
	mustContain(t, text, "0012345/HCM-CCHN", testSHA,
		// the findings keep their first lines, and so do the doctor's texts
		"Ghi nhận tự động số 0.", "Mạch máu vùng thái dương giảm mật độ", "Tái khám sau ba tháng.")
	if strings.Contains(text, "Ghi nhận tự động số 5.") {
		t.Error("findings were kept at the cost of the doctor's text")
	}
	if got := strings.Count(text, "(Nội dung quá dài nên đã được rút gọn"); got != 3 {
		t.Errorf("%d shortening notes, want 3 (findings, recommendation, notes)", got)
	}
}

func TestNotesThatFitAreNotCut(t *testing.T) {
	d := sample("en")
	d.Review.Notes = strings.Repeat("A moderately long note that goes on. ", 40) + "THE-LAST-WORDS"
	pdf := render(t, d)
	text := pdfText(t, pdf)
	mustContain(t, text, "THE-LAST-WORDS")
	if strings.Contains(text, "shortened") {
		t.Error("notes that fit were shortened")
	}
	if n := pageCount(t, pdf); n != 2 {
		t.Errorf("%d pages, want 2", n)
	}
}

func TestParagraphs(t *testing.T) {
	d := sample("en")
	d.Review.Notes = "First paragraph.\n\n\n\n\n\nSecond paragraph."
	text := pdfText(t, render(t, d))
	mustContain(t, text, "First paragraph.", "Second paragraph.")
	if strings.Contains(text, "…") {
		t.Error("an ellipsis in a text that fits")
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	pdf.SetFont(fontFamily, "", 9.5)
	r := &report{pdf: pdf}
	got := r.split(clean(d.Review.Notes, true), contentW)
	if want := []string{"First paragraph.", "", "Second paragraph."}; !slices.Equal(got, want) {
		t.Errorf("split = %q, want %q", got, want)
	}
	if got := r.split(strings.Repeat("word ", 100), 50); len(got) < 5 {
		t.Errorf("a long line wrapped into %d lines at 50 mm", len(got))
	}
}

func TestLargeImagesAreShrunk(t *testing.T) {
	d := sample("vi")
	d.Image, d.VesselMap = fundus4096(), map4096()
	pdf := render(t, d)
	if len(pdf) > 2<<20 {
		t.Errorf("PDF of %d bytes from 4096² images", len(pdf))
	}
	list := poppler(t, pdf, "pdfimages", "-list")
	sizes := regexp.MustCompile(`(?m)^\s*\d+\s+\d+\s+image\s+(\d+)\s+(\d+)\s+(\w+)`).FindAllStringSubmatch(list, -1)
	if len(sizes) != 2 {
		t.Fatalf("want 2 images in the PDF:\n%s", list)
	}
	for _, s := range sizes {
		w, _ := strconv.Atoi(s[1])
		h, _ := strconv.Atoi(s[2])
		if w > MaxImageSide || h > MaxImageSide || w < MaxImageSide/2 {
			t.Errorf("embedded image %d×%d, want the long side in (%d/2, %d]", w, h, MaxImageSide, MaxImageSide)
		}
	}
	if !strings.Contains(list, "rgb") || !strings.Contains(list, "gray") {
		t.Errorf("want an RGB photograph and a grey map:\n%s", list)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if err := Render(ctx, &buf, sample("vi")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written after cancellation", buf.Len())
	}

	// a deadline already past (cancellation midway through shrinking is
	// TestShrinkHonoursContextMidway)
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	d := sample("vi")
	d.Image = fundus4096()
	time.Sleep(2 * time.Millisecond)
	if err := Render(ctx, &buf, d); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written after the deadline", buf.Len())
	}
}

func TestShrinkHonoursContextMidway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	img := fundus4096()
	calls := 0
	// cancel from inside: the first rows are read, then the context ends
	src := rowCounter{img, func() {
		if calls++; calls == 100 {
			cancel()
		}
	}}
	if _, err := shrink(ctx, src, MaxImageSide, 0, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	// the context is looked at every 32 output rows (of 5 input rows each)
	if calls > 32*5 {
		t.Errorf("%d rows read, cancelled at 100", calls)
	}
}

func TestNilWriter(t *testing.T) {
	if err := Render(context.Background(), nil, sample("vi")); !errors.Is(err, ErrNoWriter) {
		t.Fatalf("err %v", err)
	}
}

// Renders share the font bytes; they must not disturb one another. (The
// bytes of two renders may differ: fpdf orders two images of the same width
// by map iteration. The text may not.)
func TestConcurrentRenders(t *testing.T) {
	want := pdfText(t, render(t, sample("vi")))
	var wg sync.WaitGroup
	out := make([][]byte, 4)
	errs := make([]error, 4)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			errs[i] = Render(context.Background(), &buf, sample("vi"))
			out[i] = buf.Bytes()
		}()
	}
	wg.Wait()
	for i := range out {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got := pdfText(t, out[i]); got != want {
			t.Errorf("concurrent rendering %d has other text", i)
		}
	}
}

func TestTextIsCleaned(t *testing.T) {
	d := sample("vi")
	d.Patient.FullName = "Nguye\u0302\u0303n Thi\u0323 Lan 😀\u200b\x07" // decomposed, an emoji, a zero-width space, a bell
	text := pdfText(t, render(t, d))
	mustContain(t, text, "Nguyễn Thị Lan ?")
	for _, bad := range []string{"\u0302", "😀", "\u200b", "\x07"} {
		if strings.Contains(text, bad) {
			t.Errorf("text has %q", bad)
		}
	}
	if got := clean("a\tb\r\nc\n\nd", true); got != "a b\nc\n\nd" {
		t.Errorf("clean multiline = %q", got)
	}
	if got := clean(" a \n b ", false); got != "a b" {
		t.Errorf("clean = %q", got)
	}
	if got := []rune(clean(strings.Repeat("ư", 3*maxTextRunes), false)); len(got) != maxTextRunes+1 {
		t.Errorf("clean kept %d runes", len(got))
	}
}

func TestUnknownValuesPrintAsGiven(t *testing.T) {
	d := sample("en")
	d.Lang = "en-GB"
	d.Patient.Sex, d.Eye, d.Patient.DateOfBirth = "intersex", "both", "about 1960"
	d.Review.RiskLevel = "urgent"
	text := pdfText(t, render(t, d))
	mustContain(t, text, "intersex", "both", "about 1960", "Urgent", "Retinal vascular screening report")
}

// rowCounter is an image of no type shrink knows, that calls tick on every
// row read.
type rowCounter struct {
	img  *image.RGBA
	tick func()
}

func (c rowCounter) ColorModel() color.Model { return c.img.ColorModel() }
func (c rowCounter) Bounds() image.Rectangle { return c.img.Bounds() }
func (c rowCounter) At(x, y int) color.Color {
	if x == c.img.Rect.Min.X {
		c.tick()
	}
	return c.img.At(x, y)
}

func BenchmarkRender(b *testing.B) {
	d := sample("vi")
	d.Image, d.VesselMap = fundus4096(), map4096()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := Render(context.Background(), &buf, d); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64(size), "pdf-bytes")
}

// TestCriticalInVietnamese: a critical level (the AI's and the doctor's)
// prints the Vietnamese word on the critical colour, not the English word
// on grey (issue 17).
func TestCriticalInVietnamese(t *testing.T) {
	d := sample("vi")
	d.Analysis.RiskLevel = str("critical")
	d.Review.RiskLevel = "critical"
	d.Analysis.Findings = append(d.Analysis.Findings, Finding{Code: "X", Severity: "critical", Message: "Mật độ rất thấp"})
	pdf := render(t, d)
	text := pdfText(t, pdf)
	mustContain(t, text, "Nghiêm trọng", "mức: nghiêm trọng")
	if strings.Contains(strings.ToLower(text), "critical") {
		t.Error("the Vietnamese report prints the English word")
	}
	// The badge: page 1 as an image has pixels of the critical colour.
	img := pageImage(t, pdf, 1)
	want := riskColor[vocab.RiskCritical]
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(int(r>>8), want.r) && near(int(g>>8), want.g) && near(int(bl>>8), want.b) {
				n++
			}
		}
	}
	if n < 200 {
		t.Errorf("%d pixels of the critical colour on page 1: no critical badge", n)
	}
}

func near(a, b int) bool { return a-b <= 6 && b-a <= 6 }

// pageImage is page n of pdf rendered at 60 dpi by pdftoppm.
func pageImage(t *testing.T, pdf []byte, n int) image.Image {
	t.Helper()
	path, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Skip("pdftoppm not installed (apt-get install poppler-utils)")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "r.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	page := strconv.Itoa(n)
	if out, err := exec.Command(path, "-r", "60", "-png", "-f", page, "-l", page, "-singlefile", f, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	pf, err := os.Open(filepath.Join(dir, "p.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLongNameAndCodeWhole: a long name wraps and a wide patient code of
// the contract's longest (20 characters) prints smaller; neither is cut,
// in either language.
func TestLongNameAndCodeWhole(t *testing.T) {
	for _, lang := range []string{"vi", "en"} {
		d := sample(lang)
		d.Patient.FullName = "Công Tôn Nữ Hoàng Thị Phương Thảo Nguyễn Lê Trần Phạm Huỳnh Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Minh Châu"
		d.Patient.Code = "WWWWWWWWWW-MMMMMMMMM"
		pdf := render(t, d)
		text := strings.Join(strings.Fields(pdfText(t, pdf)), " ")
		mustContain(t, text, d.Patient.FullName, d.Patient.Code)
		if n := pageCount(t, pdf); n > MaxPages {
			t.Errorf("%s: %d pages", lang, n)
		}
	}
}
