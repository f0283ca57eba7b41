package api

import (
	"reflect"
	"strings"

	"github.com/parley-chat/parley/persistence"
)

// schemaGen derives JSON Schemas (2020-12, as OpenAPI 3.1 has them) from Go types by their
// json tags. Named structs become components; ids tagged `,string` become digit strings.
type schemaGen struct {
	schemas map[string]any
}

var (
	timeType   = reflect.TypeFor[persistence.Time]()
	idListType = reflect.TypeFor[persistence.IDList]()
	idType     = reflect.TypeFor[ID]()
)

func idSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": "^[0-9]{1,19}$", "description": "64-bit id as a decimal string"}
}

func (g *schemaGen) schemaOf(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time", "description": "RFC 3339 UTC with milliseconds"}
	case idListType:
		return map[string]any{"type": "array", "items": idSchema()}
	case idType:
		return idSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schemaOf(t.Elem()))
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaOf(t.Elem())}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = map[string]any{} // placeholder: recursion stops here
			g.schemas[name] = g.structSchema(t)
		}
		return ref(name)
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// fields adds t's JSON fields to props, flattening embedded structs as encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct && f.Type != timeType {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		var s map[string]any
		ft := f.Type
		if hasOpt(opts, "string") {
			s = idSchema()
			if ft.Kind() == reflect.Pointer {
				s = nullable(s)
			}
		} else {
			s = g.schemaOf(ft)
		}
		rules := f.Tag.Get("openapi")
		if enum, ok := tagValue(rules, "enum"); ok {
			s["enum"] = strings.Split(enum, "|")
		}
		props[name] = s
		_, mustHave := tagValue(rules, "required")
		if mustHave || (!hasOpt(opts, "omitempty") && ft.Kind() != reflect.Pointer) {
			*required = append(*required, name)
		}
	}
}

// tagValue reads one rule of an `openapi:"..."` tag: what a field's Go type cannot say.
// "required" marks a pointer field that must be present (a pointer only to tell absent from
// zero); "enum=a|b" lists a string's values.
func tagValue(tag, key string) (string, bool) {
	for _, rule := range strings.Split(tag, ",") {
		k, v, _ := strings.Cut(rule, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// nullable allows null besides s (a type array, or anyOf around a reference).
func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok {
		out := map[string]any{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []string{typ, "null"}
		return out
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// schemaName names a component after its Go type; a generic Page[T] becomes PageOfT.
func schemaName(t reflect.Type) string {
	n := t.Name()
	if i := strings.IndexByte(n, '['); i >= 0 {
		arg := n[i+1 : len(n)-1]
		if j := strings.LastIndexByte(arg, '.'); j >= 0 {
			arg = arg[j+1:]
		}
		n = n[:i] + "Of" + arg
	}
	return n
}
