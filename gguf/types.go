package gguf

import (
	"errors"
	"fmt"
)

// DType is a ggml tensor type id as stored in a GGUF tensor info.
type DType uint32

// Tensor types this engine knows. Ids follow ggml; 36..39 are bitnet.cpp's own
// (its fork reuses ids that upstream ggml assigns to other types).
const (
	F32   DType = 0
	F16   DType = 1
	Q4_0  DType = 2
	Q4_1  DType = 3
	Q5_0  DType = 6
	Q5_1  DType = 7
	Q8_0  DType = 8
	Q8_1  DType = 9
	Q2_K  DType = 10
	Q3_K  DType = 11
	Q4_K  DType = 12
	Q5_K  DType = 13
	Q6_K  DType = 14
	Q8_K  DType = 15
	I8    DType = 24
	I16   DType = 25
	I32   DType = 26
	I64   DType = 27
	F64   DType = 28
	BF16  DType = 30
	TQ1_0 DType = 34
	TQ2_0 DType = 35
	I2_S  DType = 36
	I8_S  DType = 37
	TL1   DType = 38
	TL2   DType = 39
)

var dtypeNames = map[DType]string{
	F32: "F32", F16: "F16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1",
	Q8_0: "Q8_0", Q8_1: "Q8_1", Q2_K: "Q2_K", Q3_K: "Q3_K", Q4_K: "Q4_K", Q5_K: "Q5_K",
	Q6_K: "Q6_K", Q8_K: "Q8_K", I8: "I8", I16: "I16", I32: "I32", I64: "I64", F64: "F64",
	BF16: "BF16", TQ1_0: "TQ1_0", TQ2_0: "TQ2_0", I2_S: "I2_S", I8_S: "I8_S", TL1: "TL1", TL2: "TL2",
}

// String returns the ggml name of the type, or "type(N)" for an unknown id.
func (t DType) String() string {
	if s, ok := dtypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Supported reports whether tensors of this type can be loaded.
func (t DType) Supported() bool {
	switch t {
	case F32, F16, BF16, Q8_0, Q6_K, TQ1_0, TQ2_0, I2_S:
		return true
	}
	return false
}

// blockInfo returns elements per block and bytes per block for the
// block-structured types. I2_S is not block-structured (see ByteSize).
func (t DType) blockInfo() (elems, bytes int64, ok bool) {
	switch t {
	case F32:
		return 1, 4, true
	case F16, BF16:
		return 1, 2, true
	case Q8_0:
		return 32, 34, true
	case Q6_K:
		return 256, 210, true
	case TQ1_0:
		return 256, 54, true
	case TQ2_0:
		return 256, 66, true
	}
	return 0, 0, false
}

// BlockSize is the number of elements per quantization block (1 for float
// types and I2_S); a tensor's row length must be a multiple of it.
func (t DType) BlockSize() int64 {
	if t == I2_S {
		return 1
	}
	e, _, ok := t.blockInfo()
	if !ok {
		return 0
	}
	return e
}

// ByteSize returns the exact number of bytes a tensor of n elements occupies.
// I2_S is n/4 payload bytes plus 32 bytes holding a float32 scale and 28 unused
// bytes. n must be a multiple of BlockSize (and of 4 for I2_S).
func (t DType) ByteSize(n int64) (int64, error) {
	if n < 0 {
		return 0, fmt.Errorf("negative element count %d", n)
	}
	if t == I2_S {
		if n%4 != 0 {
			return 0, fmt.Errorf("I2_S tensor of %d elements: not a multiple of 4", n)
		}
		return n/4 + 32, nil
	}
	e, b, ok := t.blockInfo()
	if !ok {
		return 0, t.unsupportedError()
	}
	if n%e != 0 {
		return 0, fmt.Errorf("%s tensor of %d elements: not a multiple of the block size %d", t, n, e)
	}
	nb := n / e
	if nb > (1<<62)/b {
		return 0, fmt.Errorf("%s tensor of %d elements: byte size overflows", t, n)
	}
	return nb * b, nil
}

// ErrUnsupportedType is matched (errors.Is) by an UnsupportedTypeError.
var ErrUnsupportedType = errors.New("gguf: unsupported tensor type")

// UnsupportedTypeError reports a tensor type this engine cannot load: a known
// ggml or bitnet.cpp type without support here (named with its id), or an
// unknown id.
type UnsupportedTypeError struct{ Type DType }

func (e *UnsupportedTypeError) Error() string {
	if s, ok := dtypeNames[e.Type]; ok {
		return fmt.Sprintf("tensor type %s (%d) is not supported", s, uint32(e.Type))
	}
	return fmt.Sprintf("unknown tensor type id %d", uint32(e.Type))
}

// Is makes errors.Is(err, ErrUnsupportedType) true.
func (e *UnsupportedTypeError) Is(target error) bool { return target == ErrUnsupportedType }

func (t DType) unsupportedError() error { return &UnsupportedTypeError{Type: t} }

// ValueType is a GGUF metadata value type.
type ValueType uint32

// Metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(v))
}

// scalarSize is the encoded size of a fixed-size value type, 0 for string/array.
func (v ValueType) scalarSize() int64 {
	switch v {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}
