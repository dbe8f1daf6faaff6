package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// maxDepth bounds nesting of request bodies; no AURA body nests more than 2.
const maxDepth = 8

var errEmptyBody = errors.New("empty body")

// Bind reads the request body into dst strictly: application/json only (415),
// size-limited before parsing (413, by the body-limit middleware), one JSON
// object with no unknown or duplicate fields, no trailing data, valid UTF-8,
// no NUL characters, shallow nesting (400 INVALID_JSON). When optional is
// true an empty body counts as {}.
func Bind(c *gin.Context, dst any, optional bool) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errf(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body is too large")
		}
		return Errf(http.StatusBadRequest, CodeInvalidJSON, "Request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 && optional {
		return nil
	}
	if err := checkJSONContentType(c.GetHeader("Content-Type")); err != nil {
		return err
	}
	if err := checkJSON(body); err != nil {
		return Errf(http.StatusBadRequest, CodeInvalidJSON, "Request body must be one JSON object: "+err.Error())
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
		return Errf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Errf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "JSON must be UTF-8")
	}
	return nil
}

// checkJSON walks the tokens of body: exactly one object, no duplicate keys,
// bounded depth, valid UTF-8, no NUL characters.
func checkJSON(body []byte) error {
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
		obj  bool
		keys map[string]struct{}
		key  bool // next token in an object is a key
	}
	stack := []frame{{obj: true, keys: map[string]struct{}{}, key: true}}
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
			if _, dup := top.keys[k]; dup {
				return errors.New("duplicate field " + strconvQuote(k))
			}
			top.keys[k] = struct{}{}
			top.key = false
			continue
		}
		if top.obj {
			top.key = true
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{obj: true, keys: map[string]struct{}{}, key: true})
			case '[':
				stack = append(stack, frame{})
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
	return nil
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		e := Errf(http.StatusBadRequest, CodeInvalidJSON, "A field has the wrong type")
		e.Details = map[string]string{typeErr.Field: "must be a " + jsonTypeName(typeErr.Type.String())}
		return e
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		e := Errf(http.StatusBadRequest, CodeInvalidJSON, "Unknown field in request body")
		e.Details = map[string]string{strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`): "is not a known field"}
		return e
	}
	return Errf(http.StatusBadRequest, CodeInvalidJSON, "Request body must be one JSON object of the documented fields")
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
