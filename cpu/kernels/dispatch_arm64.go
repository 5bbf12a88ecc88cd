//go:build !noasm

package kernels

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// fastImpls returns the NEON paths this CPU supports, best first: SDOT for
// the I2_S dot products where the CPU has the dot-product extension
// (FEAT_DotProd: Apple M1 and later, Graviton 2 and later, Cortex-A76 and
// the Raspberry Pi 5's A76), widening multiplies otherwise (Cortex-A72,
// Raspberry Pi 4). The other kernels are the same NEON code on both.
func fastImpls() []*impl {
	var list []*impl
	if !cpu.ARM64.HasASIMD {
		return nil
	}
	if cpu.ARM64.HasASIMDDP {
		list = append(list, neonDotImpl)
	}
	return append(list, neonImpl)
}

var neonDotImpl = withNEON(&impl{
	name:    "neon-dotprod",
	i2sRows: i2sRowsWith(i2sRows4SDOT, i2sRowsSDOT),
	i2sMat:  i2sMatWith(i2sRows4SDOT, i2sRowsSDOT, i2sTile4SDOT, i2sTile2SDOT),
	i2sTile: tileTokens,
})

var neonImpl = withNEON(&impl{
	name:    "neon",
	i2sRows: i2sRowsWith(i2sRows4NEON, i2sRowsNEON),
	i2sMat:  i2sMatWith(i2sRows4NEON, i2sRowsNEON, i2sTile4NEON, i2sTile2NEON),
	i2sTile: tileTokens,
})

// withNEON fills in the kernels both arm64 paths share.
func withNEON(p *impl) *impl {
	p.f16Rows, p.f16Mat, p.f16Tile = f16RowsNEONGo, f16MatNEONGo, tileTokens
	p.dotF32, p.axpy = dotF32NEONGo, axpyF32NEONGo
	p.dots, p.axpys, p.axpys16 = dotsF32NEONGo, axpysF32NEONGo, axpysF16NEONGo
	p.toF16, p.roundF16, p.softmax = f32ToF16NEONGo, roundF16NEONGo, softmaxNEONGo
	p.scale, p.sumSq = scaleF32NEONGo, sumSqF64NEONGo
	p.scaleMul, p.add = scaleMulF32NEONGo, addF32NEONGo
	p.relu2Mul, p.dequant = relu2MulF32NEONGo, dequantI32NEONGo
	p.sumI8, p.quantize, p.quantS = sumI8NEONGo, quantizeNEONGo, quantNEONGo
	p.stream = streamNEONGo
	return p
}

type (
	i2sRowsKernel func(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)
	i2sTileKernel func(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)
)

// i2sRowsWith runs groups of four rows through rows4, which loads each
// block of activations once per four rows, and the rest through rows.
func i2sRowsWith(rows4, rows i2sRowsKernel) func(w []byte, rowBytes int, q []int8, out []int32) {
	return func(w []byte, rowBytes int, q []int8, out []int32) {
		runRows(rows4, rows, &w[0], rowBytes, &q[0], len(q)/BlockSize, len(out), &out[0])
	}
}

// runRows computes nRows > 0 rows from w (rowBytes apart) into out.
func runRows(rows4, rows i2sRowsKernel, w *byte, rowBytes int, q *int8, nb, nRows int, out *int32) {
	n4 := nRows &^ 3
	if n4 > 0 {
		rows4(w, q, nb, n4, rowBytes, out)
	}
	if n4 < nRows {
		rows((*byte)(unsafe.Add(unsafe.Pointer(w), n4*rowBytes)), q, nb, nRows-n4, rowBytes,
			(*int32)(unsafe.Add(unsafe.Pointer(out), 4*n4)))
	}
}

// i2sMatWith runs groups of four tokens through tile, which unpacks each
// weight block once for the four, a pair of the remaining tokens through
// tile2, and the others through rows (runRows), by forTiles.
func i2sMatWith(rows4, rows i2sRowsKernel, tile, tile2 i2sTileKernel) func(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int) {
	return func(w []byte, rowBytes, nRows int, q []int8, k, nTok int, out []int32, ldOut int) {
		nb := k / BlockSize
		forTiles(rowBytes, nRows, nTok,
			func(r0, nr, t int) { tile(&w[r0*rowBytes], &q[t*k], k, nb, nr, rowBytes, &out[t*ldOut+r0], ldOut) },
			func(r0, nr, t int) { tile2(&w[r0*rowBytes], &q[t*k], k, nb, nr, rowBytes, &out[t*ldOut+r0], ldOut) },
			func(r0, nr, t int) {
				runRows(rows4, rows, &w[r0*rowBytes], rowBytes, &q[t*k], nb, nr, &out[t*ldOut+r0])
			})
	}
}

func f16RowsNEONGo(w []uint16, rowLen int, x []float32, out []float32) {
	if len(out) == 0 {
		return
	}
	n := len(x) &^ 15
	if n > 0 {
		f16RowsNEON(&w[0], &x[0], n, len(out), 2*rowLen, &out[0])
	} else {
		clear(out)
	}
	if n < len(x) {
		for r := range out {
			out[r] += dotF16Generic(w[r*rowLen+n:], x[n:])
		}
	}
}

// f16MatNEONGo runs groups of four tokens through f16Tile4NEON, which
// converts each weight once for the four, a pair of the other tokens
// through f16Tile2NEON and the rest through f16RowsNEON; the k%16
// trailing columns are added in Go.
func f16MatNEONGo(w []uint16, rowLen, nRows int, x []float32, k, nTok int, out []float32, ldOut int) {
	n := k &^ 15
	if n == 0 || nTok < 2 {
		for t := 0; t < nTok; t++ {
			f16RowsNEONGo(w, rowLen, x[t*k:(t+1)*k], out[t*ldOut:t*ldOut+nRows])
		}
		return
	}
	matF16Tiled(w, rowLen, nRows, x, k, nTok, out, ldOut, n,
		func(wr *uint16, x *float32, nr int, out *float32) {
			f16Tile4NEON(wr, x, k, n, nr, 2*rowLen, out, ldOut)
		},
		func(wr *uint16, x *float32, nr int, out *float32) {
			f16Tile2NEON(wr, x, k, n, nr, 2*rowLen, out, ldOut)
		},
		func(wr *uint16, x *float32, nr int, out *float32) { f16RowsNEON(wr, x, n, nr, 2*rowLen, out) })
}

func dotF32NEONGo(a, b []float32) float32 {
	n := len(a) &^ 15
	var s float32
	if n > 0 {
		s = dotF32NEON(&a[0], &b[0], n)
	}
	if n < len(a) {
		s += dotF32Generic(a[n:], b[n:])
	}
	return s
}

func axpyF32NEONGo(a float32, x, y []float32) {
	n := len(x) &^ 3
	if n > 0 {
		axpyF32NEON(a, &x[0], &y[0], n)
	}
	if n < len(x) {
		axpyF32Generic(a, x[n:], y[n:len(x)])
	}
}

func sumI8NEONGo(q []int8) int32 {
	n := len(q) &^ 15
	var s int32
	if n > 0 {
		s = sumI8NEON(&q[0], n)
	}
	return s + sumI8Generic(q[n:])
}

func quantizeNEONGo(x []float32, q []int8) (float32, int32) {
	n := len(x) &^ 15
	m := absMaxGeneric(x[n:])
	if n > 0 {
		m = max(m, absMaxNEON(&x[0], n))
	}
	s := quantScale(m)
	return s, quantNEONGo(x, s, q)
}

func quantNEONGo(x []float32, s float32, q []int8) int32 {
	n := len(x) &^ 15
	var sum int32
	if n > 0 {
		sum = quantNEON(&x[0], n, s, &q[0])
	}
	return sum + quantGeneric(x[n:], s, q[n:])
}

func sumSqF64NEONGo(x []float32) float64 {
	n := len(x) &^ 7
	var s float64
	if n > 0 {
		s = sumSqF64NEON(&x[0], n)
	}
	return s + sumSqF64Generic(x[n:])
}

func scaleMulF32NEONGo(dst, x, w []float32, s float32) {
	n := len(dst) &^ 3
	if n > 0 {
		scaleMulF32NEON(&dst[0], &x[0], &w[0], s, n)
	}
	scaleMulF32Generic(dst[n:], x[n:], w[n:], s)
}

func scaleF32NEONGo(dst, x []float32, s float32) {
	n := len(dst) &^ 3
	if n > 0 {
		scaleF32NEON(&dst[0], &x[0], s, n)
	}
	scaleF32Generic(dst[n:], x[n:], s)
}

func addF32NEONGo(dst, a, b []float32) {
	n := len(dst) &^ 3
	if n > 0 {
		addF32NEON(&dst[0], &a[0], &b[0], n)
	}
	addF32Generic(dst[n:], a[n:], b[n:])
}

func relu2MulF32NEONGo(dst, g, u []float32) {
	n := len(dst) &^ 3
	if n > 0 {
		relu2MulF32NEON(&dst[0], &g[0], &u[0], n)
	}
	relu2MulF32Generic(dst[n:], g[n:], u[n:])
}

func dequantI32NEONGo(dst []float32, dots []int32, sum int32, div, mul float32) {
	n := len(dst) &^ 3
	if n > 0 {
		dequantI32NEON(&dst[0], &dots[0], sum, div, mul, n)
	}
	dequantI32Generic(dst[n:], dots[n:], sum, div, mul)
}

func dotsF32NEONGo(q, k []float32, stride, n int, out []float32) {
	for j := 0; j < n; j++ {
		out[j] = dotF32NEONGo(q, k[j*stride:j*stride+len(q)])
	}
}

func axpysF32NEONGo(p, v []float32, stride int, acc []float32) {
	hd := len(acc) &^ 3
	if hd > 0 {
		axpysF32NEON(&p[0], &v[0], 4*stride, len(p), hd, &acc[0])
	}
	if hd < len(acc) {
		axpysF32Generic(p, v[hd:], stride, acc[hd:])
	}
}

func axpysF16NEONGo(p []float32, v []uint16, stride int, acc []float32) {
	hd := len(acc) &^ 3
	if hd > 0 {
		axpysF16NEON(&p[0], &v[0], 2*stride, len(p), hd, &acc[0])
	}
	if hd < len(acc) {
		axpysF16Generic(p, v[hd:], stride, acc[hd:])
	}
}

func f32ToF16NEONGo(dst []uint16, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		f32ToF16NEON(&dst[0], &src[0], n)
	}
	f32ToF16Generic(dst[n:], src[n:])
}

func roundF16NEONGo(dst, src []float32) {
	n := len(src) &^ 3
	if n > 0 {
		roundF16NEON(&dst[0], &src[0], n)
	}
	roundF16Generic(dst[n:], src[n:])
}

func streamNEONGo(b []byte) uint64 {
	n := len(b) &^ 63
	var s uint64
	if n > 0 {
		s = streamSumNEON(&b[0], n)
	}
	return s + streamSumGeneric(b[n:])
}

func softmaxNEONGo(s []float32, scale float32) {
	n := len(s) &^ 3
	mx := float32(math.Inf(-1))
	if n > 0 {
		mx = scaleMaxF32NEON(&s[0], n, scale)
	}
	for k := n; k < len(s); k++ {
		s[k] *= scale
		mx = max(mx, s[k])
	}
	var sum float64
	if n > 0 {
		sum = expSubF32NEON(&s[0], n, mx)
	}
	for k := n; k < len(s); k++ {
		e := Expf(s[k] - mx)
		s[k] = e
		sum += float64(e)
	}
	scaleF32NEONGo(s, s, float32(1/sum))
}
