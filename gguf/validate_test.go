package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawFile assembles a GGUF file byte by byte, so that headers the writer
// refuses to produce can be tested.
type rawFile struct{ bytes.Buffer }

func (r *rawFile) u8(v uint8) *rawFile { r.WriteByte(v); return r }
func (r *rawFile) u32(v uint32) *rawFile {
	binary.Write(&r.Buffer, binary.LittleEndian, v)
	return r
}
func (r *rawFile) u64(v uint64) *rawFile {
	binary.Write(&r.Buffer, binary.LittleEndian, v)
	return r
}
func (r *rawFile) str(s string) *rawFile { r.u64(uint64(len(s))); r.WriteString(s); return r }

// kvHeader starts a v3 file with the given counts.
func kvHeader(nTensors, nKV uint64) *rawFile {
	r := &rawFile{}
	return r.u32(Magic).u32(3).u64(nTensors).u64(nKV)
}

// tensorFile is a v3 file with the given tensor infos (no metadata but an
// optional alignment) followed by dataBytes zero bytes of data.
type rawTensor struct {
	name  string
	shape []uint64
	typ   uint32
	off   uint64
}

func tensorFile(align uint32, dataBytes int, ts ...rawTensor) []byte {
	nkv := uint64(0)
	if align != 0 {
		nkv = 1
	}
	r := kvHeader(uint64(len(ts)), nkv)
	if align != 0 {
		r.str("general.alignment").u32(uint32(TypeUint32)).u32(align)
	}
	for _, t := range ts {
		r.str(t.name).u32(uint32(len(t.shape)))
		for _, d := range t.shape {
			r.u64(d)
		}
		r.u32(t.typ).u64(t.off)
	}
	a := int(align)
	if a == 0 {
		a = DefaultAlignment
	}
	for r.Len()%a != 0 {
		r.u8(0)
	}
	r.Write(make([]byte, dataBytes))
	return r.Bytes()
}

func validFile(t *testing.T) []byte {
	t.Helper()
	w, _ := buildAll(t, 0)
	var buf bytes.Buffer
	_, err := w.WriteTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}

func TestReadRejects(t *testing.T) {
	const big = uint64(1) << 62
	f32 := uint32(F32)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "file too short for a GGUF header (0 bytes)"},
		{"short", []byte("GGU"), "file too short for a GGUF header (3 bytes)"},
		{"bad magic", (&rawFile{}).u32(0x4c4d4747).u32(3).u64(0).u64(0).Bytes(), `bad magic 0x4c4d4747 (want "GGUF")`},
		{"version 1", (&rawFile{}).u32(Magic).u32(1).u64(0).u64(0).Bytes(), "unsupported GGUF version 1 (want 2 or 3)"},
		{"version 4", (&rawFile{}).u32(Magic).u32(4).u64(0).u64(0).Bytes(), "unsupported GGUF version 4"},
		{"no counts", (&rawFile{}).u32(Magic).u32(3).Bytes(), "unexpected end of file (need 8 bytes, 0 left)"},
		{"tensor count 2^62", kvHeader(big, 0).Bytes(), "tensor count 4611686018427387904 is larger than the file allows"},
		{"kv count 2^62", kvHeader(0, big).Bytes(), "metadata count 4611686018427387904 is larger than the file allows"},
		{"tensor count max", kvHeader(^uint64(0), 0).Bytes(), "tensor count 18446744073709551615 is larger than the file allows"},
		{"key length 2^62", kvHeader(0, 1).u64(big).u32(0).u8(0).Bytes(), "key length 4611686018427387904 is larger than the file allows"},
		{"string length 2^62", kvHeader(0, 1).str("k").u32(uint32(TypeString)).u64(big).Bytes(), `metadata "k": gguf: malformed file: at offset 45: string length 4611686018427387904 is larger than the file allows (0 bytes left)`},
		{"array length 2^62", kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeUint8)).u64(big).Bytes(), "array length 4611686018427387904 is larger than the file allows"},
		{"array of strings too long", kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(10).u64(0).Bytes(), "array length 10 is larger than the file allows (8 bytes left)"},
		{"truncated value", kvHeader(0, 1).str("k").u32(uint32(TypeUint64)).u32(0).Bytes(), "unexpected end of file (need 8 bytes, 4 left)"},
		{"unknown value type", kvHeader(0, 1).str("k").u32(99).u32(0).Bytes(), `metadata "k": gguf: malformed file: at offset 37: unknown metadata value type 99`},
		{"unknown array type", kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(77).u64(0).Bytes(), "unknown array element type 77"},
		{"bool 2", kvHeader(0, 1).str("k").u32(uint32(TypeBool)).u8(2).Bytes(), "bool value 2 is not 0 or 1"},
		{"empty key", kvHeader(0, 1).str("").u32(uint32(TypeUint8)).u8(1).Bytes(), "metadata entry 0: gguf: malformed file: at offset 32: empty key"},
		{"duplicate key", kvHeader(0, 2).str("k").u32(uint32(TypeUint8)).u8(1).str("k").u32(uint32(TypeUint8)).u8(2).Bytes(), `duplicate metadata key "k"`},
		{"alignment not a power of two", kvHeader(0, 1).str("general.alignment").u32(uint32(TypeUint32)).u32(48).Bytes(), "general.alignment 48 is not a power of two in [1, 1 MiB]"},
		{"alignment zero", kvHeader(0, 1).str("general.alignment").u32(uint32(TypeUint32)).u32(0).Bytes(), "general.alignment 0 is not a power of two"},
		{"alignment huge", kvHeader(0, 1).str("general.alignment").u32(uint32(TypeUint64)).u64(1 << 40).Bytes(), "general.alignment 1099511627776 is not a power of two"},
		{"alignment string", kvHeader(0, 1).str("general.alignment").u32(uint32(TypeString)).str("32").Bytes(), "general.alignment 32 is not a power of two"},
		{"zero dims", tensorFile(0, 64, rawTensor{"t", nil, f32, 0}), `tensor info 0: tensor "t": gguf: malformed file: at offset 37: 0 dimensions (want 1..4)`},
		{"five dims", tensorFile(0, 64, rawTensor{"t", []uint64{1, 1, 1, 1, 1}, f32, 0}), `tensor info 0: tensor "t": gguf: malformed file: at offset 37: 5 dimensions (want 1..4)`},
		{"huge ndims", kvHeader(1, 0).str("t").u32(^uint32(0)).u64(0).u32(0).u64(0).Bytes(), "4294967295 dimensions (want 1..4)"},
		{"dimension zero", tensorFile(0, 64, rawTensor{"t", []uint64{4, 0}, f32, 0}), `tensor "t": gguf: malformed file: at offset 53: dimension 1 is 0`},
		{"dimension 2^62", tensorFile(0, 64, rawTensor{"t", []uint64{big}, f32, 0}), "dimension 0 is 4611686018427387904"},
		{"dimension product overflows", tensorFile(0, 64, rawTensor{"t", []uint64{1 << 40, 1 << 40}, f32, 0}), `tensor "t": gguf: malformed file: at offset 53: element count overflows`},
		{"byte size overflows", tensorFile(0, 64, rawTensor{"t", []uint64{1 << 40, 1 << 22}, f32, 0}), "F32 tensor of 4611686018427387904 elements: byte size overflows"},
		{"unknown type id", tensorFile(0, 64, rawTensor{"t", []uint64{4}, 99, 0}), `tensor "t": unknown tensor type id 99`},
		{"TL2", tensorFile(0, 64, rawTensor{"t", []uint64{4}, uint32(TL2), 0}), `tensor "t": tensor type TL2 (39) is not supported`},
		{"TL1", tensorFile(0, 64, rawTensor{"t", []uint64{4}, uint32(TL1), 0}), "TL1 (38) is not supported"},
		{"I8_S", tensorFile(0, 64, rawTensor{"t", []uint64{4}, uint32(I8_S), 0}), "I8_S (37) is not supported"},
		{"Q4_0", tensorFile(0, 64, rawTensor{"t", []uint64{32}, uint32(Q4_0), 0}), "Q4_0 (2) is not supported"},
		{"block size", tensorFile(0, 64, rawTensor{"t", []uint64{100}, uint32(TQ2_0), 0}), "row length 100 is not a multiple of the TQ2_0 block size 256"},
		{"I2_S odd count", tensorFile(0, 64, rawTensor{"t", []uint64{6}, uint32(I2_S), 0}), "I2_S tensor of 6 elements: not a multiple of 4"},
		{"misaligned", tensorFile(0, 128, rawTensor{"t", []uint64{4}, f32, 16}), `tensor "t": data offset 16 is not aligned to 32`},
		{"misaligned custom", tensorFile(64, 256, rawTensor{"t", []uint64{4}, f32, 32}), "data offset 32 is not aligned to 64"},
		{"offset beyond file", tensorFile(0, 64, rawTensor{"t", []uint64{4}, f32, 1 << 40}), "data offset 1099511627776 is beyond the end of the file"},
		{"data beyond file", tensorFile(0, 64, rawTensor{"t", []uint64{4}, f32, 64}), `tensor "t": data [64, 80) extends beyond the end of the file (data section holds 64 bytes; file truncated?)`},
		{"data too big", tensorFile(0, 64, rawTensor{"t", []uint64{17}, f32, 0}), "data [0, 68) extends beyond the end of the file"},
		{"overlap", tensorFile(0, 64, rawTensor{"a", []uint64{16}, f32, 0}, rawTensor{"b", []uint64{4}, f32, 32}), `tensors "a" and "b" overlap (data [0, 64) and [32, 48))`},
		{"same offset", tensorFile(0, 64, rawTensor{"a", []uint64{4}, f32, 0}, rawTensor{"b", []uint64{4}, f32, 0}), "overlap"},
		{"empty tensor name", tensorFile(0, 64, rawTensor{"", []uint64{4}, f32, 0}), "tensor info 0: gguf: malformed file: at offset 32: empty tensor name"},
		{"duplicate tensor", tensorFile(0, 64, rawTensor{"a", []uint64{4}, f32, 0}, rawTensor{"a", []uint64{4}, f32, 32}), `duplicate tensor name "a"`},
		{"tensor name length", kvHeader(1, 0).u64(big).u64(0).u64(0).u64(0).Bytes(), "tensor name length 4611686018427387904 is larger than the file allows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadBytes(c.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			_, err2 := Read(bytes.NewReader(c.data), int64(len(c.data)))
			require.Error(t, err2)
			assert.Equal(t, err.Error(), err2.Error(), "ReadBytes and Read agree")
		})
	}
}

func TestReadFormatErrorsWrap(t *testing.T) {
	for _, data := range [][]byte{
		nil,
		kvHeader(1<<62, 0).Bytes(),
		tensorFile(0, 64, rawTensor{"t", []uint64{4}, 0, 64}),
		tensorFile(0, 64, rawTensor{"t", []uint64{1 << 40, 1 << 40}, 0, 0}),
		tensorFile(0, 64, rawTensor{"t", []uint64{1 << 40, 1 << 22}, 0, 0}),
		tensorFile(0, 64, rawTensor{"t", []uint64{100}, uint32(TQ2_0), 0}),
	} {
		_, err := ReadBytes(data)
		assert.True(t, errors.Is(err, ErrFormat), "%v", err)
	}
}

func TestUnsupportedTypeError(t *testing.T) {
	for _, typ := range []uint32{uint32(TL2), uint32(I8_S), uint32(Q4_K), 99} {
		_, err := ReadBytes(tensorFile(0, 64, rawTensor{"t", []uint64{256}, typ, 0}))
		assert.ErrorIs(t, err, ErrUnsupportedType)
		assert.False(t, errors.Is(err, ErrFormat), "an unsupported type is not a malformed file")
		var ute *UnsupportedTypeError
		require.ErrorAs(t, err, &ute)
		assert.Equal(t, DType(typ), ute.Type)
	}
}

func TestReadAcceptsEdgeCases(t *testing.T) {
	// Trailing dimensions of 1, four dims, alignment 1, a tensor of one element.
	data := tensorFile(1, 64, rawTensor{"a", []uint64{4, 1, 1, 1}, uint32(F32), 0}, rawTensor{"b", []uint64{1}, uint32(F32), 16})
	f, err := ReadBytes(data)
	require.NoError(t, err)
	assert.Equal(t, int64(1), f.Alignment)
	assert.Equal(t, []int64{4, 1, 1, 1}, f.Tensors[0].Shape)
	// Version 2 is read too.
	v2 := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(v2[4:], 2)
	f, err = ReadBytes(v2)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), f.Version)
}

func TestReadTruncated(t *testing.T) {
	data := validFile(t)
	f, err := ReadBytes(data)
	require.NoError(t, err)
	for n := 0; n < len(data); n += 1 + n/16 {
		_, err := ReadBytes(data[:n])
		require.Error(t, err, "truncated to %d of %d bytes", n, len(data))
		assert.True(t, errors.Is(err, ErrFormat), "%d: %v", n, err)
		if n >= 4 {
			assert.Contains(t, err.Error(), "truncated", "%d", n)
		}
		switch {
		case n < 24:
		case n < int(f.DataOffset) && n > 24:
			if !assert.Regexp(t, "unexpected end of file|larger than the file allows|beyond the end of the file", err.Error(), "%d", n) {
				return
			}
		case n >= int(f.DataOffset):
			assert.Regexp(t, "extends beyond the end of the file|is beyond the end of the file", err.Error(), "%d", n)
		}
	}
}

// allocDuring returns the bytes allocated while fn runs.
func allocDuring(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// maxAlloc is the allocation a parse of n bytes may make. No count or length
// in a header allocates more than the bytes that back it, but the parsed form
// of the smallest items (a 33-byte tensor info, an empty string) is several
// times their encoded size, and slices and maps grow by doubling.
func maxAlloc(n int) uint64 { return uint64(16*n) + 1<<20 }

func TestReadHostileAllocation(t *testing.T) {
	const n = 1 << 20
	pad := func(r *rawFile) []byte { r.Write(make([]byte, n-r.Len())); return r.Bytes() }
	cases := map[string][]byte{
		// Counts as large as the file allows, items of minimal size.
		"many kvs":          pad(kvHeader(0, (n-24)/13)),
		"many tensors":      pad(kvHeader(n/24, 0)),
		"many strings":      pad(kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(n/8 - 8)),
		"many arrays":       pad(kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(n/12 - 8)),
		"many bools":        pad(kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeBool)).u64(n - 64)),
		"many empty arrays": nil,
	}
	r := kvHeader(0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(n/12 - 8)
	for r.Len()+12 <= n {
		r.u32(uint32(TypeUint8)).u64(0)
	}
	cases["many empty arrays"] = pad(r)
	r = kvHeader(n/32-2, 0)
	for i := 0; r.Len()+40 <= n; i++ {
		r.str(fmt.Sprint(i)).u32(1).u64(1).u32(0).u64(0)
	}
	cases["many small tensors"] = pad(r)
	for name, data := range cases {
		var err error
		got := allocDuring(func() { _, err = ReadBytes(data) })
		t.Logf("%s: %v; allocated %d bytes for %d", name, err, got, len(data))
		assert.LessOrEqual(t, got, maxAlloc(len(data)), name)
	}
}
