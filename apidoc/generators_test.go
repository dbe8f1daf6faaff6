package apidoc

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocumentFitsGenerators walks the served document (the JSON, YAML
// anchors and merges applied) and checks, mechanically, the rules client
// generators need (docs/openapi.md, "Rules for generators"):
//   - one server, the API's base path, that every path is relative to;
//   - component names unique across schemas, responses, parameters, request
//     bodies and headers (oapi-codegen names a Go type after each);
//   - every enum and const has a type that its values are of;
//   - a number that is not an integer says format: double;
//   - a file part of a multipart body, and a binary answer, says format: binary;
//   - a query parameter that takes a list is an array, style form, explode false;
//   - every operation says its security, `[]` when public.
func TestDocumentFitsGenerators(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(JSON().Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range generatorProblems(doc) {
		t.Error(p)
	}
}

// TestGeneratorRulesCatchRegressions feeds generatorProblems documents that
// break each rule once: each must be reported.
func TestGeneratorRulesCatchRegressions(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"enum without type": {`components: {schemas: {A: {enum: [x, y]}}}`, "enum or const without a type"},
		"const without type": {`components: {schemas: {A: {type: object, properties: {ok: {const: true}}}}}`,
			"enum or const without a type"},
		"enum value of another type": {`components: {schemas: {A: {type: string, enum: [x, null]}}}`, "not of its type"},
		"number without format":      {`components: {schemas: {A: {type: [number, 'null']}}}`, "format: double"},
		"duplicate component": {`components: {schemas: {Clinic: {type: object}}, responses: {Clinic: {description: x}}}`,
			"component name Clinic"},
		"file part not binary": {`paths: {/u: {post: {security: [], requestBody: {content: {multipart/form-data: {schema: {type: object,
			properties: {image: {type: string, contentMediaType: image/png}}}}}}, responses: {'200': {description: x}}}}}`, "format: binary"},
		"list parameter as one value": {`paths: {/l: {get: {security: [], parameters: [{name: status, in: query,
			description: 'Comma-separated statuses.', schema: {type: string}}], responses: {'200': {description: x}}}}}`, "array"},
		"array parameter exploded": {`paths: {/l: {get: {security: [], parameters: [{name: status, in: query,
			schema: {type: array, items: {type: string}}}], responses: {'200': {description: x}}}}}`, "explode: false"},
		"no security":  {`paths: {/l: {get: {responses: {'200': {description: x}}}}}`, "security"},
		"no servers":   {`paths: {}`, "servers"},
		"absolute api": {`servers: [{url: /api}]` + "\n" + `paths: {/api/x: {get: {security: [], responses: {'200': {description: x}}}}}`, "relative"},
	}
	for name, c := range cases {
		var doc any
		if err := yaml.Unmarshal([]byte(c.yaml), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := stringKeys(doc).(map[string]any)
		if _, ok := m["servers"]; !ok && name != "no servers" {
			m["servers"] = []any{map[string]any{"url": "/api"}}
		}
		got := strings.Join(generatorProblems(m), "\n")
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: want a problem with %q, got:\n%s", name, c.want, got)
		}
	}
}

// generatorProblems lists every breach of the rules in doc.
func generatorProblems(doc map[string]any) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }

	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 {
		add("servers: want exactly one, the API's base path (/api), got %d", len(servers))
	} else if u, _ := servers[0].(map[string]any)["url"].(string); u != "/api" {
		add("servers[0].url = %q, want /api", u)
	}

	comps, _ := doc["components"].(map[string]any)
	owner := map[string]string{}
	for _, kind := range []string{"schemas", "responses", "parameters", "requestBodies", "headers"} {
		m, _ := comps[kind].(map[string]any)
		for _, name := range keysOf(m) {
			if prev, ok := owner[name]; ok {
				add("component name %s is both in components.%s and components.%s", name, prev, kind)
			}
			owner[name] = kind
		}
	}

	walk(doc, "#", func(path string, m map[string]any) {
		_, hasEnum := m["enum"]
		_, hasConst := m["const"]
		types := typesOf(m["type"])
		if (hasEnum || hasConst) && len(types) == 0 {
			add("%s: enum or const without a type", path)
		}
		if len(types) > 0 {
			values, _ := m["enum"].([]any)
			if hasConst {
				values = append(values, m["const"])
			}
			for _, v := range values {
				if !slices.Contains(types, jsonType(v, types)) {
					add("%s: value %v is not of its type %v", path, v, types)
				}
			}
		}
		if slices.Contains(types, "number") && m["format"] != "double" && m["format"] != "float" {
			add("%s: a number that is not an integer needs format: double", path)
		}
	})

	paths, _ := doc["paths"].(map[string]any)
	for _, p := range keysOf(paths) {
		if strings.HasPrefix(p, "/api/") || p == "/api" {
			add("path %s: paths are relative to the server (/api), not absolute", p)
		}
		item, _ := paths[p].(map[string]any)
		for _, method := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + p
			if _, ok := op["security"]; !ok {
				add("%s: no security (write `security: []` for a public operation)", where)
			}
			params, _ := op["parameters"].([]any)
			params = append(params, asSlice(item["parameters"])...)
			for _, pv := range params {
				param, _ := resolve(doc, pv).(map[string]any)
				if param["in"] != "query" {
					continue
				}
				schema, _ := resolve(doc, param["schema"]).(map[string]any)
				desc, _ := param["description"].(string)
				list := slices.Contains(typesOf(schema["type"]), "array")
				if !list && (param["name"] == "status" || param["name"] == "riskLevel" ||
					strings.Contains(strings.ToLower(desc), "comma-separated")) {
					add("%s: query parameter %v takes a list: make it an array (style: form, explode: false)", where, param["name"])
				}
				if list && (param["style"] != "form" || param["explode"] != false) {
					add("%s: array query parameter %v must say style: form, explode: false (the server reads a=x,y)", where, param["name"])
				}
			}
			body, _ := resolve(doc, op["requestBody"]).(map[string]any)
			content, _ := body["content"].(map[string]any)
			if mp, ok := content["multipart/form-data"].(map[string]any); ok {
				schema, _ := resolve(doc, mp["schema"]).(map[string]any)
				props, _ := schema["properties"].(map[string]any)
				for _, name := range keysOf(props) {
					prop, _ := resolve(doc, props[name]).(map[string]any)
					if _, file := prop["contentMediaType"]; file && prop["format"] != "binary" {
						add("%s: multipart part %s is a file: it needs type: string, format: binary", where, name)
					}
				}
			}
		}
	}
	walk(doc, "#", func(path string, m map[string]any) {
		content, ok := m["content"].(map[string]any)
		if !ok {
			return
		}
		for _, mt := range keysOf(content) {
			if strings.Contains(mt, "json") || strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "text/") {
				continue
			}
			media, _ := content[mt].(map[string]any)
			schema, _ := resolve(doc, media["schema"]).(map[string]any)
			if schema["format"] != "binary" {
				add("%s/content/%s: a binary body needs type: string, format: binary", path, mt)
			}
		}
	})
	sort.Strings(out)
	return out
}

// walk calls f on every object of v, with its JSON pointer.
func walk(v any, path string, f func(string, map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(path, x)
		for _, k := range keysOf(x) {
			if k == "examples" || k == "example" || k == "default" {
				continue // values, not schemas
			}
			walk(x[k], path+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), f)
		}
	case []any:
		for i, e := range x {
			walk(e, fmt.Sprintf("%s/%d", path, i), f)
		}
	}
}

// resolve follows a local $ref.
func resolve(doc map[string]any, v any) any {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return v
		}
		var cur any = doc
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			cm, _ := cur.(map[string]any)
			cur = cm[part]
		}
		v = cur
	}
	return v
}

func typesOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// jsonType is the JSON Schema type of v ("integer" when v is a whole
// number and the schema allows integers).
func jsonType(v any, allowed []string) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) && slices.Contains(allowed, "integer") {
			return "integer"
		}
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
