package gguf

import (
	"fmt"
	"math"
)

// ErrMissingKey is wrapped by getters when a metadata key is absent.
var ErrMissingKey = fmt.Errorf("gguf: missing metadata key")

func (f *File) get(key string) (KV, error) {
	kv, ok := f.Lookup(key)
	if !ok {
		return KV{}, fmt.Errorf("%w %q", ErrMissingKey, key)
	}
	return kv, nil
}

func wrongType(kv KV, want string) error {
	return fmt.Errorf("gguf: metadata %q has type %s, want %s", kv.Key, describeType(kv), want)
}

func describeType(kv KV) string {
	if a, ok := kv.Value.(Array); ok {
		return "array of " + a.Elem.String()
	}
	return kv.Type.String()
}

// String returns a string value.
func (f *File) String(key string) (string, error) {
	kv, err := f.get(key)
	if err != nil {
		return "", err
	}
	s, ok := kv.Value.(string)
	if !ok {
		return "", wrongType(kv, "string")
	}
	return s, nil
}

// Int returns an integer value of any integer type that fits in an int64.
func (f *File) Int(key string) (int64, error) {
	kv, err := f.get(key)
	if err != nil {
		return 0, err
	}
	v, ok := asInt(kv.Value)
	if !ok {
		return 0, wrongType(kv, "integer")
	}
	return v, nil
}

// Uint32 returns an integer value that fits in a uint32.
func (f *File) Uint32(key string) (uint32, error) {
	v, err := f.Int(key)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > math.MaxUint32 {
		return 0, fmt.Errorf("gguf: metadata %q = %d is out of range for uint32", key, v)
	}
	return uint32(v), nil
}

// Float32 returns a float value (float32, or float64 converted).
func (f *File) Float32(key string) (float32, error) {
	kv, err := f.get(key)
	if err != nil {
		return 0, err
	}
	switch v := kv.Value.(type) {
	case float32:
		return v, nil
	case float64:
		return float32(v), nil
	}
	return 0, wrongType(kv, "float32")
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, error) {
	kv, err := f.get(key)
	if err != nil {
		return false, err
	}
	b, ok := kv.Value.(bool)
	if !ok {
		return false, wrongType(kv, "bool")
	}
	return b, nil
}

// Strings returns an array of strings.
func (f *File) Strings(key string) ([]string, error) {
	return arrayOf[string](f, key, "array of string")
}

// Float32s returns an array of float32.
func (f *File) Float32s(key string) ([]float32, error) {
	return arrayOf[float32](f, key, "array of float32")
}

// Int32s returns an array of int32 (uint32 and smaller integer element types
// are converted).
func (f *File) Int32s(key string) ([]int32, error) {
	kv, err := f.get(key)
	if err != nil {
		return nil, err
	}
	a, ok := kv.Value.(Array)
	if !ok {
		return nil, wrongType(kv, "array of int32")
	}
	switch v := a.Values.(type) {
	case []int32:
		return v, nil
	case []uint32:
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out, nil
	case []int8:
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out, nil
	case []uint8:
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out, nil
	}
	return nil, wrongType(kv, "array of int32")
}

func arrayOf[T any](f *File, key, want string) ([]T, error) {
	kv, err := f.get(key)
	if err != nil {
		return nil, err
	}
	a, ok := kv.Value.(Array)
	if !ok {
		return nil, wrongType(kv, want)
	}
	v, ok := a.Values.([]T)
	if !ok {
		return nil, wrongType(kv, want)
	}
	return v, nil
}

// Architecture returns general.architecture.
func (f *File) Architecture() (string, error) { return f.String("general.architecture") }
