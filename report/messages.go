package report

import (
	"aura/i18n"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"aura/vocab"
)

// messages is every text of the report in one language. Every field must be
// set in every language (a test checks).
type messages struct {
	lang           string
	title          string
	continued      string
	reportDate     string
	fullName       string
	patientCode    string
	dateOfBirth    string
	sex            string
	eye            string
	takenAt        string
	imageQuality   string
	qualityOK      string // "%d" is the score in percent
	qualityBad     string
	analyzer       string
	images         string
	fundusCaption  string
	vesselCaption  string
	notAvailable   string
	measurements   string
	colMetric      string
	colResult      string
	colRange       string
	colAssessment  string
	within         string
	below          string
	above          string
	notMeasured    string
	noRange        string
	belowLevel     string // "below %s: %s"
	aboveLevel     string
	risk           string
	riskAI         string
	riskDoctor     string
	confidence     string
	awaitingReview string
	notGradable    string
	noAnalysis     string
	noRiskLevel    string
	analysedBy     string // analyser and version, profile version, time
	findings       string
	review         string
	reviewPending  string
	aiUnconfirmed  string
	recommendation string
	advice         string
	measuresOnly   string
	notes          string
	doctor         string
	licenseNo      string
	reviewedAt     string
	truncated      string
	disclaimer     string
	screeningID    string
	imageSHA256    string
	page           string // "Page %d/%d"
	timesIn        string // "times in %s"
	severity       string
	male           string
	female         string
	otherSex       string
	rightEye       string
	leftEye        string
	// levels names each risk level of the vocabulary (vocab.RiskLevels).
	levels map[string]string
	// metricNames names each metric of the vocabulary (vocab.MetricNames)
	// and says under the name what it is measured in.
	metricNames    map[string][2]string
	overlayCaption string
	doctorValue    string // the doctor's corrected value, under the measured one
	agreement      string
	agreements     map[string]string
	decimalComma   bool
	dateLayout     string
	dateTimeLayout string
}

var vi = messages{
	lang:           "vi",
	title:          "Báo cáo sàng lọc mạch máu võng mạc",
	continued:      "tiếp theo",
	reportDate:     "Ngày lập báo cáo",
	fullName:       "Họ và tên",
	patientCode:    "Mã bệnh nhân",
	dateOfBirth:    "Ngày sinh",
	sex:            "Giới tính",
	eye:            "Mắt",
	takenAt:        "Ngày chụp",
	imageQuality:   "Chất lượng ảnh",
	qualityOK:      "đạt (%d%%)",
	qualityBad:     "không đạt (%d%%)",
	analyzer:       "Phân tích AI",
	images:         "Hình ảnh",
	fundusCaption:  "Ảnh đáy mắt",
	vesselCaption:  "Bản đồ mạch máu do AI tách",
	notAvailable:   "Không có ảnh",
	measurements:   "Các chỉ số mạch máu",
	colMetric:      "Chỉ số",
	colResult:      "Kết quả",
	colRange:       "Khoảng tham chiếu",
	colAssessment:  "So với tham chiếu",
	within:         "Trong khoảng",
	below:          "Thấp hơn",
	above:          "Cao hơn",
	notMeasured:    "Không đo được",
	noRange:        "Chưa có",
	belowLevel:     "dưới %s: %s",
	aboveLevel:     "trên %s: %s",
	risk:           "Đánh giá nguy cơ",
	riskAI:         "Mức nguy cơ theo AI",
	riskDoctor:     "Mức nguy cơ theo bác sĩ",
	confidence:     "độ tin cậy",
	awaitingReview: "Đang chờ bác sĩ xem xét",
	notGradable:    "Ảnh không đủ chất lượng để đánh giá",
	noAnalysis:     "Chưa có kết quả phân tích",
	noRiskLevel:    "Không xác định",
	analysedBy:     "%s · hồ sơ nguy cơ v%d · %s",
	findings:       "Ghi nhận của AI",
	review:         "Kết luận của bác sĩ",
	reviewPending:  "Chưa có kết luận: trường hợp này đang chờ bác sĩ xem xét.",
	aiUnconfirmed:  "Kết quả AI ở trên chưa được bác sĩ xác nhận.",
	recommendation: "Khuyến nghị",
	advice:         "Gợi ý theo dõi (theo quy tắc nguy cơ của phòng khám)",
	measuresOnly:   "AURA đo các mạch máu võng mạc; AURA không chẩn đoán. Mọi trường hợp đều được bác sĩ xem xét.",
	notes:          "Ghi chú",
	doctor:         "Bác sĩ",
	licenseNo:      "Số chứng chỉ hành nghề",
	reviewedAt:     "Ngày xem xét",
	truncated:      "(Nội dung quá dài nên đã được rút gọn; bản đầy đủ được lưu tại phòng khám.)",
	disclaimer:     "Chỉ số sàng lọc, không phải chẩn đoán; mọi trường hợp đều được bác sĩ xem xét.",
	screeningID:    "Mã lần sàng lọc",
	imageSHA256:    "SHA-256 của ảnh gốc",
	page:           "Trang %d/%d",
	timesIn:        "Giờ theo %s",
	severity:       "mức",
	male:           "Nam",
	female:         "Nữ",
	otherSex:       "Khác",
	rightEye:       "Mắt phải (OD)",
	leftEye:        "Mắt trái (OS)",
	levels: map[string]string{
		vocab.RiskLow: "thấp", vocab.RiskMedium: "trung bình", vocab.RiskHigh: "cao", vocab.RiskCritical: "nghiêm trọng",
	},
	metricNames: map[string][2]string{
		vocab.MetricVesselDensity:     {"Mật độ mạch máu", "tỷ lệ diện tích, 0–1"},
		vocab.MetricFractalDimension:  {"Số chiều fractal", "không đơn vị"},
		vocab.MetricTortuosity:        {"Độ xoắn vặn mạch", "không đơn vị"},
		vocab.MetricMeanVesselWidthPx: {"Độ rộng mạch trung bình", "điểm ảnh (px)"},
		vocab.MetricCRAE:              {"CRAE (tiểu động mạch)", "điểm ảnh (px), vùng B"},
		vocab.MetricCRVE:              {"CRVE (tiểu tĩnh mạch)", "điểm ảnh (px), vùng B"},
		vocab.MetricAVR:               {"Tỷ lệ động/tĩnh mạch (AVR)", "CRAE / CRVE"},
		vocab.MetricArteryDensity:     {"Mật độ động mạch", "tỷ lệ diện tích, 0–1"},
		vocab.MetricVeinDensity:       {"Mật độ tĩnh mạch", "tỷ lệ diện tích, 0–1"},
	},
	overlayCaption: "Động mạch (đỏ), tĩnh mạch (xanh lam), đĩa thị (vàng)",
	doctorValue:    "BS: %s",
	agreement:      "Mức đồng ý của bác sĩ với kết quả phân tích: %s",
	agreements:     map[string]string{"agree": "đồng ý", "partial": "một phần", "disagree": "không đồng ý"},
	decimalComma:   true,
	dateLayout:     "02/01/2006",
	dateTimeLayout: "02/01/2006 15:04",
}

var en = messages{
	lang:           "en",
	title:          "Retinal vascular screening report",
	continued:      "continued",
	reportDate:     "Report date",
	fullName:       "Full name",
	patientCode:    "Patient code",
	dateOfBirth:    "Date of birth",
	sex:            "Sex",
	eye:            "Eye",
	takenAt:        "Imaged on",
	imageQuality:   "Image quality",
	qualityOK:      "gradable (%d%%)",
	qualityBad:     "not gradable (%d%%)",
	analyzer:       "AI analysis",
	images:         "Images",
	fundusCaption:  "Fundus photograph",
	vesselCaption:  "Vessel map segmented by AI",
	notAvailable:   "Not available",
	measurements:   "Vascular measurements",
	colMetric:      "Measurement",
	colResult:      "Result",
	colRange:       "Reference range",
	colAssessment:  "Against the range",
	within:         "Within range",
	below:          "Below range",
	above:          "Above range",
	notMeasured:    "Not measured",
	noRange:        "None set",
	belowLevel:     "below %s: %s",
	aboveLevel:     "above %s: %s",
	risk:           "Risk assessment",
	riskAI:         "Risk level (AI)",
	riskDoctor:     "Risk level (doctor)",
	confidence:     "confidence",
	awaitingReview: "Awaiting doctor review",
	notGradable:    "Image not gradable",
	noAnalysis:     "No analysis available",
	noRiskLevel:    "Not determined",
	analysedBy:     "%s · risk profile v%d · %s",
	findings:       "AI findings",
	review:         "Doctor's review",
	reviewPending:  "No conclusion yet: this case is awaiting doctor review.",
	aiUnconfirmed:  "The AI results above have not been confirmed by a doctor.",
	recommendation: "Recommendation",
	advice:         "Suggested follow-up (from the clinic's risk rules)",
	measuresOnly:   "AURA measures the retinal vessels; it does not diagnose. A doctor reviews every case.",
	notes:          "Notes",
	doctor:         "Doctor",
	licenseNo:      "Licence no.",
	reviewedAt:     "Reviewed on",
	truncated:      "(Text too long for the report and shortened here; the full text is kept at the clinic.)",
	disclaimer:     "Screening indicators, not a diagnosis; a doctor reviews every case.",
	screeningID:    "Screening ID",
	imageSHA256:    "Original image SHA-256",
	page:           "Page %d/%d",
	timesIn:        "Times in %s",
	severity:       "severity",
	male:           "Male",
	female:         "Female",
	otherSex:       "Other",
	rightEye:       "Right eye (OD)",
	leftEye:        "Left eye (OS)",
	levels: map[string]string{
		vocab.RiskLow: "low", vocab.RiskMedium: "medium", vocab.RiskHigh: "high", vocab.RiskCritical: "critical",
	},
	metricNames: map[string][2]string{
		vocab.MetricVesselDensity:     {"Vessel density", "area fraction, 0–1"},
		vocab.MetricFractalDimension:  {"Fractal dimension", "dimensionless"},
		vocab.MetricTortuosity:        {"Tortuosity", "dimensionless"},
		vocab.MetricMeanVesselWidthPx: {"Mean vessel width", "pixels (px)"},
		vocab.MetricCRAE:              {"CRAE (arterioles)", "pixels (px), zone B"},
		vocab.MetricCRVE:              {"CRVE (venules)", "pixels (px), zone B"},
		vocab.MetricAVR:               {"Artery-to-vein ratio (AVR)", "CRAE / CRVE"},
		vocab.MetricArteryDensity:     {"Artery density", "area fraction, 0–1"},
		vocab.MetricVeinDensity:       {"Vein density", "area fraction, 0–1"},
	},
	overlayCaption: "Arteries (red), veins (blue), optic disc (yellow)",
	doctorValue:    "Doctor: %s",
	agreement:      "The doctor %s with the automatic analysis",
	agreements:     map[string]string{"agree": "agrees", "partial": "agrees in part", "disagree": "disagrees"},
	dateLayout:     "2 Jan 2006",
	dateTimeLayout: "2 Jan 2006 15:04",
}

// messagesFor picks the language by i18n.Lang: English for "en" and
// "en-*", Vietnamese for everything else.
func messagesFor(lang string) *messages {
	if i18n.Lang(lang) == i18n.EN {
		return &en
	}
	return &vi
}

// key lowers s and drops spaces, '_' and '-', so "very_high", "Very High"
// and "very-high" compare equal.
func key(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r == '_' || r == '-' || r == ' ' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// riskLevel is the vocabulary's risk level s names ("" when none): the
// levels are matched ignoring case and surrounding space.
func riskLevel(s string) string {
	l := strings.ToLower(strings.TrimSpace(s))
	if slices.Contains(vocab.RiskLevels(), l) {
		return l
	}
	return ""
}

// level names a risk level or severity in the report's language ("" when s
// is empty); a value outside the vocabulary is printed as given.
func (m *messages) level(s string) string {
	if l := riskLevel(s); l != "" {
		return m.levels[l]
	}
	return strings.TrimSpace(s)
}

func (m *messages) sexName(s string) string {
	switch key(s) {
	case "":
		return ""
	case "male", "m", "nam":
		return m.male
	case "female", "f", "nữ", "nu":
		return m.female
	case "other", "o", "khác", "khac":
		return m.otherSex
	}
	return strings.TrimSpace(s)
}

func (m *messages) eyeName(s string) string {
	switch key(s) {
	case "":
		return ""
	case "right", "r", "od", "righteye":
		return m.rightEye
	case "left", "l", "os", "lefteye":
		return m.leftEye
	}
	return strings.TrimSpace(s)
}

// metric describes one row of the measurements table.
type metric struct {
	key      string // the vocabulary's name
	name     string
	unit     string // the explanation under the name
	suffix   string // printed after the value
	decimals int
	value    *float64
}

// metrics are the table's rows, one per metric of the vocabulary, in its order.
func (m *messages) metrics(x Metrics) []metric {
	values := map[string]*float64{
		vocab.MetricVesselDensity: x.VesselDensity, vocab.MetricFractalDimension: x.FractalDimension,
		vocab.MetricTortuosity: x.Tortuosity, vocab.MetricMeanVesselWidthPx: x.MeanVesselWidthPx,
		vocab.MetricCRAE: x.CRAE, vocab.MetricCRVE: x.CRVE, vocab.MetricAVR: x.AVR,
		vocab.MetricArteryDensity: x.ArteryDensity, vocab.MetricVeinDensity: x.VeinDensity,
	}
	// The metrics around the optic disc are shown when any of them was
	// measured: an analysis made before them (or by an analyzer that does
	// not make them) keeps its four rows, and its one page.
	disc := x.CRAE != nil || x.CRVE != nil || x.AVR != nil || x.ArteryDensity != nil || x.VeinDensity != nil
	var out []metric
	for _, name := range vocab.MetricNames() {
		if !disc && discMetric(name) {
			continue
		}
		mt := metric{key: name, name: m.metricNames[name][0], unit: m.metricNames[name][1], decimals: 3, value: values[name]}
		if name == vocab.MetricMeanVesselWidthPx || name == vocab.MetricCRAE || name == vocab.MetricCRVE {
			mt.suffix, mt.decimals = " px", 1
		}
		out = append(out, mt)
	}
	return out
}

// discMetric says whether name is one of the metrics around the optic disc.
func discMetric(name string) bool {
	switch name {
	case vocab.MetricCRAE, vocab.MetricCRVE, vocab.MetricAVR, vocab.MetricArteryDensity, vocab.MetricVeinDensity:
		return true
	}
	return false
}

// metricKey is the vocabulary's name of a Range's metric, matched ignoring
// case ("" for a metric outside the vocabulary).
func metricKey(s string) string {
	for _, name := range vocab.MetricNames() {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return name
		}
	}
	return ""
}

// fixed prints v with exactly n decimals in the report's number style.
func (m *messages) fixed(v float64, n int) string {
	return m.decimal(strconv.FormatFloat(v, 'f', n, 64))
}

// bound prints a range bound with up to 4 decimals, trailing zeros dropped.
func (m *messages) bound(v float64) string {
	s := strconv.FormatFloat(v, 'f', 4, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return m.decimal(s)
}

func (m *messages) decimal(s string) string {
	if m.decimalComma {
		return strings.Replace(s, ".", ",", 1)
	}
	return s
}

func (m *messages) percent(v float64) int {
	if v < 0 {
		v = 0
	}
	if v > 1 {
		v = 1
	}
	return int(v*100 + 0.5)
}

func (m *messages) dateTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(m.dateTimeLayout)
}

// birthDate prints a "YYYY-MM-DD" date in the report's style; any other text
// is printed as given.
func (m *messages) birthDate(s string) string {
	s = strings.TrimSpace(s)
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return s
	}
	return t.Format(m.dateLayout)
}

// zoneName says which zone the times are in, such as "UTC+07:00".
func zoneName(t time.Time, loc *time.Location) string {
	_, off := t.In(loc).Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, off/3600, off%3600/60)
}

// capitalize upper-cases the first letter ("rất cao" → "Rất cao").
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
