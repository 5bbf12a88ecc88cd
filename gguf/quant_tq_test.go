package gguf

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randTernary(r *rand.Rand, n int) []int8 {
	t := make([]int8, n)
	for i := range t {
		t[i] = int8(r.IntN(3)) - 1
	}
	return t
}

func randScales(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = RoundF16(0.01 + r.Float32()*3)
	}
	return d
}

func TestTQ2_0HandBytes(t *testing.T) {
	tern := make([]int8, 256)
	tern[0] = 1    // byte 0, bits 1:0
	tern[32] = -1  // byte 0, bits 3:2
	tern[96] = 1   // byte 0, bits 7:6
	tern[128] = -1 // byte 32, bits 1:0
	tern[255] = -1 // byte 63, bits 7:6
	raw, err := EncodeTQ2_0(tern, []float32{1})
	require.NoError(t, err)
	require.Len(t, raw, 66)
	assert.Equal(t, byte(2|0<<2|1<<4|2<<6), raw[0])
	assert.Equal(t, byte(0x55), raw[1])
	assert.Equal(t, byte(0x54), raw[32])
	assert.Equal(t, byte(0x15), raw[63])
	assert.Equal(t, []byte{0x00, 0x3c}, raw[64:66]) // fp16 1.0
}

func TestTQ1_0HandBytes(t *testing.T) {
	tern := make([]int8, 256)
	tern[0] = 1   // qs[0], most significant trit
	tern[32] = -1 // qs[0], second trit
	tern[1] = -1  // qs[1], most significant trit
	tern[160] = 1 // qs[32], first trit
	tern[244] = 1 // qh[0], second trit
	raw, err := EncodeTQ1_0(tern, []float32{2})
	require.NoError(t, err)
	require.Len(t, raw, 54)
	// trits (2,0,1,1,1): q = 162+0+9+3+1 = 175, ceil(175*256/243) = 185
	assert.Equal(t, byte(185), raw[0])
	// trits (0,1,1,1,1): q = 40 -> 43
	assert.Equal(t, byte(43), raw[1])
	// all zero values: trits (1,1,1,1,1): q = 121 -> 128
	assert.Equal(t, byte(128), raw[2])
	// trits (2,1,1,1,1): q = 202 -> 213
	assert.Equal(t, byte(213), raw[32])
	// qh: trits (1,2,1,1) and a 0: q = (27+18+3+1)*3 = 147 -> ceil(37632/243) = 155
	assert.Equal(t, byte(155), raw[48])
	// qh all zero: (1,1,1,1,0): q = 120 -> 127
	assert.Equal(t, byte(127), raw[49])
	assert.Equal(t, []byte{0x00, 0x40}, raw[52:54]) // fp16 2.0

	out := make([]float32, 256)
	require.NoError(t, DecodeTQ1_0(raw, out))
	for i, v := range tern {
		assert.Equal(t, float32(v)*2, out[i], "element %d", i)
	}
}

func TestTQ1TritsExhaustive(t *testing.T) {
	for q := range 243 {
		tr := []int8{int8(q / 81), int8(q / 27 % 3), int8(q / 9 % 3), int8(q / 3 % 3), int8(q % 3)}
		b := tq1Pack(tr...)
		for n := range 5 {
			require.Equal(t, tr[n], tq1Trit(b, n), "q=%d n=%d byte=%d", q, n, b)
		}
	}
}

func TestTernaryRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, nb := range []int{1, 3, 10} {
		tern := randTernary(r, nb*256)
		d := randScales(r, nb)
		for _, c := range []struct {
			name   string
			enc    func([]int8, []float32) ([]byte, error)
			tern   func([]byte, []int8, []float32) error
			dec    func([]byte, []float32) error
			blockB int
		}{
			{"TQ2_0", EncodeTQ2_0, TernaryTQ2_0, DecodeTQ2_0, 66},
			{"TQ1_0", EncodeTQ1_0, TernaryTQ1_0, DecodeTQ1_0, 54},
		} {
			raw, err := c.enc(tern, d)
			require.NoError(t, err)
			require.Len(t, raw, nb*c.blockB, c.name)
			gotT := make([]int8, len(tern))
			gotD := make([]float32, nb)
			require.NoError(t, c.tern(raw, gotT, gotD))
			assert.Equal(t, tern, gotT, c.name)
			assert.Equal(t, d, gotD, c.name)
			out := make([]float32, len(tern))
			require.NoError(t, c.dec(raw, out))
			for i, v := range tern {
				if out[i] != float32(v)*d[i/256] {
					t.Fatalf("%s nb=%d: element %d = %v, want %v", c.name, nb, i, out[i], float32(v)*d[i/256])
				}
			}
			// decoding a prefix of whole blocks
			require.NoError(t, c.dec(raw, out[:256]))
			assert.ErrorContains(t, c.dec(raw, out[:100]), "not a multiple of the block size 256")
			assert.ErrorContains(t, c.dec(raw[:len(raw)-1], out), "too short")
		}
	}
}

func TestTernaryEncodeErrors(t *testing.T) {
	_, err := EncodeTQ2_0(make([]int8, 100), nil)
	assert.ErrorContains(t, err, "not a multiple of the block size 256")
	_, err = EncodeTQ1_0(make([]int8, 256), []float32{1, 2})
	assert.ErrorContains(t, err, "2 scales for 1 blocks")
	bad := make([]int8, 256)
	bad[7] = 2
	_, err = EncodeTQ2_0(bad, []float32{1})
	assert.ErrorContains(t, err, "value 2 at 7")
}

func TestQ8_0(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1], x[2] = 127, -63.5, 0.49
	raw, err := EncodeQ8_0(x)
	require.NoError(t, err)
	require.Len(t, raw, 34)
	assert.Equal(t, []byte{0x00, 0x3c}, raw[:2]) // d = 1
	assert.Equal(t, byte(127), raw[2])
	assert.Equal(t, byte(0xc0), raw[3]) // -64: halves round away from zero
	assert.Equal(t, byte(0), raw[4])
	out := make([]float32, 32)
	require.NoError(t, DecodeQ8_0(raw, out))
	assert.Equal(t, []float32{127, -64, 0}, out[:3])

	r := rand.New(rand.NewPCG(3, 4))
	x = make([]float32, 32*9)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	x[40] = 0 // a block may be all zero
	for i := 64; i < 96; i++ {
		x[i] = 0
	}
	raw, err = EncodeQ8_0(x)
	require.NoError(t, err)
	out = make([]float32, len(x))
	require.NoError(t, DecodeQ8_0(raw, out))
	for b := range 9 {
		amax := float32(0)
		for _, v := range x[b*32 : b*32+32] {
			amax = max(amax, abs32(v))
		}
		for i := b * 32; i < b*32+32; i++ {
			assert.InDelta(t, x[i], out[i], float64(amax/127*0.51+amax*1e-3), "element %d", i)
		}
	}
	_, err = EncodeQ8_0(make([]float32, 33))
	assert.ErrorContains(t, err, "not a multiple of the block size 32")
	assert.ErrorContains(t, DecodeQ8_0(raw[:30], out), "too short")
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// TestQ8_0RoundsAsMathRound checks EncodeQ8_0's codes against round(x/d)
// with math.Round in float64, on random blocks and on codes at halves and
// just below them.
func TestQ8_0RoundsAsMathRound(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 32*200)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6)))
	}
	// Block 0: amax 127 (d 1), so that v*id is v: halves, values just
	// below halves, and small ones.
	clear(x[:32])
	x[0] = 127
	for i, v := range []float32{0.5, -0.5, 2.5, -2.5, 0.49999997, -0.49999997, 1.4999999, 126.5, -126.5, 0.25, 1e-30, -1e-30} {
		x[1+i] = v
	}
	raw, err := AppendQ8_0([]byte{9}, x)
	require.NoError(t, err)
	require.Equal(t, byte(9), raw[0])
	raw = raw[1:]
	for b := range len(x) / 32 {
		xs := x[b*32 : b*32+32]
		amax := float32(0)
		for _, v := range xs {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		for i, v := range xs {
			want := int8(math.Round(float64(v * id)))
			if got := int8(raw[b*34+2+i]); got != want {
				t.Fatalf("block %d element %d (%g): code %d, want %d", b, i, v, got, want)
			}
		}
	}
	assert.Equal(t, []byte{127, 1, 0xff, 3, 0xfd, 0, 0, 1, 127, 0x81, 0, 0, 0}, raw[2:15])
}

// TestQ8_0Err checks AppendQ8_0Err's magnitudes and errors against the
// decoded blocks, and that a NaN or an infinity makes them NaN.
func TestQ8_0Err(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 32*40)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(8)-4)))
	}
	raw, xmax, emax, err := AppendQ8_0Err(nil, x)
	require.NoError(t, err)
	want, err := EncodeQ8_0(x)
	require.NoError(t, err)
	require.Equal(t, want, raw)
	y := make([]float32, len(x))
	require.NoError(t, DecodeQ8_0(raw, y))
	var wx, we float64
	for i := range x {
		wx = max(wx, math.Abs(float64(x[i])))
		we = max(we, math.Abs(float64(x[i])-float64(y[i])))
	}
	assert.Equal(t, wx, xmax)
	assert.Equal(t, we, emax)
	assert.Greater(t, emax, 0.0)
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		x[77] = bad
		_, xmax, emax, err = AppendQ8_0Err(nil, x)
		require.NoError(t, err)
		assert.True(t, math.IsNaN(xmax+emax), "%g: %g %g", bad, xmax, emax)
	}
}
