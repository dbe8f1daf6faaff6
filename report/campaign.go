package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"

	"aura/i18n"
	"aura/vocab"
)

// Campaign is what a clinic's campaign summary shows: counts over a range
// of days, no patient. Lang as Data's.
type Campaign struct {
	Lang   string
	Clinic Clinic
	// From and To bound the range: screenings created in [From, To).
	From, To   time.Time
	Screenings int64
	Patients   int64
	// ByStatus and ByRiskLevel count the screenings (keys as the API's).
	ByStatus     map[string]int64
	ByRiskLevel  map[string]int64
	AnalysesUsed int64
	OpenAlerts   int64
	// TurnaroundP50 and TurnaroundP90 are minutes from upload to review;
	// nil when none was reviewed.
	TurnaroundP50, TurnaroundP90 *float64
	GeneratedAt                  time.Time
	Location                     *time.Location
}

// campaignText is every text of the campaign summary in one language.
type campaignText struct {
	title, period, generated, counts, screenings, patients, analyses, openAlerts  string
	statuses, risk, level, count, share, noScreenings, turnaround, p50, p90, none string
	minutes, statement                                                            string
	status                                                                        map[string]string
}

var campaignTexts = map[string]campaignText{
	i18n.VI: {
		title: "Báo cáo tổng kết chiến dịch sàng lọc", period: "Giai đoạn", generated: "Ngày lập",
		counts: "Số liệu", screenings: "Số ca sàng lọc", patients: "Số bệnh nhân", analyses: "Số lượt phân tích",
		openAlerts: "Cảnh báo đang mở", statuses: "Theo trạng thái", risk: "Phân bố mức nguy cơ",
		level: "Mức nguy cơ", count: "Số ca", share: "Tỷ lệ", noScreenings: "Không có ca nào trong giai đoạn này.",
		turnaround: "Thời gian từ lúc tải ảnh đến khi bác sĩ xem xét", p50: "Trung vị (P50)", p90: "P90",
		none: "chưa có ca nào được xem xét", minutes: "phút",
		statement: "AURA đo các chỉ số mạch máu võng mạc; AURA không chẩn đoán. Mọi kết luận thuộc về bác sĩ.",
		status: map[string]string{"queued": "Đang chờ", "processing": "Đang phân tích", "awaiting_review": "Chờ bác sĩ xem xét",
			"in_review": "Bác sĩ đang xem xét", "reviewed": "Đã xem xét", "failed": "Phân tích thất bại"},
	},
	i18n.EN: {
		title: "Screening campaign summary", period: "Period", generated: "Generated",
		counts: "Figures", screenings: "Screenings", patients: "Patients", analyses: "Analyses used",
		openAlerts: "Open alerts", statuses: "By status", risk: "Risk distribution",
		level: "Risk level", count: "Screenings", share: "Share", noScreenings: "No screening in this period.",
		turnaround: "Time from upload to doctor review", p50: "Median (P50)", p90: "P90",
		none: "no screening reviewed yet", minutes: "min",
		statement: "AURA measures retinal vessel indicators; AURA does not diagnose. Every conclusion is a doctor's.",
		status: map[string]string{"queued": "Queued", "processing": "Being analysed", "awaiting_review": "Awaiting review",
			"in_review": "In review", "reviewed": "Reviewed", "failed": "Analysis failed"},
	},
}

// capital is s with its first letter in upper case.
func capital(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// campaignStatuses is the order the statuses are listed in.
var campaignStatuses = []string{"queued", "processing", "awaiting_review", "in_review", "reviewed", "failed"}

// RenderCampaign writes the campaign summary of c to w as a one-page A4
// PDF; nothing is written unless the whole PDF was made.
func RenderCampaign(ctx context.Context, w io.Writer, c Campaign) error {
	if w == nil {
		return ErrNoWriter
	}
	if c.GeneratedAt.IsZero() {
		c.GeneratedAt = time.Now()
	}
	if c.Location == nil {
		c.Location = vietnam
	}
	m := messagesFor(c.Lang)
	t := campaignTexts[m.lang]
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetMargins(marginL, firstTop, marginL)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCellMargin(0)
	pdf.SetCompression(true)
	pdf.SetCreationDate(c.GeneratedAt)
	pdf.SetModificationDate(c.GeneratedAt)
	pdf.SetLang(map[string]string{"vi": "vi-VN", "en": "en"}[m.lang])
	pdf.SetTitle(t.title, true)
	pdf.SetAuthor(clean(c.Clinic.Name, false), true)
	pdf.SetCreator("AURA", true)
	pdf.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	pdf.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &report{pdf: pdf, m: m}
	pdf.AddPage()

	// Header: the clinic, the date, the title and the period.
	y := firstTop
	r.font("B", 13, ink)
	r.text(marginL, y, contentW-62, 6, clean(c.Clinic.Name, false), "L")
	r.font("", 8.5, muted)
	r.text(marginL, y+6.5, contentW-62, 4, clean(c.Clinic.Address, false), "L")
	r.font("", 7.5, muted)
	r.text(marginL+contentW-58, y+0.5, 58, 3.5, t.generated, "R")
	r.font("", 9, ink)
	r.text(marginL+contentW-58, y+4.5, 58, 4.5, m.dateTime(c.GeneratedAt, c.Location), "R")
	r.stroke(accent, 0.7)
	pdf.Line(marginL, y+12.5, marginL+contentW, y+12.5)
	r.font("B", 16, accent)
	r.text(marginL, y+15.5, contentW, 8, t.title, "L")
	// The range is [From, To): its last day is the one before To, in UTC
	// (the days of the request are UTC days).
	last := c.To.UTC().Add(-time.Nanosecond)
	r.font("", 10, ink)
	r.text(marginL, y+24.5, contentW, 5, t.period+": "+c.From.UTC().Format("2006-01-02")+" – "+last.Format("2006-01-02")+" (UTC)", "L")
	y += 34

	row := func(label, value string) {
		r.font("", 10, ink)
		r.text(marginL+2, y, contentW*0.6, 6, label, "L")
		r.font("B", 10, ink)
		r.text(marginL+contentW*0.6, y, contentW*0.4-2, 6, value, "R")
		r.stroke(hairline, 0.2)
		pdf.Line(marginL, y+6, marginL+contentW, y+6)
		y += 6.5
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }

	r.heading(y, t.counts)
	y += 8
	row(t.screenings, n(c.Screenings))
	row(t.patients, n(c.Patients))
	row(t.analyses, n(c.AnalysesUsed))
	row(t.openAlerts, n(c.OpenAlerts))
	y += 4

	r.heading(y, t.statuses)
	y += 8
	for _, s := range campaignStatuses {
		row(t.status[s], n(c.ByStatus[s]))
	}
	y += 4

	r.heading(y, t.risk)
	y += 8
	var rated int64
	for _, l := range vocab.RiskLevels() {
		rated += c.ByRiskLevel[l]
	}
	if rated == 0 {
		r.font("", 9.5, muted)
		r.text(marginL+2, y, contentW, 6, t.noScreenings, "L")
		y += 8
	} else {
		r.font("B", 9, muted)
		r.text(marginL+2, y, 60, 5, t.level, "L")
		r.text(marginL+contentW-70, y, 30, 5, t.count, "R")
		r.text(marginL+contentW-32, y, 30, 5, t.share, "R")
		y += 6
		barX, barW := marginL+48, contentW-48-74
		for _, l := range vocab.RiskLevels() {
			v := c.ByRiskLevel[l]
			share := float64(v) / float64(rated)
			col := riskColor[l]
			r.fill(col)
			pdf.Rect(marginL+2, y+1, 3.5, 3.5, "F")
			r.font("", 10, ink)
			r.text(marginL+8, y, 40, 5.5, capital(m.level(l)), "L")
			r.fill(paleFill)
			pdf.Rect(barX, y+1, barW, 3.5, "F")
			if share > 0 {
				r.fill(col)
				pdf.Rect(barX, y+1, barW*share, 3.5, "F")
			}
			r.font("B", 10, ink)
			r.text(marginL+contentW-70, y, 30, 5.5, n(v), "R")
			r.font("", 10, ink)
			r.text(marginL+contentW-32, y, 30, 5.5, fmt.Sprintf("%d%%", m.percent(share)), "R")
			y += 7
		}
	}
	y += 4

	r.heading(y, t.turnaround)
	y += 8
	mins := func(v *float64) string {
		if v == nil {
			return t.none
		}
		return m.decimal(strconv.FormatFloat(*v, 'f', 1, 64)) + " " + t.minutes
	}
	row(t.p50, mins(c.TurnaroundP50))
	row(t.p90, mins(c.TurnaroundP90))

	// The statement, on a pale band above the footer rule.
	r.fill(paleFill)
	pdf.Rect(marginL, bodyBottom-14, contentW, 11, "F")
	r.font("B", 9.5, ink)
	r.text(marginL+3, bodyBottom-11.5, contentW-6, 6, t.statement, "L")
	r.stroke(hairline, 0.3)
	pdf.Line(marginL, footerRule, marginL+contentW, footerRule)
	r.font("B", 8.5, ink)
	r.text(marginL, footerRule+1.5, contentW, 4.5, m.disclaimer, "L")

	if err := pdf.Error(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: write: %w", err)
	}
	return nil
}
