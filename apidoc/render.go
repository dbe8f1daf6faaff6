package apidoc

import (
	"bytes"
	"html"
	"html/template"
	"slices"
	"sort"
	"strings"
)

// style is the page's only style sheet; CSP allows it by its hash, so it
// must not change at run time.
const style = `body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1b1f24}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #d0d7de;margin-top:2.5rem}h3{margin:0;font-size:1rem}
nav ul{columns:3;padding-left:1.2rem}code,.path{font-family:ui-monospace,monospace;font-size:.9em}
.op{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:ui-monospace,monospace}
.get{color:#0969da}.post{color:#1a7f37}.put{color:#9a6700}.patch{color:#8250df}.delete{color:#cf222e}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td ul{margin:0;padding-left:1rem}.req{color:#cf222e}.auth{color:#57606a;font-size:.9em}.desc p{margin:.3rem 0}`

const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} reference</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>OpenAPI {{.OpenAPI}}, version {{.Version}}. The machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<div class="desc">{{.Description}}</div>
<nav><h2>Operations</h2><ul>{{range .Tags}}{{range .Ops}}
<li><a href="#{{.ID}}"><span class="m {{.Class}}">{{.Method}}</span> <span class="path">{{.Path}}</span></a></li>{{end}}{{end}}
</ul></nav>
{{range .Tags}}<section id="tag-{{.Name}}">
<h2>{{.Name}}</h2>
<div class="desc">{{.Description}}</div>
{{range .Ops}}<article class="op" id="{{.ID}}">
<h3><span class="m {{.Class}}">{{.Method}}</span> <span class="path">{{.Path}}</span></h3>
<p>{{.Summary}} <span class="auth">{{.Auth}}</span></p>
{{if .Description}}<div class="desc">{{.Description}}</div>{{end}}
{{if .Params}}<h4>Parameters</h4>
<table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
{{range .Bodies}}<h4>Request body <code>{{.ContentType}}</code>{{if .Required}} <span class="req">required</span>{{end}}</h4>
{{if .Description}}<div class="desc">{{.Description}}</div>{{end}}
{{if .Fields}}<table><tr><th>field</th><th>type</th><th>description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{else}}<p>{{.Type}}</p>{{end}}
{{end}}<h4>Responses</h4>
<table><tr><th>status</th><th>body</th><th>headers</th><th>description</th></tr>
{{range .Responses}}<tr><td>{{.Status}}</td><td>{{range .Bodies}}<code>{{.ContentType}}</code> {{if .Fields}}<ul>{{range .Fields}}<li><code>{{.Name}}</code>: {{.Type}}</li>{{end}}</ul>{{else}}{{.Type}}{{end}}{{end}}</td><td>{{range .Headers}}<code>{{.}}</code> {{end}}</td><td>{{.Description}}</td></tr>
{{end}}</table>
</article>
{{end}}</section>
{{end}}
<section id="schemas"><h2>Schemas</h2>
{{range .Schemas}}<article class="op" id="schema-{{.Name}}"><h3>{{.Name}}</h3>
{{if .Description}}<div class="desc">{{.Description}}</div>{{end}}
{{if .Fields}}<table><tr><th>field</th><th>type</th><th>description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{else}}<p>{{.Type}}</p>{{end}}
</article>
{{end}}</section>
</body>
</html>
`

var tmpl = template.Must(template.New("docs").Parse(pageTemplate))

type pageView struct {
	Title, OpenAPI, Version string
	Style                   template.CSS
	Description             template.HTML
	Tags                    []tagView
	Schemas                 []schemaView
}

type tagView struct {
	Name        string
	Description template.HTML
	Ops         []opView
}

type opView struct {
	ID, Method, Class, Path, Summary, Auth string
	Description                            template.HTML
	Params                                 []fieldView
	Bodies                                 []bodyView
	Responses                              []responseView
}

type fieldView struct {
	Name, In    string
	Required    bool
	Type        template.HTML
	Description template.HTML
}

type bodyView struct {
	ContentType string
	Required    bool
	Description template.HTML
	Type        template.HTML
	Fields      []fieldView
}

type responseView struct {
	Status      string
	Description template.HTML
	Bodies      []bodyView
	Headers     []string
}

type schemaView struct {
	Name        string
	Description template.HTML
	Type        template.HTML
	Fields      []fieldView
}

var methods = []string{"get", "post", "put", "patch", "delete"}

// render builds the HTML page from the decoded document.
func render(doc map[string]any) ([]byte, error) {
	r := resolver{doc: doc}
	info := obj(doc["info"])
	v := pageView{Title: str(info["title"]), OpenAPI: str(doc["openapi"]), Version: str(info["version"]),
		Style: template.CSS(style), Description: prose(str(info["description"]))}
	byTag := map[string][]opView{}
	paths := obj(doc["paths"])
	keys := sortedKeys(paths)
	for _, p := range keys {
		item := obj(paths[p])
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			ov := r.operation(p, m, op, doc)
			tag := "Other"
			if tags := list(op["tags"]); len(tags) > 0 {
				tag = str(tags[0])
			}
			byTag[tag] = append(byTag[tag], ov)
		}
	}
	seen := map[string]bool{}
	for _, t := range list(doc["tags"]) {
		tm := obj(t)
		name := str(tm["name"])
		seen[name] = true
		v.Tags = append(v.Tags, tagView{Name: name, Description: prose(str(tm["description"])), Ops: byTag[name]})
	}
	for _, name := range sortedKeys(anyMap(byTag)) {
		if !seen[name] {
			v.Tags = append(v.Tags, tagView{Name: name, Ops: byTag[name]})
		}
	}
	schemas := obj(obj(doc["components"])["schemas"])
	for _, name := range sortedKeys(schemas) {
		s := obj(schemas[name])
		v.Schemas = append(v.Schemas, schemaView{Name: name, Description: prose(str(s["description"])),
			Type: r.typeOf(s), Fields: r.fields(s, "")})
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (r resolver) operation(path, method string, op, doc map[string]any) opView {
	ov := opView{ID: str(op["operationId"]), Method: strings.ToUpper(method), Class: method, Path: path,
		Summary: str(op["summary"]), Description: prose(str(op["description"]))}
	sec, ok := op["security"]
	if !ok {
		sec = doc["security"]
	}
	ov.Auth = "No token."
	reqs := list(sec)
	for _, req := range reqs {
		if len(obj(req)) > 0 {
			ov.Auth = "Bearer token."
		}
	}
	if ov.Auth != "No token." && slices.ContainsFunc(reqs, func(x any) bool { return len(obj(x)) == 0 }) {
		ov.Auth = "Bearer token optional."
	}
	for _, p := range list(op["parameters"]) {
		pm := r.deref(obj(p))
		ov.Params = append(ov.Params, fieldView{Name: str(pm["name"]), In: str(pm["in"]), Required: pm["required"] == true,
			Type: r.typeOf(obj(pm["schema"])), Description: prose(str(pm["description"]))})
	}
	if rb, ok := op["requestBody"]; ok {
		body := r.deref(obj(rb))
		content := obj(body["content"])
		for _, ct := range sortedKeys(content) {
			s := obj(obj(content[ct])["schema"])
			ov.Bodies = append(ov.Bodies, bodyView{ContentType: ct, Required: body["required"] == true,
				Description: prose(str(body["description"])), Type: r.typeOf(s), Fields: r.fields(s, "")})
		}
	}
	responses := obj(op["responses"])
	for _, status := range sortedKeys(responses) {
		resp := r.deref(obj(responses[status]))
		rv := responseView{Status: status, Description: prose(str(resp["description"]))}
		content := obj(resp["content"])
		for _, ct := range sortedKeys(content) {
			schema := obj(obj(content[ct])["schema"])
			bv := bodyView{ContentType: ct, Type: r.typeOf(schema)}
			if strings.HasSuffix(ct, "json") {
				bv.Fields = r.fields(schema, "")
			}
			rv.Bodies = append(rv.Bodies, bv)
		}
		rv.Headers = sortedKeys(obj(resp["headers"]))
		ov.Responses = append(ov.Responses, rv)
	}
	return ov
}

// resolver follows local $refs ("#/components/...").
type resolver struct{ doc map[string]any }

func (r resolver) deref(m map[string]any) map[string]any {
	for i := 0; i < 8; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m = r.lookup(ref)
	}
	return m
}

func (r resolver) lookup(ref string) map[string]any {
	var cur any = r.doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		cur = obj(cur)[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	return obj(cur)
}

// typeOf describes a schema in a few words, linking named schemas.
func (r resolver) typeOf(s map[string]any) template.HTML {
	if ref, ok := s["$ref"].(string); ok {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return template.HTML(`<a href="#schema-` + html.EscapeString(name) + `">` + html.EscapeString(name) + `</a>`)
	}
	var parts []string
	if c, ok := s["const"]; ok {
		parts = append(parts, "<code>"+html.EscapeString(literal(c))+"</code>")
	}
	if e, ok := s["enum"]; ok {
		var vals []string
		for _, x := range list(e) {
			vals = append(vals, "<code>"+html.EscapeString(literal(x))+"</code>")
		}
		parts = append(parts, "one of "+strings.Join(vals, ", "))
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[key]; ok {
			var vals []string
			for _, a := range list(alts) {
				vals = append(vals, string(r.typeOf(obj(a))))
			}
			parts = append(parts, strings.Join(vals, " or "))
		}
	}
	if all, ok := s["allOf"]; ok {
		var vals []string
		for _, a := range list(all) {
			am := obj(a)
			if _, isRef := am["$ref"]; isRef || am["type"] != nil {
				vals = append(vals, string(r.typeOf(am)))
				continue
			}
			props := obj(am["properties"])
			for _, k := range sortedKeys(props) {
				vals = append(vals, "<code>"+html.EscapeString(k)+"</code>: "+string(r.typeOf(obj(props[k]))))
			}
		}
		parts = append(parts, strings.Join(vals, "; "))
	}
	if t, ok := s["type"]; ok {
		var names []string
		switch x := t.(type) {
		case string:
			names = []string{x}
		default:
			for _, n := range list(x) {
				names = append(names, str(n))
			}
		}
		for i, n := range names {
			if n == "array" {
				names[i] = "array of " + string(r.typeOf(obj(s["items"])))
			} else {
				names[i] = html.EscapeString(n)
			}
		}
		desc := strings.Join(names, " or ")
		if f := str(s["format"]); f != "" {
			desc += " (" + html.EscapeString(f) + ")"
		}
		if cmt := str(s["contentMediaType"]); cmt != "" {
			desc += " (" + html.EscapeString(cmt) + " bytes)"
		}
		parts = append(parts, desc)
	}
	var limits []string
	for _, k := range []string{"minLength", "maxLength", "minimum", "maximum", "minItems", "maxProperties", "pattern", "default"} {
		if v, ok := s[k]; ok {
			limits = append(limits, k+" "+literal(v))
		}
	}
	if len(limits) > 0 {
		parts = append(parts, "<small>"+html.EscapeString(strings.Join(limits, ", "))+"</small>")
	}
	if len(parts) == 0 {
		return "any"
	}
	return template.HTML(strings.Join(parts, "; "))
}

// fields lists the properties of an object schema (following $ref and
// allOf), inline nested objects flattened under dotted names.
func (r resolver) fields(s map[string]any, prefix string) []fieldView {
	s = r.deref(s)
	var out []fieldView
	for _, a := range list(s["allOf"]) {
		out = append(out, r.fields(obj(a), prefix)...)
	}
	props := obj(s["properties"])
	required := map[string]bool{}
	for _, q := range list(s["required"]) {
		required[str(q)] = true
	}
	for _, name := range sortedKeys(props) {
		p := obj(props[name])
		out = append(out, fieldView{Name: prefix + name, Required: required[name], Type: r.typeOf(p),
			Description: prose(str(p["description"]))})
		if _, isRef := p["$ref"]; !isRef && p["properties"] != nil && prefix == "" {
			out = append(out, r.fields(p, prefix+name+".")...)
		}
	}
	return out
}

// prose renders a description: paragraphs on blank lines, `code` spans.
func prose(s string) template.HTML {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, para := range strings.Split(s, "\n\n") {
		b.WriteString("<p>")
		for i, piece := range strings.Split(strings.TrimSpace(para), "`") {
			if i%2 == 1 {
				b.WriteString("<code>" + html.EscapeString(piece) + "</code>")
			} else {
				b.WriteString(html.EscapeString(piece))
			}
		}
		b.WriteString("</p>")
	}
	return template.HTML(b.String())
}

func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if x == "" {
			return `""`
		}
		return x
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.TrimSpace(fmtAny(v)), "\n", " "))
}

func fmtAny(v any) string {
	b, _ := jsonMarshal(v)
	return string(b)
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
