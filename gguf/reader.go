// Package gguf reads and writes GGUF model files (versions 2 and 3).
//
// A File holds the metadata, the tensor table and access to the tensor data.
// Open maps the file read-only (no copy); Read parses from an io.ReaderAt.
// Every count, length and offset in the header is checked against the file
// size before anything is allocated, so a hostile header fails with an error
// instead of an allocation of gigabytes.
package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Magic is the first four bytes of a GGUF file ("GGUF" little-endian).
const Magic = 0x46554747

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

const maxDims = 4 // ggml's GGML_MAX_DIMS

// ErrFormat is wrapped by every error that reports a malformed file.
var ErrFormat = errors.New("gguf: malformed file")

// KV is one metadata entry. Value holds uint8, int8, uint16, int16, uint32,
// int32, float32, bool, string, uint64, int64, float64 or Array.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// Array is a metadata array. Values is a typed slice ([]uint8, []int32,
// []float32, []string, []bool, ...) or []Array for nested arrays.
type Array struct {
	Elem   ValueType
	Values any
}

// Len returns the number of elements.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return 0
}

// TensorInfo describes one tensor. Shape is in ggml order: Shape[0] is the
// contiguous (innermost) dimension. Offset is relative to the data section.
type TensorInfo struct {
	Name   string
	Type   DType
	Shape  []int64
	Offset int64
	Size   int64 // bytes, exact for the type (see DType.ByteSize)
}

// Elements returns the number of elements (product of Shape).
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed GGUF file.
type File struct {
	Version    uint32
	Alignment  int64
	KV         []KV
	Tensors    []TensorInfo
	DataOffset int64 // absolute offset of the tensor data section
	FileSize   int64

	kvIndex     map[string]int
	tensorIndex map[string]int
	data        []byte      // whole file when mapped
	ra          io.ReaderAt // otherwise
	closer      func() error
}

// Close releases the mapping, if any.
func (f *File) Close() error {
	if f.closer != nil {
		c := f.closer
		f.closer = nil
		f.data = nil
		return c()
	}
	return nil
}

// Lookup returns the metadata entry for key.
func (f *File) Lookup(key string) (KV, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return KV{}, false
	}
	return f.KV[i], true
}

// Tensor returns the tensor info named name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tensorIndex[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData returns the raw bytes of a tensor. For a mapped file the slice
// aliases the read-only mapping and must not be written.
func (f *File) TensorData(t TensorInfo) ([]byte, error) {
	start := f.DataOffset + t.Offset
	if t.Offset < 0 || t.Size < 0 || start+t.Size > f.FileSize {
		return nil, fmt.Errorf("gguf: tensor %q: data [%d, %d) outside the file (%d bytes)", t.Name, start, start+t.Size, f.FileSize)
	}
	if f.data != nil {
		return f.data[start : start+t.Size : start+t.Size], nil
	}
	buf := make([]byte, t.Size)
	if _, err := f.ra.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	return buf, nil
}

// Read parses a GGUF file of the given size from r. Tensor data is read from r
// on demand by TensorData.
func Read(r io.ReaderAt, size int64) (*File, error) {
	f, err := parse(r, size)
	if err != nil {
		return nil, err
	}
	f.ra = r
	return f, nil
}

// ReadBytes parses a GGUF file held in memory; TensorData aliases b.
func ReadBytes(b []byte) (*File, error) {
	f, err := parse(bytesReaderAt(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	f.data = b
	return f, nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// decoder reads the header sequentially and tracks the position so that every
// length can be checked against the bytes that remain.
type decoder struct {
	r    *bufio.Reader
	pos  int64
	size int64
	buf  [8]byte
}

func (d *decoder) remaining() int64 { return d.size - d.pos }

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrFormat, d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) read(n int) ([]byte, error) {
	if int64(n) > d.remaining() {
		return nil, d.errf("unexpected end of file (need %d bytes, %d left): file truncated", n, d.remaining())
	}
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		return nil, d.errf("read: %v", err)
	}
	d.pos += int64(n)
	return d.buf[:n], nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.read(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 count and checks that count elements of at least
// minSize bytes each fit in what remains of the file.
func (d *decoder) count(what string, minSize int64) (int, error) {
	return d.countSuffix(what, "", minSize)
}

// countSuffix is count with the name what+suffix, joined only for the error.
func (d *decoder) countSuffix(what, suffix string, minSize int64) (int, error) {
	n, err := d.u64()
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(d.remaining()/minSize) {
		return 0, d.errf("%s%s %d is larger than the file allows (%d bytes left): file truncated or corrupt", what, suffix, n, d.remaining())
	}
	return int(n), nil
}

func (d *decoder) str(what string) (string, error) {
	n, err := d.countSuffix(what, " length", 1)
	if err != nil {
		return "", err
	}
	if n <= d.r.Size() {
		// Copy straight from the read buffer: one allocation, the string.
		b, err := d.r.Peek(n)
		if err != nil {
			return "", d.errf("read %s: %v", what, err)
		}
		s := string(b)
		d.r.Discard(n)
		d.pos += int64(n)
		return s, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return "", d.errf("read %s: %v", what, err)
	}
	d.pos += int64(n)
	return string(b), nil
}

func (d *decoder) boolean() (bool, error) {
	v, err := d.u8()
	if err == nil && v > 1 {
		return false, d.errf("bool value %d is not 0 or 1", v)
	}
	return v == 1, err
}

func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		return d.boolean()
	case TypeString:
		return d.str("string")
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case TypeArray:
		return d.nestedArray(depth)
	}
	return nil, d.errf("unknown metadata value type %d", uint32(t))
}

// nestedArray reads an array value (element type, count, elements).
func (d *decoder) nestedArray(depth int) (Array, error) {
	if depth > 8 {
		return Array{}, d.errf("arrays nested more than 8 deep")
	}
	et, err := d.u32()
	if err != nil {
		return Array{}, err
	}
	return d.array(ValueType(et), depth+1)
}

// emptyValues holds a zero-length Values slice per element type, so that
// empty arrays cost no allocation.
var emptyValues = map[ValueType]any{
	TypeUint8: []uint8{}, TypeInt8: []int8{}, TypeUint16: []uint16{}, TypeInt16: []int16{},
	TypeUint32: []uint32{}, TypeInt32: []int32{}, TypeFloat32: []float32{}, TypeBool: []bool{},
	TypeString: []string{}, TypeUint64: []uint64{}, TypeInt64: []int64{}, TypeFloat64: []float64{},
	TypeArray: []Array{},
}

func (d *decoder) array(et ValueType, depth int) (Array, error) {
	min := et.scalarSize()
	switch et {
	case TypeString:
		min = 8 // length
	case TypeArray:
		min = 12 // element type and count
	case TypeUint8, TypeInt8, TypeBool, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeFloat32, TypeUint64, TypeInt64, TypeFloat64:
	default:
		return Array{}, d.errf("unknown array element type %d", uint32(et))
	}
	n, err := d.count("array length", min)
	if err != nil {
		return Array{}, err
	}
	a := Array{Elem: et}
	if n == 0 {
		a.Values = emptyValues[et]
		return a, nil
	}
	var ferr error
	switch et {
	case TypeUint8:
		a.Values, ferr = readN(n, d.u8)
	case TypeInt8:
		a.Values, ferr = readN(n, func() (int8, error) { v, err := d.u8(); return int8(v), err })
	case TypeUint16:
		a.Values, ferr = readN(n, d.u16)
	case TypeInt16:
		a.Values, ferr = readN(n, func() (int16, error) { v, err := d.u16(); return int16(v), err })
	case TypeUint32:
		a.Values, ferr = readN(n, d.u32)
	case TypeInt32:
		a.Values, ferr = readN(n, func() (int32, error) { v, err := d.u32(); return int32(v), err })
	case TypeFloat32:
		a.Values, ferr = readN(n, func() (float32, error) { v, err := d.u32(); return math.Float32frombits(v), err })
	case TypeBool:
		a.Values, ferr = readN(n, d.boolean)
	case TypeString:
		a.Values, ferr = readN(n, func() (string, error) { return d.str("string") })
	case TypeUint64:
		a.Values, ferr = readN(n, d.u64)
	case TypeInt64:
		a.Values, ferr = readN(n, func() (int64, error) { v, err := d.u64(); return int64(v), err })
	case TypeFloat64:
		a.Values, ferr = readN(n, func() (float64, error) { v, err := d.u64(); return math.Float64frombits(v), err })
	case TypeArray:
		a.Values, ferr = readN(n, func() (Array, error) { return d.nestedArray(depth) })
	}
	if ferr != nil {
		return Array{}, ferr
	}
	return a, nil
}

// readN reads n array elements with read (no boxing of each element).
func readN[T any](n int, read func() (T, error)) ([]T, error) {
	out := make([]T, n)
	for i := range out {
		v, err := read()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func parse(r io.ReaderAt, size int64) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), size: size}
	magic, err := d.u32()
	if err != nil {
		return nil, fmt.Errorf("%w: file too short for a GGUF header (%d bytes)", ErrFormat, size)
	}
	if magic != Magic {
		return nil, fmt.Errorf("%w: bad magic %#08x (want \"GGUF\")", ErrFormat, magic)
	}
	f := &File{FileSize: size, kvIndex: map[string]int{}, tensorIndex: map[string]int{}}
	if f.Version, err = d.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("%w: unsupported GGUF version %d (want 2 or 3)", ErrFormat, f.Version)
	}
	// Minimal encoded sizes: a tensor info is name length (8) + n_dims (4) +
	// type (4) + offset (8); a kv is key length (8) + type (4) + 1 byte value.
	nTensors, err := d.count("tensor count", 24)
	if err != nil {
		return nil, err
	}
	nKV, err := d.count("metadata count", 13)
	if err != nil {
		return nil, err
	}
	// Capacities start small: a header may claim more entries than it holds.
	f.KV = make([]KV, 0, min(nKV, 1024))
	for i := 0; i < nKV; i++ {
		key, err := d.str("key")
		if err != nil {
			return nil, fmt.Errorf("metadata entry %d: %w", i, err)
		}
		if key == "" {
			return nil, fmt.Errorf("metadata entry %d: %w", i, d.errf("empty key"))
		}
		t, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		if _, dup := f.kvIndex[key]; dup {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrFormat, key)
		}
		f.kvIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Type: ValueType(t), Value: v})
	}
	f.Alignment = DefaultAlignment
	if kv, ok := f.Lookup("general.alignment"); ok {
		a, ok := asInt(kv.Value)
		if !ok || a <= 0 || a&(a-1) != 0 || a > 1<<20 {
			return nil, fmt.Errorf("%w: general.alignment %v is not a power of two in [1, 1 MiB]", ErrFormat, kv.Value)
		}
		f.Alignment = a
	}
	f.Tensors = make([]TensorInfo, 0, min(nTensors, 1024))
	for i := 0; i < nTensors; i++ {
		t, err := d.tensorInfo()
		if err != nil {
			return nil, fmt.Errorf("tensor info %d: %w", i, err)
		}
		if _, dup := f.tensorIndex[t.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor name %q", ErrFormat, t.Name)
		}
		f.tensorIndex[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = alignUp(d.pos, f.Alignment)
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

func (d *decoder) tensorInfo() (TensorInfo, error) {
	name, err := d.str("tensor name")
	if err != nil {
		return TensorInfo{}, err
	}
	if name == "" {
		return TensorInfo{}, d.errf("empty tensor name")
	}
	wrap := func(err error) error { return fmt.Errorf("tensor %q: %w", name, err) }
	nd, err := d.u32()
	if err != nil {
		return TensorInfo{}, wrap(err)
	}
	if nd == 0 || nd > maxDims {
		return TensorInfo{}, wrap(d.errf("%d dimensions (want 1..%d)", nd, maxDims))
	}
	t := TensorInfo{Name: name, Shape: make([]int64, nd)}
	n := int64(1)
	for i := range t.Shape {
		v, err := d.u64()
		if err != nil {
			return TensorInfo{}, wrap(err)
		}
		if v == 0 || v > 1<<40 {
			return TensorInfo{}, wrap(d.errf("dimension %d is %d", i, v))
		}
		if n > math.MaxInt64/int64(v) {
			return TensorInfo{}, wrap(d.errf("element count overflows"))
		}
		n *= int64(v)
		t.Shape[i] = int64(v)
	}
	typ, err := d.u32()
	if err != nil {
		return TensorInfo{}, wrap(err)
	}
	t.Type = DType(typ)
	off, err := d.u64()
	if err != nil {
		return TensorInfo{}, wrap(err)
	}
	if off > uint64(d.size) {
		return TensorInfo{}, wrap(d.errf("data offset %d is beyond the end of the file: file truncated or corrupt", off))
	}
	t.Offset = int64(off)
	if !t.Type.Supported() {
		return TensorInfo{}, wrap(t.Type.unsupportedError())
	}
	if bs := t.Type.BlockSize(); t.Shape[0]%bs != 0 {
		return TensorInfo{}, wrap(fmt.Errorf("%w: row length %d is not a multiple of the %s block size %d", ErrFormat, t.Shape[0], t.Type, bs))
	}
	if t.Size, err = t.Type.ByteSize(n); err != nil {
		return TensorInfo{}, wrap(fmt.Errorf("%w: %v", ErrFormat, err))
	}
	return t, nil
}

// checkLayout verifies every tensor's data lies inside the file, aligned, and
// that no two tensors overlap.
func (f *File) checkLayout() error {
	if f.DataOffset > f.FileSize && len(f.Tensors) > 0 {
		return fmt.Errorf("%w: data section starts at %d, beyond the end of the file (%d bytes): file truncated", ErrFormat, f.DataOffset, f.FileSize)
	}
	avail := f.FileSize - f.DataOffset
	idx := make([]int, len(f.Tensors))
	for i, t := range f.Tensors {
		idx[i] = i
		if t.Offset%f.Alignment != 0 {
			return fmt.Errorf("%w: tensor %q: data offset %d is not aligned to %d", ErrFormat, t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > avail || t.Size > avail-t.Offset {
			return fmt.Errorf("%w: tensor %q: data [%d, %d) extends beyond the end of the file (data section holds %d bytes; file truncated?)", ErrFormat, t.Name, t.Offset, t.Offset+t.Size, avail)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		return int(f.Tensors[a].Offset - f.Tensors[b].Offset)
	})
	for i := 1; i < len(idx); i++ {
		p, c := f.Tensors[idx[i-1]], f.Tensors[idx[i]]
		if p.Offset+p.Size > c.Offset {
			return fmt.Errorf("%w: tensors %q and %q overlap (data [%d, %d) and [%d, %d))", ErrFormat, p.Name, c.Name, p.Offset, p.Offset+p.Size, c.Offset, c.Offset+c.Size)
		}
	}
	return nil
}

func alignUp(x, a int64) int64 { return (x + a - 1) / a * a }

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}
