// Package host holds tensors in host memory for the backends that compute
// on the CPU (the numeric oracle and the fast CPU backend): allocation, row
// views, weights that wrap the model file's bytes without copying them, and
// the transfers of the contract. Errors and panics name the backend.
package host

import (
	"fmt"
	"unsafe"

	"bitnet/engine/compute"
	"bitnet/gguf"
)

// Tensor is a tensor in host memory. Exactly one of F32, F16, I32 and Raw
// holds the data.
type Tensor struct {
	dt    gguf.DType
	shape []int

	F32   []float32
	F16   []uint16 // F16/BF16 weights, F16 KV caches
	I32   []int32  // token ids, positions, top-k results
	Raw   []byte   // quantized weights (I2_S, TQ1_0, TQ2_0, Q8_0)
	Scale float32  // I2_S per-tensor scale
	Code3 bool     // an I2_S payload holding the never-written code 3
	File  []byte   // a weight's file bytes, RowB per row
	RowB  int
}

// DType returns the element type.
func (t *Tensor) DType() gguf.DType { return t.dt }

// Shape returns the dimensions, ggml order.
func (t *Tensor) Shape() []int { return t.shape }

// As returns t as a host tensor, or panics naming backend and op.
func As(backend, op string, t compute.Tensor) *Tensor {
	ht, ok := t.(*Tensor)
	if !ok {
		panic(fmt.Sprintf("%s.%s: tensor of type %T does not belong to the %s backend", backend, op, t, backend))
	}
	return ht
}

// Alloc returns a zeroed F32, F16 or I32 tensor.
func Alloc(backend string, dt gguf.DType, shape ...int) (*Tensor, error) {
	n := compute.Elements(shape)
	if n < 0 || uint64(n) > 1<<36 {
		return nil, fmt.Errorf("%s: a tensor of shape %v is too large", backend, shape)
	}
	t := &Tensor{dt: dt, shape: append([]int(nil), shape...)}
	switch dt {
	case gguf.F32:
		t.F32 = make([]float32, n)
	case gguf.F16:
		t.F16 = make([]uint16, n)
	case gguf.I32:
		t.I32 = make([]int32, n)
	default:
		panic(fmt.Sprintf("%s.Alloc: type %s is not an activation, cache or index type", backend, dt))
	}
	return t, nil
}

// Free drops the tensor's storage (the garbage collector reclaims it once
// no view refers to it).
func (t *Tensor) Free() { t.F32, t.F16, t.I32 = nil, nil, nil }

// Rows returns a view of rows [row0, row0+n) of an activation, cache or
// index tensor.
func Rows(backend string, t *Tensor, row0, n int) *Tensor {
	k, r := compute.RowsOf(t)
	if row0 < 0 || n < 0 || row0+n > r {
		panic(fmt.Sprintf("%s.Rows: rows [%d, %d) of a tensor with %d rows", backend, row0, row0+n, r))
	}
	v := &Tensor{dt: t.dt, shape: []int{k, n}}
	switch {
	case t.F32 != nil:
		v.F32 = t.F32[row0*k : (row0+n)*k]
	case t.F16 != nil:
		v.F16 = t.F16[row0*k : (row0+n)*k]
	case t.I32 != nil:
		v.I32 = t.I32[row0*k : (row0+n)*k]
	default:
		panic(fmt.Sprintf("%s.Rows: views of weights are not supported", backend))
	}
	return v
}

// Weights wraps a tensor's file bytes without copying them.
func Weights(backend string, info gguf.TensorInfo, raw []byte) (*Tensor, error) {
	shape := make([]int, len(info.Shape))
	for i, d := range info.Shape {
		shape[i] = int(d)
	}
	if int64(len(raw)) < info.Size {
		return nil, fmt.Errorf("%s: tensor %q: %d bytes, want %d", backend, info.Name, len(raw), info.Size)
	}
	t := &Tensor{dt: info.Type, shape: shape, File: raw}
	if rb, err := info.Type.ByteSize(int64(shape[0])); err == nil {
		t.RowB = int(rb)
	}
	n := info.Elements()
	switch info.Type {
	case gguf.F32:
		t.F32 = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	case gguf.F16, gguf.BF16:
		t.F16 = unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	case gguf.I2_S:
		if shape[0]%128 != 0 {
			return nil, fmt.Errorf("%s: tensor %q: I2_S row length %d is not a multiple of 128", backend, info.Name, shape[0])
		}
		s, err := gguf.I2SScale(raw, n)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", backend, info.Name, err)
		}
		t.Raw, t.Scale, t.RowB = raw[:info.Size], s, shape[0]/4
		t.Code3 = gguf.I2SHasCode3(raw[:n/4])
	case gguf.TQ1_0, gguf.TQ2_0, gguf.Q8_0, gguf.Q6_K:
		t.Raw = raw[:info.Size]
	default:
		return nil, fmt.Errorf("%s: tensor %q: type %s is not supported", backend, info.Name, info.Type)
	}
	return t, nil
}

// Row dequantizes row n of a weight into out (float32).
func (t *Tensor) Row(n int, out []float32) {
	if t.File == nil {
		panic(fmt.Sprintf("host: cannot read rows of a %s tensor that is not a weight", t.dt))
	}
	if err := gguf.DecodeRow(t.dt, t.File[n*t.RowB:(n+1)*t.RowB], out, t.Scale); err != nil {
		panic(fmt.Sprintf("host: %v", err))
	}
}

// Write copies src into an F32 tensor.
func Write(backend string, t *Tensor, src []float32) error {
	if t.F32 == nil || len(src) != len(t.F32) {
		return fmt.Errorf("%s.Write: %d values into a %s tensor of shape %v", backend, len(src), t.dt, t.shape)
	}
	copy(t.F32, src)
	return nil
}

// WriteInts copies src into an I32 tensor.
func WriteInts(backend string, t *Tensor, src []int32) error {
	if t.I32 == nil || len(src) != len(t.I32) {
		return fmt.Errorf("%s.WriteInts: %d values into a %s tensor of shape %v", backend, len(src), t.dt, t.shape)
	}
	copy(t.I32, src)
	return nil
}

// Read copies an F32 or F16 tensor out as float32.
func Read(backend string, t *Tensor, dst []float32) error {
	switch {
	case t.F32 != nil && len(dst) == len(t.F32):
		copy(dst, t.F32)
	case t.F16 != nil && t.dt == gguf.F16 && len(dst) == len(t.F16):
		for i, h := range t.F16 {
			dst[i] = gguf.F16ToF32(h)
		}
	default:
		return fmt.Errorf("%s.Read: %d values from a %s tensor of shape %v", backend, len(dst), t.dt, t.shape)
	}
	return nil
}

// ReadInts copies an I32 tensor out.
func ReadInts(backend string, t *Tensor, dst []int32) error {
	if t.I32 == nil || len(dst) != len(t.I32) {
		return fmt.Errorf("%s.ReadInts: %d values from a %s tensor of shape %v", backend, len(dst), t.dt, t.shape)
	}
	copy(dst, t.I32)
	return nil
}

// Embed copies table rows ids into dst as float32 (zeros for ids outside
// the table): compute.Backend.Embed for host tensors.
func Embed(backend string, dstT, tableT, idsT compute.Tensor) {
	k, _, tn := compute.CheckEmbed(dstT, tableT, idsT)
	dst, table, ids := As(backend, "Embed", dstT), As(backend, "Embed", tableT), As(backend, "Embed", idsT)
	for i, id := range ids.I32 {
		out := dst.F32[i*k : (i+1)*k]
		if id < 0 || int(id) >= tn {
			clear(out)
			continue
		}
		table.Row(int(id), out)
	}
}

// Store implements the tensor half of compute.Backend (Alloc, Free, Rows,
// Weights, Write, WriteInts, Read, ReadInts and Embed) for a backend that
// embeds it; Name names the backend in errors.
type Store struct{ Name string }

func (s Store) as(op string, t compute.Tensor) *Tensor { return As(s.Name, op, t) }

// Alloc returns a zeroed F32, F16 or I32 tensor.
func (s Store) Alloc(dt gguf.DType, shape ...int) (compute.Tensor, error) {
	t, err := Alloc(s.Name, dt, shape...)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Free drops the tensor's storage.
func (s Store) Free(x compute.Tensor) { s.as("Free", x).Free() }

// Rows returns a view of rows [row0, row0+n).
func (s Store) Rows(x compute.Tensor, row0, n int) compute.Tensor {
	return Rows(s.Name, s.as("Rows", x), row0, n)
}

// Weights wraps a tensor's file bytes without copying them.
func (s Store) Weights(info gguf.TensorInfo, raw []byte) (compute.Tensor, error) {
	t, err := Weights(s.Name, info, raw)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Write copies src into an F32 tensor.
func (s Store) Write(dst compute.Tensor, src []float32) error {
	return Write(s.Name, s.as("Write", dst), src)
}

// WriteInts copies src into an I32 tensor.
func (s Store) WriteInts(dst compute.Tensor, src []int32) error {
	return WriteInts(s.Name, s.as("WriteInts", dst), src)
}

// Read copies an F32 or F16 tensor out as float32.
func (s Store) Read(src compute.Tensor, dst []float32) error {
	return Read(s.Name, s.as("Read", src), dst)
}

// ReadInts copies an I32 tensor out.
func (s Store) ReadInts(src compute.Tensor, dst []int32) error {
	return ReadInts(s.Name, s.as("ReadInts", src), dst)
}

// Embed copies table rows ids into dst as float32 (zeros for ids outside
// the table).
func (s Store) Embed(dst, table, ids compute.Tensor) { Embed(s.Name, dst, table, ids) }

// Consecutive returns pos[0] after checking that the positions are
// consecutive rows of a cache of n rows (StoreKV, Attention).
func Consecutive(backend, op string, pos []int32, n int) int {
	for i, p := range pos {
		if p != pos[0]+int32(i) || p < 0 || int(p) >= n {
			panic(fmt.Sprintf("%s.%s: positions %v are not consecutive rows of a cache of %d", backend, op, pos, n))
		}
	}
	if len(pos) == 0 {
		return 0
	}
	return int(pos[0])
}
