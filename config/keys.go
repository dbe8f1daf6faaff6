package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The keys AURA knows are read from Config's mapstructure tags, so a field
// added to Config is known to every check below without further edits.

// field is one settable key of Config: a.b_c and the Go type it decodes into.
type field struct {
	key string
	typ reflect.Type
}

// keySet is every key of Config: the settable leaves and the sections
// (structs) that hold them.
type keySet struct {
	fields   []field             // sorted by key
	leaves   map[string]field    // key -> field
	sections map[string]bool     // "database", "database.pool", ...
	children map[string][]string // section ("" for the top) -> its direct names
	open     map[string]bool     // map-typed leaves: any key below them is theirs
	envNames map[string]string   // AURA_A_B_C -> a.b_c
}

var (
	knownOnce sync.Once
	known     *keySet
)

// knownKeys returns the keys of Config, computed once.
func knownKeys() *keySet {
	knownOnce.Do(func() { known = newKeySet(reflect.TypeOf(Config{})) })
	return known
}

// newKeySet reads the keys of struct type t.
func newKeySet(t reflect.Type) *keySet {
	k := &keySet{leaves: map[string]field{}, sections: map[string]bool{}, children: map[string][]string{},
		open: map[string]bool{}, envNames: map[string]string{}}
	k.walk(t, "")
	sort.Slice(k.fields, func(i, j int) bool { return k.fields[i].key < k.fields[j].key })
	for s := range k.children {
		sort.Strings(k.children[s])
	}
	return k
}

var durationType = reflect.TypeOf(time.Duration(0))

// walk records the keys of struct type t under prefix, the way mapstructure
// decodes them: the tag's name (or the field's name), "-" skipped, squash
// flattened into the parent.
func (k *keySet) walk(t reflect.Type, prefix string) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("mapstructure")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if strings.Contains(","+opts+",", ",squash,") && ft.Kind() == reflect.Struct {
			k.walk(ft, prefix)
			continue
		}
		if strings.Contains(","+opts+",", ",remain,") {
			k.open[strings.TrimSuffix(prefix, ".")] = true
			continue
		}
		if name == "" {
			name = sf.Name
		}
		name = strings.ToLower(name)
		key := prefix + name
		k.children[strings.TrimSuffix(prefix, ".")] = append(k.children[strings.TrimSuffix(prefix, ".")], name)
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
			k.sections[key] = true
			k.walk(ft, key+".")
			continue
		}
		if ft.Kind() == reflect.Map {
			k.open[key] = true
		}
		f := field{key: key, typ: sf.Type}
		k.fields = append(k.fields, f)
		k.leaves[key] = f
		k.envNames[auraEnvName(key)] = key
	}
}

// auraEnvName is the environment name of key a.b_c: AURA_A_B_C.
func auraEnvName(key string) string {
	return "AURA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// settingName is how messages name key: the key and the environment
// variable that sets it, e.g. "auth.access_ttl (AURA_AUTH_ACCESS_TTL)".
// from is the variable the value came from, if it came from the environment.
func settingName(key, from string) string {
	if from == "" {
		if a := aliases[key]; len(a) > 0 {
			from = a[0]
		} else {
			from = auraEnvName(key)
		}
	}
	return key + " (" + from + ")"
}

// checkFileKeys refuses the first key of a configuration file that Config does
// not have. keys are the file's flattened key paths (viper's AllKeys of the
// file alone); value returns the value at a path.
func (k *keySet) checkFileKeys(file string, keys []string, value func(string) any) error {
	sort.Strings(keys)
	for _, path := range keys {
		parts := strings.Split(path, ".")
		for i := range parts {
			prefix := strings.Join(parts[:i+1], ".")
			if k.open[prefix] {
				break // a map-typed setting takes any key
			}
			if _, ok := k.leaves[prefix]; ok {
				break // a value where a section may be nested is the value check's concern
			}
			if k.sections[prefix] {
				if i == len(parts)-1 {
					if v := value(path); v != nil {
						return fmt.Errorf("%s: %q holds keys (%s), not a value", file, prefix,
							strings.Join(k.children[prefix], ", "))
					}
				}
				continue
			}
			if k.open[strings.Join(parts[:i], ".")] {
				break
			}
			msg := fmt.Sprintf("%s: unknown key %q", file, prefix)
			if s := k.suggestKey(strings.Join(parts[:i], "."), parts[i]); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return fmt.Errorf("%s", msg)
		}
	}
	return nil
}

// suggestKey is the known key an unknown name under parent probably meant: a
// sibling within a small edit distance, or else the one key elsewhere with
// exactly that name (a key put in the wrong section).
func (k *keySet) suggestKey(parent, name string) string {
	join := func(n string) string {
		if parent == "" {
			return n
		}
		return parent + "." + n
	}
	if best := closest(name, k.children[parent]); best != "" {
		return join(best)
	}
	var found []string
	for _, f := range k.fields {
		if f.key == name || strings.HasSuffix(f.key, "."+name) {
			found = append(found, f.key)
		}
	}
	for s := range k.sections {
		if s == name || strings.HasSuffix(s, "."+name) {
			found = append(found, s)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

// testEnvPrefix marks variables of the test suite (AURA_TEST_POSTGRES_URI):
// they share the AURA_ prefix but are not settings, and are never checked.
const testEnvPrefix = "AURA_TEST_"

// checkEnvNames refuses the first AURA_* variable among names that no key of
// Config reads. AURA_TEST_* is left alone; so are all other names (the
// legacy names such as DATABASE_URI are read, unknown ones are none of ours).
func (k *keySet) checkEnvNames(source string, names []string) error {
	sort.Strings(names)
	for _, n := range names {
		if !strings.HasPrefix(n, "AURA_") || strings.HasPrefix(n, testEnvPrefix) {
			continue
		}
		if _, ok := k.envNames[n]; ok {
			continue
		}
		msg := fmt.Sprintf("%s: unknown variable %s", source, n)
		if s := k.suggestEnv(n); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		return fmt.Errorf("%s", msg)
	}
	return nil
}

// suggestEnv is the AURA_* name an unknown one probably meant: the closest
// within a small edit distance, or the AURA_ name of a legacy name written
// with the prefix (AURA_DB_PASSWORD -> AURA_DATABASE_PASSWORD).
func (k *keySet) suggestEnv(name string) string {
	bare := strings.TrimPrefix(name, "AURA_")
	candidates := make([]string, 0, len(k.envNames))
	for n := range k.envNames {
		candidates = append(candidates, strings.TrimPrefix(n, "AURA_"))
	}
	sort.Strings(candidates)
	if best := closest(bare, candidates); best != "" {
		return "AURA_" + best
	}
	for key, names := range aliases {
		for _, a := range names {
			if a == bare {
				return auraEnvName(key)
			}
		}
	}
	return ""
}

// closest is the candidate nearest to name, if near enough to be a typo:
// an edit distance of at most a third of name's length (1 to 3).
func closest(name string, candidates []string) string {
	limit := min(max(len(name)/3, 1), 3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestD && d < len(c) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours cost one each.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// checkForm refuses a value that cannot be decoded into its field's type,
// saying which form is accepted. It accepts no more than the decoder does:
// durations as Go durations (a bare number would be nanoseconds), integers
// within the field's range, booleans as true or false.
func checkForm(f field, val any) string {
	t := f.typ
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if val == nil {
		return ""
	}
	switch {
	case t == durationType:
		switch v := val.(type) {
		case string:
			if _, err := time.ParseDuration(v); err == nil {
				return ""
			}
		case time.Duration:
			return ""
		default:
			if n, ok := integer(v); ok && n == 0 {
				return ""
			}
		}
		return show(val) + " is not a duration; use a Go duration such as 15m or 1h30m"
	case t.Kind() == reflect.Bool:
		switch v := val.(type) {
		case bool:
			return ""
		case string:
			if _, err := strconv.ParseBool(v); err == nil {
				return ""
			}
		}
		return show(val) + " is not a boolean; use true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64,
		t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		lo, hi := intRange(t)
		var n float64
		switch v := val.(type) {
		case string:
			i, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				if u, uerr := strconv.ParseUint(v, 10, 64); uerr == nil {
					n = float64(u)
					break
				}
				return show(val) + " is not an integer; use a whole number such as 10"
			}
			n = float64(i)
		case bool:
			return show(val) + " is not an integer; use a whole number such as 10"
		default:
			i, ok := integer(v)
			if !ok {
				return show(val) + " is not an integer; use a whole number such as 10"
			}
			n = i
		}
		if n < lo || n > hi {
			return fmt.Sprintf("%s is out of range; use a whole number from %.0f to %.0f", show(val), lo, hi)
		}
		return ""
	case t.Kind() == reflect.String:
		switch val.(type) {
		case map[string]any, []any:
			return show(val) + " is not a single value; use text"
		}
	case t.Kind() == reflect.Slice:
		if _, ok := val.(map[string]any); ok {
			return show(val) + " is not a list; use a list or comma-separated text"
		}
	}
	return ""
}

// integer is v as a whole number, if it is one (YAML gives int, float64 and
// uint64; defaults are Go ints).
func integer(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	case rv.CanFloat():
		f := rv.Float()
		return f, f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func intRange(t reflect.Type) (lo, hi float64) {
	bits := t.Bits()
	if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
		return 0, math.Pow(2, float64(bits)) - 1
	}
	return -math.Pow(2, float64(bits-1)), math.Pow(2, float64(bits-1)) - 1
}

// show renders a refused value for a message: text quoted (and cut short),
// numbers and booleans as written, a list or a section by what it is.
func show(val any) string {
	switch v := val.(type) {
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	case map[string]any:
		return "a section"
	case []any:
		return "a list"
	}
	return fmt.Sprint(val)
}
