package texts

import (
	"strings"
	"testing"
)

var kind = Kind{Kind: "k", Channel: Email, Variables: []string{"Link", "Name", "Role"}}

// TestRenderEscapesHTML: an edited email's HTML part escapes the template's
// own text and every value, makes {{.Link}} a link and refuses a
// javascript: URL; the text part and the subject keep the values as typed,
// the subject on one line.
func TestRenderEscapesHTML(t *testing.T) {
	out, err := Render(Email, Text{Subject: "Hi {{.Name}}\nthere", Body: "Hello {{.Name}} <3,\n\nOpen {{.Link}}.\n{{if eq .Role \"DOCTOR\"}}Doctor & co{{end}}"},
		map[string]string{"Name": "<script>x</script>", "Link": "https://a.example/x?y=1&z=2", "Role": "DOCTOR"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != "Hi <script>x</script> there" || !strings.Contains(out.Body, "Hello <script>x</script> <3,") {
		t.Errorf("text %q %q", out.Subject, out.Body)
	}
	for _, want := range []string{"Hello &lt;script&gt;x&lt;/script&gt; &lt;3,</p>", `<a href="https://a.example/x?y=1&amp;z=2">`, "Doctor &amp; co"} {
		if !strings.Contains(out.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, out.HTML)
		}
	}
	if strings.Contains(out.HTML, "<script>") {
		t.Errorf("HTML carries a script:\n%s", out.HTML)
	}
	out, _ = Render(Email, Text{Subject: "s", Body: "{{.Link}}"}, map[string]string{"Link": "javascript:alert(1)"})
	if strings.Contains(out.HTML, `href="javascript`) {
		t.Errorf("javascript link:\n%s", out.HTML)
	}
}

// TestCheck: what an edited template may not be.
func TestCheck(t *testing.T) {
	for name, c := range map[string]struct {
		t     Text
		field string
		has   string
	}{
		"syntax":  {Text{"s", "{{.Name"}, "body", "is not a valid template: line 1:"},
		"unknown": {Text{"{{.Clinic}}", "b"}, "subject", "uses {{.Clinic}}, which is not a variable of k; the variables are {{.Link}}, {{.Name}}, {{.Role}}"},
		"define":  {Text{"s", `{{define "x"}}{{end}}`}, "body", "must not define templates"},
		"exec":    {Text{"s", "{{.Name.X}}"}, "body", "does not render with sample values"},
		"empty":   {Text{"s", "  "}, "body", "must not be empty"},
		"long":    {Text{strings.Repeat("a", MaxSubject+1), "b"}, "subject", "must be at most 500 characters"},
	} {
		if p := Check(kind, "en", c.t); !strings.Contains(p[c.field], c.has) {
			t.Errorf("%s: %v", name, p)
		}
	}
	if p := Check(kind, "vi", Text{"Xin chào {{.Name}}", "{{if eq .Role \"DOCTOR\"}}BS{{end}} {{.Link}} {{printf \"%s!\" .Name}}"}); p != nil {
		t.Errorf("a good template refused: %v", p)
	}
}

// TestFields: the variables a built-in text uses.
func TestFields(t *testing.T) {
	if got := strings.Join(Fields("{{.A}} {{if .B}}{{.C.D}}{{end}}", "{{range .E}}{{end}}{{with .F}}{{.}}{{end}}"), ","); got != "A,B,C,E,F" {
		t.Errorf("fields %s", got)
	}
}

// BenchmarkRenderEmail: rendering an edited email (text, subject and HTML
// part), what a mail with an edited template costs beyond the built-in one.
func BenchmarkRenderEmail(b *testing.B) {
	t := Text{Subject: "New password for {{.Name}}", Body: "Dear {{.Name}},\n\nChoose a new password here: {{.Link}}\nIt works for {{.ValidFor}}.\n"}
	data := map[string]string{"Name": "Nguyễn Thị Lan", "Link": "https://app.example/reset-password?token=abc", "ValidFor": "1 giờ"}
	for b.Loop() {
		if _, err := Render(Email, t, data); err != nil {
			b.Fatal(err)
		}
	}
}
