package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"

	"aura/vocab"
)

// Page geometry, in millimetres (A4 portrait).
const (
	pageW      = 210.0
	marginL    = 16.0
	contentW   = pageW - 2*marginL
	firstTop   = 14.0  // top of page 1's header
	nextTop    = 25.0  // body top of later pages, under the running header
	bodyBottom = 268.0 // the footer starts below
	footerRule = 271.0
)

type rgb struct{ r, g, b int }

var (
	ink      = rgb{33, 37, 41}
	muted    = rgb{98, 108, 118}
	accent   = rgb{0, 98, 110}
	paleFill = rgb{243, 246, 247}
	headFill = rgb{225, 238, 240}
	hairline = rgb{205, 212, 216}
	white    = rgb{255, 255, 255}
	okColor  = rgb{46, 125, 50}
	offColor = rgb{176, 96, 0}
	// riskColor is the badge of each risk level of the vocabulary.
	riskColor = map[string]rgb{
		vocab.RiskLow:      {46, 125, 50},
		vocab.RiskMedium:   {196, 120, 0},
		vocab.RiskHigh:     {206, 72, 16},
		vocab.RiskCritical: {150, 0, 40},
	}
)

// block is a piece of the body with a known height. Pagination places the
// blocks one after the other and starts a new page when one does not fit.
type block struct {
	h    float64
	keep bool // keep on the page of the block that follows (headings, labels)
	gap  bool // spacing: vanishes at the top of a page
	// group, when set, names a run of blocks kept on one page when they fit on one.
	group string
	draw  func(y float64)
}

type place struct {
	page int
	y    float64
}

func pageTop(page int) float64 {
	if page == 1 {
		return firstTop
	}
	return nextTop
}

// paginate places the blocks and returns where each goes and the page count.
func paginate(blocks []block) ([]place, int) {
	places := make([]place, len(blocks))
	page, y := 1, firstTop
	for i, b := range blocks {
		if b.gap && y == pageTop(page) {
			places[i] = place{page, y}
			continue
		}
		need := b.h
		// a heading or label needs the block after it on the same page
		for j := i; j+1 < len(blocks) && blocks[j].keep; j++ {
			need += blocks[j+1].h
		}
		// a group starts a page of its own rather than split, when it fits on one
		if b.group != "" && (i == 0 || blocks[i-1].group != b.group) {
			total := 0.0
			for j := i; j < len(blocks) && blocks[j].group == b.group; j++ {
				total += blocks[j].h
			}
			if total <= bodyBottom-nextTop {
				need = max(need, total)
			}
		}
		if y+need > bodyBottom+0.01 && y > pageTop(page) && !b.gap {
			page++
			y = pageTop(page)
		}
		if b.gap && y+b.h > bodyBottom {
			// spacing at the foot of a page: the next block starts the next page anyway
			places[i] = place{page, y}
			continue
		}
		places[i] = place{page, y}
		y += b.h
	}
	return places, page
}

// para is a wrapped text that may be shortened to fit the page limit.
type para struct {
	lines []string
	limit int // lines shown; -1 for all
}

func (p *para) shown() int {
	if p.limit < 0 || p.limit > len(p.lines) {
		return len(p.lines)
	}
	return p.limit
}

func (p *para) cut() bool { return p.shown() < len(p.lines) }

// report holds one rendering.
type report struct {
	pdf *fpdf.Fpdf
	m   *messages
	d   *Data

	photo, vessels *encoded

	// cleaned texts
	clinicName, clinicAddress string
	patientName, patientCode  string
	nameLines                 []string // the patient's name wrapped to the box's width

	findings  para // every finding's lines; the first line of each is in findStart
	findStart map[int]bool
	advice    []string // the risk rules' recommendation, wrapped
	// adviceNote is the statement that AURA measures and does not
	// diagnose, printed under the recommendation.
	adviceNote []string
	rec        para
	notes      para
}

const (
	bodyLineH   = 4.7 // 9.5 pt text
	smallLineH  = 4.2 // 8.5 pt text
	findIndent  = 4.0
	sectionGap  = 4.0
	headingH    = 7.0
	riskBoxH    = 22.0
	patientRowH = 5.0
	labelW      = 30.0 // the labels of the patient box
	maxNameRows = 10   // a name longer than this many lines (about 700 characters) ends with "…"
	imageBoxH   = 60.0
	captionH    = 6.0
	tableHeadH  = 7.0
	tableRowH   = 9.0
	signatureH  = 17.0
)

// build lays the report out and writes the PDF to w.
func build(ctx context.Context, w io.Writer, d *Data, photo, vessels *encoded) error {
	m := messagesFor(d.Lang)
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetMargins(marginL, firstTop, marginL)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCellMargin(0)
	pdf.SetCompression(true)
	pdf.SetCatalogSort(true) // fonts and images in a stable order (images of one width still follow map order)
	pdf.SetCreationDate(d.GeneratedAt)
	pdf.SetModificationDate(d.GeneratedAt)
	pdf.SetLang(map[string]string{"vi": "vi-VN", "en": "en"}[m.lang])
	pdf.SetTitle(m.title, true)
	pdf.SetSubject(clean(d.ScreeningID, false), true)
	pdf.SetAuthor(clean(d.Clinic.Name, false), true)
	pdf.SetCreator("AURA", true)
	pdf.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	pdf.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	if photo != nil {
		pdf.RegisterImageOptionsReader("photo", fpdf.ImageOptions{ImageType: photo.kind}, bytes.NewReader(photo.data))
	}
	if vessels != nil {
		pdf.RegisterImageOptionsReader("vessels", fpdf.ImageOptions{ImageType: vessels.kind}, bytes.NewReader(vessels.data))
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("report: %w", err)
	}

	r := &report{
		pdf: pdf, m: m, d: d, photo: photo, vessels: vessels,
		clinicName:    clean(d.Clinic.Name, false),
		clinicAddress: clean(d.Clinic.Address, false),
		patientName:   clean(d.Patient.FullName, false),
		patientCode:   clean(d.Patient.Code, false),
		findings:      para{limit: -1},
		findStart:     map[int]bool{},
	}
	r.wrapTexts()

	blocks, places, pages := r.fit()
	if err := ctx.Err(); err != nil {
		return err
	}
	for p := 1; p <= pages; p++ {
		pdf.AddPage()
		if p > 1 {
			r.runningHeader()
		}
		for i, b := range blocks {
			if places[i].page == p && b.draw != nil {
				b.draw(places[i].y)
			}
		}
		r.footer(p, pages)
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// wrapTexts splits the long texts into lines at their widths and fonts.
func (r *report) wrapTexts() {
	// The name is never cut: it wraps over the whole width of the patient box.
	r.font("B", 10.5, ink)
	nameW := contentW - 8 - labelW
	r.nameLines = r.pdf.SplitText(r.patientName, nameW)
	if len(r.nameLines) > maxNameRows {
		r.nameLines = r.nameLines[:maxNameRows]
		r.nameLines[maxNameRows-1] = r.ellipsis(r.nameLines[maxNameRows-1], nameW, "B", 10.5)
	}
	r.font("", 8.5, ink)
	if a := r.d.Analysis; a != nil {
		for _, f := range a.Findings {
			msg := clean(f.Message, false)
			if msg == "" {
				msg = clean(f.Code, false)
			}
			if sev := r.m.level(clean(f.Severity, false)); sev != "" {
				msg += " (" + r.m.severity + ": " + sev + ")"
			}
			if msg == "" {
				continue
			}
			r.findStart[len(r.findings.lines)] = true
			r.findings.lines = append(r.findings.lines, r.pdf.SplitText(msg, contentW-findIndent)...)
		}
	}
	if a := r.d.Analysis; a != nil {
		r.font("", 9.5, ink)
		r.advice = r.split(clean(a.Recommendation, false), contentW-findIndent)
		r.font("", 8, muted)
		if len(r.advice) > 0 {
			r.adviceNote = r.pdf.SplitText(r.m.measuresOnly, contentW-findIndent)
		}
	}
	if rv := r.d.Review; rv != nil {
		r.font("", 9.5, ink)
		r.rec = para{lines: r.split(clean(rv.Recommendation, true), contentW), limit: -1}
		r.notes = para{lines: r.split(clean(rv.Notes, true), contentW), limit: -1}
	}
}

// split wraps s to width w in the current font, keeping a blank line
// between paragraphs.
func (r *report) split(s string, w float64) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " ")
		if line == "" {
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "") // one blank line between paragraphs, however many were typed
			}
			continue
		}
		out = append(out, r.pdf.SplitText(line, w)...)
	}
	return out
}

// fit builds the blocks and, when they run past MaxPages, shortens the long
// texts, each as little as needed (binary search on the lines kept). The
// analyser's findings give way first, then the doctor's notes, then the
// recommendation, each down to a few lines; only if that is not enough are
// they shortened further, in the same order.
func (r *report) fit() ([]block, []place, int) {
	try := func() ([]block, []place, int) {
		b := r.blocks()
		p, n := paginate(b)
		return b, p, n
	}
	blocks, places, pages := try()
	if pages <= MaxPages {
		return blocks, places, pages
	}
	stages := []struct {
		p     *para
		floor int
	}{
		{&r.findings, 6}, {&r.notes, 8}, {&r.rec, 8},
		{&r.findings, 0}, {&r.notes, 0}, {&r.rec, 0},
	}
	for _, s := range stages {
		hi := s.p.shown()
		lo := min(s.floor, hi)
		s.p.limit = lo
		if _, _, n := try(); n > MaxPages {
			continue // not enough: keep the floor and shorten the next
		}
		for lo < hi { // the most lines in [lo, hi] that fit
			mid := (lo + hi + 1) / 2
			s.p.limit = mid
			if _, _, n := try(); n <= MaxPages {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		s.p.limit = lo
		break
	}
	blocks, places, pages = try()
	if pages > MaxPages {
		// cannot happen with the fixed parts' sizes; drop what is past the limit
		pages = MaxPages
	}
	return blocks, places, pages
}

// ---- drawing helpers

func (r *report) font(style string, size float64, c rgb) {
	r.pdf.SetFont(fontFamily, style, size)
	r.pdf.SetTextColor(c.r, c.g, c.b)
}

// text writes s in a w×h cell at (x, y), shortened with "…" to fit w.
func (r *report) text(x, y, w, h float64, s, align string) {
	r.pdf.SetXY(x, y)
	r.pdf.CellFormat(w, h, r.fitWidth(s, w), "", 0, align, false, 0, "")
}

// fitWidth shortens s with a trailing "…" until it fits w in the current
// font. (The slack allows for SplitText's rounding: its lines may pass their
// width by a thousandth of the font size.)
func (r *report) fitWidth(s string, w float64) string {
	if r.pdf.GetStringWidth(s) <= w+0.01 {
		return s
	}
	runes := []rune(s)
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if r.pdf.GetStringWidth(strings.TrimRight(string(runes[:mid]), " ")+"…") <= w {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return strings.TrimRight(string(runes[:lo]), " ") + "…"
}

func (r *report) fill(c rgb) { r.pdf.SetFillColor(c.r, c.g, c.b) }
func (r *report) stroke(c rgb, w float64) {
	r.pdf.SetDrawColor(c.r, c.g, c.b)
	r.pdf.SetLineWidth(w)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// ---- the blocks

func (r *report) blocks() []block {
	var b []block
	gap := func(h float64) { b = append(b, block{h: h, gap: true}) }
	heading := func(s string) {
		b = append(b, block{h: headingH, keep: true, draw: func(y float64) { r.heading(y, s) }})
	}
	b = append(b, block{h: 26, draw: r.header})
	gap(1.5)
	b = append(b, block{h: r.patientBoxH(), draw: r.patientBox})
	gap(sectionGap)
	heading(r.m.images)
	b = append(b, block{h: imageBoxH + captionH, draw: r.images})
	gap(sectionGap)
	heading(r.m.measurements)
	if r.d.Analysis == nil {
		b = append(b, block{h: bodyLineH + 1, draw: func(y float64) {
			r.font("", 9.5, muted)
			r.text(marginL, y, contentW, bodyLineH, r.m.noAnalysis, "L")
		}})
	} else {
		b = append(b, block{h: tableHeadH + float64(len(r.m.metrics(r.d.Analysis.Metrics)))*tableRowH, draw: r.table})
	}
	gap(sectionGap)
	heading(r.m.risk)
	b = append(b, block{h: riskBoxH, draw: r.riskBoxes})
	b = append(b, r.findingBlocks()...)
	b = append(b, r.adviceBlocks()...)
	gap(sectionGap)
	b = append(b, r.reviewBlocks()...)
	return b
}

func (r *report) header(y float64) {
	rightW := 58.0
	r.font("B", 13, ink)
	r.text(marginL, y, contentW-rightW-4, 6, r.clinicName, "L")
	r.font("", 8.5, muted)
	r.text(marginL, y+6.5, contentW-rightW-4, 4, r.clinicAddress, "L")
	r.font("", 7.5, muted)
	r.text(marginL+contentW-rightW, y+0.5, rightW, 3.5, r.m.reportDate, "R")
	r.font("", 9, ink)
	r.text(marginL+contentW-rightW, y+4.5, rightW, 4.5, r.m.dateTime(r.d.GeneratedAt, r.d.Location), "R")
	r.stroke(accent, 0.7)
	r.pdf.Line(marginL, y+12.5, marginL+contentW, y+12.5)
	r.font("B", 16, accent)
	r.text(marginL, y+15.5, contentW, 8, r.m.title, "L")
}

func (r *report) runningHeader() {
	left := r.m.title + " (" + r.m.continued + ")"
	if r.clinicName != "" {
		left = r.clinicName + " · " + left
	}
	// the code whole, then as much of the name as fits
	r.font("", 8, muted)
	rightW := contentW * 0.38
	right := r.patientCode
	if r.patientName != "" {
		sep := ""
		if right != "" {
			sep = " · "
		}
		right = r.fitWidth(r.patientName, rightW-r.pdf.GetStringWidth(right+sep)) + sep + right
	}
	r.text(marginL, 14, contentW*0.62, 4, left, "L")
	r.text(marginL+contentW*0.62, 14, rightW, 4, right, "R")
	r.stroke(hairline, 0.3)
	r.pdf.Line(marginL, 19.5, marginL+contentW, 19.5)
}

func (r *report) heading(y float64, s string) {
	r.font("B", 10.5, accent)
	r.text(marginL, y+0.3, contentW, 5, s, "L")
	r.stroke(hairline, 0.3)
	r.pdf.Line(marginL, y+5.6, marginL+contentW, y+5.6)
}

// patientBoxH is the height of the patient box: the name's lines, then
// four rows of two columns.
func (r *report) patientBoxH() float64 {
	return 5 + float64(max(1, len(r.nameLines))+4)*patientRowH
}

// patientBox: the name over the whole width (wrapped, never cut), then the
// patient code, birth date and sex beside the eye, date imaged, image
// quality and analyser. The code is never cut either: a code too wide for
// its column is printed smaller.
func (r *report) patientBox(y float64) {
	m, d := r.m, r.d
	r.fill(paleFill)
	r.pdf.RoundedRect(marginL, y, contentW, r.patientBoxH(), 1.5, "1234", "F")
	half := contentW / 2
	quality, analyzer := "", ""
	if a := d.Analysis; a != nil {
		f := m.qualityBad
		if a.Gradable {
			f = m.qualityOK
		}
		quality = fmt.Sprintf(f, m.percent(a.Quality))
		analyzer = analyzerName(a)
	}
	ry := y + 2.5
	r.font("", 8.5, muted)
	r.text(marginL+4, ry, labelW, patientRowH, m.fullName, "L")
	r.font("B", 10.5, ink)
	lines := r.nameLines
	if len(lines) == 0 {
		lines = []string{"—"}
	}
	for _, line := range lines {
		r.text(marginL+4+labelW, ry, contentW-8-labelW, patientRowH, line, "L")
		ry += patientRowH
	}
	rows := [][2][2]string{
		{{m.patientCode, r.patientCode}, {m.eye, m.eyeName(clean(d.Eye, false))}},
		{{m.dateOfBirth, m.birthDate(clean(d.Patient.DateOfBirth, false))}, {m.takenAt, m.dateTime(d.TakenAt, d.Location)}},
		{{m.sex, m.sexName(clean(d.Patient.Sex, false))}, {m.imageQuality, quality}},
		{{"", ""}, {m.analyzer, analyzer}},
	}
	valueW := half - labelW - 8
	for i, row := range rows {
		for c, cell := range row {
			if cell[0] == "" {
				continue
			}
			x := marginL + 4 + float64(c)*half
			r.font("", 8.5, muted)
			r.text(x, ry, labelW, patientRowH, cell[0], "L")
			size := 9.5
			r.font("", size, ink)
			if i == 0 && c == 0 { // the code: smaller rather than cut
				for size > 6 && r.pdf.GetStringWidth(cell[1]) > valueW {
					size -= 0.5
					r.font("", size, ink)
				}
			}
			r.text(x+labelW, ry, valueW, patientRowH, orDash(cell[1]), "L")
		}
		ry += patientRowH
	}
}

func (r *report) images(y float64) {
	gapW := 6.0
	boxW := (contentW - gapW) / 2
	fundus := r.m.fundusCaption
	if eye := r.m.eyeName(clean(r.d.Eye, false)); eye != "" {
		fundus += " · " + eye
	}
	r.imageBox(marginL, y, boxW, "photo", r.photo, fundus)
	caption := r.m.vesselCaption
	if r.d.Overlay != nil {
		caption = r.m.overlayCaption
	}
	r.imageBox(marginL+boxW+gapW, y, boxW, "vessels", r.vessels, caption)
}

func (r *report) imageBox(x, y, w float64, name string, img *encoded, caption string) {
	if img == nil {
		r.fill(paleFill)
		r.stroke(hairline, 0.3)
		r.pdf.Rect(x, y, w, imageBoxH, "FD")
		r.font("", 9.5, muted)
		r.text(x, y+imageBoxH/2-2.5, w, 5, r.m.notAvailable, "C")
	} else {
		r.fill(rgb{250, 250, 250})
		r.stroke(hairline, 0.3)
		r.pdf.Rect(x, y, w, imageBoxH, "FD")
		pad := 1.0
		bw, bh := w-2*pad, imageBoxH-2*pad
		scale := min(bw/float64(img.w), bh/float64(img.h))
		iw, ih := float64(img.w)*scale, float64(img.h)*scale
		r.pdf.ImageOptions(name, x+(w-iw)/2, y+(imageBoxH-ih)/2, iw, ih, false,
			fpdf.ImageOptions{ImageType: img.kind}, 0, "")
	}
	r.font("", 8.5, muted)
	r.text(x, y+imageBoxH+1, w, 4.5, caption, "C")
}

func (r *report) table(y float64) {
	m, a := r.m, r.d.Analysis
	cols := []float64{56, 30, 54, 38}
	xs := []float64{marginL}
	for _, c := range cols[:3] {
		xs = append(xs, xs[len(xs)-1]+c)
	}
	pad := 2.0
	r.fill(headFill)
	r.pdf.Rect(marginL, y, contentW, tableHeadH, "F")
	r.font("B", 8.5, ink)
	for i, h := range []string{m.colMetric, m.colResult, m.colRange, m.colAssessment} {
		r.text(xs[i]+pad, y, cols[i]-2*pad, tableHeadH, h, "L")
	}
	ranges := map[string]Range{}
	for _, rg := range r.d.Ranges {
		if k := metricKey(rg.Metric); k != "" {
			if _, seen := ranges[k]; !seen {
				ranges[k] = rg
			}
		}
	}
	ry := y + tableHeadH
	for _, mt := range m.metrics(a.Metrics) {
		r.font("", 9.5, ink)
		r.text(xs[0]+pad, ry+1.2, cols[0]-2*pad, 4.2, mt.name, "L")
		r.font("", 7, muted)
		r.text(xs[0]+pad, ry+5.2, cols[0]-2*pad, 3, mt.unit, "L")

		if mt.value == nil {
			r.font("", 9, muted)
			r.text(xs[1]+pad, ry, cols[1]-2*pad, tableRowH-2, m.notMeasured, "L")
		}
		corrected, hasCorrection := 0.0, false
		if rv := r.d.Review; rv != nil {
			corrected, hasCorrection = rv.CorrectedMetrics[mt.key]
		}
		switch {
		case mt.value != nil && hasCorrection:
			r.font("B", 10, ink)
			r.text(xs[1]+pad, ry+1.2, cols[1]-2*pad, 4.2, m.fixed(*mt.value, mt.decimals)+mt.suffix, "L")
		case mt.value != nil:
			r.font("B", 10, ink)
			r.text(xs[1]+pad, ry, cols[1]-2*pad, tableRowH, m.fixed(*mt.value, mt.decimals)+mt.suffix, "L")
		}
		if hasCorrection {
			r.font("B", 7, accent)
			r.text(xs[1]+pad, ry+5.2, cols[1]-2*pad, 3, fmt.Sprintf(m.doctorValue, m.fixed(corrected, mt.decimals)+mt.suffix), "L")
		}

		rg, ok := ranges[mt.key]
		main, sub := m.rangeText(rg, ok, mt.suffix)
		if sub == "" {
			r.font("", 9.5, ink)
			if !ok || (rg.Low == nil && rg.High == nil) {
				r.font("", 9, muted)
			}
			r.text(xs[2]+pad, ry, cols[2]-2*pad, tableRowH, main, "L")
		} else {
			r.font("", 9.5, ink)
			r.text(xs[2]+pad, ry+1.2, cols[2]-2*pad, 4.2, main, "L")
			r.font("", 7, muted)
			r.text(xs[2]+pad, ry+5.2, cols[2]-2*pad, 3, sub, "L")
		}

		verdict, c, style := "—", muted, ""
		if mt.value != nil && ok && (rg.Low != nil || rg.High != nil) {
			switch v := *mt.value; {
			case rg.Low != nil && v < *rg.Low:
				verdict, c, style = m.below, offColor, "B"
			case rg.High != nil && v > *rg.High:
				verdict, c, style = m.above, offColor, "B"
			default:
				verdict, c = m.within, okColor
			}
		}
		r.font(style, 9, c)
		r.text(xs[3]+pad, ry, cols[3]-2*pad, tableRowH, verdict, "L")

		ry += tableRowH
		r.stroke(hairline, 0.25)
		r.pdf.Line(marginL, ry, marginL+contentW, ry)
	}
}

// rangeText is the reference column of a row: the interval, and under it the
// levels the profile gives outside it.
func (m *messages) rangeText(rg Range, ok bool, suffix string) (main, sub string) {
	if !ok || (rg.Low == nil && rg.High == nil) {
		return m.noRange, ""
	}
	switch {
	case rg.Low != nil && rg.High != nil:
		main = m.bound(*rg.Low) + " – " + m.bound(*rg.High)
	case rg.Low != nil:
		main = "≥ " + m.bound(*rg.Low)
	default:
		main = "≤ " + m.bound(*rg.High)
	}
	main += suffix
	var parts []string
	if l := m.level(clean(rg.BelowLevel, false)); l != "" && rg.Low != nil {
		parts = append(parts, fmt.Sprintf(m.belowLevel, m.bound(*rg.Low), l))
	}
	if l := m.level(clean(rg.AboveLevel, false)); l != "" && rg.High != nil {
		parts = append(parts, fmt.Sprintf(m.aboveLevel, m.bound(*rg.High), l))
	}
	return main, strings.Join(parts, " · ")
}

func (r *report) riskBoxes(y float64) {
	m, d := r.m, r.d
	gapW := 6.0
	boxW := (contentW - gapW) / 2

	// the analyser's level
	var level, note, detail string
	known := false
	switch a := d.Analysis; {
	case a == nil:
		level = m.noAnalysis
	case !a.Gradable:
		level = m.notGradable
	case a.RiskLevel == nil || strings.TrimSpace(*a.RiskLevel) == "":
		level = m.noRiskLevel
	default:
		level, known = *a.RiskLevel, true
	}
	if a := d.Analysis; a != nil {
		if known && a.Confidence != nil {
			note = fmt.Sprintf("%s %d%%", m.confidence, m.percent(*a.Confidence))
		}
		name := analyzerName(a)
		detail = fmt.Sprintf(m.analysedBy, orDash(name), a.ProfileVersion, orDash(m.dateTime(a.CompletedAt, d.Location)))
	}
	r.riskBox(marginL, y, boxW, m.riskAI, level, known, note, detail)

	// the doctor's
	if rv := d.Review; rv != nil {
		lvl := clean(rv.RiskLevel, false)
		detail := strings.TrimSpace(orDash(clean(rv.DoctorName, false)) + " · " + m.dateTime(rv.ReviewedAt, d.Location))
		detail = strings.TrimSuffix(detail, " ·")
		if lvl == "" {
			r.riskBox(marginL+boxW+gapW, y, boxW, m.riskDoctor, m.noRiskLevel, false, "", detail)
		} else {
			r.riskBox(marginL+boxW+gapW, y, boxW, m.riskDoctor, lvl, true, "", detail)
		}
	} else {
		r.riskBox(marginL+boxW+gapW, y, boxW, m.riskDoctor, m.awaitingReview, false, "", "")
	}
}

// riskBox draws one risk level: a coloured badge when the level is known,
// a grey outlined one for a state such as "awaiting doctor review".
func (r *report) riskBox(x, y, w float64, label, level string, known bool, note, detail string) {
	r.stroke(hairline, 0.3)
	r.pdf.RoundedRect(x, y, w, riskBoxH, 1.5, "1234", "D")
	r.font("", 8, muted)
	r.text(x+4, y+2.5, w-8, 4, label, "L")

	badgeY, badgeH := y+7.5, 7.0
	if known {
		c, ok := riskColor[riskLevel(level)]
		if !ok {
			c = muted // a value outside the vocabulary, printed as given
		}
		text := capitalize(r.m.level(level))
		r.font("B", 10.5, white)
		bw := min(r.pdf.GetStringWidth(text)+8, w-8)
		r.fill(c)
		r.pdf.RoundedRect(x+4, badgeY, bw, badgeH, 1.5, "1234", "F")
		r.text(x+4, badgeY, bw, badgeH, text, "C")
		if note != "" {
			r.font("", 8.5, ink)
			r.text(x+4+bw+3, badgeY, w-bw-11, badgeH, note, "L")
		}
	} else {
		r.font("B", 9, muted)
		bw := min(r.pdf.GetStringWidth(level)+8, w-8)
		r.stroke(muted, 0.35)
		r.pdf.SetDashPattern([]float64{1, 0.8}, 0)
		r.pdf.RoundedRect(x+4, badgeY, bw, badgeH, 1.5, "1234", "D")
		r.pdf.SetDashPattern(nil, 0)
		r.text(x+4, badgeY, bw, badgeH, level, "C")
	}
	if detail != "" {
		r.font("", 7.5, muted)
		r.text(x+4, y+16, w-8, 4, detail, "L")
	}
}

func (r *report) findingBlocks() []block {
	p := &r.findings
	if len(p.lines) == 0 {
		return nil
	}
	b := []block{{h: 7, keep: true, draw: func(y float64) {
		r.font("B", 8.5, ink)
		r.text(marginL, y+2.5, contentW, 4.5, r.m.findings, "L")
	}}}
	n := p.shown()
	for i, line := range p.lines[:n] {
		bullet := r.findStart[i]
		text := line
		if p.cut() && i == n-1 {
			text = r.ellipsis(line, contentW-findIndent, "", 8.5)
		}
		b = append(b, block{h: smallLineH, draw: func(y float64) {
			r.font("", 8.5, ink)
			if bullet {
				r.text(marginL+1, y, findIndent, smallLineH, "•", "L")
			}
			r.text(marginL+findIndent, y, contentW-findIndent, smallLineH, text, "L")
		}})
	}
	if p.cut() {
		b = append(b, r.truncatedBlock())
	}
	return b
}

// adviceBlocks are the risk rules' recommendation, on a pale band, with the
// statement that AURA measures and does not diagnose right under it.
func (r *report) adviceBlocks() []block {
	if len(r.advice) == 0 {
		return nil
	}
	h := 7 + float64(len(r.advice))*bodyLineH + float64(len(r.adviceNote))*3.8 + 2.5
	return []block{{h: h, draw: func(y float64) {
		r.fill(paleFill)
		r.pdf.RoundedRect(marginL, y+1.5, contentW, h-1.5, 1.5, "1234", "F")
		r.font("B", 8.5, ink)
		r.text(marginL+2, y+2.5, contentW-4, 4.5, r.m.advice, "L")
		ly := y + 7
		r.font("", 9.5, ink)
		for _, line := range r.advice {
			r.text(marginL+findIndent, ly, contentW-findIndent-2, bodyLineH, line, "L")
			ly += bodyLineH
		}
		r.font("", 8, muted)
		for _, line := range r.adviceNote {
			r.text(marginL+findIndent, ly, contentW-findIndent-2, 3.8, line, "L")
			ly += 3.8
		}
	}}}
}

// ellipsis ends a shortened text's last line with "…", within width w.
func (r *report) ellipsis(line string, w float64, style string, size float64) string {
	r.font(style, size, ink)
	return r.fitWidth(strings.TrimRight(line, " .,;:")+" …", w)
}

func (r *report) truncatedBlock() block {
	return block{h: smallLineH + 1, draw: func(y float64) {
		r.font("", 8, muted)
		r.text(marginL, y+0.5, contentW, smallLineH, r.m.truncated, "L")
	}}
}

// paraBlocks is a label and its wrapped lines, shortened to p's limit.
func (r *report) paraBlocks(label string, p *para, group string) []block {
	if len(p.lines) == 0 {
		return nil
	}
	b := []block{{h: 5.5, keep: true, group: group, draw: func(y float64) {
		r.font("B", 9, ink)
		r.text(marginL, y+0.5, contentW, 5, label, "L")
	}}}
	n := p.shown()
	for i, line := range p.lines[:n] {
		text := line
		if p.cut() && i == n-1 {
			text = r.ellipsis(line, contentW, "", 9.5)
		}
		b = append(b, block{h: bodyLineH, group: group, draw: func(y float64) {
			r.font("", 9.5, ink)
			r.text(marginL, y, contentW, bodyLineH, text, "L")
		}})
	}
	if p.cut() {
		t := r.truncatedBlock()
		t.group = group
		b = append(b, t)
	}
	return b
}

func (r *report) reviewBlocks() []block {
	const group = "review"
	m, rv := r.m, r.d.Review
	b := []block{{h: headingH, keep: true, group: group, draw: func(y float64) { r.heading(y, m.review) }}}
	if rv == nil {
		text := m.reviewPending
		if r.d.Analysis != nil {
			text += " " + m.aiUnconfirmed
		}
		r.font("", 9.5, ink)
		for _, line := range r.split(text, contentW) {
			b = append(b, block{h: bodyLineH, group: group, draw: func(y float64) {
				r.font("", 9.5, muted)
				r.text(marginL, y, contentW, bodyLineH, line, "L")
			}})
		}
		return b
	}
	if a := m.agreements[rv.Agreement]; a != "" {
		line := fmt.Sprintf(m.agreement, a)
		b = append(b, block{h: bodyLineH + 1, group: group, draw: func(y float64) {
			r.font("B", 9.5, ink)
			r.text(marginL, y, contentW, bodyLineH, line, "L")
		}})
	}
	b = append(b, r.paraBlocks(m.recommendation, &r.rec, group)...)
	if len(r.rec.lines) > 0 && len(r.notes.lines) > 0 {
		b = append(b, block{h: 2.5, gap: true, group: group})
	}
	b = append(b, r.paraBlocks(m.notes, &r.notes, group)...)
	b = append(b, block{h: signatureH, group: group, draw: r.signature})
	return b
}

// signature is the reviewing doctor's name, licence and date, at the right
// as a signature stands on a Vietnamese document.
func (r *report) signature(y float64) {
	m, rv := r.m, r.d.Review
	x := marginL + contentW/2
	w := contentW / 2
	r.stroke(hairline, 0.3)
	r.pdf.Line(x, y+3, marginL+contentW, y+3)
	rows := [][2]string{
		{m.doctor, clean(rv.DoctorName, false)},
		{m.licenseNo, clean(rv.LicenseNo, false)},
		{m.reviewedAt, m.dateTime(rv.ReviewedAt, r.d.Location)},
	}
	for i, row := range rows {
		ry := y + 4 + float64(i)*4.3
		r.font("", 8.5, muted)
		label := row[0] + ": "
		lw := r.pdf.GetStringWidth(label)
		r.text(x, ry, lw, 4.3, label, "L")
		if i == 0 {
			r.font("B", 9.5, ink)
		} else {
			r.font("", 9, ink)
		}
		r.text(x+lw, ry, w-lw, 4.3, orDash(row[1]), "L")
	}
}

// footer is on every page: the disclaimer, and the line that ties the
// printout to the screening and the exact image it was made from.
func (r *report) footer(page, pages int) {
	m, d := r.m, r.d
	r.stroke(hairline, 0.3)
	r.pdf.Line(marginL, footerRule, marginL+contentW, footerRule)
	r.font("B", 8.5, ink)
	r.text(marginL, footerRule+1.5, contentW, 4.5, m.disclaimer, "L")

	r.font("", 7, muted)
	y := footerRule + 6.5
	pageText := fmt.Sprintf(m.page, page, pages)
	pw := r.pdf.GetStringWidth(pageText)
	r.text(marginL, y, contentW-pw-4, 3.6, m.screeningID+": "+orDash(clean(d.ScreeningID, false)), "L")
	r.text(marginL+contentW-pw, y, pw, 3.6, pageText, "R")
	zone := fmt.Sprintf(m.timesIn, zoneName(d.GeneratedAt, d.Location))
	zw := r.pdf.GetStringWidth(zone)
	r.text(marginL, y+3.6, contentW-zw-4, 3.6, m.imageSHA256+": "+orDash(clean(d.ImageSHA256, false)), "L")
	r.text(marginL+contentW-zw, y+3.6, zw, 3.6, zone, "R")
}

// analyzerName is the analyzer and its version as one label: "vessels
// vessels-1.1.0" reads "vessels-1.1.0", a version that names its analyzer.
func analyzerName(a *Analysis) string {
	name, version := clean(a.Analyzer, false), clean(a.Version, false)
	if name != "" && strings.HasPrefix(version, name) {
		return version
	}
	return strings.TrimSpace(name + " " + version)
}
