package gguf

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// q6kDecodeByHalves decodes one Q6_K block the way ggml's layout is usually
// described: per half of 128 weights, 32 lanes l each producing weights l,
// l+32, l+64 and l+96 from two ql bytes and one qh byte.
func q6kDecodeByHalves(blk []byte) []float32 {
	y := make([]float32, 256)
	d := F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
	for h := range 2 {
		ql, qh, sc := blk[64*h:], blk[128+32*h:], blk[192+8*h:]
		for l := range 32 {
			q := [4]int{
				int(ql[l]&0xf) | int(qh[l]&3)<<4,
				int(ql[l+32]&0xf) | int(qh[l]>>2&3)<<4,
				int(ql[l]>>4) | int(qh[l]>>4&3)<<4,
				int(ql[l+32]>>4) | int(qh[l]>>6&3)<<4,
			}
			for k := range 4 {
				s := d * float32(int8(sc[l/16+2*k]))
				y[128*h+l+32*k] = s * float32(q[k]-32)
			}
		}
	}
	return y
}

func TestQ6_KLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	blk := make([]byte, Q6_KBytes)
	for i := range blk {
		blk[i] = byte(r.IntN(256))
	}
	binary.LittleEndian.PutUint16(blk[208:], F32ToF16(0.01))
	out := make([]float32, 256)
	require.NoError(t, DecodeQ6_K(blk, out))
	assert.Equal(t, q6kDecodeByHalves(blk), out)

	// setQ6KCode writes where Q6KCode (and the decoder above) read.
	codes := make([]int, 256)
	fresh := make([]byte, Q6_KBytes)
	for j := range codes {
		codes[j] = r.IntN(64)
		setQ6KCode(fresh, j, codes[j])
	}
	for j, c := range codes {
		require.Equal(t, c, Q6KCode(fresh, j), "weight %d", j)
	}
}

func TestQ6_KRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 256*6)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * 0.02
	}
	for i := 256; i < 512; i++ { // an all-zero block
		x[i] = 0
	}
	for i := 512; i < 768; i++ { // a block with one outlier group
		x[i] *= 1 + 30*float32(i/16%2)
	}
	raw, err := EncodeQ6_K(x)
	require.NoError(t, err)
	require.Len(t, raw, 6*Q6_KBytes)
	out := make([]float32, len(x))
	require.NoError(t, DecodeQ6_K(raw, out))
	var se, ss float64
	for b := range 6 {
		blk := raw[b*Q6_KBytes:]
		d := F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
		for g := range 16 {
			s := d * float32(int8(blk[192+g]))
			for j := b*256 + 16*g; j < b*256+16*g+16; j++ {
				// Every weight is within half a step of its group's scale,
				// or at the end of the code range.
				c := Q6KCode(blk, j-b*256) - 32
				if c > -32 && c < 31 {
					require.LessOrEqual(t, math.Abs(float64(x[j]-out[j])), math.Abs(float64(s))*0.5001+1e-12, "weight %d", j)
				}
				se += float64((x[j] - out[j]) * (x[j] - out[j]))
				ss += float64(x[j] * x[j])
			}
		}
	}
	for i := 256; i < 512; i++ {
		require.Zero(t, out[i])
	}
	// 6-bit codes with a scale per 16 weights: relative RMS error about 1%.
	rel := math.Sqrt(se / ss)
	assert.Less(t, rel, 0.02)
	t.Logf("Q6_K relative RMS error %.4f", rel)

	_, err = EncodeQ6_K(make([]float32, 255))
	assert.ErrorContains(t, err, "not a multiple of the block size 256")
	x[3] = float32(math.NaN())
	_, err = EncodeQ6_K(x)
	assert.ErrorContains(t, err, "non-finite")
	assert.ErrorContains(t, DecodeQ6_K(raw[:100], out), "too short")
	assert.ErrorContains(t, DecodeRow(Q6_K, raw[:100], make([]float32, 256), 1), "needs 210 bytes")
}

// BenchmarkEncodeHeadRow times the quantization of one LM-head row of the
// 2B-4T shape (2560 weights): a load-time cost, once per vocabulary entry.
func BenchmarkEncodeHeadRow(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2560)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * 0.02
	}
	b.Run("q6_k", func(b *testing.B) {
		for b.Loop() {
			EncodeQ6_K(x)
		}
	})
	b.Run("q8_0", func(b *testing.B) {
		for b.Loop() {
			EncodeQ8_0(x)
		}
	})
}
