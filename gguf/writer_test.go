package gguf

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allValues is one metadata value of every type, including nested arrays.
func allValues() []KV {
	return []KV{
		{"t.u8", TypeUint8, uint8(200)},
		{"t.i8", TypeInt8, int8(-100)},
		{"t.u16", TypeUint16, uint16(60000)},
		{"t.i16", TypeInt16, int16(-30000)},
		{"t.u32", TypeUint32, uint32(4000000000)},
		{"t.i32", TypeInt32, int32(-2000000000)},
		{"t.f32", TypeFloat32, float32(1e-5)},
		{"t.bool", TypeBool, true},
		{"t.false", TypeBool, false},
		{"t.str", TypeString, "héllo ▁wörld"},
		{"t.empty", TypeString, ""},
		{"t.u64", TypeUint64, uint64(math.MaxUint64)},
		{"t.i64", TypeInt64, int64(math.MinInt64)},
		{"t.f64", TypeFloat64, math.Pi},
		{"a.u8", TypeArray, Array{TypeUint8, []uint8{1, 2, 255}}},
		{"a.i8", TypeArray, Array{TypeInt8, []int8{-1, 0, 127}}},
		{"a.u16", TypeArray, Array{TypeUint16, []uint16{1, 65535}}},
		{"a.i16", TypeArray, Array{TypeInt16, []int16{-32768, 7}}},
		{"a.u32", TypeArray, Array{TypeUint32, []uint32{0, 4294967295}}},
		{"a.i32", TypeArray, Array{TypeInt32, []int32{1, 3, 6}}},
		{"a.f32", TypeArray, Array{TypeFloat32, []float32{0.5, -1, float32(math.Inf(1))}}},
		{"a.bool", TypeArray, Array{TypeBool, []bool{true, false}}},
		{"a.str", TypeArray, Array{TypeString, []string{"a", "", "Ġthe"}}},
		{"a.u64", TypeArray, Array{TypeUint64, []uint64{1 << 63}}},
		{"a.i64", TypeArray, Array{TypeInt64, []int64{-1}}},
		{"a.f64", TypeArray, Array{TypeFloat64, []float64{2.5}}},
		{"a.empty", TypeArray, Array{TypeString, []string{}}},
		{"a.nested", TypeArray, Array{TypeArray, []Array{
			{TypeInt32, []int32{1, 2}},
			{TypeString, []string{"x"}},
			{TypeArray, []Array{{TypeFloat64, []float64{1, 2, 3}}, {TypeBool, []bool{}}}},
		}}},
	}
}

// tensorOfType returns a tensor shape and random bytes of the type.
func tensorOfType(t *testing.T, typ DType, r *rand.Rand) ([]int64, []byte) {
	shape := []int64{256, 3}
	if typ == F32 || typ == F16 || typ == BF16 {
		shape = []int64{5, 3, 2}
	}
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	size, err := typ.ByteSize(n)
	require.NoError(t, err)
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return shape, b
}

var supportedTypes = []DType{F32, F16, BF16, Q8_0, Q6_K, TQ1_0, TQ2_0, I2_S}

func buildAll(t *testing.T, alignment int64) (*Writer, map[string][]byte) {
	t.Helper()
	w := NewWriter()
	for _, kv := range allValues() {
		require.NoError(t, w.SetKV(kv), kv.Key)
	}
	if alignment != 0 {
		require.NoError(t, w.Set("general.alignment", uint32(alignment)))
	}
	r := rand.New(rand.NewPCG(1, 2))
	data := map[string][]byte{}
	for i, typ := range supportedTypes {
		shape, b := tensorOfType(t, typ, r)
		name := "t." + typ.String()
		data[name] = b
		if i%2 == 0 {
			require.NoError(t, w.AddTensor(name, typ, shape, b))
		} else {
			require.NoError(t, w.AddTensorFunc(name, typ, shape, func(out io.Writer) error {
				// write in two pieces to exercise streaming
				if _, err := out.Write(b[:len(b)/2]); err != nil {
					return err
				}
				_, err := out.Write(b[len(b)/2:])
				return err
			}))
		}
	}
	return w, data
}

func TestWriterRoundTrip(t *testing.T) {
	for _, align := range []int64{0, 1, 8, 64, 4096} {
		w, data := buildAll(t, align)
		var buf bytes.Buffer
		n, err := w.WriteTo(&buf)
		require.NoError(t, err)
		require.Equal(t, int64(buf.Len()), n)
		tensors, dataOff, size := w.Layout()
		require.Equal(t, size, n, "Layout file size")

		f, err := ReadBytes(buf.Bytes())
		require.NoError(t, err, "alignment %d", align)
		wantAlign := align
		if align == 0 {
			wantAlign = DefaultAlignment
		}
		assert.Equal(t, uint32(3), f.Version)
		assert.Equal(t, wantAlign, f.Alignment)
		assert.Equal(t, dataOff, f.DataOffset)
		assert.Equal(t, dataOff%wantAlign, int64(0))
		want := allValues()
		if align != 0 {
			want = append(want, KV{"general.alignment", TypeUint32, uint32(align)})
		}
		assert.Equal(t, want, f.KV)
		require.Len(t, f.Tensors, len(supportedTypes))
		assert.Equal(t, tensors, f.Tensors)
		for i, ti := range f.Tensors {
			assert.Equal(t, supportedTypes[i], ti.Type)
			assert.Zero(t, ti.Offset%wantAlign, ti.Name)
			got, err := f.TensorData(ti)
			require.NoError(t, err)
			assert.Equal(t, data[ti.Name], got, ti.Name)
		}
	}
}

func TestWriterHeaderMatchesFile(t *testing.T) {
	w, _ := buildAll(t, 0)
	var hdr, full bytes.Buffer
	require.NoError(t, w.WriteHeader(&hdr))
	_, err := w.WriteTo(&full)
	require.NoError(t, err)
	_, dataOff, _ := w.Layout()
	require.Equal(t, dataOff, int64(hdr.Len()))
	assert.Equal(t, full.Bytes()[:hdr.Len()], hdr.Bytes())
}

func TestWriterSetInfersTypes(t *testing.T) {
	w := NewWriter()
	for _, kv := range allValues() {
		v := kv.Value
		if a, ok := v.(Array); ok && a.Elem != TypeArray {
			v = a.Values // plain slices become arrays
		}
		require.NoError(t, w.Set(kv.Key, v))
	}
	assert.Equal(t, allValues(), w.KV())
	require.NoError(t, w.Set("t.u8", uint8(1))) // replace keeps position
	assert.Equal(t, "t.u8", w.KV()[0].Key)
	assert.Equal(t, uint8(1), w.KV()[0].Value)
	w.Delete("t.u8")
	assert.Equal(t, "t.i8", w.KV()[0].Key)
	require.NoError(t, w.Set("t.u8", uint8(2)))
	assert.Equal(t, "t.u8", w.KV()[len(w.KV())-1].Key)
}

func TestWriterRejects(t *testing.T) {
	w := NewWriter()
	assert.ErrorContains(t, w.Set("k", 5), "unsupported Go type int")
	assert.ErrorContains(t, w.Set("", uint32(1)), "empty metadata key")
	assert.ErrorContains(t, w.SetKV(KV{"k", TypeUint32, int32(1)}), "Go type int32 for type uint32")
	assert.ErrorContains(t, w.SetKV(KV{"k", TypeArray, Array{TypeInt32, []uint32{1}}}), "array of int32 holds Go type []uint32")
	assert.ErrorContains(t, w.SetKV(KV{"k", ValueType(77), uint32(1)}), "unknown value type 77")
	assert.ErrorContains(t, w.Set("general.alignment", uint32(48)), "not a power of two")
	deep := Array{TypeInt32, []int32{}}
	for range 9 {
		deep = Array{TypeArray, []Array{deep}}
	}
	assert.ErrorContains(t, w.Set("deep", deep), "nested more than 8 deep")

	assert.ErrorContains(t, w.AddTensor("a", F32, []int64{4}, make([]byte, 15)), "15 bytes of data, want 16")
	require.NoError(t, w.AddTensor("a", F32, []int64{4}, make([]byte, 16)))
	assert.ErrorContains(t, w.AddTensor("a", F32, []int64{4}, make([]byte, 16)), `duplicate tensor name "a"`)
	assert.ErrorContains(t, w.AddTensor("", F32, []int64{4}, nil), "empty tensor name")
	assert.ErrorContains(t, w.AddTensor("b", F32, nil, nil), "0 dimensions")
	assert.ErrorContains(t, w.AddTensor("b", F32, []int64{1, 1, 1, 1, 1}, nil), "5 dimensions")
	assert.ErrorContains(t, w.AddTensor("b", F32, []int64{0}, nil), "dimension 0 is 0")
	assert.ErrorContains(t, w.AddTensor("b", F32, []int64{1 << 40, 1 << 40}, nil), "overflows")
	assert.ErrorContains(t, w.AddTensor("b", TL2, []int64{4}, nil), "TL2 (39) is not supported")
	assert.ErrorContains(t, w.AddTensor("b", TQ2_0, []int64{128}, nil), "not a multiple of the TQ2_0 block size 256")
	assert.ErrorContains(t, w.AddTensorFunc("b", F32, []int64{4}, nil), "nil write function")

	// A streaming tensor that writes the wrong number of bytes fails the write.
	w2 := NewWriter()
	require.NoError(t, w2.AddTensorFunc("short", F32, []int64{4}, func(out io.Writer) error {
		_, err := out.Write(make([]byte, 12))
		return err
	}))
	_, err := w2.WriteTo(io.Discard)
	assert.ErrorContains(t, err, `tensor "short": wrote 12 bytes, want 16`)
	w3 := NewWriter()
	boom := errors.New("boom")
	require.NoError(t, w3.AddTensorFunc("bad", F32, []int64{4}, func(io.Writer) error { return boom }))
	_, err = w3.WriteTo(io.Discard)
	assert.ErrorIs(t, err, boom)
}

func TestWriteFile(t *testing.T) {
	w, data := buildAll(t, 0)
	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, w.WriteFile(path))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	for _, ti := range f.Tensors {
		got, err := f.TensorData(ti)
		require.NoError(t, err)
		assert.Equal(t, data[ti.Name], got)
	}

	w2 := NewWriter()
	require.NoError(t, w2.AddTensorFunc("bad", F32, []int64{4}, func(io.Writer) error { return io.ErrUnexpectedEOF }))
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	require.Error(t, w2.WriteFile(bad))
	_, err = os.Stat(bad)
	assert.True(t, os.IsNotExist(err), "partial file removed")
}

func TestWriterEmpty(t *testing.T) {
	var buf bytes.Buffer
	_, err := NewWriter().WriteTo(&buf)
	require.NoError(t, err)
	f, err := ReadBytes(buf.Bytes())
	require.NoError(t, err)
	assert.Empty(t, f.KV)
	assert.Empty(t, f.Tensors)
}
