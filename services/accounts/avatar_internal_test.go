package accounts

import (
	"strings"
	"testing"
)

// TestValidAvatar: an avatar is an https URL without credentials whose host
// is a public name or a public IP literal.
func TestValidAvatar(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://cdn.example/a.png", true},
		{"https://cdn.example:8443/a.png?s=64#x", true},
		{"https://ui-avatars.com/api/?name=Ada&background=random", true},
		{"https://93.184.216.34/a.png", true},
		{"https://[2606:4700::1111]/a.png", true},
		{"https://localhost.example.com/a.png", true},
		{"HTTPS://CDN.EXAMPLE/a.png", true},

		{"http://cdn.example/a.png", false},
		{"javascript:alert(1)", false},
		{"data:image/png;base64,AAAA", false},
		{"ftp://cdn.example/a.png", false},
		{"//cdn.example/a.png", false},
		{"https:cdn.example/a.png", false},
		{"https:///a.png", false},
		{"https://user:pass@cdn.example/a.png", false},
		{"https://cdn.example@evil.example/a.png", false},
		{"https://:@cdn.example/a.png", false},
		{"https://localhost/a.png", false},
		{"https://LOCALHOST./a.png", false},
		{"https://api.localhost/a.png", false},
		{"https://127.0.0.1/a.png", false},
		{"https://127.1/a.png", false},
		{"https://2130706433/a.png", false},
		{"https://0x7f000001/a.png", false},
		{"https://0177.0.0.1/a.png", false},
		{"https://[::1]/a.png", false},
		{"https://[::ffff:127.0.0.1]/a.png", false},
		{"https://[::ffff:10.0.0.1]/a.png", false},
		{"https://10.1.2.3/a.png", false},
		{"https://172.16.0.1/a.png", false},
		{"https://192.168.1.1/a.png", false},
		{"https://100.64.0.1/a.png", false},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://[fe80::1]/a.png", false},
		{"https://[fe80::1%25eth0]/a.png", false},
		{"https://[fd00::1]/a.png", false},
		{"https://0.0.0.0/a.png", false},
		{"https://[::]/a.png", false},
		{"https://224.0.0.1/a.png", false},
		{"https://cdn.example\\@evil.example/a.png", false},
		{"https://cdn.example/" + strings.Repeat("a", 240), false},
	}
	for _, c := range cases {
		if got := validAvatar(c.url); got != c.ok {
			t.Errorf("validAvatar(%q) = %v, want %v", c.url, got, c.ok)
		}
	}
}

// TestInitials: the first letters of the first and last words, upper-cased,
// diacritics kept (composed or not), words without a letter skipped.
func TestInitials(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"Nguyễn Thị Lan":         "NL",
		"e\u0302\u0303m Thị lan": "\u1ec4L",
		"lan":                    "L",
		"BS. Lê Thị Hoa":         "BH",
		"  ":                     "",
		"(Hoa) - 2":              "H2",
		"élise o'neil":           "ÉO",
		"đặng":                   "Đ",
	} {
		if got := Initials(name); got != want {
			t.Errorf("Initials(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestRenderAvatar: the colour follows the id alone; the SVG is escaped text.
func TestRenderAvatar(t *testing.T) {
	t.Parallel()
	a, b := RenderAvatar("id-1", "NL"), RenderAvatar("id-1", "HL")
	fill := func(svg []byte) string { s := string(svg); i := strings.Index(s, `fill="#`); return s[i : i+15] }
	if fill(a.SVG) != fill(b.SVG) || a.ETag == b.ETag {
		t.Fatalf("colours %s %s, etags %s %s", fill(a.SVG), fill(b.SVG), a.ETag, b.ETag)
	}
	if x := RenderAvatar("id-1", "<&"); !strings.Contains(string(x.SVG), ">&lt;&amp;</text>") {
		t.Fatalf("not escaped: %s", x.SVG)
	}
}
