package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"aura/models"
)

// maxDepth bounds nesting of request bodies; no AURA body nests more than 2.
const maxDepth = 8

var errEmptyBody = errors.New("empty body")

// Bind reads the request body into dst strictly: application/json only (415),
// size-limited before parsing (413, by the body-limit middleware), one JSON
// object with no unknown or duplicate fields, no trailing data, valid UTF-8,
// no NUL characters, shallow nesting (400 INVALID_JSON). When optional is
// true an empty body counts as {}.
//
// Field names are exact: encoding/json would match "EMAIL" (or "Email", or
// "emaıl" with a dotless i) to the field "email" and let the last of several
// such keys win, so Bind refuses a key that names a field in another case as
// unknown, and two keys of one object that are equal up to case (as
// encoding/json folds them) as duplicates, at every depth.
func Bind(c *gin.Context, dst any, optional bool) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return models.NewError(models.CodePayloadTooLarge, "Request body is too large")
		}
		return models.NewError(models.CodeInvalidJSON, "Request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 && optional {
		return nil
	}
	if err := checkJSONContentType(c.GetHeader("Content-Type")); err != nil {
		return err
	}
	if err := checkJSON(body, reflect.TypeOf(dst)); err != nil {
		var unknown unknownFieldError
		if errors.As(err, &unknown) {
			return unknownField(string(unknown))
		}
		return models.NewError(models.CodeInvalidJSON, "Request body must be one JSON object: "+err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func checkJSONContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return models.NewError(models.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return models.NewError(models.CodeUnsupportedMedia, "JSON must be UTF-8")
	}
	return nil
}

// checkJSON walks the tokens of body: exactly one object, no keys equal up
// to case in one object, bounded depth, valid UTF-8, no NUL characters, and,
// in the objects that decode into a struct of dst's type, no key that is not
// exactly the JSON name of a field.
func checkJSON(body []byte, dst reflect.Type) error {
	if !utf8.Valid(body) {
		return errors.New("invalid UTF-8")
	}
	if bytes.IndexByte(body, 0) >= 0 {
		return errors.New("NUL byte")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errEmptyBody
		}
		return errors.New("malformed JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not an object")
	}
	type frame struct {
		obj    bool
		keys   map[string]struct{} // folded keys seen
		key    bool                // next token in an object is a key
		fields fieldSet            // an object's struct fields; nil: not checked
		elem   reflect.Type        // the type of the next value (of the key read, or an array's elements)
	}
	object := func(t reflect.Type) frame {
		return frame{obj: true, keys: map[string]struct{}{}, key: true, fields: fieldsOf(t)}
	}
	stack := []frame{object(dst)}
	var unknown error
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		top := &stack[len(stack)-1]
		if top.obj && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if strings.ContainsRune(k, 0) {
				return errors.New("NUL character")
			}
			folded := foldName(k)
			if _, dup := top.keys[folded]; dup {
				return errors.New("duplicate field " + strconvQuote(k))
			}
			top.keys[folded] = struct{}{}
			top.key = false
			top.elem = nil
			if top.fields != nil {
				t, known := top.fields[k]
				if !known && unknown == nil {
					unknown = unknownFieldError(k) // reported last: a duplicate is the graver fault
				}
				top.elem = t
			}
			continue
		}
		if top.obj {
			top.key = true
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, object(top.elem))
			case '[':
				stack = append(stack, frame{elem: elemOf(top.elem)})
			case ']':
				stack = stack[:len(stack)-1]
			}
			if len(stack) > maxDepth {
				return errors.New("nested too deeply")
			}
		case string:
			if strings.ContainsRune(v, 0) {
				return errors.New("NUL character")
			}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the object")
	}
	return unknown
}

// foldName folds a key the way encoding/json matches keys to field names
// (its foldName): ASCII letters to upper case, any other rune r to
// unicode.ToUpper(unicode.ToLower(r)). Two keys with one folded form reach
// the same field.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		b.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
	}
	return b.String()
}

// unknownFieldError is a key that names no field exactly.
type unknownFieldError string

func (e unknownFieldError) Error() string { return "unknown field " + strconvQuote(string(e)) }

func unknownField(name string) *models.Error {
	e := models.NewError(models.CodeInvalidJSON, "Unknown field in request body")
	e.Details = map[string]string{name: "is not a known field"}
	return e
}

// fieldSet maps the exact JSON name of each field of a struct to the type
// its value decodes into.
type fieldSet map[string]reflect.Type

var fieldSets sync.Map // reflect.Type -> fieldSet

// fieldsOf returns the fields of the struct that t decodes as (through
// pointers and Opt), or nil when t is not such a struct.
func fieldsOf(t reflect.Type) fieldSet {
	t = valueType(t)
	if t == nil || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{}
	addFields(fs, t)
	fieldSets.Store(t, fs)
	return fs
}

func addFields(fs fieldSet, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if et := derefType(f.Type); et.Kind() == reflect.Struct {
				addFields(fs, et) // embedded struct: its fields are the outer object's
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs[name] = f.Type
	}
}

// elemOf is the type of the elements of a slice or array that t decodes as.
func elemOf(t reflect.Type) reflect.Type {
	t = valueType(t)
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// valueType strips pointers and Opt from t.
func valueType(t reflect.Type) reflect.Type {
	for t != nil {
		t = derefType(t)
		o, ok := reflect.Zero(t).Interface().(interface{ ValueType() reflect.Type })
		if !ok {
			return t
		}
		t = o.ValueType()
	}
	return nil
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		e := models.NewError(models.CodeInvalidJSON, "A field has the wrong type")
		e.Details = map[string]string{typeErr.Field: "must be a " + jsonTypeName(typeErr.Type.String())}
		return e
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return unknownField(strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`))
	}
	return models.NewError(models.CodeInvalidJSON, "Request body must be one JSON object of the documented fields")
}

func jsonTypeName(goType string) string {
	switch {
	case strings.Contains(goType, "string"):
		return "string"
	case strings.Contains(goType, "bool"):
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "list"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "number"
	}
	return "value of another type"
}
