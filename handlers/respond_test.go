package handlers

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"

	"aura/models"
	"aura/storage"
)

// TestEveryCodeHasAStatus: the one error type (models.Error) has one code
// table; every Code constant declared in models has its status in statusOf,
// so no code can reach a client as a 500 by being forgotten.
func TestEveryCodeHasAStatus(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "../models/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || vs.Type == nil || fmt.Sprint(vs.Type) != "Code" {
			return true
		}
		for _, v := range vs.Values {
			code, _ := strconv.Unquote(v.(*ast.BasicLit).Value)
			n++
			if _, ok := statusOf[models.Code(code)]; !ok {
				t.Errorf("code %s has no status in statusOf", code)
			}
		}
		return true
	})
	if n < 20 {
		t.Fatalf("found only %d codes in models/errors.go", n)
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err    error
		status int
		code   models.Code
	}{
		{fmt.Errorf("wrapped: %w", models.ErrConflict), http.StatusConflict, models.CodeConflict},
		{models.NewError(models.CodeInvalidJSON, "x"), http.StatusBadRequest, models.CodeInvalidJSON},
		{models.ErrTokenReused, http.StatusUnauthorized, models.CodeUnauthorized},
		{errors.New("disk on fire"), http.StatusInternalServerError, models.CodeInternal},
		{models.NewError("NO_SUCH_CODE", "x"), http.StatusInternalServerError, models.CodeInternal},
		{fmt.Errorf("report: %w", storage.ErrUndecryptable), http.StatusServiceUnavailable, models.CodeUnavailable},
		{errors.Join(models.ErrUnavailable, storage.ErrUndecryptable), http.StatusServiceUnavailable, models.CodeUnavailable},
	} {
		status, e := StatusOf(c.err)
		if status != c.status || e.Code != c.code {
			t.Errorf("StatusOf(%v) = %d %s, want %d %s", c.err, status, e.Code, c.status, c.code)
		}
	}
	if _, e := StatusOf(errors.New("secret cause")); e.Message != "Internal server error" {
		t.Errorf("an uncoded error's message reaches the client: %q", e.Message)
	}
}
