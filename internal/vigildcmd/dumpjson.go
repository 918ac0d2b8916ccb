package vigildcmd

import (
	"crypto/tls"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
)

// jsonable returns v as a value encoding/json encodes, for -d's dump: the
// configuration holds values it refuses (an SSL_GET or a TLS TCP_CHECK
// check's *tls.Config, with func fields), which made the whole dump fall
// back to Go's %+v. A tls.Config is shown by what an operator set
// (server name, verification, versions, how many client certificates),
// never its keys; func and chan values are left out; a value with its
// own JSON or text form keeps it.
func jsonable(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type() == reflect.TypeFor[tls.Config]() {
		c := v.Addr().Interface().(*tls.Config)
		return map[string]any{"ServerName": c.ServerName, "InsecureSkipVerify": c.InsecureSkipVerify,
			"MinVersion": tlsVersion(c.MinVersion), "MaxVersion": tlsVersion(c.MaxVersion),
			"ClientCertificates": len(c.Certificates), "RootCAs": c.RootCAs != nil}
	}
	if v.CanInterface() {
		switch v.Interface().(type) {
		case json.Marshaler, encoding.TextMarshaler:
			return v.Interface()
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonable(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			embedded := f.Anonymous && f.Type.Kind() == reflect.Struct
			if skipped(f.Type) || !f.IsExported() && !embedded {
				continue
			}
			if embedded {
				if sub, ok := jsonable(v.Field(i)).(map[string]any); ok {
					for k, x := range sub {
						if _, taken := m[k]; !taken {
							m[k] = x
						}
					}
					continue
				}
			}
			m[f.Name] = jsonable(v.Field(i))
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface() // bytes, as encoding/json writes them
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonable(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := map[string]any{}
		it := v.MapRange()
		for it.Next() {
			if k, ok := mapKey(it.Key()); ok {
				m[k] = jsonable(it.Value())
			}
		}
		return m
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return nil
	}
	if v.CanInterface() {
		return v.Interface()
	}
	return nil
}

// mapKey is k as encoding/json writes a map key: a string kind as it
// is, a TextMarshaler's text, an integer in decimal; false for a key
// encoding/json refuses (the entry is left out).
func mapKey(k reflect.Value) (string, bool) {
	if k.Kind() == reflect.String {
		return k.String(), true
	}
	if k.CanInterface() {
		if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
			if k.Kind() == reflect.Pointer && k.IsNil() {
				return "", true
			}
			b, err := tm.MarshalText()
			return string(b), err == nil
		}
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), true
	}
	return "", false
}

// skipped reports a field type the dump leaves out: funcs and channels.
func skipped(t reflect.Type) bool {
	return t.Kind() == reflect.Func || t.Kind() == reflect.Chan
}

// tlsVersion names a tls.Config's version bound; "" when unset (Go's
// default).
func tlsVersion(v uint16) string {
	if v == 0 {
		return ""
	}
	return tls.VersionName(v)
}
