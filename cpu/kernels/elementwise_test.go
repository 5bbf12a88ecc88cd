package kernels

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"bitnet/gguf"
)

// TestDotsF32: every score is the float32 dot product of the query with one
// strided key row, within DotF32's tolerance of a float64 sum.
func TestDotsF32(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, hd := range []int{1, 8, 12, 13, 64, 70, 96, 128, 136, 256} {
			for _, n := range []int{1, 2, 7, 33} {
				stride := hd + 40
				seed := uint64(hd*100 + n)
				r := newRand(seed)
				q := randF32(r, hd, 1)
				k := randF32(r, (n-1)*stride+hd, 3)
				out := make([]float32, n+1)
				out[n] = 42
				DotsF32(q, k, stride, out[:n])
				for j := 0; j < n; j++ {
					var want, mag float64
					for d := range q {
						p := float64(q[d]) * float64(k[j*stride+d])
						want += p
						mag += math.Abs(p)
					}
					requireClose(t, want, mag, out[j], "hd=%d n=%d j=%d seed=%d", hd, n, j, seed)
				}
				require.Equal(t, float32(42), out[n], "wrote past out")
			}
		}
	})
}

// TestAxpysF32: the weighted sum of strided value rows, within two ulp per
// term of the float64 sum; columns past len(acc) stay untouched.
func TestAxpysF32(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, hd := range []int{1, 8, 12, 13, 64, 70, 96, 128, 136, 256} {
			for _, n := range []int{1, 2, 7, 33} {
				stride := hd + 24
				seed := uint64(hd*100 + n + 7)
				r := newRand(seed)
				p := randF32(r, n, 1)
				v := randF32(r, (n-1)*stride+hd, 2)
				acc := randF32(r, hd+3, 1)
				orig := append([]float32(nil), acc...)
				AxpysF32(p, v, stride, acc[:hd])
				for d := 0; d < hd; d++ {
					want, mag := float64(orig[d]), math.Abs(float64(orig[d]))
					for j := range p {
						x := float64(p[j]) * float64(v[j*stride+d])
						want += x
						mag += math.Abs(x)
					}
					if diff := math.Abs(float64(acc[d]) - want); diff > 2*float64(n+1)*mag*0x1p-24 {
						t.Fatalf("hd=%d n=%d d=%d: got %g want %g (seed %d)", hd, n, d, acc[d], want, seed)
					}
				}
				require.Equal(t, orig[hd:], acc[hd:], "hd=%d n=%d: wrote past acc", hd, n)
			}
		}
	})
}

// TestSumSquaresF64: within the float64 rounding bound n*2^-52 (relative) of
// a sequential float64 sum.
func TestSumSquaresF64(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, n := range fSizes {
			r := newRand(uint64(n + 400))
			x := randF32(r, n, 5)
			var want float64
			for _, v := range x {
				want += float64(v) * float64(v)
			}
			got := SumSquaresF64(x)
			require.InDelta(t, want, got, float64(n)*0x1p-52*want+1e-300, "n=%d", n)
		}
	})
}

// TestElementwiseExact: ScaleMulF32, AddF32, ReLU2MulF32 and DequantI32 give the bits of
// the plain Go expressions on every path, including NaN, infinities,
// negative zero and subnormals, in place as well.
func TestElementwiseExact(t *testing.T) {
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, 1e-40, -1e-40, 3e38}
	eachPath(t, func(t *testing.T) {
		for _, n := range fSizes {
			r := newRand(uint64(n + 500))
			x, w, u := randF32(r, n, 2), randF32(r, n, 1), randF32(r, n, 3)
			for i := 0; i < n && i < len(special); i++ {
				x[(i*7)%n] = special[i]
			}
			s := float32(0.731)
			same := func(name string, got []float32, want func(k int) float32) {
				t.Helper()
				for k := range got {
					if g, e := got[k], want(k); math.Float32bits(g) != math.Float32bits(e) && !(g != g && e != e) {
						t.Fatalf("%s n=%d k=%d: got %g (%#x) want %g (%#x)", name, n, k, g, math.Float32bits(g), e, math.Float32bits(e))
					}
				}
			}
			dst := make([]float32, n)
			ScaleMulF32(dst, x, w, s)
			same("ScaleMulF32", dst, func(k int) float32 { return (x[k] * s) * w[k] })
			AddF32(dst, x, u)
			same("AddF32", dst, func(k int) float32 { return x[k] + u[k] })
			ReLU2MulF32(dst, x, u)
			same("ReLU2MulF32", dst, func(k int) float32 { r := max(x[k], 0); return (r * r) * u[k] })
			dots := make([]int32, n)
			for k := range dots {
				dots[k] = int32(r.Uint32())
			}
			if n > 3 {
				dots[1], dots[2], dots[3] = math.MaxInt32, math.MinInt32+5, 0
			}
			DequantI32(dst, dots, 5, 37.3, 0.0123)
			same("DequantI32", dst, func(k int) float32 { return float32(dots[k]-5) / 37.3 * 0.0123 })
			in := append([]float32(nil), x...)
			AddF32(in, in, u)
			same("AddF32 in place", in, func(k int) float32 { return x[k] + u[k] })
		}
	})
}

// TestAxpysF16: the F16 variant gives the F32 kernel's results on the
// converted rows (the same products, the same order).
func TestAxpysF16(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, hd := range []int{1, 8, 12, 13, 64, 70, 128, 136} {
			for _, n := range []int{1, 5, 33} {
				stride := hd + 16
				r := newRand(uint64(hd*1000 + n))
				k32 := randF32(r, (n-1)*stride+hd, 2)
				k16 := make([]uint16, len(k32))
				for i, v := range k32 {
					k16[i] = gguf.F32ToF16(v)
					k32[i] = gguf.F16ToF32(k16[i])
				}
				p := randF32(r, n, 1)
				accW, accG := randF32(r, hd, 1), make([]float32, hd)
				copy(accG, accW)
				AxpysF32(p, k32, stride, accW)
				AxpysF16(p, k16, stride, accG)
				require.Equal(t, accW, accG, "AxpysF16 hd=%d n=%d", hd, n)
			}
		}
	})
}

// TestAxpysHeadsF16: several heads over the same values give, column by
// column, the bits of one AxpysF16 per head, whatever the heads' count and
// the width (whole groups of four heads and of 64, 32 and 16 columns, and
// the rest), and leave the padding between heads' outputs alone.
func TestAxpysHeadsF16(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		for _, heads := range []int{1, 3, 4, 5, 8, 9} {
			for _, width := range []int{8, 13, 16, 31, 48, 64, 72, 96, 112, 128, 136} {
				for _, n := range []int{1, 7, 300} {
					stride, pStride, accStride := width+24, n+3, width+5
					r := newRand(uint64(heads*100000 + width*1000 + n))
					v := make([]uint16, (n-1)*stride+width)
					for i, x := range randF32(r, len(v), 2) {
						v[i] = gguf.F32ToF16(x)
					}
					p := randF32(r, (heads-1)*pStride+n, 1)
					want := randF32(r, (heads-1)*accStride+width, 1)
					got := slices.Clone(want)
					for h := range heads {
						AxpysF16(p[h*pStride:h*pStride+n], v, stride, want[h*accStride:h*accStride+width])
					}
					AxpysHeadsF16(p, pStride, n, v, stride, got, accStride, width, heads)
					require.Equal(t, want, got, "heads=%d width=%d n=%d", heads, width, n)
				}
			}
		}
		require.Panics(t, func() {
			AxpysHeadsF16(make([]float32, 10), 5, 5, make([]uint16, 64), 8, make([]float32, 15), 8, 8, 3)
		})
	})
}

// TestF32ToF16: the bits of gguf.F32ToF16 for specials, the edges of the
// F16 range, ties and a million random bit patterns.
func TestF32ToF16(t *testing.T) {
	var src []float32
	for _, b := range []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345,
		0x477fe000, 0x477ff000, 0x477fefff, 0x47800000, 0x38800000, 0x387fffff, 0x33800000, 0x33000000, 0x33000001, 0x3f801000, 0x3f803000} {
		src = append(src, math.Float32frombits(b))
	}
	r := newRand(9)
	for range 1 << 20 {
		src = append(src, math.Float32frombits(uint32(r.Uint64())))
	}
	eachPath(t, func(t *testing.T) {
		got := make([]uint16, len(src)+1)
		F32ToF16(got, src)
		for i, v := range src {
			if want := gguf.F32ToF16(v); got[i] != want {
				t.Fatalf("f16(%#x): got %#x want %#x", math.Float32bits(v), got[i], want)
			}
		}
		require.Equal(t, uint16(0), got[len(src)], "wrote past the inputs")
	})
}

// FuzzElementwise feeds raw float32 bit patterns (NaN, infinities and
// subnormals included) to the kernels that promise the generic bits on every
// path: ScaleMulF32, AddF32, ReLU2MulF32, ScaleF32, DequantI32, F32ToF16 and
// RoundF16.
func FuzzElementwise(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x7f, 1, 0, 0, 0, 0, 0, 0xc0, 0xff, 0, 0x10, 0x80, 0x47}, uint32(0x3f800000))
	f.Add(make([]byte, 200), uint32(0x80000001))
	f.Fuzz(func(t *testing.T, data []byte, sBits uint32) {
		n := len(data) / 12
		word := func(i int) uint32 { return binary.LittleEndian.Uint32(data[4*i:]) }
		x, w, u := make([]float32, n), make([]float32, n), make([]float32, n)
		dots := make([]int32, n)
		for i := 0; i < n; i++ {
			x[i] = math.Float32frombits(word(3 * i))
			w[i] = math.Float32frombits(word(3*i + 1))
			u[i] = math.Float32frombits(word(3*i + 2))
			dots[i] = int32(word(3*i + 2))
		}
		s := math.Float32frombits(sBits)
		type result struct {
			scaleMul, add, relu2, scale, dequant, round []float32
			f16                                         []uint16
		}
		run := func() result {
			r := result{make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]uint16, n)}
			ScaleMulF32(r.scaleMul, x, w, s)
			AddF32(r.add, x, w)
			ReLU2MulF32(r.relu2, x, u)
			ScaleF32(r.scale, x, s)
			DequantI32(r.dequant, dots, int32(sBits), 1.5, s)
			RoundF16(r.round, x)
			F32ToF16(r.f16, x)
			return r
		}
		prev, _ := SetPath("generic")
		want := run()
		SetPath(prev)
		bits := func(v []float32) []uint32 {
			b := make([]uint32, len(v))
			for i, f := range v {
				if f != f {
					b[i] = 0x7fc00000 // NaN payloads may differ
				} else {
					b[i] = math.Float32bits(f)
				}
			}
			return b
		}
		for _, name := range Paths() {
			prev, _ := SetPath(name)
			got := run()
			SetPath(prev)
			for _, c := range []struct {
				name      string
				got, want []float32
			}{{"ScaleMulF32", got.scaleMul, want.scaleMul}, {"AddF32", got.add, want.add}, {"ReLU2MulF32", got.relu2, want.relu2},
				{"ScaleF32", got.scale, want.scale}, {"DequantI32", got.dequant, want.dequant}, {"RoundF16", got.round, want.round}} {
				require.Equal(t, bits(c.want), bits(c.got), "%s on %s", c.name, name)
			}
			for i := range want.f16 {
				g, e := got.f16[i], want.f16[i]
				if g != e && !(g&0x7c00 == 0x7c00 && g&0x3ff != 0 && e&0x7c00 == 0x7c00 && e&0x3ff != 0) {
					t.Fatalf("F32ToF16 on %s: f16(%#x) = %#x, want %#x", name, math.Float32bits(x[i]), g, e)
				}
			}
		}
	})
}
