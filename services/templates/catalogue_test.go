package templates

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"aura/texts"
)

// TestEveryKindInEveryLanguage: the catalogue holds every mail kind and
// every notice kind the models name (a constant Mail... or Notice...), and
// each has a built-in text in every language that renders with sample values
// and uses only its variables. A kind added without a text in the catalogue
// fails here.
func TestEveryKindInEveryLanguage(t *testing.T) {
	named := map[string]string{} // kind -> channel
	files, err := filepath.Glob("../../models/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no models: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				channel := ""
				switch {
				case strings.HasPrefix(name.Name, "Mail") && len(name.Name) > 4:
					channel = texts.Email
				case strings.HasPrefix(name.Name, "Notice") && len(name.Name) > 6:
					channel = texts.Notice
				default:
					continue
				}
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				named[v] = channel
			}
			return true
		})
	}
	if len(named) < 10 {
		t.Fatalf("found only %d kinds in models: %v", len(named), named)
	}
	for kind, channel := range named {
		if _, ok := texts.Lookup(kind, channel); !ok {
			t.Errorf("%s kind %s has no text in the catalogue (register it with package texts)", channel, kind)
		}
	}
	kinds := texts.Kinds()
	for _, k := range kinds {
		for _, lang := range texts.Languages {
			b, ok := k.Builtin[lang]
			if !ok || strings.TrimSpace(b.Subject) == "" || strings.TrimSpace(b.Body) == "" {
				t.Errorf("%s %s has no built-in text in %s", k.Channel, k.Kind, lang)
				continue
			}
			if problems := texts.Check(k, lang, b); problems != nil {
				t.Errorf("%s %s %s: the built-in text fails its own check: %v", k.Channel, k.Kind, lang, problems)
			}
		}
		if len(k.Builtin) != len(texts.Languages) {
			t.Errorf("%s %s is written in %d languages, want %d", k.Channel, k.Kind, len(k.Builtin), len(texts.Languages))
		}
	}
}
