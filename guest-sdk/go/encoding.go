package weft

// The value encoding (schema/ENCODING.md) for Go values, by reflection on
// their types: little-endian fixed-width numbers, bools as one byte 0 or 1,
// strings and lists as a u64 length then their contents, options as a tag
// byte then the value, records and tuples as their fields in order.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"
	"unsafe"
)

var errorType = reflect.TypeOf((*error)(nil)).Elem()

// call decodes f's arguments from args, calls f and encodes its result.
// invalid is set when the arguments are not f's parameters' encoding; err
// when f returned a non-nil error.
func call(f any, args []byte) (out []byte, err error, invalid error) {
	fn := reflect.ValueOf(f)
	ty := fn.Type()
	if ty.Kind() != reflect.Func {
		panic(fmt.Sprintf("weft.Call needs a function, got %v", ty))
	}
	if ty.IsVariadic() {
		panic(fmt.Sprintf("a task function cannot be variadic: %v", ty))
	}
	d := decoder{bytes: args}
	in := make([]reflect.Value, ty.NumIn())
	for i := range in {
		v := reflect.New(ty.In(i)).Elem()
		if e := d.value(v); e != nil {
			return nil, nil, fmt.Errorf("parameter %d: %w", i+1, e)
		}
		in[i] = v
	}
	if rest := len(d.bytes) - d.pos; rest > 0 {
		return nil, nil, fmt.Errorf("%d bytes after the last argument", rest)
	}
	results := fn.Call(in)
	if n := len(results); n > 0 && ty.Out(n-1) == errorType {
		if e, _ := results[n-1].Interface().(error); e != nil {
			return nil, e, nil
		}
		results = results[:n-1]
	}
	var enc encoder
	switch len(results) {
	case 0: // unit: nothing
	case 1:
		enc.value(results[0])
	default:
		panic(fmt.Sprintf("a task returns one value (and maybe an error), not %d", len(results)))
	}
	if enc.err != nil {
		return nil, fmt.Errorf("the result cannot be encoded: %w", enc.err), nil
	}
	return enc.bytes, nil, nil
}

type decoder struct {
	bytes []byte
	pos   int
}

func (d *decoder) take(n uint64, what string) ([]byte, error) {
	left := uint64(len(d.bytes) - d.pos)
	if n > left {
		return nil, fmt.Errorf("%s needs %d bytes, %d are left", what, n, left)
	}
	start := d.pos
	d.pos += int(n)
	return d.bytes[start:d.pos], nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// fixedWidth is the encoded width of a number kind; 0 for other kinds.
func fixedWidth(k reflect.Kind) uint64 {
	switch k {
	case reflect.Int8, reflect.Uint8:
		return 1
	case reflect.Int16, reflect.Uint16:
		return 2
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return 4
	case reflect.Int64, reflect.Uint64, reflect.Int, reflect.Uint, reflect.Float64:
		return 8
	}
	return 0
}

// minLen is the fewest bytes one encoded value of t takes (to refuse a
// list length that cannot fit before allocating for it).
func minLen(t reflect.Type) uint64 {
	if w := fixedWidth(t.Kind()); w > 0 {
		return w
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Pointer:
		return 1
	case reflect.String, reflect.Slice:
		return 8
	case reflect.Struct:
		var n uint64
		for i := 0; i < t.NumField(); i++ {
			n += minLen(t.Field(i).Type)
		}
		return n
	}
	return 0
}

func (d *decoder) value(v reflect.Value) error {
	t := v.Type()
	if w := fixedWidth(t.Kind()); w > 0 {
		b, err := d.take(w, "a number")
		if err != nil {
			return err
		}
		// Wasm is little-endian: the encoding is the number's memory.
		copy(unsafe.Slice((*byte)(v.Addr().UnsafePointer()), w), b)
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, err := d.take(1, "a bool")
		if err != nil {
			return err
		}
		if b[0] > 1 {
			return fmt.Errorf("a bool is 0 or 1, not %d", b[0])
		}
		v.SetBool(b[0] == 1)
	case reflect.String:
		n, err := d.u64("a string length")
		if err != nil {
			return err
		}
		b, err := d.take(n, "the string")
		if err != nil {
			return err
		}
		if !utf8.Valid(b) {
			return errors.New("a string is not valid UTF-8")
		}
		v.SetString(string(b))
	case reflect.Slice:
		return d.list(v)
	case reflect.Pointer:
		tag, err := d.take(1, "an option tag")
		if err != nil {
			return err
		}
		switch tag[0] {
		case 0:
		case 1:
			inner := reflect.New(t.Elem())
			if err := d.value(inner.Elem()); err != nil {
				return err
			}
			v.Set(inner)
		default:
			return fmt.Errorf("an option tag is 0 or 1, not %d", tag[0])
		}
	case reflect.Struct:
		checkStruct(t)
		for i := 0; i < t.NumField(); i++ {
			if err := d.value(v.Field(i)); err != nil {
				return fmt.Errorf("field %s: %w", t.Field(i).Name, err)
			}
		}
	default:
		panic(fmt.Sprintf("weft: the Go type %v has no Weft encoding", t))
	}
	return nil
}

func (d *decoder) list(v reflect.Value) error {
	t := v.Type()
	n, err := d.u64("a list length")
	if err != nil {
		return err
	}
	elem := t.Elem()
	min := minLen(elem)
	left := uint64(len(d.bytes) - d.pos)
	if min == 0 || n > left/min {
		if n > 0 {
			return fmt.Errorf("a list of %d elements cannot fit in the %d bytes left", n, left)
		}
	}
	if w := fixedWidth(elem.Kind()); w > 0 {
		// Wasm is little-endian: the encoding is the slice's memory.
		b, _ := d.take(n*w, "the list")
		s := reflect.MakeSlice(t, int(n), int(n))
		if n > 0 {
			copy(unsafe.Slice((*byte)(s.UnsafePointer()), len(b)), b)
		}
		v.Set(s)
		return nil
	}
	s := reflect.MakeSlice(t, int(n), int(n))
	for i := 0; i < int(n); i++ {
		if err := d.value(s.Index(i)); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	v.Set(s)
	return nil
}

type encoder struct {
	bytes []byte
	err   error // the first value that has no encoding (a string that is not UTF-8)
}

// checkStruct refuses a struct with unexported fields: reflection can
// neither set nor read them, and the encoding is positional.
func checkStruct(t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		if !t.Field(i).IsExported() {
			panic(fmt.Sprintf("weft: field %s of %v is unexported; task types need exported fields", t.Field(i).Name, t))
		}
	}
}

func (e *encoder) u64(x uint64) {
	e.bytes = binary.LittleEndian.AppendUint64(e.bytes, x)
}

func (e *encoder) value(v reflect.Value) {
	t := v.Type()
	if w := fixedWidth(t.Kind()); w > 0 {
		// The number's memory is its encoding (bits, NaN payloads and all).
		p := reflect.New(t)
		p.Elem().Set(v)
		e.bytes = append(e.bytes, unsafe.Slice((*byte)(p.UnsafePointer()), w)...)
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.bytes = append(e.bytes, 1)
		} else {
			e.bytes = append(e.bytes, 0)
		}
	case reflect.String:
		if e.err == nil && !utf8.ValidString(v.String()) {
			e.err = errors.New("a string is not valid UTF-8")
		}
		e.u64(uint64(v.Len()))
		e.bytes = append(e.bytes, v.String()...)
	case reflect.Slice:
		n := v.Len()
		e.u64(uint64(n))
		if w := fixedWidth(t.Elem().Kind()); w > 0 {
			if n > 0 {
				e.bytes = append(e.bytes, unsafe.Slice((*byte)(v.UnsafePointer()), uint64(n)*w)...)
			}
			return
		}
		for i := 0; i < n; i++ {
			e.value(v.Index(i))
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.bytes = append(e.bytes, 0)
			return
		}
		e.bytes = append(e.bytes, 1)
		e.value(v.Elem())
	case reflect.Struct:
		checkStruct(t)
		for i := 0; i < t.NumField(); i++ {
			e.value(v.Field(i))
		}
	default:
		panic(fmt.Sprintf("weft: the Go type %v has no Weft encoding", t))
	}
}
