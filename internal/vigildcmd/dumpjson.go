package vigildcmd

import (
	"crypto/tls"
	"encoding"
	"encoding/json"
	"reflect"
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
			k := jsonable(it.Key())
			ks, ok := k.(string)
			if !ok {
				b, err := json.Marshal(k)
				if err != nil {
					continue
				}
				ks = string(b)
			}
			m[ks] = jsonable(it.Value())
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
