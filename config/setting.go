package config

import (
	"reflect"
	"strings"
)

// Setting is the value of the setting key ("analysis.oip.url") as Config
// holds it (a string, a time.Duration, an int, ...), or nil when Config has
// no such setting. It lets a part that registers itself (an analyzer) read
// its own section without this package naming its fields.
func (c *Config) Setting(key string) any {
	if c == nil || key == "" {
		return nil
	}
	v := reflect.ValueOf(*c)
	for _, name := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return nil
		}
		next, ok := fieldByKey(v, name)
		if !ok {
			return nil
		}
		v = next
	}
	if v.Kind() == reflect.Struct {
		return nil // a section, not a setting
	}
	return v.Interface()
}

// fieldByKey is the field of struct v whose mapstructure name is name.
func fieldByKey(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(sf.Tag.Get("mapstructure"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = sf.Name
		}
		if strings.EqualFold(tag, name) {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}
