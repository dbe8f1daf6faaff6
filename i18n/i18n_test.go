package i18n

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEveryMessageIsTranslated reads the code that answers clients
// (handlers, services, models, security's password policy)
// and fails for each human message, written as a string literal where
// AURA builds an answer, that has no Vietnamese text.
func TestEveryMessageIsTranslated(t *testing.T) {
	var missing []string
	for _, dir := range []string{"../handlers", "../services", "../models", "../security"} {
		_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				for _, s := range messages(n) {
					if !Known(s) {
						missing = append(missing, p+": "+strconv.Quote(s))
					}
				}
				return true
			})
			return nil
		})
	}
	for _, m := range missing {
		t.Errorf("no Vietnamese for %s", m)
	}
}

// messages are the literals n hands to a client: OK's message, NewError's,
// WithMessage's, an Error's Message, the values of a details map and of an
// assignment into one, and a CheckName-style "return" of a validator.
func messages(n ast.Node) []string {
	lit := func(e ast.Expr) (string, bool) {
		if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
			s, err := strconv.Unquote(b.Value)
			return s, err == nil
		}
		return "", false
	}
	var out []string
	add := func(e ast.Expr) {
		if s, ok := lit(e); ok && s != "" {
			out = append(out, s)
		}
	}
	switch x := n.(type) {
	case *ast.CallExpr:
		name := ""
		switch f := x.Fun.(type) {
		case *ast.Ident:
			name = f.Name
		case *ast.SelectorExpr:
			name = f.Sel.Name
		}
		switch {
		case name == "OK" && len(x.Args) == 4:
			add(x.Args[3])
		case name == "NewError" && len(x.Args) == 2:
			add(x.Args[1])
		case name == "WithMessage" && len(x.Args) == 2:
			add(x.Args[1])
		case name == "invalidImage" && len(x.Args) == 1:
			add(x.Args[0])
		}
	case *ast.KeyValueExpr:
		if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Message" {
			add(x.Value)
		}
		if _, ok := x.Key.(*ast.BasicLit); ok {
			// map[string]string{"field": "message"} literals of details.
			if s, ok := lit(x.Value); ok && looksLikeDetail(s) {
				out = append(out, s)
			}
		}
	case *ast.AssignStmt:
		if len(x.Lhs) == 1 && len(x.Rhs) == 1 {
			if ix, ok := x.Lhs[0].(*ast.IndexExpr); ok {
				if id, ok := ix.X.(*ast.Ident); ok && (id.Name == "details" || id.Name == "problems") {
					add(x.Rhs[0])
				}
			}
		}
	case *ast.ReturnStmt:
		for _, r := range x.Results {
			if s, ok := lit(r); ok && looksLikeDetail(s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// looksLikeDetail: the field messages start so ("is required", "must ...").
func looksLikeDetail(s string) bool {
	for _, p := range []string{"is ", "must ", "each ", "you ", "at least ", "does ", "could ", "give ", "one of "} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestTranslations: every Vietnamese text is there and differs from the
// English; patterns keep the numbers.
func TestTranslations(t *testing.T) {
	for en, v := range vi {
		if strings.TrimSpace(v) == "" || v == en {
			t.Errorf("%q has no Vietnamese", en)
		}
	}
	if got := T(VI, "must be at most 200 characters"); got != "tối đa 200 ký tự" {
		t.Errorf("pattern: %q", got)
	}
	if got := T(EN, "Not found"); got != "Not found" {
		t.Errorf("en: %q", got)
	}
	for header, want := range map[string]string{"": "vi", "en-US,en;q=0.9": "en", "vi": "vi", "fr-FR": "vi", "de, en;q=0.5": "en", ";;;": "vi"} {
		if got := FromHeader(header, "vi"); got != want {
			t.Errorf("FromHeader(%q) = %q, want %q", header, got, want)
		}
	}
	if got := FromHeader("fr", "en"); got != "en" {
		t.Errorf("default en: %q", got)
	}
}

// TestCatalog: messages come out of the x/text catalog in both languages,
// a literal % survives, patterns keep their arguments in place, and
// durations follow each language's plural rules.
func TestCatalog(t *testing.T) {
	for _, c := range []struct{ lang, in, want string }{
		{VI, "Not found", "Không tìm thấy"},
		{VI, "unknown metric \"x%y\"; one of a, b", "chỉ số \"x%y\" không xác định; phải là một trong: a, b"},
		{VI, "must be a whole number from 1 to 10", "phải là số nguyên từ 1 đến 10"},
		{VI, "a message nobody wrote", "a message nobody wrote"},
		{EN, "must be a whole number from 1 to 10", "must be a whole number from 1 to 10"},
	} {
		if got := T(c.lang, c.in); got != c.want {
			t.Errorf("T(%s, %q) = %q, want %q", c.lang, c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{EN, time.Hour, "1 hour"}, {EN, 24 * time.Hour, "24 hours"}, {EN, 48 * time.Hour, "2 days"},
		{EN, 30 * time.Minute, "30 minutes"}, {EN, 90 * time.Second, "90 seconds"}, {EN, time.Second, "1 second"},
		{VI, time.Hour, "1 giờ"}, {VI, 24 * time.Hour, "24 giờ"}, {VI, 72 * time.Hour, "3 ngày"}, {VI, 30 * time.Minute, "30 phút"},
		{EN, 0, ""},
	} {
		if got := Duration(c.lang, c.d); got != c.want {
			t.Errorf("Duration(%s, %v) = %q, want %q", c.lang, c.d, got, c.want)
		}
	}
}

// TestLang: the one language fallback takes the first language AURA
// speaks, by primary subtag in any case, and Vietnamese when none is.
func TestLang(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, VI},
		{[]string{""}, VI},
		{[]string{"en"}, EN},
		{[]string{"EN-gb"}, EN},
		{[]string{"en_US"}, EN},
		{[]string{"vi-VN", "en"}, VI},
		{[]string{"", "en", "vi"}, EN},
		{[]string{"fr", "de"}, VI},
		{[]string{"fr", "en"}, EN},
		{[]string{"english"}, VI},
	} {
		if got := Lang(c.in...); got != c.want {
			t.Errorf("Lang(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
