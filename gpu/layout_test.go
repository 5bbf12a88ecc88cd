//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"bitnet/gguf"
)

// deviceValue decodes weight e of a row of k values in dt's device layout
// (the formulas of include/quant_layout.glsl).
func deviceValue(dt gguf.DType, row []byte, k, e int) float32 {
	if dt == gguf.Q8_0 {
		d := gguf.F16ToF32(binary.LittleEndian.Uint16(row[k+2*(e/32):]))
		return float32(int8(row[e])) * d
	}
	u, m := e/32, e%32
	g, i, l := m/16, (m%16)/4, m%4
	lo := row[16*u+4*i+l] >> (4 * g) & 15
	hi := row[k/2+8*u+4*g+l] >> (2 * i) & 3
	sc := int8(row[3*k/4+e/16])
	d := gguf.F16ToF32(binary.LittleEndian.Uint16(row[13*k/16+2*(e/256):]))
	s := d * float32(sc)
	return s * float32(int(lo|hi<<4)-32)
}

func randomRow(dt gguf.DType, k int, rng *rand.Rand) []byte {
	bytes, vals, at := gguf.Q8_0Bytes, 32, 0
	if dt == gguf.Q6_K {
		bytes, vals, at = gguf.Q6_KBytes, 256, gguf.Q6_KBytes-2
	}
	row := make([]byte, k/vals*bytes)
	for i := range row {
		row[i] = byte(rng.Uint32())
	}
	for b := 0; b < len(row); b += bytes {
		binary.LittleEndian.PutUint16(row[b+at:], gguf.F32ToF16(float32(rng.Float64())))
	}
	return row
}

// TestRepackRow checks that the device layouts hold the file rows' values
// bit for bit, with zeroed padding.
func TestRepackRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range []gguf.DType{gguf.Q8_0, gguf.Q6_K} {
		for _, k := range []int{256, 512, 768, 2560} {
			src := randomRow(dt, k, rng)
			want := make([]float32, k)
			if err := gguf.DecodeRow(dt, src, want, 0); err != nil {
				t.Fatal(err)
			}
			n := deviceRowBytes(dt, k)
			if n%16 != 0 || n < uint64(len(src)) || n >= uint64(len(src))+16 {
				t.Fatalf("%s k=%d: device row of %d bytes for a file row of %d", dt, k, n, len(src))
			}
			dst := make([]byte, n)
			for i := range dst {
				dst[i] = 0xa5
			}
			repackRow(dt, k, dst, src)
			for e := range k {
				if got := deviceValue(dt, dst, k, e); got != want[e] {
					t.Fatalf("%s k=%d: weight %d is %v, want %v", dt, k, e, got, want[e])
				}
			}
			for i := len(src); i < len(dst); i++ {
				if dst[i] != 0 {
					t.Fatalf("%s k=%d: padding byte %d is %#x", dt, k, i, dst[i])
				}
			}
		}
	}
}

func BenchmarkRepackRowQ6K(b *testing.B) {
	const k = 2560
	src := randomRow(gguf.Q6_K, k, rand.New(rand.NewPCG(1, 2)))
	dst := make([]byte, deviceRowBytes(gguf.Q6_K, k))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		repackRow(gguf.Q6_K, k, dst, src)
	}
}
