package texts

import "strings"

// samples are the values a preview (and the check of an edited template)
// uses for a variable the caller did not give, per language.
var samples = map[string]map[string]string{
	"Name":     {"vi": "Nguyễn Văn An", "en": "Jane Doe"},
	"Email":    {"vi": "an.nguyen@example.org", "en": "jane.doe@example.org"},
	"Link":     {"vi": "https://aura.example.org/screenings/00000000-0000-0000-0000-000000000000", "en": "https://aura.example.org/screenings/00000000-0000-0000-0000-000000000000"},
	"ValidFor": {"vi": "24 giờ", "en": "24 hours"},
	"When":     {"vi": "07/12/2026 lúc 09:30 UTC", "en": "7 December 2026 at 09:30 UTC"},
	"Clinic":   {"vi": "Phòng khám Mắt Sài Gòn", "en": "Saigon Eye Clinic"},
	"Reason":   {"vi": "Giấy phép hoạt động đã hết hạn.", "en": "The operating licence has expired."},
	"Role":     {"vi": "DOCTOR", "en": "DOCTOR"},
	"Lang":     {"vi": "vi", "en": "en"},
}

// Sample is the sample value of a variable in lang: a fixed example for the
// variables AURA knows, "[Name]" for any other.
func Sample(variable, lang string) string {
	if s, ok := samples[variable][lang]; ok {
		return s
	}
	return "[" + strings.TrimSpace(variable) + "]"
}

// Samples are data for k in lang: every variable of k, given values first,
// sample values for the rest.
func Samples(k Kind, lang string, given map[string]string) map[string]string {
	out := make(map[string]string, len(k.Variables))
	for _, v := range k.Variables {
		if s, ok := given[v]; ok {
			out[v] = s
		} else {
			out[v] = Sample(v, lang)
		}
	}
	return out
}
