package notifications

import (
	"strings"

	"aura/i18n"
	"aura/models"
	catalogue "aura/texts"
)

// The notice kinds go into the catalogue of texts (package texts) from the
// tables of this package: a kind added to texts or clinicTexts (or to a new
// table registered here) is listed and editable at once. A table's %s are
// its variables in order: the built-in title and body become templates by
// putting {{.Variable}} in their place.
func init() {
	register(texts, "Clinic")
	register(clinicTexts, "Clinic", "Reason")
	register(alertTexts, "Clinic", "Patient", "Reason")
	register(messageTexts, "Clinic")
}

// register puts every kind of table into the catalogue, with vars as the
// variables its %s stand for.
func register(table map[string]map[string][2]string, vars ...string) {
	for kind, byLang := range table {
		k := catalogue.Kind{Kind: kind, Channel: catalogue.Notice, Variables: vars, Builtin: map[string]catalogue.Text{}}
		for lang, t := range byLang {
			k.Builtin[lang] = catalogue.Text{Subject: asTemplate(t[0], vars), Body: asTemplate(t[1], vars)}
		}
		catalogue.Register(k)
	}
}

// asTemplate turns a format's %s into {{.Variable}}, in order.
func asTemplate(format string, vars []string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			switch format[i+1] {
			case 's':
				if n < len(vars) {
					b.WriteString("{{." + vars[n] + "}}")
				}
				n++
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(format[i])
	}
	return b.String()
}

// use is what a notice of kind in lang was made from.
func use(kind, lang string, vars []string, values ...string) *models.TextUse {
	u := &models.TextUse{Kind: kind, Lang: i18n.Lang(lang), Vars: map[string]string{}}
	for i, v := range vars {
		if i < len(values) {
			u.Vars[v] = values[i]
		}
	}
	return u
}
