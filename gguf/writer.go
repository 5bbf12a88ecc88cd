package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Writer collects metadata and tensors and writes them as a GGUF v3 file.
//
// Metadata keeps the order in which keys were first set. Tensor data is laid
// out in the order tensors were added, each at an offset aligned to the file's
// alignment (general.alignment when set, else 32) and zero-padded to the next
// aligned offset. Tensor bytes may be given up front (AddTensor) or produced
// while the file is written (AddTensorFunc), so a file larger than memory can
// be written with only one tensor's worth of data (or less) in memory.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	kv      []KV
	kvIndex map[string]int
	tensors []writerTensor
	tIndex  map[string]int
}

type writerTensor struct {
	info  TensorInfo
	data  []byte
	write func(io.Writer) error
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{kvIndex: map[string]int{}, tIndex: map[string]int{}}
}

// Set sets a metadata entry, inferring the GGUF type from the Go type of v:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64 and float64 map to the scalar type of the same name; a slice of one of
// those ([]string, []float32, ...) or an Array becomes an array (nested arrays
// are Arrays whose Values is []Array). Plain int is rejected: pick the width.
// Setting a key again replaces its value and keeps its position.
func (w *Writer) Set(key string, v any) error {
	t, val, err := inferValue(v)
	if err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", key, err)
	}
	return w.SetKV(KV{Key: key, Type: t, Value: val})
}

// SetKV sets a metadata entry with an explicit type. The value must have the
// Go type the reader produces for that type (see KV).
func (w *Writer) SetKV(kv KV) error {
	if kv.Key == "" {
		return errors.New("gguf: empty metadata key")
	}
	if err := checkValue(kv.Type, kv.Value, 0); err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
	}
	if kv.Key == "general.alignment" {
		a, ok := asInt(kv.Value)
		if !ok || a <= 0 || a&(a-1) != 0 || a > 1<<20 {
			return fmt.Errorf("gguf: general.alignment %v is not a power of two in [1, 1 MiB]", kv.Value)
		}
	}
	if i, ok := w.kvIndex[kv.Key]; ok {
		w.kv[i] = kv
		return nil
	}
	w.kvIndex[kv.Key] = len(w.kv)
	w.kv = append(w.kv, kv)
	return nil
}

// Delete removes a metadata entry if present.
func (w *Writer) Delete(key string) {
	i, ok := w.kvIndex[key]
	if !ok {
		return
	}
	w.kv = append(w.kv[:i], w.kv[i+1:]...)
	delete(w.kvIndex, key)
	for j := i; j < len(w.kv); j++ {
		w.kvIndex[w.kv[j].Key] = j
	}
}

// KV returns the metadata entries in file order. The slice must not be modified.
func (w *Writer) KV() []KV { return w.kv }

// Alignment returns the tensor data alignment the file will use.
func (w *Writer) Alignment() int64 {
	if i, ok := w.kvIndex["general.alignment"]; ok {
		a, _ := asInt(w.kv[i].Value)
		return a
	}
	return DefaultAlignment
}

// AddTensor adds a tensor whose raw bytes are data (len must equal the type's
// byte size for the shape). data is kept, not copied, until the file is written.
func (w *Writer) AddTensor(name string, typ DType, shape []int64, data []byte) error {
	info, err := w.newTensor(name, typ, shape)
	if err != nil {
		return err
	}
	if int64(len(data)) != info.Size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, want %d for %s %v", name, len(data), info.Size, typ, shape)
	}
	w.addTensor(writerTensor{info: info, data: data})
	return nil
}

// AddTensorFunc adds a tensor whose bytes are produced while the file is
// written: write must write exactly the type's byte size for the shape
// (TensorInfo.Size of the planned tensor) to its argument.
func (w *Writer) AddTensorFunc(name string, typ DType, shape []int64, write func(io.Writer) error) error {
	if write == nil {
		return fmt.Errorf("gguf: tensor %q: nil write function", name)
	}
	info, err := w.newTensor(name, typ, shape)
	if err != nil {
		return err
	}
	w.addTensor(writerTensor{info: info, write: write})
	return nil
}

func (w *Writer) addTensor(t writerTensor) {
	w.tIndex[t.info.Name] = len(w.tensors)
	w.tensors = append(w.tensors, t)
}

func (w *Writer) newTensor(name string, typ DType, shape []int64) (TensorInfo, error) {
	if name == "" {
		return TensorInfo{}, errors.New("gguf: empty tensor name")
	}
	if _, dup := w.tIndex[name]; dup {
		return TensorInfo{}, fmt.Errorf("gguf: duplicate tensor name %q", name)
	}
	if len(shape) == 0 || len(shape) > maxDims {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %d dimensions (want 1..%d)", name, len(shape), maxDims)
	}
	n := int64(1)
	for i, d := range shape {
		if d <= 0 || d > 1<<40 {
			return TensorInfo{}, fmt.Errorf("gguf: tensor %q: dimension %d is %d", name, i, d)
		}
		if n > math.MaxInt64/d {
			return TensorInfo{}, fmt.Errorf("gguf: tensor %q: element count overflows", name)
		}
		n *= d
	}
	if !typ.Supported() {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, typ.unsupportedError())
	}
	if bs := typ.BlockSize(); shape[0]%bs != 0 {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: row length %d is not a multiple of the %s block size %d", name, shape[0], typ, bs)
	}
	size, err := typ.ByteSize(n)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	return TensorInfo{Name: name, Type: typ, Shape: append([]int64(nil), shape...), Size: size}, nil
}

// Layout returns the tensor table as it will be written (offsets relative to
// the data section), the absolute offset of the data section and the total
// file size, without producing any tensor data.
func (w *Writer) Layout() (tensors []TensorInfo, dataOffset, fileSize int64) {
	align := w.Alignment()
	tensors = make([]TensorInfo, len(w.tensors))
	off := int64(0)
	for i, t := range w.tensors {
		tensors[i] = t.info
		tensors[i].Shape = append([]int64(nil), t.info.Shape...)
		tensors[i].Offset = off
		off = alignUp(off+t.info.Size, align)
	}
	dataOffset = alignUp(w.headerSize(), align)
	return tensors, dataOffset, dataOffset + off
}

// headerSize is the encoded size of everything before the alignment padding
// that precedes the data section.
func (w *Writer) headerSize() int64 {
	n := int64(4 + 4 + 8 + 8)
	for _, kv := range w.kv {
		n += 8 + int64(len(kv.Key)) + 4 + valueSize(kv.Type, kv.Value)
	}
	for _, t := range w.tensors {
		n += 8 + int64(len(t.info.Name)) + 4 + 8*int64(len(t.info.Shape)) + 4 + 8
	}
	return n
}

// WriteHeader writes only the header (magic, metadata, tensor table and the
// padding up to the data section). Together with the tensor data at the
// offsets Layout reports it forms the file.
func (w *Writer) WriteHeader(out io.Writer) error {
	bw := bufio.NewWriterSize(out, 1<<16)
	if err := w.writeHeader(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteTo writes the whole file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if err := w.writeHeader(bw); err != nil {
		return cw.n, err
	}
	tensors, _, _ := w.Layout()
	align := w.Alignment()
	var zeros [1 << 12]byte
	for i, t := range w.tensors {
		var err error
		n := int64(0)
		if t.write != nil {
			tw := &countWriter{w: bw}
			err = t.write(tw)
			n = tw.n
		} else {
			var k int
			k, err = bw.Write(t.data)
			n = int64(k)
		}
		if err != nil {
			return cw.n, fmt.Errorf("gguf: tensor %q: %w", t.info.Name, err)
		}
		if n != t.info.Size {
			return cw.n, fmt.Errorf("gguf: tensor %q: wrote %d bytes, want %d", t.info.Name, n, t.info.Size)
		}
		end := tensors[i].Offset + n
		for pad := alignUp(end, align) - end; pad > 0; {
			k := min(pad, int64(len(zeros)))
			if _, err := bw.Write(zeros[:k]); err != nil {
				return cw.n, err
			}
			pad -= k
		}
	}
	err := bw.Flush()
	return cw.n, err
}

// WriteFile writes the file to path (created or truncated). On failure the
// partial file is removed.
func (w *Writer) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type encoder struct {
	w   *bufio.Writer
	buf [8]byte
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) u8(v uint8) { e.bytes([]byte{v}) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (w *Writer) writeHeader(bw *bufio.Writer) error {
	e := &encoder{w: bw}
	e.u32(Magic)
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		e.value(kv.Type, kv.Value)
	}
	tensors, dataOffset, _ := w.Layout()
	for _, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(t.Offset))
	}
	for pad := dataOffset - w.headerSize(); pad > 0; pad-- {
		e.u8(0)
	}
	return e.err
}

func (e *encoder) value(t ValueType, v any) {
	switch t {
	case TypeUint8:
		e.u8(v.(uint8))
	case TypeInt8:
		e.u8(uint8(v.(int8)))
	case TypeUint16:
		e.u16(v.(uint16))
	case TypeInt16:
		e.u16(uint16(v.(int16)))
	case TypeUint32:
		e.u32(v.(uint32))
	case TypeInt32:
		e.u32(uint32(v.(int32)))
	case TypeFloat32:
		e.u32(math.Float32bits(v.(float32)))
	case TypeBool:
		if v.(bool) {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case TypeString:
		e.str(v.(string))
	case TypeUint64:
		e.u64(v.(uint64))
	case TypeInt64:
		e.u64(uint64(v.(int64)))
	case TypeFloat64:
		e.u64(math.Float64bits(v.(float64)))
	case TypeArray:
		a := v.(Array)
		e.u32(uint32(a.Elem))
		e.u64(uint64(a.Len()))
		eachElem(a, func(x any) { e.value(a.Elem, x) })
	}
}

// eachElem calls f with every element of a (as the scalar or Array value).
func eachElem(a Array, f func(any)) {
	switch v := a.Values.(type) {
	case []uint8:
		forEach(v, f)
	case []int8:
		forEach(v, f)
	case []uint16:
		forEach(v, f)
	case []int16:
		forEach(v, f)
	case []uint32:
		forEach(v, f)
	case []int32:
		forEach(v, f)
	case []float32:
		forEach(v, f)
	case []bool:
		forEach(v, f)
	case []string:
		forEach(v, f)
	case []uint64:
		forEach(v, f)
	case []int64:
		forEach(v, f)
	case []float64:
		forEach(v, f)
	case []Array:
		forEach(v, f)
	}
}

func forEach[T any](s []T, f func(any)) {
	for _, x := range s {
		f(x)
	}
}

// valueSize is the encoded size of a checked value (without its type tag).
func valueSize(t ValueType, v any) int64 {
	switch t {
	case TypeString:
		return 8 + int64(len(v.(string)))
	case TypeArray:
		a := v.(Array)
		n := int64(4 + 8)
		switch vals := a.Values.(type) {
		case []string:
			for _, s := range vals {
				n += 8 + int64(len(s))
			}
		case []Array:
			for _, x := range vals {
				n += valueSize(TypeArray, x)
			}
		default:
			n += int64(a.Len()) * a.Elem.scalarSize()
		}
		return n
	}
	return t.scalarSize()
}

// inferValue maps a Go value to a GGUF type and the reader's representation.
func inferValue(v any) (ValueType, any, error) {
	switch x := v.(type) {
	case uint8:
		return TypeUint8, x, nil
	case int8:
		return TypeInt8, x, nil
	case uint16:
		return TypeUint16, x, nil
	case int16:
		return TypeInt16, x, nil
	case uint32:
		return TypeUint32, x, nil
	case int32:
		return TypeInt32, x, nil
	case float32:
		return TypeFloat32, x, nil
	case bool:
		return TypeBool, x, nil
	case string:
		return TypeString, x, nil
	case uint64:
		return TypeUint64, x, nil
	case int64:
		return TypeInt64, x, nil
	case float64:
		return TypeFloat64, x, nil
	case Array:
		return TypeArray, x, nil
	}
	if et, ok := sliceElemType(v); ok {
		return TypeArray, Array{Elem: et, Values: v}, nil
	}
	return 0, nil, fmt.Errorf("unsupported Go type %T", v)
}

func sliceElemType(v any) (ValueType, bool) {
	switch v.(type) {
	case []uint8:
		return TypeUint8, true
	case []int8:
		return TypeInt8, true
	case []uint16:
		return TypeUint16, true
	case []int16:
		return TypeInt16, true
	case []uint32:
		return TypeUint32, true
	case []int32:
		return TypeInt32, true
	case []float32:
		return TypeFloat32, true
	case []bool:
		return TypeBool, true
	case []string:
		return TypeString, true
	case []uint64:
		return TypeUint64, true
	case []int64:
		return TypeInt64, true
	case []float64:
		return TypeFloat64, true
	case []Array:
		return TypeArray, true
	}
	return 0, false
}

// checkValue verifies v has the representation the reader uses for type t.
func checkValue(t ValueType, v any, depth int) error {
	ok := false
	switch t {
	case TypeUint8:
		_, ok = v.(uint8)
	case TypeInt8:
		_, ok = v.(int8)
	case TypeUint16:
		_, ok = v.(uint16)
	case TypeInt16:
		_, ok = v.(int16)
	case TypeUint32:
		_, ok = v.(uint32)
	case TypeInt32:
		_, ok = v.(int32)
	case TypeFloat32:
		_, ok = v.(float32)
	case TypeBool:
		_, ok = v.(bool)
	case TypeString:
		_, ok = v.(string)
	case TypeUint64:
		_, ok = v.(uint64)
	case TypeInt64:
		_, ok = v.(int64)
	case TypeFloat64:
		_, ok = v.(float64)
	case TypeArray:
		a, isArr := v.(Array)
		if !isArr {
			return fmt.Errorf("value of Go type %T for type array, want gguf.Array", v)
		}
		if depth >= 8 {
			return errors.New("arrays nested more than 8 deep")
		}
		et, isSlice := sliceElemType(a.Values)
		if !isSlice || et != a.Elem {
			return fmt.Errorf("array of %s holds Go type %T", a.Elem, a.Values)
		}
		if vals, nested := a.Values.([]Array); nested {
			for i, x := range vals {
				if err := checkValue(TypeArray, x, depth+1); err != nil {
					return fmt.Errorf("element %d: %w", i, err)
				}
			}
		}
		return nil
	default:
		return fmt.Errorf("unknown value type %d", uint32(t))
	}
	if !ok {
		return fmt.Errorf("value of Go type %T for type %s", v, t)
	}
	return nil
}
