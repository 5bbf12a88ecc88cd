package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"bitnet/gguf"
)

// eachPath runs f once per available implementation, as a subtest named
// after the path.
func eachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, name := range Paths() {
		t.Run(name, func(t *testing.T) {
			prev, err := SetPath(name)
			require.NoError(t, err)
			defer SetPath(prev)
			f(t)
		})
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randTernary returns n bytes of I2_S codes 0..2 (what the packer writes).
func randTernary(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(3)<<6 | r.IntN(3)<<4 | r.IntN(3)<<2 | r.IntN(3))
	}
	return b
}

func randI8(r *rand.Rand, n int) []int8 {
	q := make([]int8, n)
	for i := range q {
		q[i] = int8(r.Uint32())
	}
	return q
}

func randF32(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// randF16 returns finite half-precision values, subnormals included.
func randF16(r *rand.Rand, n int) []uint16 {
	w := make([]uint16, n)
	for i := range w {
		for {
			h := uint16(r.Uint32())
			if h&0x7C00 != 0x7C00 {
				w[i] = h
				break
			}
		}
	}
	return w
}

var i2sSizes = []int{128, 256, 384, 640, 2560, 6912}

func TestPaths(t *testing.T) {
	p := Paths()
	require.NotEmpty(t, p)
	require.Equal(t, "generic", p[len(p)-1])
	require.Contains(t, p, Path())
	if noasmEnv(os.Getenv("BITNET_NOASM")) {
		require.Equal(t, "generic", Path())
	} else {
		require.Equal(t, p[0], Path())
	}
	_, err := SetPath("sse9")
	require.Error(t, err)
	for _, v := range []string{"1", "true", "TRUE", " yes "} {
		require.True(t, noasmEnv(v), v)
	}
	for _, v := range []string{"", "0", "false", "no"} {
		require.False(t, noasmEnv(v), v)
	}
	t.Logf("active path %s, available %v", Path(), p)
}

// TestExpectedPath checks the path chosen from the CPU features against
// BITNET_EXPECT_PATH (the first of Paths and, without BITNET_NOASM, the
// active one), which CI sets where it knows the CPU model, e.g. under qemu
// with and without the dot-product extension.
func TestExpectedPath(t *testing.T) {
	want := os.Getenv("BITNET_EXPECT_PATH")
	if want == "" {
		t.Logf("BITNET_EXPECT_PATH unset; active path %s, available %v", Path(), Paths())
		return
	}
	require.Equal(t, want, Paths()[0], "best path for this CPU")
	if !noasmEnv(os.Getenv("BITNET_NOASM")) {
		require.Equal(t, want, Path())
	}
}

func TestDotI2S(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, k := range i2sSizes {
			for _, gen := range []string{"ternary", "anycode"} {
				seed := uint64(k)*31 + uint64(len(gen))
				r := newRand(seed)
				var w []byte
				if gen == "ternary" {
					w = randTernary(r, k/4)
				} else {
					w = randBytes(r, k/4)
				}
				q := randI8(r, k)
				require.Equal(t, dotI2SGeneric(w, q), DotI2S(w, q), "K=%d %s seed=%d", k, gen, seed)
			}
		}
	})
}

// TestDotI2SExtremes drives every lane to its largest magnitude: all codes 3
// (or 2) against all -128 (or 127).
func TestDotI2SExtremes(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, k := range []int{128, 6912, 65536} {
			for _, wb := range []byte{0xFF, 0xAA, 0x00, 0x55, 0xE4} {
				for _, qv := range []int8{-128, 127, -1} {
					w := make([]byte, k/4)
					for i := range w {
						w[i] = wb
					}
					q := make([]int8, k)
					for i := range q {
						q[i] = qv
					}
					want := dotI2SGeneric(w, q)
					require.Equal(t, want, DotI2S(w, q), "K=%d w=%#x q=%d", k, wb, qv)
					// Five rows: the four-row kernels and the single-row one.
					w5 := slices.Repeat(w, 5)
					rows := make([]int32, 5)
					DotI2SRows(w5, k/4, 5, q, rows)
					require.Equal(t, []int32{want, want, want, want, want}, rows, "rows K=%d w=%#x q=%d", k, wb, qv)
				}
			}
		}
	})
}

func TestDotI2SLayout(t *testing.T) {
	// One weight at a time: the code for element e must meet q[e] only.
	k := 256
	q := make([]int8, k)
	for i := range q {
		q[i] = int8(i%251 - 125)
	}
	eachPath(t, func(t *testing.T) {
		for e := 0; e < k; e++ {
			w := make([]byte, k/4)
			blk, off := e/128, e%128
			w[blk*32+off%32] = 2 << (6 - 2*(off/32))
			require.Equal(t, 2*int32(q[e]), DotI2S(w, q), "element %d", e)
		}
	})
}

func TestDotI2SRows(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, k := range i2sSizes {
			for _, nRows := range []int{1, 2, 3, 5, 17} {
				for _, pad := range []int{0, 32, 7} {
					seed := uint64(k*1000 + nRows*10 + pad)
					r := newRand(seed)
					stride := k/4 + pad
					w := randBytes(r, (nRows-1)*stride+k/4)
					q := randI8(r, k)
					out := make([]int32, nRows+1)
					out[nRows] = 12345
					DotI2SRows(w, stride, nRows, q, out)
					for n := 0; n < nRows; n++ {
						require.Equal(t, dotI2SGeneric(w[n*stride:], q), out[n], "K=%d row %d/%d stride %d seed=%d", k, n, nRows, stride, seed)
					}
					require.Equal(t, int32(12345), out[nRows], "wrote past nRows")
				}
			}
		}
	})
}

func TestMatI2S(t *testing.T) {
	cases := []struct{ k, nRows, nTok int }{
		{128, 1, 1}, {128, 3, 4}, {256, 5, 5}, {2560, 7, 9}, {6912, 160, 6}, {2560, 210, 8}, {384, 64, 3},
		{2560, 33, 2}, {256, 9, 7},
	}
	eachPath(t, func(t *testing.T) {
		for _, c := range cases {
			seed := uint64(c.k + c.nRows*7 + c.nTok*13)
			r := newRand(seed)
			stride := c.k/4 + 32
			ldOut := c.nRows + 3
			w := randBytes(r, (c.nRows-1)*stride+c.k/4)
			q := randI8(r, c.nTok*c.k)
			out := make([]int32, c.nTok*ldOut)
			for i := range out {
				out[i] = -7
			}
			MatI2S(w, stride, c.nRows, q, c.k, c.nTok, out, ldOut)
			for tk := 0; tk < c.nTok; tk++ {
				for n := 0; n < ldOut; n++ {
					want := int32(-7)
					if n < c.nRows {
						want = dotI2SGeneric(w[n*stride:], q[tk*c.k:(tk+1)*c.k])
					}
					require.Equal(t, want, out[tk*ldOut+n], "%+v token %d row %d seed=%d", c, tk, n, seed)
				}
			}
		}
	})
}

func TestI2SPanics(t *testing.T) {
	require.Panics(t, func() { DotI2S(make([]byte, 32), make([]int8, 100)) })
	require.Panics(t, func() { DotI2S(make([]byte, 31), make([]int8, 128)) })
	require.Panics(t, func() { DotI2SRows(make([]byte, 64), 32, 3, make([]int8, 128), make([]int32, 3)) })
	require.Panics(t, func() { DotI2SRows(make([]byte, 96), 32, 3, make([]int8, 128), make([]int32, 2)) })
	require.Panics(t, func() { MatI2S(make([]byte, 96), 32, 3, make([]int8, 128), 128, 2, make([]int32, 6), 3) })
	require.Panics(t, func() { MatI2S(make([]byte, 96), 32, 3, make([]int8, 256), 128, 2, make([]int32, 5), 3) })
	require.Panics(t, func() { MatI2S(make([]byte, 96), 32, 3, make([]int8, 256), 128, 2, make([]int32, 6), 2) })
}

func TestSumI8(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := newRand(1)
		for n := 0; n <= 200; n++ {
			q := randI8(r, n)
			require.Equal(t, sumI8Generic(q), SumI8(q), "n=%d", n)
		}
		for _, n := range []int{2560, 6912, 1 << 16} {
			for _, v := range []int8{-128, 127} {
				q := make([]int8, n)
				for i := range q {
					q[i] = v
				}
				require.Equal(t, int32(n)*int32(v), SumI8(q), "n=%d v=%d", n, v)
			}
		}
	})
}

// checkQuantize compares QuantizeRow with its definition bit for bit.
func checkQuantize(t *testing.T, x []float32, msg string) {
	t.Helper()
	wantQ := make([]int8, len(x))
	wantS, wantSum := quantizeRowGeneric(x, wantQ)
	q := make([]int8, len(x)+1)
	q[len(x)] = 99
	s, sum := QuantizeRow(x, q)
	require.Equal(t, math.Float32bits(wantS), math.Float32bits(s), "scale %s", msg)
	require.Equal(t, wantSum, sum, "sum %s", msg)
	require.Equal(t, wantQ, q[:len(x)], "q %s", msg)
	require.Equal(t, int8(99), q[len(x)], "wrote past len(x) %s", msg)
}

func TestQuantizeRow(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := newRand(2)
		for n := 0; n <= 100; n++ {
			checkQuantize(t, randF32(r, n, 1), fmt.Sprintf("n=%d", n))
		}
		for _, n := range []int{2560, 6912} {
			for _, sc := range []float64{1e-7, 1e-3, 1, 30, 1e4} {
				checkQuantize(t, randF32(r, n, sc), fmt.Sprintf("n=%d scale=%g", n, sc))
			}
		}
		// All zero and all tiny: m is clamped to 1e-5.
		checkQuantize(t, make([]float32, 77), "zeros")
		tiny := randF32(r, 333, 1e-6)
		checkQuantize(t, tiny, "tiny")
	})
}

// TestQuantizeRowTies puts x*s exactly on .5: with max |x| = 127 the scale is
// 1, so x itself is the product and must round half to even.
func TestQuantizeRowTies(t *testing.T) {
	x := []float32{127}
	for v := -126.5; v <= 126.5; v += 1 {
		x = append(x, float32(v))
	}
	x = append(x, -127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, 126.49999)
	eachPath(t, func(t *testing.T) {
		for n := 1; n <= len(x); n += 7 {
			checkQuantize(t, x[:n], fmt.Sprintf("ties n=%d", n))
		}
		checkQuantize(t, x, "ties")
		q := make([]int8, len(x))
		s, _ := QuantizeRow(x, q)
		require.Equal(t, float32(1), s)
		require.Equal(t, []int8{127, -126, -126, -124, -124}, q[:5]) // -126.5 -> -126, -125.5 -> -126, ...
	})
}

// TestQuantClamp checks the saturation at -128 and 127 with scales larger
// than a row's own, which the asm reaches only through quantS.
func TestQuantClamp(t *testing.T) {
	r := newRand(3)
	eachPath(t, func(t *testing.T) {
		for _, n := range []int{31, 32, 64, 100, 2560} {
			x := randF32(r, n, 1)
			x[0], x[n-1] = 127.5, -128.5 // ties at the edges
			for _, s := range []float32{1, 2, 100, 1000, 1e6} {
				want := make([]int8, n)
				got := make([]int8, n)
				ws := quantGeneric(x, s, want)
				gs := cur.quantS(x, s, got)
				require.Equal(t, want, got, "n=%d s=%g", n, s)
				require.Equal(t, ws, gs, "n=%d s=%g", n, s)
			}
		}
	})
}

// dotF16Ref64 is DotF16 in float64, with the magnitude sum for tolerances.
func dotF16Ref64(w []uint16, x []float32) (sum, mag float64) {
	for k := range x {
		p := float64(f16ToF32(w[k])) * float64(x[k])
		sum += p
		mag += math.Abs(p)
	}
	return sum, mag
}

func requireClose(t *testing.T, want, mag float64, got float32, msg string, args ...any) {
	t.Helper()
	tol := 1e-5*mag + 1e-30
	if math.Abs(float64(got)-want) > tol {
		t.Fatalf("%s: got %g want %g (diff %g, tol %g)", fmt.Sprintf(msg, args...), got, want, math.Abs(float64(got)-want), tol)
	}
}

func TestF16ToF32(t *testing.T) {
	// Compare the Go converter with the hardware one on every non-NaN value.
	x := []float32{1}
	w := make([]uint16, 1)
	eachPath(t, func(t *testing.T) {
		for h := 0; h < 1<<16; h++ {
			if h&0x7C00 == 0x7C00 && h&0x3FF != 0 {
				continue
			}
			w[0] = uint16(h)
			want := f16ToF32(uint16(h))
			got := DotF16(w, x)
			if got != want {
				t.Fatalf("h=%#04x: got %g want %g", h, got, want)
			}
		}
	})
	require.Equal(t, float32(1), f16ToF32(0x3C00))
	require.Equal(t, float32(-2), f16ToF32(0xC000))
	require.Equal(t, float32(65504), f16ToF32(0x7BFF))
	require.Equal(t, float32(math.Ldexp(1, -24)), f16ToF32(0x0001))
	require.True(t, math.IsInf(float64(f16ToF32(0xFC00)), -1))
	require.True(t, math.IsNaN(float64(f16ToF32(0x7E00))))
}

// TestF16ToF32Rows converts every non-NaN half in each of the 16 lanes of a
// 16-wide row (the vector kernels' step, which a one-element DotF16 leaves
// to the scalar tail): row r holds the value r in lane r%16 and zeros
// elsewhere, and x is all ones, so out[r] is the converted value exactly.
func TestF16ToF32Rows(t *testing.T) {
	const width = 16
	var hs []uint16
	for h := 0; h < 1<<16; h++ {
		if h&0x7C00 != 0x7C00 || h&0x3FF == 0 {
			hs = append(hs, uint16(h))
		}
	}
	w := make([]uint16, len(hs)*width)
	for r, h := range hs {
		w[r*width+r%width] = h
	}
	x := make([]float32, width)
	for i := range x {
		x[i] = 1
	}
	eachPath(t, func(t *testing.T) {
		out := make([]float32, len(hs))
		DotF16Rows(w, width, len(hs), x, out)
		for r, h := range hs {
			if want := f16ToF32(h); out[r] != want {
				t.Fatalf("h=%#04x in lane %d: got %g want %g", h, r%width, out[r], want)
			}
		}
	})
}

var fSizes = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 128, 2560, 6912}

func TestDotF16(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, n := range fSizes {
			seed := uint64(n + 100)
			r := newRand(seed)
			w := randF16(r, n)
			x := randF32(r, n, 1)
			want, mag := dotF16Ref64(w, x)
			requireClose(t, want, mag, DotF16(w, x), "n=%d seed=%d", n, seed)
		}
	})
}

func TestDotF16Rows(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, n := range fSizes {
			for _, nRows := range []int{1, 3, 9} {
				seed := uint64(n*10 + nRows)
				r := newRand(seed)
				rowLen := n + 5
				w := randF16(r, (nRows-1)*rowLen+n)
				x := randF32(r, n, 1)
				out := make([]float32, nRows+1)
				out[nRows] = 42
				DotF16Rows(w, rowLen, nRows, x, out)
				for i := 0; i < nRows; i++ {
					want, mag := dotF16Ref64(w[i*rowLen:], x)
					requireClose(t, want, mag, out[i], "n=%d row %d seed=%d", n, i, seed)
				}
				require.Equal(t, float32(42), out[nRows])
			}
		}
	})
}

// TestMatF16 checks MatF16 against float64 sums, and that ScoresF16 gives
// MatF16's bits (it differs only in what it prefetches).
func TestMatF16(t *testing.T) {
	cases := []struct{ k, nRows, nTok int }{
		{1, 1, 1}, {7, 3, 4}, {16, 5, 5}, {33, 2, 9}, {100, 7, 8}, {2560, 70, 6}, {6912, 3, 4},
		{128, 300, 4}, {128, 37, 2}, {64, 129, 8},
	}
	eachPath(t, func(t *testing.T) {
		for _, c := range cases {
			seed := uint64(c.k + c.nRows*7 + c.nTok*13)
			r := newRand(seed)
			rowLen := c.k + 3
			ldOut := c.nRows + 2
			w := randF16(r, (c.nRows-1)*rowLen+c.k)
			x := randF32(r, c.nTok*c.k, 1)
			out := make([]float32, c.nTok*ldOut)
			for i := range out {
				out[i] = -7
			}
			MatF16(w, rowLen, c.nRows, x, c.k, c.nTok, out, ldOut)
			scores := slices.Repeat([]float32{-7}, len(out))
			ScoresF16(w, rowLen, c.nRows, x, c.k, c.nTok, scores, ldOut)
			require.Equal(t, out, scores, "%+v: ScoresF16 against MatF16", c)
			for tk := 0; tk < c.nTok; tk++ {
				for n := 0; n < ldOut; n++ {
					got := out[tk*ldOut+n]
					if n >= c.nRows {
						require.Equal(t, float32(-7), got, "%+v token %d row %d", c, tk, n)
						continue
					}
					want, mag := dotF16Ref64(w[n*rowLen:], x[tk*c.k:(tk+1)*c.k])
					requireClose(t, want, mag, got, "%+v token %d row %d seed=%d", c, tk, n, seed)
				}
			}
		}
	})
}

func TestDotF32(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, n := range fSizes {
			seed := uint64(n + 200)
			r := newRand(seed)
			a := randF32(r, n, 1)
			b := randF32(r, n+3, 10)
			var want, mag float64
			for k := range a {
				p := float64(a[k]) * float64(b[k])
				want += p
				mag += math.Abs(p)
			}
			requireClose(t, want, mag, DotF32(a, b), "n=%d seed=%d", n, seed)
		}
	})
}

func TestAxpyF32(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, n := range fSizes {
			seed := uint64(n + 300)
			r := newRand(seed)
			x := randF32(r, n, 1)
			y := randF32(r, n+3, 2)
			orig := append([]float32(nil), y...)
			a := float32(0.37)
			AxpyF32(a, x, y)
			for k := range x {
				want := float64(orig[k]) + float64(a)*float64(x[k])
				// One rounding (fused) or two: within 2 ulp of the larger operand.
				tol := 2 * math.Max(math.Abs(float64(orig[k])), math.Abs(float64(a)*float64(x[k]))) * 0x1p-23
				if math.Abs(float64(y[k])-want) > tol {
					t.Fatalf("n=%d k=%d: got %g want %g (seed %d)", n, k, y[k], want, seed)
				}
			}
			for k := n; k < len(y); k++ {
				require.Equal(t, orig[k], y[k], "n=%d: element %d past x changed", n, k)
			}
		}
	})
}

func TestStreamSum(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := newRand(4)
		for _, n := range []int{0, 7, 8, 255, 256, 257, 1000, 4096 + 24, 1 << 20} {
			b := randBytes(r, n)
			require.Equal(t, streamSumGeneric(b), StreamSum(b), "n=%d", n)
		}
	})
	require.Equal(t, uint64(3), streamSumGeneric([]byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9}))
}

// FuzzI2S compares every path with the generic one on random shapes.
func FuzzI2S(f *testing.F) {
	f.Add(uint64(1), uint16(1), uint8(1), uint8(1), uint8(0))
	f.Add(uint64(2), uint16(20), uint8(3), uint8(5), uint8(3))
	f.Add(uint64(3), uint16(54), uint8(9), uint8(4), uint8(255))
	f.Fuzz(func(t *testing.T, seed uint64, nBlocks uint16, nRows, nTok, pad uint8) {
		nb := int(nBlocks%64) + 1
		k := nb * BlockSize
		nr := int(nRows%20) + 1
		nt := int(nTok%10) + 1
		stride := k/4 + int(pad)
		r := newRand(seed)
		w := randBytes(r, (nr-1)*stride+k/4)
		if seed&1 == 0 {
			w = randTernary(r, len(w))
		}
		q := randI8(r, nt*k)
		want := make([]int32, nt*nr)
		matI2SGeneric(w, stride, nr, q, k, nt, want, nr)
		for _, name := range Paths() {
			prev, _ := SetPath(name)
			got := make([]int32, nt*nr)
			MatI2S(w, stride, nr, q, k, nt, got, nr)
			rows := make([]int32, nr)
			DotI2SRows(w, stride, nr, q[:k], rows)
			one := DotI2S(w, q[:k])
			sum := SumI8(q)
			SetPath(prev)
			require.Equal(t, want, got, "%s MatI2S seed=%d k=%d rows=%d tok=%d", name, seed, k, nr, nt)
			require.Equal(t, want[:nr], rows, "%s DotI2SRows seed=%d", name, seed)
			require.Equal(t, want[0], one, "%s DotI2S seed=%d", name, seed)
			require.Equal(t, sumI8Generic(q), sum, "%s SumI8 seed=%d", name, seed)
		}
	})
}

// FuzzQuantizeRow feeds raw float32 bit patterns (non-finite ones replaced)
// at a chosen magnitude, which reaches exact ties and the clamps.
func FuzzQuantizeRow(f *testing.F) {
	f.Add([]byte{0, 0, 0x20, 0x40, 0, 0, 0xfe, 0x42}, int8(0), false)
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, int8(-20), true)
	f.Fuzz(func(t *testing.T, data []byte, exp int8, ints bool) {
		n := len(data) / 4
		x := make([]float32, n)
		for i := range x {
			u := uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24
			if ints {
				// Halves in [-128, 127.5]: ties once the scale is 1.
				x[i] = float32(int(u%512)-256) / 2
			} else {
				v := math.Float32frombits(u)
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					v = float32(u % 1000)
				}
				x[i] = float32(math.Ldexp(float64(v), int(exp)/4))
				if math.IsInf(float64(x[i]), 0) {
					x[i] = 1
				}
			}
		}
		if ints && n > 0 {
			x[0] = 127
		}
		wantQ := make([]int8, n)
		wantS, wantSum := quantizeRowGeneric(x, wantQ)
		for _, name := range Paths() {
			prev, _ := SetPath(name)
			q := make([]int8, n)
			s, sum := QuantizeRow(x, q)
			SetPath(prev)
			require.Equal(t, math.Float32bits(wantS), math.Float32bits(s), "%s scale", name)
			require.Equal(t, wantSum, sum, "%s sum", name)
			require.Equal(t, wantQ, q, "%s q", name)
		}
	})
}

// FuzzDotF16 checks the float kernels against float64 sums.
func FuzzDotF16(f *testing.F) {
	f.Add(uint64(1), uint16(100), uint8(3), uint8(5))
	f.Add(uint64(2), uint16(2560), uint8(1), uint8(4))
	f.Fuzz(func(t *testing.T, seed uint64, k uint16, nRows, nTok uint8) {
		n := int(k % 3000)
		nr := int(nRows%8) + 1
		nt := int(nTok%9) + 1
		r := newRand(seed)
		rowLen := n + int(seed%5)
		w := randF16(r, (nr-1)*rowLen+n)
		x := randF32(r, nt*n, 1)
		for _, name := range Paths() {
			prev, _ := SetPath(name)
			got := make([]float32, nt*nr)
			MatF16(w, rowLen, nr, x, n, nt, got, nr)
			rows := make([]float32, nr)
			DotF16Rows(w, rowLen, nr, x[:n], rows)
			d32 := DotF32(x[:n], x[len(x)-n:])
			SetPath(prev)
			for tk := 0; tk < nt; tk++ {
				for i := 0; i < nr; i++ {
					want, mag := dotF16Ref64(w[i*rowLen:], x[tk*n:(tk+1)*n])
					requireClose(t, want, mag, got[tk*nr+i], "%s MatF16 seed=%d n=%d tok %d row %d", name, seed, n, tk, i)
					if tk == 0 {
						requireClose(t, want, mag, rows[i], "%s DotF16Rows seed=%d n=%d row %d", name, seed, n, i)
					}
				}
			}
			var want, mag float64
			for i := 0; i < n; i++ {
				p := float64(x[i]) * float64(x[len(x)-n+i])
				want += p
				mag += math.Abs(p)
			}
			requireClose(t, want, mag, d32, "%s DotF32 seed=%d n=%d", name, seed, n)
		}
	})
}

// FuzzDotQuant checks the Q8_0 and Q6_K kernels of every path against float64
// sums, on raw random blocks (any code, any finite scale).
func FuzzDotQuant(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(5), false)
	f.Add(uint64(2), uint8(10), uint8(2), true)
	f.Fuzz(func(t *testing.T, seed uint64, nBlocks, nRows uint8, q6k bool) {
		dt, block, bb, dot := gguf.Q8_0, Q8Block, Q8Bytes, DotQ8_0Rows
		if q6k {
			dt, block, bb, dot = gguf.Q6_K, Q6KBlock, Q6KBytes, DotQ6KRows
		}
		nb := int(nBlocks % 24)
		nr := int(nRows%9) + 1
		r := newRand(seed)
		rb := nb * bb
		w := randBytes(r, rb*nr)
		clearNaNScales(dt, w, rb, nr)
		x := randF32(r, nb*block, 1)
		for _, name := range Paths() {
			prev, _ := SetPath(name)
			out := make([]float32, nr)
			dot(w, x, out)
			SetPath(prev)
			for i := range nr {
				want, mag := quantRef64(t, dt, w[i*rb:(i+1)*rb], x)
				requireClose(t, want, mag, out[i], "%s %s seed=%d blocks=%d row %d", name, dt, seed, nb, i)
			}
		}
	})
}

func TestPathsSorted(t *testing.T) {
	order := []string{"avx512vnni", "avx2", "neon-dotprod", "neon", "generic"}
	p := Paths()
	idx := make([]int, len(p))
	for i, name := range p {
		idx[i] = slices.Index(order, name)
		require.GreaterOrEqual(t, idx[i], 0, name)
	}
	require.True(t, slices.IsSorted(idx))
}

// quantRef64 is the float64 dot product of x with the rows of quantized
// weights as the gguf decoder dequantizes them, and the sum of |w*x|.
func quantRef64(t *testing.T, dt gguf.DType, row []byte, x []float32) (sum, mag float64) {
	t.Helper()
	w := make([]float32, len(x))
	require.NoError(t, gguf.DecodeRow(dt, row, w, 1))
	for k := range x {
		p := float64(w[k]) * float64(x[k])
		sum += p
		mag += math.Abs(p)
	}
	return sum, mag
}

func TestDotQuantRows(t *testing.T) {
	types := []struct {
		dt    gguf.DType
		block int
		dot   func(w []byte, x, out []float32)
		enc   func(x []float32) ([]byte, error)
	}{
		{gguf.Q8_0, Q8Block, DotQ8_0Rows, gguf.EncodeQ8_0},
		{gguf.Q6_K, Q6KBlock, DotQ6KRows, gguf.EncodeQ6_K},
	}
	eachPath(t, func(t *testing.T) {
		for _, ty := range types {
			for _, k := range []int{0, ty.block, 2 * ty.block, 5 * ty.block, 2560, 2816} {
				if k%ty.block != 0 {
					continue
				}
				for _, nRows := range []int{1, 3, 8, 13} {
					seed := uint64(k*31 + nRows + int(ty.dt))
					r := newRand(seed)
					rb := k / ty.block * map[gguf.DType]int{gguf.Q8_0: Q8Bytes, gguf.Q6_K: Q6KBytes}[ty.dt]
					// Real encodings (with outliers) and raw random bytes
					// (any code and scale) alike.
					var w []byte
					if nRows%2 == 1 {
						wf := randF32(r, k*nRows, 0.05)
						for i := 0; i < len(wf); i += 97 {
							wf[i] *= 20
						}
						var err error
						w, err = ty.enc(wf)
						require.NoError(t, err)
					} else {
						w = randBytes(r, rb*nRows)
						clearNaNScales(ty.dt, w, rb, nRows)
					}
					x := randF32(r, k, 1)
					out := make([]float32, nRows+1)
					out[nRows] = 42
					ty.dot(w, x, out[:nRows])
					for n := range nRows {
						want, mag := quantRef64(t, ty.dt, w[n*rb:(n+1)*rb], x)
						requireClose(t, want, mag, out[n], "%s k=%d row %d seed=%d", ty.dt, k, n, seed)
					}
					require.Equal(t, float32(42), out[nRows])
				}
			}
		}
	})
	require.Panics(t, func() { DotQ8_0Rows(make([]byte, 33), make([]float32, 32), make([]float32, 1)) })
	require.Panics(t, func() { DotQ6KRows(make([]byte, 210), make([]float32, 128), make([]float32, 1)) })
}

// clearNaNScales makes the fp16 scales of random Q8_0/Q6_K rows finite.
func clearNaNScales(dt gguf.DType, w []byte, rowBytes, nRows int) {
	bb, off := Q8Bytes, 0
	if dt == gguf.Q6_K {
		bb, off = Q6KBytes, 208
	}
	for b := 0; b+bb <= rowBytes*nRows; b += bb {
		w[b+off+1] &= 0xbb // exponent below the maximum
	}
}

// TestEveryKernelSet checks that no path leaves a kernel unset.
func TestEveryKernelSet(t *testing.T) {
	for _, p := range impls {
		v := reflect.ValueOf(p).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Func {
				require.False(t, f.IsNil(), "path %s: kernel %s unset", p.name, v.Type().Field(i).Name)
			}
		}
	}
}

// TestKernelsEnv checks the start-up choice: BITNET_KERNELS selects any
// available path, an unknown name keeps the best one with a warning, and
// BITNET_NOASM wins over both.
func TestKernelsEnv(t *testing.T) {
	for _, want := range Paths() {
		p, warn := startPath(want, "")
		require.Equal(t, want, p.name)
		require.Empty(t, warn)
	}
	p, warn := startPath("", "")
	require.Equal(t, Paths()[0], p.name)
	require.Empty(t, warn)
	p, warn = startPath("bogus", "")
	require.Equal(t, Paths()[0], p.name)
	require.Contains(t, warn, `BITNET_KERNELS: path "bogus" not available`)
	p, _ = startPath(Paths()[0], "1")
	require.Equal(t, "generic", p.name)
}
